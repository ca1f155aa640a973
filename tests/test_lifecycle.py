"""Exact event timings of the request lifecycle on hand-made request tables."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import fixed, run, table, tiny, tiny_dict

from sim.config import scenario_from_dict


def col(res, name):  # type: ignore[no-untyped-def]
    return res.requests[name].tolist()


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
