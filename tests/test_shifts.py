"""Shift tables: overlapping regular and on-call shifts, overtime over several days."""

from __future__ import annotations

import pytest
from helpers import run, table, tiny_dict

from sim.config import scenario_from_dict


@pytest.mark.parametrize(("regular_headcount", "onsite"), [(1, 15.0), (0, 25.0)])
def test_a_call_out_delay_applies_only_when_nobody_regular_is_on_duty(
    regular_headcount: int, onsite: float
) -> None:
    d = tiny_dict()
    d["staff"][1]["shifts"] = [
        {"start_hour": 0, "end_hour": 24, "headcount": regular_headcount},
        {"start_hour": 0, "end_hour": 24, "headcount": 1, "on_call": True, "callout_min": 10},
    ]
    sc = scenario_from_dict(d)
    res = run(sc, table(sc, [0.0]))
    assert res.requests["onsite_min"].tolist() == [onsite]


def test_overtime_adds_up_over_days() -> None:
    d = tiny_dict(run={"horizon_days": 3, "warmup_days": 0, "replications": 1, "seed": 1})
    d["staff"][0]["shifts"] = [{"start_hour": 8, "end_hour": 9, "headcount": 1}]
    sc = scenario_from_dict(d)
    res = run(sc, table(sc, [535.0, 1440 + 535.0], respond=[30.0, 40.0]))
    assert res.requests["responded_min"].tolist() == [535.0, 1440 + 535.0]
    desk = res.pools.set_index("pool").loc["desk@c1"]
    assert desk["overtime_min"] == pytest.approx(25.0 + 35.0)
    assert desk["overtime_jobs"] == 2


def test_overtime_after_two_capacity_drops_on_consecutive_days() -> None:
    d = tiny_dict(run={"horizon_days": 3, "warmup_days": 0, "replications": 1, "seed": 1})
    d["staff"][0]["shifts"] = [{"start_hour": 8, "end_hour": 9, "headcount": 1},
                               {"start_hour": 8, "end_hour": 10, "headcount": 1}]
    sc = scenario_from_dict(d)
    day = 1440.0
    res = run(sc, table(sc, [480.0, 480.0, day + 480.0, day + 480.0], respond=180.0))
    assert res.requests["responded_min"].tolist() == [480.0, 480.0, day + 480.0, day + 480.0]
    desk = res.pools.set_index("pool").loc["desk@c1"]
    # each day one person stays 09:00-11:00 and the other 10:00-11:00
    assert desk["overtime_min"] == pytest.approx(2 * (120.0 + 60.0))
    assert desk["overtime_jobs"] == 4
