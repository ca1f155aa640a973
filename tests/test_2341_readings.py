"""The two readings of 4小时办结、1天出方案 and writing a plan during an outside wait: exact
timings on hand-made requests (tiny scenario: desk 10 min, travel 5, one of each staff)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest
from helpers import run, table, tiny_dict

from sim.config import Scenario, scenario_from_dict
from sim.records import SimulationResult
from sim.sla import outcomes


def scenario(track: str = "at_arrival", parallel: bool = False) -> Scenario:
    d = tiny_dict(sla=[{"plan_track": track, "plan_during_outside_wait": parallel}])
    return scenario_from_dict(d, "<test>")


def col(res: SimulationResult, name: str) -> list[Any]:
    return [None if isinstance(v, float) and math.isnan(v) else v
            for v in res.requests[name].tolist()]


def stage(res: SimulationResult, sc: Scenario, name: str) -> list[Any]:
    out: pd.DataFrame = outcomes(res.requests, sc.sla[0], sc)
    return [None if math.isnan(v) else v for v in out[name].tolist()]


def test_default_reading_is_complexity_known_at_arrival() -> None:
    sc = tiny_dict()
    assert "sla" not in sc
    rule = scenario().sla[0]
    assert (rule.plan_track, rule.plan_during_outside_wait) == ("at_arrival", False)


@pytest.mark.parametrize("track", ["at_arrival", "after_finish_target"])
def test_routine_request_waiting_on_an_outside_party(track: str) -> None:
    """On site 15, work to 75, the outside party until 575: finished 575 (finish missed).
    Overdue reading: at 240 it owes a plan, but the plan waits for the party, so its plan
    stage is reached when it is finished, 575 (within the day)."""
    sc = scenario(track)
    res = run(sc, table(sc, [0.0], outside=[True], wait=500.0))
    assert col(res, "finished_min") == [575.0]
    assert col(res, "plan_min") == [None]
    assert stage(res, sc, "finish") == [0.0]
    if track == "at_arrival":
        assert col(res, "plan_owed_min") == [None]
        assert stage(res, sc, "plan") == [None]
    else:
        assert col(res, "plan_owed_min") == [240.0]
        assert stage(res, sc, "plan") == [1.0]
    cadre = res.load[res.load["pool"] == "cadre@c1"]
    assert cadre["busy_min"].sum() == 0.0


def test_overdue_routine_request_planned_during_the_outside_wait() -> None:
    sc = scenario("after_finish_target", parallel=True)
    res = run(sc, table(sc, [0.0], outside=[True], wait=500.0))
    # at 240 the cadre starts the plan (120 min): plan 360; the request still closes at 575
    assert col(res, "plan_owed_min") == [240.0]
    assert col(res, "plan_min") == [360.0]
    assert col(res, "plan_pool") == ["cadre@c1"]
    assert col(res, "finished_min") == [575.0]
    assert stage(res, sc, "plan") == [1.0]


def test_overdue_routine_request_whose_plan_is_overtaken_by_the_fix() -> None:
    """Long work (300 min): on site 15, finished 315.  The plan started at 240 ends at 360;
    the plan stage counts the earlier of plan and fix, 315."""
    sc = scenario("after_finish_target")
    res = run(sc, table(sc, [0.0], work=300.0))
    assert col(res, "plan_owed_min") == [240.0]
    assert col(res, "plan_min") == [360.0]
    assert col(res, "finished_min") == [315.0]
    assert stage(res, sc, "finish") == [0.0]
    assert stage(res, sc, "plan") == [1.0]
    at_arrival = scenario()
    res0 = run(at_arrival, table(at_arrival, [0.0], work=300.0))
    assert col(res0, "plan_min") == [None] and col(res0, "plan_owed_min") == [None]
    assert stage(res0, at_arrival, "plan") == [None]


def test_a_plan_not_started_before_the_fix_is_dropped() -> None:
    """A complex request holds the cadre 75-575 writing its plan.  A routine one (arrives 1,
    desk 10-20, technician free at 75: on site 80, work 300, finished 380) owes a plan
    from 241 but the cadre takes it only at 575, when it is done: no plan is written and
    the cadre's time is the complex plan's 500 minutes alone."""
    sc = scenario("after_finish_target")
    res = run(sc, table(sc, [0.0, 1.0], complex_=[True, False], plan=[500.0, 120.0],
                        work=[60.0, 300.0]))
    assert col(res, "plan_min") == [575.0, None]
    assert col(res, "plan_owed_min") == [None, 241.0]
    assert col(res, "finished_min") == [605.0, 380.0]
    cadre = res.load[res.load["pool"] == "cadre@c1"]
    assert cadre["busy_min"].sum() == pytest.approx(500.0)
    assert stage(res, sc, "plan") == [1.0, 1.0]
    assert stage(res, sc, "finish") == [None, 0.0]


@pytest.mark.parametrize("parallel", [False, True])
def test_complex_request_waiting_on_an_outside_party(parallel: bool) -> None:
    """Assessment ends at 75; the party works until 575.  Sequential: plan 575-695, closed
    30 min later (725).  During the wait: plan 75-195, closed 30 min after both are done
    (605)."""
    sc = scenario(parallel=parallel)
    res = run(sc, table(sc, [0.0], complex_=[True], outside=[True], wait=500.0))
    assert col(res, "plan_min") == ([195.0] if parallel else [695.0])
    assert col(res, "finished_min") == ([605.0] if parallel else [725.0])


def test_plan_deadline_counts_the_outside_wait_unless_planned_during_it() -> None:
    """A party taking 1400 min: planned after it, the plan comes at 1595 > 1440 (missed);
    planned during it, at 195 (met)."""
    for parallel, expected in ((False, [0.0]), (True, [1.0])):
        d = tiny_dict(sla=[{"plan_during_outside_wait": parallel}],
                      run={"horizon_days": 2, "warmup_days": 0, "replications": 1, "seed": 1})
        sc = scenario_from_dict(d, "<test>")
        res = run(sc, table(sc, [0.0], complex_=[True], outside=[True], wait=1400.0))
        assert stage(res, sc, "plan") == expected, parallel


def test_routine_request_finished_in_time_owes_no_plan() -> None:
    sc = scenario("after_finish_target")
    res = run(sc, table(sc, [0.0]))
    assert col(res, "finished_min") == [75.0]
    assert col(res, "plan_owed_min") == [None]
    assert stage(res, sc, "plan") == [None]
    assert stage(res, sc, "finish") == [1.0]


def test_overdue_reading_needs_a_finish_target() -> None:
    from sim.config import ScenarioError

    d = tiny_dict(sla=[{"plan_track": "after_finish_target", "finish_min": None}])
    with pytest.raises(ScenarioError, match="finish_min"):
        scenario_from_dict(d, "<test>")


def test_overdue_request_of_a_category_without_plan_staff_still_owes_a_plan() -> None:
    """No plan_by: nobody writes the plan, so only the fix (at 315) answers it."""
    d = tiny_dict(sla=[{"plan_track": "after_finish_target"}])
    d["categories"]["lift_fault"] = {"plan_by": [], "complex_prob": 0.0}  # category 0
    sc = scenario_from_dict(d, "<test>")
    res = run(sc, table(sc, [0.0], work=300.0))
    assert col(res, "plan_owed_min") == [240.0]
    assert col(res, "plan_min") == [None]
    assert col(res, "finished_min") == [315.0]
    assert stage(res, sc, "plan") == [1.0]
