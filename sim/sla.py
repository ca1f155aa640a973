"""SLA clocks and compliance, as pure functions of the request records.

A stage target is counted from ``created_min`` (the moment the request reaches the
community) on the rule's calendar: ``24h`` (wall clock) or ``business_hours``.

Outcome of one stage of one request under one rule:

* ``1.0`` met, ``0.0`` missed -- including a stage never reached whose deadline passed
  before the end of the run (a censored miss);
* ``NaN`` -- not applicable (the rule does not cover the category, the stage does not
  exist for the request) or *unknown*: still open at the horizon with its deadline after
  the horizon.  Unknown outcomes are counted separately so reports can say how many.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sim.config import WEEK_MIN, WEEKDAYS, BusinessHours, Scenario, SlaRule

STAGE_COLUMNS = {
    "respond": "responded_min",
    "onsite": "onsite_min",
    "finish": "finished_min",
    "plan": "plan_min",
}
STAGES = tuple(STAGE_COLUMNS)
OUTCOME_STAGES = (*STAGES, "joint")
"""Stages reported in compliance tables: each target, and ``joint`` (all that apply met)."""
EPS = 1e-9


class Calendar:
    """Business-hours clock: cumulative business minutes since Monday 00:00 of week 0."""

    def __init__(self, bh: BusinessHours) -> None:
        days = sorted(WEEKDAYS.index(d) for d in set(bh.days))
        self.starts = np.array([d * 1440.0 + bh.start_hour * 60.0 for d in days])
        self.ends = np.array([d * 1440.0 + bh.end_hour * 60.0 for d in days])
        lengths = self.ends - self.starts
        self.cum_end = np.cumsum(lengths)
        self.cum_start = self.cum_end - lengths
        self.per_week = float(self.cum_end[-1])

    def elapsed_before(self, t_week_min: NDArray[np.float64]) -> NDArray[np.float64]:
        """Business minutes in [0, t) for absolute minutes ``t`` since Monday 00:00."""
        t = np.asarray(t_week_min, dtype=float)
        weeks = np.floor(t / WEEK_MIN)
        x = t - weeks * WEEK_MIN
        xs = np.column_stack([self.starts, self.ends]).ravel()
        ys = np.column_stack([self.cum_start, self.cum_end]).ravel()
        xs = np.concatenate(([0.0], xs, [WEEK_MIN]))
        ys = np.concatenate(([0.0], ys, [self.per_week]))
        return weeks * self.per_week + np.interp(x, xs, ys)

    def add(self, t_week_min: NDArray[np.float64], minutes: float) -> NDArray[np.float64]:
        """The earliest absolute minute at which ``minutes`` business minutes have passed."""
        y = self.elapsed_before(t_week_min) + minutes
        cycles = np.ceil(y / self.per_week) - 1
        rem = y - cycles * self.per_week
        i = np.searchsorted(self.cum_end, rem - EPS, side="left")
        i = np.minimum(i, len(self.cum_end) - 1)
        return cycles * WEEK_MIN + self.starts[i] + (rem - self.cum_start[i])


def deadlines(
    created_min: NDArray[np.float64], target_min: float, rule: SlaRule, scenario: Scenario
) -> NDArray[np.float64]:
    """Absolute simulated minute at which a stage target is breached."""
    if rule.calendar == "24h":
        return created_min + target_min
    cal = Calendar(scenario.business_hours)
    off = scenario.run.start_offset_min
    return cal.add(created_min + off, target_min) - off


def _elapsed(
    start: NDArray[np.float64], end: NDArray[np.float64], rule: SlaRule, scenario: Scenario
) -> NDArray[np.float64]:
    if rule.calendar == "24h":
        return end - start
    cal = Calendar(scenario.business_hours)
    off = scenario.run.start_offset_min
    with np.errstate(invalid="ignore"):
        return cal.elapsed_before(end + off) - cal.elapsed_before(start + off)


def applicable(
    requests: pd.DataFrame, rule: SlaRule, scenario: Scenario
) -> dict[str, NDArray[np.bool_]]:
    """Which requests each stage of ``rule`` measures."""
    cats = requests["category"].astype(str).to_numpy()
    covered = (
        np.ones(len(requests), dtype=bool)
        if rule.categories == "all"
        else np.isin(cats, list(rule.categories))
    )
    has_site = {name: bool(c.onsite_by) for name, c in scenario.categories.items()}
    site = np.array([has_site.get(c, False) for c in cats], dtype=bool) if len(cats) else (
        np.zeros(0, dtype=bool)
    )
    cx = requests["complex"].to_numpy(dtype=bool)
    targets = {
        "respond": rule.respond_min,
        "onsite": rule.onsite_min,
        "finish": rule.finish_min,
        "plan": rule.plan_min,
    }
    masks = {"respond": covered, "onsite": covered & site, "finish": covered & ~cx,
             "plan": covered & cx}
    return {s: m if targets[s] is not None else np.zeros_like(m) for s, m in masks.items()}


def outcomes(requests: pd.DataFrame, rule: SlaRule, scenario: Scenario) -> pd.DataFrame:
    """Per request and stage: 1 met, 0 missed, NaN not applicable or unknown.

    Columns ``respond, onsite, finish, plan, joint`` and, for each, ``<stage>_unknown``
    (bool: applicable but still open at the horizon with its deadline after it).
    """
    horizon = scenario.run.horizon_min
    created = requests["created_min"].to_numpy(dtype=float)
    masks = applicable(requests, rule, scenario)
    out: dict[str, NDArray[np.float64] | NDArray[np.bool_]] = {}
    n = len(requests)
    any_missed = np.zeros(n, dtype=bool)
    any_unknown = np.zeros(n, dtype=bool)
    any_applicable = np.zeros(n, dtype=bool)
    for stage, col in STAGE_COLUMNS.items():
        target = getattr(rule, f"{stage}_min")
        mask = masks[stage]
        met = np.full(n, np.nan)
        unknown = np.zeros(n, dtype=bool)
        if target is not None and mask.any():
            t = requests[col].to_numpy(dtype=float)
            reached = ~np.isnan(t)
            el = _elapsed(created, t, rule, scenario)
            ok = reached & (el <= target + EPS)
            overdue = deadlines(created, target, rule, scenario) <= horizon
            met = np.where(mask & reached, ok.astype(float), np.nan)
            met = np.where(mask & ~reached & overdue, 0.0, met)
            unknown = mask & ~reached & ~overdue
        out[stage] = met
        out[f"{stage}_unknown"] = unknown
        any_missed |= met == 0.0
        any_unknown |= unknown
        any_applicable |= mask
    joint = np.where(any_missed, 0.0, np.where(any_unknown, np.nan, 1.0))
    out["joint"] = np.where(any_applicable, joint, np.nan)
    out["joint_unknown"] = any_applicable & ~any_missed & any_unknown
    return pd.DataFrame(out, index=requests.index)


def stage_times(requests: pd.DataFrame) -> pd.DataFrame:
    """Wall-clock minutes from ``created_min`` to each stage (NaN where not reached)."""
    created = requests["created_min"]
    return pd.DataFrame(
        {s: requests[c] - created for s, c in STAGE_COLUMNS.items()}, index=requests.index
    )
