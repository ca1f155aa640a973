"""Exact timings on hand-made requests for paths the other lifecycle tests leave out.

Escalation hand-off and raise-priority (each switched on and off alone), complex requests
waiting on an outside party, runs that start on another weekday and hour, a request
queued at two tiers, compliance at exactly the target, utilisation's denominator and
staff cost per community.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
from helpers import run, table, tiny, tiny_dict

import sim
from sim.config import Scenario, scenario_from_dict
from sim.records import SimulationResult
from sim.sla import outcomes
from sim.stages import STAGE_TABLE


def col(res: SimulationResult, name: str) -> list[Any]:
    return list(res.requests[name].tolist())


def street_desk(borrow_after_min: float) -> dict[str, Any]:
    return {"name": "sdesk", "kind": "service_desk", "scope": "street",
            "borrow_after_min": borrow_after_min,
            "shifts": [{"start_hour": 0, "end_hour": 24, "headcount": 1}]}


# --------------------------------------------------------------------------- escalation
def escalation_scenario(raise_priority: bool, handoff: bool) -> Scenario:
    d = tiny_dict(escalation={"enabled": True, "raise_priority": raise_priority,
                              "handoff": handoff})
    d["staff"].append(street_desk(1000.0))  # never borrowed within these tests
    return scenario_from_dict(d)


def _handoff_run(raise_priority: bool, handoff: bool) -> SimulationResult:
    sc = escalation_scenario(raise_priority, handoff)
    return run(sc, table(sc, [0.0, 1.0], respond=30.0))


@pytest.mark.parametrize("raise_priority", [False, True])
def test_handoff_on_moves_the_request_at_its_breach_moment(raise_priority: bool) -> None:
    res = _handoff_run(raise_priority, handoff=True)
    # B (created 1) breaches at 21 while A holds the desk: the free street desk takes it
    assert col(res, "responded_min") == [0.0, 21.0]
    assert col(res, "respond_pool") == ["desk@c1", "sdesk@s1"]
    assert col(res, "escalated")[1] & 1


@pytest.mark.parametrize("raise_priority", [False, True])
def test_handoff_off_keeps_the_request_at_its_tier(raise_priority: bool) -> None:
    res = _handoff_run(raise_priority, handoff=False)
    assert col(res, "responded_min") == [0.0, 30.0]
    assert col(res, "respond_pool") == ["desk@c1", "desk@c1"]
    assert col(res, "escalated")[1] & 1  # escalated all the same, only not handed off


@pytest.mark.parametrize("handoff", [False, True])
def test_raise_priority_alone_is_switchable(handoff: bool) -> None:
    # one desk tier only, so hand-off has nowhere to go
    for raise_priority, expect in ((True, [0.0, 30.0, 60.0]), (False, [0.0, 60.0, 30.0])):
        sc = scenario_from_dict(tiny_dict(escalation={
            "enabled": True, "raise_priority": raise_priority, "handoff": handoff}))
        res = run(sc, table(sc, [0.0, 1.0, 25.0], urgent=[False, False, True], respond=30.0))
        # B breaches at 21; raised, it is served before urgent C (created later)
        assert col(res, "responded_min") == expect, raise_priority
        assert col(res, "escalated")[1] & 1


def test_escalation_disabled_never_escalates_or_hands_off() -> None:
    d = tiny_dict(escalation={"enabled": False, "raise_priority": True, "handoff": True})
    d["staff"].append(street_desk(1000.0))
    sc = scenario_from_dict(d)
    res = run(sc, table(sc, [0.0, 1.0], respond=30.0))
    assert col(res, "responded_min") == [0.0, 30.0]
    assert col(res, "escalated") == [0, 0]


# --------------------------------------------------------------------------- outside party
def test_complex_request_waiting_on_an_outside_party_plans_after_the_wait() -> None:
    sc = tiny()
    res = run(sc, table(sc, [0.0], complex_=[True], outside=[True], wait=100.0))
    # on site 15, assessment ends 75, outside party until 175, cadre plans 120 min
    assert col(res, "onsite_min") == [15.0]
    assert col(res, "plan_min") == [295.0]
    assert col(res, "finished_min") == [325.0]  # plan + close (30)


def test_outside_wait_holds_no_cadre() -> None:
    sc = tiny()
    # A waits on the outside party 75..1075; B's plan is written by the only cadre meanwhile
    res = run(sc, table(sc, [0.0, 0.0], complex_=[True, True], outside=[True, False],
                        wait=[1000.0, 0.0]))
    assert col(res, "plan_min") == [1195.0, 260.0]


# --------------------------------------------------------------------------- start offset
def offset_dict(weekday: str, hour: int, days: float = 3.0) -> dict[str, Any]:
    return tiny_dict(run={"horizon_days": days, "warmup_days": 0, "replications": 1,
                          "seed": 1, "start_weekday": weekday, "start_hour": hour})


def test_hour_and_weekday_columns_follow_the_start() -> None:
    sc = scenario_from_dict(offset_dict("wed", 7))
    res = run(sc, table(sc, [0.0, 1019.0, 1020.0, 3000.0]))
    assert col(res, "hour") == [7, 23, 0, 9]
    assert col(res, "weekday") == ["wed", "wed", "thu", "fri"]


def test_shifts_follow_the_start_weekday_and_hour() -> None:
    d = offset_dict("wed", 7)
    d["staff"][0]["shifts"] = [{"days": ["thu"], "start_hour": 8, "end_hour": 9,
                                "headcount": 1}]
    sc = scenario_from_dict(d)
    res = run(sc, table(sc, [0.0]))
    # created Wednesday 07:00; the only desk shift opens Thursday 08:00, 25 h later
    assert col(res, "responded_min") == [1500.0]
    desk = res.load[res.load["pool"] == "desk@c1"].set_index("hour")
    assert desk.loc[8, "on_duty_min"] == 60.0
    assert desk["on_duty_min"].sum() == 60.0


def test_business_hours_deadlines_follow_the_start() -> None:
    d = offset_dict("fri", 17, days=4)
    d["sla"] = [{"name": "bh", "calendar": "business_hours", "respond_min": 60,
                 "onsite_min": None, "finish_min": None, "plan_min": None}]
    sc = scenario_from_dict(d)
    res = run(sc, table(sc, [30.0, 30.0, 30.0]))
    # created Friday 17:30: 30 business minutes left on Friday, 30 more on Monday from
    # 09:00 -> the deadline is Monday 09:30, 64.5 h after the start (3870 min)
    req = res.requests.copy()
    req["responded_min"] = [3870.0, 3870.5, 50.0]
    out = outcomes(req, sc.sla[0], sc)
    assert out["respond"].tolist() == [1.0, 0.0, 1.0]
    # still open at the horizon (4 days, after the deadline): a censored miss
    req["responded_min"] = np.nan
    assert outcomes(req, sc.sla[0], sc)["respond"].tolist() == [0.0, 0.0, 0.0]


def test_business_hours_deadline_after_the_horizon_is_unknown() -> None:
    d = offset_dict("fri", 17, days=2.5)
    d["sla"] = [{"name": "bh", "calendar": "business_hours", "respond_min": 60,
                 "onsite_min": None, "finish_min": None, "plan_min": None}]
    sc = scenario_from_dict(d)
    req = run(sc, table(sc, [30.0])).requests.copy()
    req["responded_min"] = np.nan
    out = outcomes(req, sc.sla[0], sc)
    assert math.isnan(out["respond"].iloc[0])
    assert bool(out["respond_unknown"].iloc[0])


# --------------------------------------------------------------------------- multi-tier queue
def test_a_request_waiting_at_two_tiers_counts_in_both_queues_until_taken() -> None:
    d = tiny_dict()
    d["staff"].append(street_desk(5.0))
    sc = scenario_from_dict(d)
    res = run(sc, table(sc, [0.0, 0.0, 0.0], respond=30.0))
    # A: desk 0..30.  B: queued at the desk, offered to the street at 5, taken there.
    # C: queued at the desk from 0 and at the street from 5; the desk takes it at 30.
    assert col(res, "responded_min") == [0.0, 5.0, 30.0]
    assert col(res, "respond_pool") == ["desk@c1", "sdesk@s1", "desk@c1"]
    queue = res.load.groupby("pool")["queue_min"].sum()
    assert queue["desk@c1"] == pytest.approx(5.0 + 30.0, abs=1e-9)
    assert queue["sdesk@s1"] == pytest.approx(25.0, abs=1e-9)
    waiting = res.backlog[res.backlog["kind"] == "service_desk"]["waiting"]
    assert waiting.iloc[0] == pytest.approx((35.0 + 25.0) / 60.0, abs=1e-9)
    assert waiting.iloc[1:].sum() == 0.0


# --------------------------------------------------------------------------- targets
def exactly(stage: str, extra: float) -> list[float]:
    """Outcomes of ``stage`` for one request reaching it ``extra`` min after its target."""
    target = {"respond": 20.0, "onsite": 30.0, "finish": 240.0, "plan": 1440.0}[stage]
    sc = scenario_from_dict(tiny_dict(run={"horizon_days": 3, "warmup_days": 0,
                                           "replications": 1, "seed": 1}))
    if stage == "respond":  # the first request holds the desk for 20 (+extra) minutes
        req = table(sc, [0.0, 0.0], respond=[target + extra, 1.0])
        rows = [1]
    elif stage == "onsite":
        req = table(sc, [0.0], respond=10.0, travel=target - 10.0 + extra)
        rows = [0]
    elif stage == "finish":
        req = table(sc, [0.0], respond=10.0, travel=10.0, work=target - 20.0 + extra)
        rows = [0]
    else:
        req = table(sc, [0.0], complex_=[True], respond=10.0, travel=10.0, work=20.0,
                    plan=target - 40.0 + extra)
        rows = [0]
    res = run(sc, req)
    return [float(v) for v in outcomes(res.requests, sc.sla[0], sc)[stage].iloc[rows]]


@pytest.mark.parametrize("stage", [s.name for s in STAGE_TABLE])
def test_reaching_a_stage_exactly_at_its_target_meets_it(stage: str) -> None:
    assert exactly(stage, 0.0) == [1.0]
    assert exactly(stage, 1e-6) == [0.0]


# --------------------------------------------------------------------------- utilisation
def test_utilisation_is_busy_time_over_on_duty_time_after_warmup() -> None:
    d = tiny_dict(run={"horizon_days": 2, "warmup_days": 1, "replications": 1, "seed": 1})
    d["staff"][1]["shifts"] = [{"start_hour": 8, "end_hour": 20, "headcount": 2}]
    sc = scenario_from_dict(d)
    # one request in the warm-up (busy 08:00..09:05 on day 0) and one after it
    res = run(sc, table(sc, [470.0, 1440.0 + 470.0]))
    exp = sim.ExperimentResult.from_results(sc, 1, [res])
    util = exp.utilisation().set_index(["pool", "hour"])
    # measured day: the technician is busy 08:00..09:05 (travel 5 + work 60) of 2 x 12 h
    assert util.loc[("tech@c1", "all"), "utilisation"] == pytest.approx(65.0 / 1440.0,
                                                                         rel=1e-12)
    assert util.loc[("tech@c1", "8"), "utilisation"] == pytest.approx(60.0 / 120.0, rel=1e-12)
    assert util.loc[("tech@c1", "9"), "utilisation"] == pytest.approx(5.0 / 120.0, rel=1e-12)
    assert util.loc[("tech@c1", "all"), "on_duty"] == pytest.approx(1.0, rel=1e-12)
    assert util.loc[("desk@c1", "all"), "utilisation"] == pytest.approx(10.0 / 1440.0,
                                                                         rel=1e-12)
    assert util.loc[("desk@c1", "all"), "queue_length"] == 0.0


# --------------------------------------------------------------------------- cost
def cost_dict(scope: str) -> dict[str, Any]:
    d = tiny_dict()
    second = copy.deepcopy(d["communities"][0])
    second["name"] = "c2"
    d["communities"].append(second)
    for p in d["staff"]:
        p["hourly_cost"] = 0.0
    d["staff"][1]["hourly_cost"] = 10.0
    d["staff"][1]["scope"] = scope
    d["staff"][1]["shifts"] = [
        {"start_hour": 8, "end_hour": 20, "headcount": 2},
        {"start_hour": 20, "end_hour": 8, "headcount": 1, "on_call": True, "callout_min": 10,
         "cost_factor": 0.5},
    ]
    return d


@pytest.mark.parametrize(("scope", "instances"), [("community", 2), ("street", 1)])
def test_staff_cost_counts_every_community_of_a_community_scope_pool(
    scope: str, instances: int
) -> None:
    sc = scenario_from_dict(cost_dict(scope))
    res = sim.simulate(sc)
    per_week = 10.0 * (2 * 12 + 1 * 12 * 0.5) * 7  # 2100 per pool instance
    pools = res.pools.set_index("pool")
    tech = pools[pools["kind"] == "technician"]
    assert len(tech) == instances
    assert tech["weekly_cost"].tolist() == [pytest.approx(per_week, rel=1e-12)] * instances
    assert res.pools["weekly_cost"].sum() == pytest.approx(instances * per_week, rel=1e-12)


def test_pool_frame_covers_every_community() -> None:
    sc = scenario_from_dict(cost_dict("community"))
    res = sim.simulate(sc)
    assert sorted(res.pools["pool"]) == sorted(
        f"{p}@{c}" for p in ("desk", "tech", "cadre") for c in ("c1", "c2"))
