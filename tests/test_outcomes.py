"""Stage outcomes at the edges: rule scope, business-hours boundaries, censoring, joint."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import tiny_dict

from sim.config import Scenario, SlaRule, scenario_from_dict
from sim.sla import outcomes, stage_times

NAN = math.nan


def scenario(**run: Any) -> Scenario:
    return scenario_from_dict(tiny_dict(run={"horizon_days": 7, "warmup_days": 0,
                                             "replications": 1, "seed": 1, **run}))


def records(sc: Scenario, created: list[float], *, category: str = "job",
            complex_: list[bool] | None = None, responded_min: list[float] | None = None,
            onsite_min: list[float] | None = None, finished_min: list[float] | None = None,
            plan_min: list[float] | None = None) -> pd.DataFrame:
    n = len(created)
    given = {"responded_min": responded_min, "onsite_min": onsite_min,
             "finished_min": finished_min, "plan_min": plan_min}
    cols = {c: np.full(n, NAN) if v is None else np.array(v, dtype=float)
            for c, v in given.items()}
    return pd.DataFrame({
        "category": pd.Categorical([category] * n, categories=list(sc.categories)),
        "complex": np.array(complex_ or [False] * n),
        "created_min": np.array(created, dtype=float),
        **cols,
    })


def same(a: list[float], b: list[float]) -> bool:
    return bool(np.array_equal(np.array(a, dtype=float), np.array(b, dtype=float),
                               equal_nan=True))


def test_round_the_clock_business_hours_equal_the_24h_clock() -> None:
    d = tiny_dict(run={"horizon_days": 7, "warmup_days": 0, "replications": 1, "seed": 1})
    d["business_hours"] = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                           "start_hour": 0, "end_hour": 24}
    sc = scenario_from_dict(d)
    created = [0.5, 100.0, 1439.5, 5000.0]
    req = records(sc, created, responded_min=[20.5, 120.5, 1459.5, 5019.0])
    bh = outcomes(req, SlaRule(calendar="business_hours"), sc)["respond"].tolist()
    h24 = outcomes(req, SlaRule(), sc)["respond"].tolist()
    assert bh == h24 == [1.0, 0.0, 1.0, 1.0]


def test_a_deadline_at_closing_time_is_that_day_not_the_next_morning() -> None:
    # Monday 17:00 + 60 business minutes = Monday 18:00 (not Tuesday 09:00)
    sc = scenario(horizon_days=0.5, start_hour=17)  # ends Tuesday 05:00
    req = records(sc, [0.0])
    rule = SlaRule(calendar="business_hours", respond_min=60)
    out = outcomes(req, rule, sc)
    assert out["respond"].tolist() == [0.0]  # overdue before the end of the run
    assert not out["respond_unknown"].any()


def test_a_friday_deadline_stays_on_friday() -> None:
    # Friday 10:00 + 60 business minutes = Friday 11:00; the run ends Friday 10:30
    sc = scenario(horizon_days=4.4375)
    out = outcomes(records(sc, [4 * 1440 + 600.0]),
                   SlaRule(calendar="business_hours", respond_min=60), sc)
    assert math.isnan(out["respond"].iloc[0])
    assert out["respond_unknown"].tolist() == [True]


def test_a_deadline_exactly_at_the_horizon_is_a_miss() -> None:
    sc = scenario(horizon_days=1)
    out = outcomes(records(sc, [1420.0, 1420.5]), SlaRule(), sc)
    assert same(out["respond"].tolist(), [0.0, NAN])
    assert out["respond_unknown"].tolist() == [False, True]


def test_rules_for_some_categories_leave_the_others_unmeasured() -> None:
    sc = scenario()
    rule = SlaRule(name="jobs", categories=["job"])
    one = [1.0]
    mine = outcomes(records(sc, [0.0], responded_min=one, onsite_min=one, finished_min=one),
                    rule, sc)
    other = outcomes(records(sc, [0.0], category="parking", responded_min=one,
                             onsite_min=one, finished_min=one), rule, sc)
    assert mine[["respond", "onsite", "finish", "joint"]].iloc[0].tolist() == [1.0] * 4
    row = other.iloc[0]
    for stage in ("respond", "onsite", "finish", "plan", "joint"):
        assert isinstance(row[stage], float) and math.isnan(row[stage]), stage
        assert not row[f"{stage}_unknown"]


def test_a_plan_only_rule_measures_nothing_on_routine_requests() -> None:
    sc = scenario()
    rule = SlaRule(respond_min=None, onsite_min=None, finish_min=None)
    req = records(sc, [0.0, 0.0], complex_=[False, True], responded_min=[1.0, 1.0],
                  onsite_min=[1.0, 1.0], finished_min=[1.0, NAN], plan_min=[NAN, 2000.0])
    out = outcomes(req, rule, sc)
    assert same(out["joint"].tolist(), [NAN, 0.0])
    assert same(out["plan"].tolist(), [NAN, 0.0])
    assert same(out["respond"].tolist(), [NAN, NAN])


def test_joint_is_missed_if_any_stage_is_and_unknown_only_otherwise() -> None:
    sc = scenario(horizon_days=1)
    # a: respond missed, on site still open with its deadline after the end -> missed
    # b: respond met, on site still open after the end -> unknown
    # c: everything met
    req = records(sc, [1415.0, 1420.0, 0.0], responded_min=[1436.0, 1421.0, 1.0],
                  onsite_min=[NAN, NAN, 2.0], finished_min=[NAN, NAN, 3.0])
    out = outcomes(req, SlaRule(), sc)
    assert same(out["joint"].tolist(), [0.0, NAN, 1.0])
    assert out["joint_unknown"].tolist() == [False, True, False]
    assert out["onsite_unknown"].tolist() == [True, True, False]


def test_outcomes_keep_the_records_index_and_handle_no_records() -> None:
    sc = scenario()
    req = records(sc, [0.0, 5.0], responded_min=[1.0, 50.0])
    req.index = pd.Index([10, 11])
    out = outcomes(req, SlaRule(), sc)
    assert out.index.tolist() == [10, 11]
    assert out.loc[11, "respond"] == 0.0
    empty = outcomes(req.iloc[:0], SlaRule(), sc)
    assert len(empty) == 0
    assert {"respond", "joint", "joint_unknown"} <= set(empty.columns)


def test_stage_times_are_minutes_from_arrival() -> None:
    sc = scenario()
    req = records(sc, [10.0, 20.0], responded_min=[15.0, NAN], onsite_min=[40.0, NAN],
                  finished_min=[100.0, NAN], plan_min=[NAN, NAN])
    req.index = pd.Index([3, 4])
    t = stage_times(req)
    assert t.index.tolist() == [3, 4]
    assert same(t.loc[3].tolist(), [5.0, 30.0, 90.0, NAN])
    assert t.loc[4].isna().all()


@pytest.mark.parametrize("stage", ["respond", "onsite"])
def test_exactly_at_target_under_business_hours(stage: str) -> None:
    sc = scenario(start_hour=9)  # Monday 09:00: the office is open
    target = {"respond": 20.0, "onsite": 30.0}[stage]
    edge = [target, target + 1e-6]
    if stage == "respond":
        req = records(sc, [0.0, 0.0], responded_min=edge, onsite_min=[40.0, 40.0])
    else:
        req = records(sc, [0.0, 0.0], responded_min=[1.0, 1.0], onsite_min=edge)
    out = outcomes(req, SlaRule(calendar="business_hours"), sc)
    assert out[stage].tolist() == [1.0, 0.0]
