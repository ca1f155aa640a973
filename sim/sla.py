"""SLA clocks and compliance, as pure functions of the request records.

A stage target is counted on the rule's calendar (``24h`` wall clock or
``business_hours``) from the rule's clock start (``clock_from``): ``community`` counts
from ``created_min`` (the moment the request reaches the community), ``resident`` from
``raised_min`` (the moment the resident raised it; for a 12345 ticket the transfer counts
against the target).  :func:`with_clock` gives a copy of a rule on the other clock.

A hotline ticket raised before the horizon but still in transit at it (``in_transit``,
``created_min >= horizon``) is censored like any open request: on the community clock its
deadlines fall after the horizon (unknown); on the resident clock a deadline already
passed is a miss.

Which requests a stage measures: respond all, on site those with site work, finish the
routine (not complex) ones, plan the *plan track* -- complex requests and routine ones
that entered it when they overran the finish target (``plan_owed_min`` recorded, under
``plan_track: after_finish_target``).  A routine request in the plan track has its plan
stage reached by a plan or by being finished, whichever comes first.

Outcome of one stage of one request under one rule:

* ``1.0`` met, ``0.0`` missed -- including a stage never reached whose deadline passed
  before the end of the run (a censored miss);
* ``NaN`` -- not applicable (the rule does not cover the category, the stage does not
  exist for the request) or *unknown*: still open at the horizon with its deadline after
  the horizon.  Unknown outcomes are counted separately so reports can say how many.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sim.calendars import business_clock
from sim.config import Scenario, SlaRule
from sim.stages import BY_NAME, FINISH, JOINT, OUTCOMES, PLAN, STAGE_TABLE, Stage
from sim.stages import STAGE_COLUMNS as STAGE_COLUMNS
from sim.stages import STAGES as STAGES
from sim.timeaxis import EPS, Calendar

__all__ = [
    "CLOCKS", "EPS", "OUTCOME_STAGES", "STAGES", "STAGE_COLUMNS", "Calendar", "applicable",
    "clock_start", "deadlines", "outcomes", "plan_track", "stage_target", "stage_time",
    "stage_times", "with_clock",
]

CLOCKS: tuple[str, ...] = ("community", "resident")
"""The clocks a target can count from (``SlaRule.clock_from``)."""

OUTCOME_STAGES = OUTCOMES
"""Stages reported in compliance tables: each target, and ``joint`` (all that apply met);
the same as :data:`sim.stages.OUTCOMES`."""


def with_clock(rule: SlaRule, clock: str | None) -> SlaRule:
    """``rule`` counted from ``clock`` (``community`` or ``resident``; None: its own)."""
    if clock is None or clock == rule.clock_from:
        return rule
    if clock not in CLOCKS:
        raise ValueError(f"unknown clock {clock!r}: expected one of {', '.join(CLOCKS)}")
    return rule.model_copy(update={"clock_from": clock})


def clock_start(
    raised_min: NDArray[np.float64], created_min: NDArray[np.float64], rule: SlaRule
) -> NDArray[np.float64]:
    """Minute each request's targets count from under ``rule.clock_from``."""
    return raised_min if rule.clock_from == "resident" else created_min


def stage_target(rule: SlaRule, stage: str, scenario: Scenario) -> tuple[float | None, str]:
    """Target (minutes) of ``stage`` under ``rule`` and the calendar it counts on.

    A target in days (``targets_in_days``) counts on its own clock: natural days are
    1440 min of the 24-hour clock, working days the business hours of one working day on
    the business-hours clock; any other target is ``<stage>_min`` on ``rule.calendar``.
    """
    days = rule.targets_in_days.get(stage)  # type: ignore[call-overload]
    if days is None:
        target: float | None = getattr(rule, BY_NAME[stage].sla_field)
        return target, rule.calendar
    if days.unit == "natural":
        return days.days * 1440.0, "24h"
    bh = scenario.business_hours
    return days.days * (bh.end_hour - bh.start_hour) * 60.0, "business_hours"


def deadlines(
    start_min: NDArray[np.float64], target_min: float, rule: SlaRule, scenario: Scenario,
    stage: str | None = None,
) -> NDArray[np.float64]:
    """Absolute simulated minute at which a stage target counted from ``start_min`` is
    breached (``start_min`` from :func:`clock_start`).  With ``stage`` naming a target in
    days of the rule, that target and its clock replace ``target_min`` and the rule's."""
    calendar: str = rule.calendar
    if stage is not None and stage in rule.targets_in_days:
        days_target, calendar = stage_target(rule, stage, scenario)
        assert days_target is not None
        target_min = days_target
    if calendar == "24h":
        return start_min + target_min
    return business_clock(scenario).add(start_min, target_min)


def _elapsed(
    start: NDArray[np.float64], end: NDArray[np.float64], calendar: str, scenario: Scenario
) -> NDArray[np.float64]:
    if calendar == "24h":
        return end - start
    return business_clock(scenario).elapsed(start, end)


def plan_track(requests: pd.DataFrame) -> NDArray[np.bool_]:
    """Requests that owe a plan: complex ones, and routine ones that entered the plan
    track when they overran the finish target (``plan_owed_min`` recorded)."""
    cx = requests["complex"].to_numpy(dtype=bool)
    if "plan_owed_min" not in requests:  # runs saved before the plan track existed
        return cx
    owed: NDArray[np.bool_] = ~np.isnan(requests["plan_owed_min"].to_numpy(dtype=float))
    return cx | owed


