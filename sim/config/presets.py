"""Community-type, request-category and other-work presets, read from
``sim/presets/*.yaml``.

The presets are package data: the numbers and their sources live in the YAML files, not
in code.  A scenario names a preset and overrides any of its fields.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml


@cache
def _preset_file(name: str) -> dict[str, Any]:
    text = resources.files("sim.presets").joinpath(name).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):  # pragma: no cover - the shipped files are mappings
        raise RuntimeError(f"sim/presets/{name} does not hold a mapping")
    return data


def community_presets() -> dict[str, dict[str, Any]]:
    """Community-type presets (``sim/presets/community_types.yaml``), one per type."""
    types: dict[str, dict[str, Any]] = _preset_file("community_types.yaml")["types"]
    return types


def category_presets() -> dict[str, dict[str, Any]]:
    """Request-category presets (``sim/presets/categories.yaml``)."""
    cats: dict[str, dict[str, Any]] = _preset_file("categories.yaml")["categories"]
    return cats


def intervention_presets() -> dict[str, dict[str, Any]]:
    """Intervention presets (``sim/presets/interventions.yaml``), used by name."""
    found: dict[str, dict[str, Any]] = _preset_file("interventions.yaml")["interventions"]
    return found


def meeting_presets() -> dict[str, dict[str, Any]]:
    """Meeting presets (``sim/presets/interventions.yaml``), used by name."""
    found: dict[str, dict[str, Any]] = _preset_file("interventions.yaml")["meetings"]
    return found


def other_work_presets() -> dict[str, dict[str, Any]]:
    """Other work and absence per staff kind (``sim/presets/other_work.yaml``); opt-in."""
    kinds: dict[str, dict[str, Any]] = _preset_file("other_work.yaml")["other_work"]
    return kinds


def calendar_presets() -> list[str]:
    """Names of the shipped calendars (``sim/presets/calendars/<name>.yaml``)."""
    folder = resources.files("sim.presets").joinpath("calendars")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir()
                  if p.name.endswith(".yaml"))


def calendar_preset(name: str) -> dict[str, Any]:
    """A shipped calendar: ``holidays`` (dates) and ``workdays`` (date -> weekday)."""
    return _preset_file(f"calendars/{name}.yaml")
