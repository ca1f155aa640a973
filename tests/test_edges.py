"""Exact timings and outcomes at the edges: a close exactly at the horizon, a fix exactly at
the finish deadline, a complex request finished without a plan, an unknown clock, no
demand at all.

Tiny scenario (see ``helpers.tiny``): desk 10 min, travel 5, work 60, horizon one day.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from helpers import run, table, tiny, tiny_dict

from sim.arrivals import generate
from sim.config import CHANNELS, Scenario, scenario_from_dict
from sim.records import SimulationResult
from sim.rng import Streams
from sim.sla import outcomes, with_clock


def col(res: SimulationResult, name: str) -> list[Any]:
    return [None if isinstance(v, float) and math.isnan(v) else v
            for v in res.requests[name].tolist()]


def test_close_exactly_at_the_horizon_is_recorded() -> None:
    """On site 15, work to 75, the outside party 1365 min: closed at 1440, the horizon."""
    sc = tiny()
    assert sc.run.horizon_min == 1440.0
    res = run(sc, table(sc, [0.0], outside=[True], wait=1365.0))
    assert col(res, "finished_min") == [1440.0]
    res = run(sc, table(sc, [0.0], outside=[True], wait=1366.0))
    assert col(res, "finished_min") == [None]  # one minute later: not reached


def overdue_reading() -> Scenario:
    d = tiny_dict(sla=[{"plan_track": "after_finish_target"}])
    return scenario_from_dict(d, "<test>")


def test_fix_exactly_at_the_finish_deadline_owes_no_plan() -> None:
    """The outside party is done at 240, the finish deadline itself: the target is met,
    so the request never enters the plan track."""
    sc = overdue_reading()
    res = run(sc, table(sc, [0.0], outside=[True], wait=165.0))
    assert col(res, "finished_min") == [240.0]
    assert col(res, "plan_owed_min") == [None]
    out = outcomes(res.requests, sc.sla[0], sc)
    assert out["finish"].tolist() == [1.0]
    assert math.isnan(out["plan"].iloc[0])  # not in the plan track: not measured
    # a minute later it overruns: it owes a plan from 240
    res = run(sc, table(sc, [0.0], outside=[True], wait=166.0))
    assert col(res, "plan_owed_min") == [240.0]


def test_complex_request_finished_without_a_plan_misses_its_plan_stage() -> None:
    """Only a routine request's plan stage can be reached by the fix; a complex request
    recorded as finished with no plan (as an audited log may hold) missed its plan."""
    sc = tiny()
    res = run(sc, table(sc, [0.0], complex_=[True]))
    # on site 15, assessment to 75, plan 120 min: 195, closed 30 min later
    assert col(res, "plan_min") == [195.0]
    assert col(res, "finished_min") == [225.0]
    records = res.requests.copy()
    records["plan_min"] = math.nan
    out = outcomes(records, sc.sla[0], sc)
    assert out["plan"].tolist() == [0.0]  # deadline 1440 within the run: a miss
    assert out["finish"].isna().all()  # complex: no finish target of its own


def test_unknown_clock_is_named_with_the_choices() -> None:
    rule = tiny().sla[0]
    with pytest.raises(ValueError, match=r"unknown clock 'caller': expected one of "
                                         r"community, resident$"):
        with_clock(rule, "caller")


def test_overdue_request_planned_by_the_people_doing_its_fix() -> None:
    """One request holding two jobs at one preemptive pool: the technicians both fix and
    plan.  Work to 315; overdue at 240, the second technician plans it until 360."""
    d = tiny_dict(sla=[{"plan_track": "after_finish_target"}])
    d["categories"]["job"]["plan_by"] = ["technician"]
    d["staff"][1]["preemptive"] = True
    d["staff"][1]["shifts"][0]["headcount"] = 2
    sc = scenario_from_dict(d, "<test>")
    res = run(sc, table(sc, [0.0], work=300.0, category="job"))
    assert col(res, "onsite_min") == [15.0]
    assert col(res, "plan_owed_min") == [240.0]
    assert col(res, "plan_min") == [360.0]
    assert col(res, "plan_pool") == ["tech@c1"]
    assert col(res, "finished_min") == [315.0]
    tech = res.load[res.load["pool"] == "tech@c1"]
    assert tech["busy_min"].sum() == 5.0 + 300.0 + 120.0  # travel, work, plan


def test_no_demand_anywhere_gives_an_empty_request_table() -> None:
    d = tiny_dict()
    d["communities"][0]["demand_multiplier"] = 0.0
    sc = scenario_from_dict(d, "<test>")
    req = generate(sc, list(sc.expanded_communities()), Streams(1, 0))
    assert len(req) == 0
    lengths = {name: len(v) for name, v in vars(req).items()}
    assert set(lengths.values()) == {0}, lengths


def test_shares_summing_to_just_under_one_never_draw_an_unlisted_category() -> None:
    """Shares may sum to 1 within 1e-3; they are rescaled, so a category or channel with no
    share never occurs, not even the last one listed (about 28,000 requests: a 0.1% leak
    would show dozens)."""
    d = tiny_dict(run={"horizon_days": 14, "warmup_days": 0, "replications": 1, "seed": 1})
    c = d["communities"][0]
    c["households"] = 1000
    c["requests_per_household_per_day"] = 2.0
    d["categories"]["other"] = dict(d["categories"]["job"])  # listed last, share 0
    c["category_mix"] = {"job": 0.9995, "other": 0.0}
    c["channel_mix"] = {"phone": 0.9995}
    sc = scenario_from_dict(d, "<test>")
    req = generate(sc, list(sc.expanded_communities()), Streams(1, 0))
    assert len(req) > 20_000
    assert set(req.category.tolist()) == {list(sc.categories).index("job")}
    assert set(req.channel.tolist()) == {CHANNELS.index("phone")}


# ------------------------------------------------------------ milestones at the horizon
def test_arrival_on_site_exactly_at_the_horizon_is_recorded() -> None:
    """Created 1400, desk 10, travel 30: on site at 1440, the horizon."""
    sc = tiny()
    res = run(sc, table(sc, [1400.0], travel=30.0))
    assert col(res, "onsite_min") == [1440.0]
    res = run(sc, table(sc, [1400.0], travel=31.0))
    assert col(res, "onsite_min") == [None]


def test_on_call_response_exactly_at_the_horizon_is_recorded() -> None:
    """An on-call desk with a 30 min call-out takes a request created at 1410: 1440."""
    d = tiny_dict()
    d["staff"][0]["shifts"] = [{"start_hour": 0, "end_hour": 24, "headcount": 1,
                                "on_call": True, "callout_min": 30}]
    sc = scenario_from_dict(d, "<test>")
    res = run(sc, table(sc, [1410.0]))
    assert col(res, "responded_min") == [1440.0]
    res = run(sc, table(sc, [1411.0]))
    assert col(res, "responded_min") == [None]


# -------------------------------------------------------------------------- preemption
def preemptive_techs(techs: int) -> Scenario:
    d = tiny_dict()
    d["staff"][0]["shifts"][0]["headcount"] = 5  # the desk is never the bottleneck
    d["staff"][1]["preemptive"] = True
    d["staff"][1]["shifts"][0]["headcount"] = techs
    return scenario_from_dict(d, "<test>")


def test_resumed_arrival_exactly_at_the_horizon_is_recorded() -> None:
    """A travels 1400..1430; B (urgent, 1410) interrupts it with 20 min of travel left and
    is done at 1420 (travel 5, work 5); A resumes and is on site at 1440, the horizon."""
    sc = preemptive_techs(1)
    res = run(sc, table(sc, [1400.0, 1410.0], urgent=[False, True], respond=0.0,
                        travel=[30.0, 5.0], work=[60.0, 5.0]))
    assert col(res, "onsite_min") == [1440.0, 1415.0]
    assert col(res, "finished_min") == [None, 1420.0]


def test_a_job_preempted_twice_resumes_twice() -> None:
    """A on site 5, work to 65.  B (urgent, 10) interrupts it: B on site 15, done 75; A
    resumes with 55 min left.  C (urgent, 80) interrupts it again: C on site 85, done 145;
    A resumes with 50 min left and is done at 195."""
    sc = preemptive_techs(1)
    res = run(sc, table(sc, [0.0, 10.0, 80.0], urgent=[False, True, True], respond=0.0))
    assert col(res, "onsite_min") == [5.0, 15.0, 85.0]
    assert col(res, "finished_min") == [195.0, 75.0, 145.0]


def test_the_latest_started_job_is_preempted_not_the_latest_request() -> None:
    """Two technicians.  A (created 0, desk 20) starts its site job at 20, B (created 1, no
    desk time) at 1.  C (urgent, 30) interrupts A, the job started last: A resumes when B
    is done at 66, with 55 min left: 121."""
    sc = preemptive_techs(2)
    res = run(sc, table(sc, [0.0, 1.0, 30.0], urgent=[False, False, True],
                        respond=[20.0, 0.0, 0.0]))
    assert col(res, "onsite_min") == [25.0, 6.0, 35.0]
    assert col(res, "finished_min") == [121.0, 66.0, 95.0]


def test_a_finished_job_is_never_preempted() -> None:
    """Two technicians.  A works 0..105.  F is done at 15; U (urgent, 20) then takes the
    free technician until 125.  V (urgent, 30) must interrupt A (F is over): V on site 35,
    done 45; A resumes with 75 min left: 120."""
    sc = preemptive_techs(2)
    res = run(sc, table(sc, [0.0, 1.0, 20.0, 30.0], urgent=[False, False, True, True],
                        respond=0.0, work=[100.0, 9.0, 100.0, 10.0]))
    assert col(res, "onsite_min") == [5.0, 6.0, 25.0, 35.0]
    assert col(res, "finished_min") == [120.0, 15.0, 125.0, 45.0]


# ------------------------------------------------------------ a plan overtaken by the fix
def test_plan_starting_as_the_fix_ends_is_dropped() -> None:
    """A (routine, work to 300) is overdue at 240 but the cadre plans X (complex, on site
    45, assessed 105) until 300.  At 300 A is finished first, so the cadre drops A's plan."""
    d_techs = tiny_dict(sla=[{"plan_track": "after_finish_target"}])
    d_techs["staff"][1]["shifts"][0]["headcount"] = 2
    sc = scenario_from_dict(d_techs, "<test>")
    res = run(sc, table(sc, [0.0, 30.0], complex_=[False, True], work=[285.0, 60.0],
                        plan=[120.0, 195.0], category="job"))
    assert col(res, "finished_min") == [300.0, 330.0]
    assert col(res, "plan_owed_min") == [240.0, None]
    assert col(res, "plan_min") == [None, 300.0]
    cadre = res.load[res.load["pool"] == "cadre@c1"]
    assert cadre["busy_min"].sum() == 195.0


def test_urgent_work_preempts_either_job_one_request_holds_at_one_pool() -> None:
    """A request fixed and planned by the same preemptive pool holds two jobs there at
    once; each can be pre-empted.  A (normal) is fixed 15..315 and, overdue at 240,
    planned from 240.  Urgent B (desk 250..260) pre-empts the plan, the later job; urgent
    C (desk 260..270) then pre-empts the fix and is on site at 270 + 5, not after 315."""
    d = tiny_dict(sla=[{"plan_track": "after_finish_target"}])
    d["categories"]["job"]["plan_by"] = ["technician"]
    d["staff"][1]["preemptive"] = True
    d["staff"][1]["shifts"][0]["headcount"] = 2
    sc = scenario_from_dict(d, "<test>")
    res = run(sc, table(sc, [0.0, 250.0, 251.0], urgent=[False, True, True],
                        work=[300.0, 60.0, 60.0], category="job"))
    assert col(res, "responded_min") == [0.0, 250.0, 260.0]
    assert col(res, "onsite_min") == [15.0, 265.0, 275.0]
    assert col(res, "plan_owed_min")[0] == 240.0