def _stage_mask(
    stage: Stage, covered: NDArray[np.bool_], site: NDArray[np.bool_], cx: NDArray[np.bool_],
    track: NDArray[np.bool_],
) -> NDArray[np.bool_]:
    """Requests ``stage`` measures among those the rule covers (``Stage.applies_to``;
    ``complex`` means the plan track, complex requests and overdue routine ones)."""
    if stage.applies_to == "all":
        return covered
    if stage.applies_to == "site":
        return covered & site
    if stage.applies_to == "routine":
        return covered & ~cx
    if stage.applies_to == "complex":
        return covered & track
    raise ValueError(f"stage {stage.name}: unknown applies_to {stage.applies_to!r}")


def _per_category(category: pd.Series, test: Callable[[object], bool]) -> NDArray[np.bool_]:
    """``test`` of each request's category as text (``astype(str)``: a missing one as
    pandas writes it), decided once per distinct category instead of once a request."""
    if isinstance(category.dtype, pd.CategoricalDtype):
        cats = category.cat.categories
        missing = pd.Series(pd.Categorical([None], categories=cats)).astype(str).iloc[0]
        lookup = np.array([test(str(c)) for c in cats] + [test(missing)], dtype=bool)
        out: NDArray[np.bool_] = lookup[np.asarray(category.cat.codes, dtype=np.int64)]
        return out  # (code -1, a missing category, takes the last entry)
    texts = category.astype(str).to_numpy()
    codes, values = pd.factorize(texts, use_na_sentinel=False)
    return np.array([test(v) for v in values], dtype=bool)[codes] if len(texts) else (
        np.zeros(0, dtype=bool))


def applicable(
    requests: pd.DataFrame, rule: SlaRule, scenario: Scenario
) -> dict[str, NDArray[np.bool_]]:
    """Which requests each stage of ``rule`` measures (none where it sets no target)."""
    category = requests["category"]
    covered = (
        np.ones(len(requests), dtype=bool)
        if rule.categories == "all"
        else _per_category(category, lambda c: c in rule.categories)
    )
    has_site = {name: bool(c.onsite_by) for name, c in scenario.categories.items()}
    site = _per_category(category, lambda c: isinstance(c, str) and has_site.get(c, False))
    cx = requests["complex"].to_numpy(dtype=bool)
    track = plan_track(requests)
    out: dict[str, NDArray[np.bool_]] = {}
    for stage in STAGE_TABLE:
        m = _stage_mask(stage, covered, site, cx, track)
        out[stage.name] = m if getattr(rule, stage.sla_field) is not None else np.zeros_like(m)
    return out


def outcomes(requests: pd.DataFrame, rule: SlaRule, scenario: Scenario) -> pd.DataFrame:
    """Per request and stage: 1 met, 0 missed, NaN not applicable or unknown.

    Columns ``respond, onsite, finish, plan, joint`` and, for each, ``<stage>_unknown``
    (bool: applicable but still open at the horizon with its deadline after it).  Targets
    count from the rule's clock (:func:`clock_start`).
    """
    horizon = scenario.run.horizon_min
    created = requests["created_min"].to_numpy(dtype=float)
    raised = requests["raised_min"].to_numpy(dtype=float) if "raised_min" in requests else (
        created)  # a table without raised_min was raised as it was created
    start = clock_start(raised, created, rule)
    routine_plan = plan_track(requests) & ~requests["complex"].to_numpy(dtype=bool)
    masks = applicable(requests, rule, scenario)
    out: dict[str, NDArray[np.float64] | NDArray[np.bool_]] = {}
    n = len(requests)
    any_missed = np.zeros(n, dtype=bool)
    any_unknown = np.zeros(n, dtype=bool)
    any_applicable = np.zeros(n, dtype=bool)
    for st in STAGE_TABLE:
        stage, col = st.name, st.column
        target, calendar = stage_target(rule, stage, scenario)
        mask = masks[stage]
        met = np.full(n, np.nan)
        unknown = np.zeros(n, dtype=bool)
        if target is not None and mask.any():
            t = requests[col].to_numpy(dtype=float)
            if stage == PLAN.name and routine_plan.any():  # a plan, or the fix itself
                done = requests[FINISH.column].to_numpy(dtype=float)
                t = np.where(routine_plan, np.fmin(t, done), t)
            reached = ~np.isnan(t)
            el = _elapsed(start, t, calendar, scenario)
            ok = reached & (el <= target + EPS)
            overdue = deadlines(start, target, rule, scenario, stage) <= horizon
            met = np.where(mask & reached, ok.astype(float), np.nan)
            met = np.where(mask & ~reached & overdue, 0.0, met)
            unknown = mask & ~reached & ~overdue
        out[stage] = met
        out[f"{stage}_unknown"] = unknown
        any_missed |= met == 0.0
        any_unknown |= unknown
        any_applicable |= mask
    joint = np.where(any_missed, 0.0, np.where(any_unknown, np.nan, 1.0))
    out[JOINT] = np.where(any_applicable, joint, np.nan)
    out[f"{JOINT}_unknown"] = any_applicable & ~any_missed & any_unknown
    return pd.DataFrame(out, index=requests.index, copy=False)  # the arrays are new


def stage_time(requests: pd.DataFrame, stage: Stage) -> NDArray[np.float64]:
    """Wall-clock minutes from ``created_min`` to ``stage`` (NaN where not reached)."""
    reached: NDArray[np.float64] = requests[stage.column].to_numpy(dtype=float)
    created: NDArray[np.float64] = requests["created_min"].to_numpy(dtype=float)
    return reached - created


def stage_times(requests: pd.DataFrame) -> pd.DataFrame:
    """:func:`stage_time` of every stage, one column each."""
    return pd.DataFrame({s.name: stage_time(requests, s) for s in STAGE_TABLE},
                        index=requests.index)
