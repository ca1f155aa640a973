"""Which target binds, where and when it fails, and what keeps it from being met.

The optimiser judges a staffing point by one-sided lower confidence bounds per community
type x stage; the *binding constraint* is the pair with the smallest margin (lower bound
minus target).  When the per-hour compliance of that pair is below target only in some
hours of the day, those hours are named as a band (``18:00–08:00``).

When no point within the lever ranges meets a target, :func:`explain_failure` says why,
from the scenario itself: for the failing community type, stage and hours it finds the
categories whose staff kinds for that stage have nobody rostered in those hours (no lever
on other pools can help them), and otherwise names the levers at their upper bounds or
the pools that no lever changes.

Everything here is arithmetic on tables and the scenario; nothing is simulated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.config import WEEKDAYS, Scenario
from sim.staffing import pool_instances, shift_step
from sim.stages import BY_NAME

HOURLY = "community_type+hour"
"""The breakdown (see :func:`sim.sweeps.replication_summary`) holding compliance per
community type x hour of the day; its ``all`` rows hold every type together."""


@dataclass(frozen=True)
class Binding:
    """The tightest constraint of one staffing point."""

    community_type: str
    stage: str
    margin: float
    hours: tuple[int, ...] = ()
    """Hours of the day where the pair's mean compliance is below target, when that is
    only part of the day (empty: it fails, or is tightest, at every hour alike)."""

    @property
    def band(self) -> str:
        return hours_text(self.hours)

    def text(self) -> str:
        """``onsite × old_estate, 18:00–08:00`` (the band only when there is one)."""
        where = f"{self.stage} × {self.community_type}"
        return f"{where}, {self.band}" if self.hours else where


def hour_runs(hours: Iterable[int]) -> list[tuple[int, int]]:
    """Contiguous runs of hours of the day, wrapping at midnight, as ``(start, end)`` with
    ``end`` exclusive (``{22, 23, 0, 1}`` -> ``[(22, 2)]``)."""
    hs = sorted({int(h) % 24 for h in hours})
    if not hs:
        return []
    if len(hs) == 24:
        return [(0, 24)]
    runs: list[list[int]] = []
    for h in hs:
        if runs and h == runs[-1][1]:
            runs[-1][1] = h + 1
        else:
            runs.append([h, h + 1])
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][1] == 24:
        last = runs.pop()
        runs[0][0] = last[0]
    return [(a, b % 24) for a, b in runs]


def hours_text(hours: Iterable[int]) -> str:
    """``18:00–08:00`` or ``07:00–09:00, 18:00–20:00``; ``all day`` for every hour."""
    runs = hour_runs(hours)
    if runs == [(0, 24)]:
        return "all day"
    return ", ".join(f"{a:02d}:00–{b:02d}:00" for a, b in runs)


def failing_hours(hourly: pd.DataFrame, community_type: str, stage: str,
                  target: float) -> tuple[int, ...]:
    """The band of hours (contiguous, wrapping at midnight) where ``community_type`` x
    ``stage`` falls short of ``target``, when the other hours together meet it; else ``()``.

    The band is the run of hours that holds the most misses beyond the target (a maximum
    circular subarray of ``target x requests - met`` per hour, pooled over replications),
    so a stray short hour elsewhere does not split it.  ``hourly`` holds rows of
    :data:`HOURLY` (columns ``community_type, stage, group, compliance, requests``;
    ``group`` the hour).
    """
    d = hourly[(hourly["community_type"] == community_type) & (hourly["stage"] == stage)]
    d = d.dropna(subset=["compliance"])
    if d.empty:
        return ()
    hour = d["group"].astype(int).to_numpy()
    n = np.bincount(hour, weights=d["requests"].to_numpy(dtype=float), minlength=24)
    met = np.bincount(hour, weights=(d["compliance"] * d["requests"]).to_numpy(dtype=float),
                      minlength=24)
    excess = target * n - met
    best, band = 0.0, (0, 0)
    for a in range(24):
        run = 0.0
        for length in range(1, 24):
            run += excess[(a + length - 1) % 24]
            if run > best + 1e-12:
                best, band = run, (a, length)
    if best <= 0:
        return ()
    hours = tuple((band[0] + i) % 24 for i in range(band[1]))
    outside = np.ones(24, dtype=bool)
    outside[list(hours)] = False
    if n[outside].sum() == 0 or met[outside].sum() < target * n[outside].sum():
        return ()
    return hours


def hourly_rows(tidy: pd.DataFrame) -> pd.DataFrame:
    """The :data:`HOURLY` rows of a tidy table (none when it has no breakdowns)."""
    if "by" not in tidy.columns:
        return tidy.iloc[0:0]
    return tidy[tidy["by"] == HOURLY]


def binding(lcb: pd.DataFrame, hourly: pd.DataFrame | None = None) -> Binding | None:
    """The row of :func:`sim.optimiser.lower_bounds` with the smallest margin, with the
    hours where it fails when ``hourly`` (rows of :data:`HOURLY`) says so."""
    d = lcb.dropna(subset=["margin"])
    if d.empty:
        return None
    row = d.iloc[int(np.argmin(d["margin"].to_numpy(dtype=float)))]
    t, s = str(row["community_type"]), str(row["stage"])
    hours: tuple[int, ...] = ()
    if hourly is not None and len(hourly):
        hours = failing_hours(hourly, t, s, float(row["target"]))
    return Binding(t, s, float(row["margin"]), hours)


# ------------------------------------------------------------------ causes from the scenario
def stage_kinds(scenario: Scenario, category: str, stage: str) -> list[str]:
    """Staff kinds that serve ``stage`` of ``category``: its own for queued stages; for
    ``finish``, the on-site kinds (or the desk's for requests closed at the desk)."""
    cat = scenario.categories[category]
    if stage == "finish":
        return list(cat.onsite_by or cat.respond_by)
    field = BY_NAME[stage].staff_field
    assert field is not None
    kinds: list[str] = getattr(cat, field)
    return list(kinds)


def _stage_applies(scenario: Scenario, category: str, stage: str) -> bool:
    cat = scenario.categories[category]
    applies = BY_NAME[stage].applies_to
    if applies == "site":
        return bool(cat.onsite_by)
    if applies == "complex":
        return cat.complex_prob > 0
    if applies == "routine":
        return cat.complex_prob < 1
    return True


def on_duty_hours(scenario: Scenario, community_type: str | None,
                  kinds: Sequence[str]) -> set[int]:
    """Hours of the day when some pool of one of ``kinds`` serving communities of
    ``community_type`` (``None``/``all``: any community) has someone rostered, on at
    least one day of the week (on-call staff count as rostered)."""
    communities = [c for c in scenario.expanded_communities()
                   if community_type in (None, "all") or c.type == community_type]
    hours: set[int] = set()
    specs = {id(spec): spec for _, spec, _ in pool_instances(scenario, communities)
             if spec.kind in kinds}
    for spec in specs.values():
        step = shift_step(spec)
        for day in range(len(WEEKDAYS)):
            for h in range(24):
                if step.at((day * 24 + h) * 60.0 + 30.0).headcount > 0:
                    hours.add(h)
    return hours


def uncovered(scenario: Scenario, community_type: str, stage: str,
              hours: Iterable[int] = range(24)) -> list[tuple[list[str], list[str],
                                                              tuple[int, ...]]]:
    """Categories of ``community_type`` (``all``: every type) whose staff for ``stage``
    are off duty in some of ``hours``: ``(categories, kinds, every off-duty hour of the
    day)``, grouped by kinds and hours."""
    types = {c.type for c in scenario.communities}
    mixes = [c.category_mix for c in scenario.communities
             if community_type == "all" or c.type == community_type or community_type
             not in types]
    used = [k for k in scenario.categories if any(m.get(k, 0) > 0 for m in mixes)]
    wanted = set(hours)
    groups: dict[tuple[tuple[str, ...], tuple[int, ...]], list[str]] = {}
    for cat in used:
        if not _stage_applies(scenario, cat, stage):
            continue
        kinds = stage_kinds(scenario, cat, stage)
        off = tuple(sorted(set(range(24)) - on_duty_hours(scenario, community_type, kinds)))
        if set(off) & wanted:  # the whole off-duty band, when it touches the failing hours
            groups.setdefault((tuple(kinds), off), []).append(cat)
    return [(cats, list(kinds), off) for (kinds, off), cats in groups.items()]


def _pools_for(scenario: Scenario, community_type: str, stage: str) -> list[str]:
    """Names of the pool specifications that serve ``stage`` for the type's categories."""
    kinds = {k for cat in scenario.used_categories() if _stage_applies(scenario, cat, stage)
             for k in stage_kinds(scenario, cat, stage)}
    communities = [c for c in scenario.expanded_communities()
                   if community_type == "all" or c.type == community_type]
    return list(dict.fromkeys(spec.name for _, spec, _ in pool_instances(scenario, communities)
                              if spec.kind in kinds))


def _lever_pool(scenario: Scenario, path: str) -> str | None:
    tokens = path.split(".")
    if tokens[0] != "staff" or len(tokens) < 2:
        return None
    for p in scenario.staff:
        if tokens[1] == p.name or (tokens[1] == p.kind and
                                   sum(q.kind == p.kind for q in scenario.staff) == 1):
            return p.name
    return None


def explain_failure(scenario: Scenario, lcb: pd.DataFrame, hourly: pd.DataFrame | None,
                    levers: Mapping[str, int], targets: Mapping[str, float]) -> list[str]:
    """One line per target that the best point in range (``scenario``, with ``levers`` at
    those values; its bounds ``lcb``) still misses: where, by how much, and why."""
    lines = []
    failing = lcb[lcb["margin"] < 0].sort_values("margin")
    at = ", ".join(f"{k}={v}" for k, v in levers.items())
    for _, row in failing.iterrows():
        t, s = str(row["community_type"]), str(row["stage"])
        hours = failing_hours(hourly, t, s, float(row["target"])) if hourly is not None and \
            len(hourly) else ()
        where = f"{s} ≥ {100 * targets[s]:.0f}% for {t}" + (
            f", {hours_text(hours)}" if hours else "")
        head = (f"{where}: lower bound {100 * row['lcb']:.1f}% "
                f"({100 * row['margin']:+.1f} pts) even at {at}")
        causes = []
        for cats, kinds, off in uncovered(scenario, t, s, hours or range(24)):
            causes.append(f"no staff kind that handles {', '.join(cats)} "
                          f"({' or '.join(kinds)}) is on duty {hours_text(off)}")
        pools = _pools_for(scenario, t, s)
        moved = {_lever_pool(scenario, p) for p in levers}
        if pools and not moved & set(pools):
            causes.append(f"no lever changes the staff who handle it ({', '.join(pools)})")
        elif not causes:
            causes.append("every lever that staffs it is at the top of its range")
        lines.append(f"{head} — {'; '.join(causes)}")
    return lines


def binding_columns(bindings: Sequence[Binding | None]) -> pd.DataFrame:
    """``binding`` (text) and ``binding_margin`` columns for a table of points."""
    return pd.DataFrame({
        "binding": [b.text() if b else "" for b in bindings],
        "binding_margin": [b.margin if b else np.nan for b in bindings],
    })


__all__ = ["HOURLY", "Binding", "binding", "explain_failure", "failing_hours",
           "hour_runs", "hours_text", "uncovered"]
