"""Levers: named paths into a scenario, and grids of values for them.

A lever path uses the scenario's own field names; list entries are addressed by their
``name`` (or index), so ``staff.technicians.shifts.day.headcount`` sets the headcount of
the ``day`` shift of pool ``technicians``.  Three shortcuts:

* ``staff.<pool>.<shift>`` means that shift's ``headcount``;
* a pool may be named by its ``kind`` when only one pool has that kind
  (``staff.technician.day``);
* ``interventions.<name>`` and ``meetings.<name>`` mean its ``enabled`` switch, so
  ``interventions.sheds=0,1`` weighs the sheds off and on (``1``/``0`` or
  ``true``/``false``); ``interventions.sheds.intensity=0..1:0.25`` sets its intensity.
  Intervention costs add to the weekly cost (:func:`sim.staffing.scenario_weekly_cost`),
  so staff and facilities are compared on one cost scale.

Changing a lever never mutates a scenario: :func:`apply` returns a new, re-validated one,
so a bad value is reported exactly like a bad scenario file.

A range may hold at most :data:`~sim.config.limits.MAX_LEVER_VALUES` values and a grid at
most :data:`~sim.config.limits.MAX_GRID_POINTS` points; both sizes are worked out before
anything is built, and the message says the size.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from sim.config import Scenario, ScenarioError, resolved_dict, scenario_from_dict
from sim.config.limits import MAX_LEVER_VALUES, grid_problem


def _number(text: str) -> int | float | None:
    """``text`` as an int or a float (``1e6`` too), or None."""
    for kind in (int, float):
        try:
            return kind(text.strip())
        except ValueError:
            pass
    return None


def parse_values(text: str) -> list[Any]:
    """``1..6`` (inclusive), ``1..9:2`` (step), ``0.5..2:0.5``, or ``a,b,c`` -> a list."""
    text = text.strip()
    if ".." in text:
        lo_s, _, rest = text.partition("..")
        hi_s, _, step_s = rest.partition(":")
        lo, hi = _number(lo_s), _number(hi_s)
        step = _number(step_s) if step_s else 1
        nums = (int, float)
        if not all(isinstance(v, nums) and not isinstance(v, bool) for v in (lo, hi, step)):
            raise ValueError(f"range {text!r} must look like 1..6 or 0.5..2:0.5")
        assert isinstance(lo, nums) and isinstance(hi, nums) and isinstance(step, nums)
        if not all(math.isfinite(v) for v in (lo, hi, step)):
            raise ValueError(f"range {text!r} must use finite numbers")
        if step <= 0 or hi < lo:
            raise ValueError(f"range {text!r} needs low <= high and a positive step")
        size = (hi - lo) / step + 1
        if not size <= MAX_LEVER_VALUES:
            raise ValueError(f"range {text!r} holds {size:.3g} values; the limit is "
                             f"{MAX_LEVER_VALUES} — use a larger step or a shorter range")
        count = round((hi - lo) / step + 1e-9) + 1
        vals = [lo + i * step for i in range(count)]
        if all(isinstance(v, int) for v in (lo, hi, step)):
            return [int(v) for v in vals]
        return [round(float(v), 12) for v in vals]
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise ValueError("no values given")
    if len(parts) > MAX_LEVER_VALUES:
        raise ValueError(f"{len(parts)} values; the limit is {MAX_LEVER_VALUES}")
    try:
        return [yaml.safe_load(p) for p in parts]
    except yaml.YAMLError as err:
        raise ValueError(f"cannot read values {text!r}: {err}") from None


def parse_vary(spec: str) -> tuple[str, list[Any]]:
    """``path=values`` -> (path, values)."""
    path, sep, values = spec.partition("=")
    if not sep or not path.strip():
        raise ValueError(f"{spec!r}: expected PATH=VALUES, e.g. staff.technicians.day=1..6")
    return path.strip(), parse_values(values)


def parse_setting(spec: str) -> tuple[str, Any]:
    """``path=value`` -> (path, value), the value read as YAML (``3``, ``0.5``, ``true``)."""
    path, sep, text = spec.partition("=")
    if not sep or not path.strip() or not text.strip():
        raise ValueError(f"{spec!r}: expected PATH=VALUE, e.g. staff.technicians.day=3")
    try:
        return path.strip(), yaml.safe_load(text)
    except yaml.YAMLError:
        raise ValueError(f"{spec!r}: cannot read the value {text.strip()!r}") from None


def _child(node: Any, token: str, where: str) -> tuple[Any, Any]:
    """(container, key) of ``token`` inside ``node``."""
    if isinstance(node, dict):
        if token in node:
            return node, token
        raise KeyError(f"{where}: no field {token!r} (fields: {', '.join(map(str, node))})")
    if isinstance(node, list):
        named = [i for i, e in enumerate(node) if isinstance(e, dict) and e.get("name") == token]
        if len(named) == 1:
            return node, named[0]
        kinds = [i for i, e in enumerate(node) if isinstance(e, dict) and e.get("kind") == token]
        if len(kinds) == 1:
            return node, kinds[0]
        if token.isdigit() and int(token) < len(node):
            return node, int(token)
        names = [str(e.get("name")) for e in node if isinstance(e, dict)]
        extra = " (several pools have that kind: name one)" if len(kinds) > 1 else ""
        raise KeyError(f"{where}: no entry named {token!r}{extra} (entries: {', '.join(names)})")
    raise KeyError(f"{where}: {token!r} goes below a plain value")


SWITCH_SECTIONS = ("interventions", "meetings")
"""Sections whose entries, named alone in a lever path, mean their ``enabled`` switch."""


def is_switch(path: str) -> bool:
    """Whether ``path`` is an on/off switch (``interventions.<name>``, ``meetings.<name>``)."""
    tokens = path.split(".")
    return len(tokens) == 2 and tokens[0] in SWITCH_SECTIONS


def _walk(data: dict[str, Any], path: str) -> tuple[Any, Any, Any, str]:
    """The container, key and node ``path`` names in plain scenario data, and its
    dotted name so far (``staff.<pool>.<shift>`` goes through the pool's shifts)."""
    tokens = path.split(".")
    node: Any = data
    container: Any = None
    key: Any = None
    where = ""
    for i, tok in enumerate(tokens):
        container, key = _child(node, tok, where or "(top level)")
        where = f"{where}.{tok}" if where else tok
        node = container[key]
        if tokens[0] == "staff" and i == 1 and isinstance(node, dict) and len(tokens) == 3:
            node = node["shifts"]  # shortcut staff.<pool>.<shift>
    return container, key, node, where


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``path`` in plain scenario data (see module docstring for the syntax)."""
    container, key, node, where = _walk(data, path)
    if isinstance(node, dict) and "headcount" in node:  # a shift: its headcount
        node["headcount"] = value
    elif is_switch(path) and isinstance(node, dict):  # on/off: its switch
        node["enabled"] = bool(value) if isinstance(value, int) else value
    elif isinstance(node, dict | list):
        raise KeyError(f"{where}: names a whole section, not a value")
    else:
        container[key] = value


def get_path(data: dict[str, Any], path: str) -> Any:
    """The value at ``path`` in plain scenario data (a shift's headcount for a shift)."""
    _, _, node, _ = _walk(data, path)
    if isinstance(node, dict) and "headcount" in node:
        return node["headcount"]
    return node


def apply(base: Scenario, updates: Mapping[str, Any], source: str = "--vary") -> Scenario:
    """A new scenario with ``updates`` (path -> value) applied and re-validated."""
    data = copy.deepcopy(resolved_dict(base))
    for path, value in updates.items():
        try:
            set_path(data, path, value)
        except KeyError as err:
            raise ScenarioError(f"{source} {path}: {err.args[0]}") from None
    where = ", ".join(f"{k}={v}" for k, v in updates.items())
    return scenario_from_dict(data, f"{source} {where}")


def grid(levers: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of lever values, in a stable order.

    Raises
    ------
    ValueError
        When the grid would hold more than :data:`~sim.config.limits.MAX_GRID_POINTS`
        points (the message gives its size).
    """
    problem = grid_problem({k: len(v) for k, v in levers.items()})
    if problem:
        raise ValueError(f"levers {', '.join(levers)}: {problem}")
    names = list(levers)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*levers.values())]
