"""Exact event timings of the request lifecycle on hand-made request tables."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from helpers import fixed, run, table, tiny, tiny_dict

from sim.config import scenario_from_dict
from sim.records import SimulationResult
from sim.sla import outcomes


def col(res: SimulationResult, name: str) -> list[Any]:
    return list(res.requests[name].tolist())


def test_fifo_through_desk_and_technician() -> None:
    sc = tiny()
    res = run(sc, table(sc, [0.0, 5.0]))
    assert col(res, "responded_min") == [0.0, 10.0]
    # desk done at 10 and 20; one technician: 10 -> travel 5 -> work 60 -> free at 75
    assert col(res, "onsite_min") == [15.0, 80.0]
    assert col(res, "finished_min") == [75.0, 140.0]
    assert col(res, "onsite_pool") == ["tech@c1", "tech@c1"]
    tech = res.load[res.load["pool"] == "tech@c1"]
    assert tech["busy_min"].sum() == pytest.approx(130.0)
    assert tech["on_duty_min"].sum() == pytest.approx(1440.0)


def test_urgent_requests_overtake_normal_ones_without_preemption() -> None:
    sc = tiny()
    res = run(sc, table(sc, [0.0, 1.0, 2.0], urgent=[False, False, True]))
    assert col(res, "responded_min") == [0.0, 20.0, 10.0]
    assert col(res, "priority") == ["normal", "normal", "urgent"]


def test_complex_request_gets_a_plan_then_closes() -> None:
    sc = tiny()
    res = run(sc, table(sc, [0.0], complex_=[True]))
    assert col(res, "onsite_min") == [15.0]
    # assessment ends at 75, the cadre writes the plan for 120 min, closed 30 min later
    assert col(res, "plan_min") == [195.0]
    assert col(res, "finished_min") == [225.0]
    assert col(res, "plan_pool") == ["cadre@c1"]


def test_outside_party_wait_does_not_hold_the_technician() -> None:
    sc = tiny()
    res = run(sc, table(sc, [0.0, 0.0], outside=[True, False], wait=100.0))
    assert col(res, "finished_min") == [175.0, 140.0]
    assert col(res, "onsite_min") == [15.0, 80.0]


def test_shift_start_end_and_overtime() -> None:
    d = tiny_dict(run={"horizon_days": 2, "warmup_days": 0, "replications": 1, "seed": 1})
    d["staff"][0]["shifts"] = [{"start_hour": 8, "end_hour": 9, "headcount": 1}]
    sc = scenario_from_dict(d)
    res = run(sc, table(sc, [60.0, 535.0, 545.0], respond=[10.0, 30.0, 10.0]))
    # 01:00 waits for 08:00; 08:55 is taken, runs past 09:00; 09:05 waits for tomorrow
    assert col(res, "responded_min") == [480.0, 535.0, 1920.0]
    desk = res.pools.set_index("pool").loc["desk@c1"]
    assert desk["overtime_min"] == pytest.approx(25.0)
    assert desk["overtime_jobs"] == 1


def test_street_pool_takes_work_after_borrow_wait_with_its_own_travel() -> None:
    d = tiny_dict()
    d["staff"][0]["shifts"][0]["headcount"] = 2
    d["staff"].append({"name": "street_tech", "kind": "technician", "scope": "street",
                       "borrow_after_min": 20, "travel_time": fixed(15),
                       "shifts": [{"start_hour": 0, "end_hour": 24, "headcount": 1}]})
    sc = scenario_from_dict(d)
    res = run(sc, table(sc, [0.0, 0.0]))
    assert col(res, "onsite_pool") == ["tech@c1", "street_tech@s1"]
    # second request queued at 10, offered to the street at 30, which travels 15 min
    assert col(res, "onsite_min") == [15.0, 45.0]


@pytest.mark.parametrize("escalate", [False, True])
def test_escalation_raises_priority_at_the_breach(escalate: bool) -> None:
    d = tiny_dict(escalation={"enabled": escalate, "raise_priority": True, "handoff": False})
    sc = scenario_from_dict(d)
    res = run(sc, table(sc, [0.0, 1.0, 25.0], urgent=[False, False, True], respond=30.0))
    responded = col(res, "responded_min")
    if escalate:
        # B breached its 20-min respond target at 21, before urgent C arrived at 25
        assert responded == [0.0, 30.0, 60.0]
        # ... and its on-site target (31) had passed when it queued for the busy technician
        # at 60, so that stage is escalated too: bits 1 (respond) + 2 (on site).  C waited
        # past its own respond target (45) and queued for on site after its target (55).
        assert col(res, "escalated") == [0, 3, 3]
    else:
        assert responded == [0.0, 60.0, 30.0]
        assert col(res, "escalated") == [0, 0, 0]


def test_preemptive_pool_interrupts_and_resumes_normal_work() -> None:
    d = tiny_dict()
    d["staff"][1]["preemptive"] = True
    d["staff"][0]["shifts"][0]["headcount"] = 2
    sc = scenario_from_dict(d)
    res = run(sc, table(sc, [0.0, 20.0], urgent=[False, True], respond=0.0))
    # A on site at 5 until preempted at 20 (45 min left); B 20..85; A resumes 85..130
    assert col(res, "onsite_min") == [5.0, 25.0]
    assert col(res, "finished_min") == [130.0, 85.0]


def test_on_call_callout_delays_the_start() -> None:
    d = tiny_dict()
    d["staff"][1]["shifts"] = [{"start_hour": 0, "end_hour": 24, "headcount": 1,
                                "on_call": True, "callout_min": 10}]
    sc = scenario_from_dict(d)
    res = run(sc, table(sc, [0.0]))
    assert col(res, "onsite_min") == [25.0]
    assert col(res, "finished_min") == [85.0]


def test_requests_open_at_the_horizon_are_kept_as_censored_records() -> None:
    sc = tiny()
    res = run(sc, table(sc, [1400.0, 1435.0]))
    assert len(res.requests) == 2
    assert col(res, "responded_min") == [1400.0, 1435.0]
    assert math.isnan(col(res, "finished_min")[0])
    assert np.isnan(res.requests["onsite_min"].iloc[1])


def test_milestones_after_the_horizon_are_not_recorded() -> None:
    # one day; the desk answers A at 1430 (5 min), the technician sets off at 1435 and
    # would arrive at 1445, after the end of the run: on site is not reached (censored)
    sc = tiny()
    res = run(sc, table(sc, [1430.0], respond=5.0, travel=10.0))
    assert col(res, "responded_min") == [1430.0]
    assert np.isnan(res.requests["onsite_min"]).all()
    assert col(res, "onsite_pool") == ["tech@c1"]  # someone did set off
    out = outcomes(res.requests, sc.sla[0], sc)
    # on-site deadline 1460 is after the horizon: unknown, not met
    assert np.isnan(out["onsite"].iloc[0])
    assert bool(out["onsite_unknown"].iloc[0])
    assert np.isnan(out["joint"].iloc[0])


def test_response_after_the_horizon_by_callout_is_not_recorded() -> None:
    d = tiny_dict()
    d["staff"][0]["shifts"] = [{"start_hour": 0, "end_hour": 24, "headcount": 1,
                                "on_call": True, "callout_min": 15}]
    sc = scenario_from_dict(d)
    res = run(sc, table(sc, [1400.0, 1430.0]))
    # A: 1400 + 15 call-out; B waits for the desk (free at 1425), + 15 = 1455 > 1440
    assert col(res, "responded_min")[0] == 1415.0
    assert math.isnan(col(res, "responded_min")[1])
    out = outcomes(res.requests, sc.sla[0], sc)
    # B's respond deadline (1450) is after the horizon: unknown rather than met
    assert out["respond"].tolist()[0] == 1.0
    assert math.isnan(out["respond"].tolist()[1])
    assert out["respond_unknown"].tolist() == [False, True]


def test_preempted_job_resumed_after_the_horizon_keeps_its_milestone_open() -> None:
    d = tiny_dict()
    d["staff"][1]["preemptive"] = True
    d["staff"][0]["shifts"][0]["headcount"] = 2
    sc = scenario_from_dict(d)
    # A sets off at 1400 (travel 30, arrives 1430); urgent B interrupts it at 1410 and
    # works to 1500; A's arrival would come after the horizon on resumption
    res = run(sc, table(sc, [1400.0, 1410.0], urgent=[False, True], respond=0.0,
                        travel=[30.0, 5.0]))
    assert math.isnan(col(res, "onsite_min")[0])
    assert col(res, "onsite_min")[1] == 1415.0


def test_shifts_follow_a_non_monday_start() -> None:
    d = tiny_dict(run={"horizon_days": 4, "warmup_days": 0, "replications": 1, "seed": 1,
                       "start_weekday": "sat", "start_hour": 6})
    d["staff"][0]["shifts"] = [{"start_hour": 8, "end_hour": 9, "headcount": 1,
                                "days": ["mon", "tue", "wed", "thu", "fri"]}]
    sc = scenario_from_dict(d)
    res = run(sc, table(sc, [0.0, 120.0]))
    # Saturday 06:00 start: nobody at the desk until Monday 08:00 = 2 days + 2 h later
    assert col(res, "responded_min") == [2 * 1440 + 120.0, 2 * 1440 + 130.0]
    assert col(res, "weekday") == ["sat", "sat"]
    assert col(res, "hour") == [6, 8]


def test_load_frame_splits_on_duty_into_rostered_and_overtime() -> None:
    d = tiny_dict(run={"horizon_days": 2, "warmup_days": 0, "replications": 1, "seed": 1})
    d["staff"][0]["shifts"] = [{"start_hour": 8, "end_hour": 9, "headcount": 1}]
    sc = scenario_from_dict(d)
    res = run(sc, table(sc, [60.0, 535.0, 545.0], respond=[10.0, 30.0, 10.0]))
    desk = res.load[res.load["pool"] == "desk@c1"].set_index("hour")
    # rostered 08:00-09:00 on both days; the 08:55 job runs to 09:25 (25 min overtime)
    assert desk["rostered_min"].to_dict() == {h: (120.0 if h == 8 else 0.0) for h in range(24)}
    assert desk["overtime_min"].to_dict() == {h: (25.0 if h == 9 else 0.0) for h in range(24)}
    # busy at 8: 480-490 and 535-540 on day 1, 1920-1930 on day 2; at 9: 540-565
    assert desk.loc[8, "busy_min"] == pytest.approx(25.0)
    assert desk.loc[9, "busy_min"] == pytest.approx(25.0)
    assert np.allclose(desk["on_duty_min"], desk["rostered_min"] + desk["overtime_min"])
    tech = res.load[res.load["pool"] == "tech@c1"]
    assert tech["rostered_min"].sum() == pytest.approx(2 * 1440.0)
    assert tech["overtime_min"].sum() == 0.0
