"""The engine's parts on their own: time axis, staffing cost and coverage, the pool
interface, zero demand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import simpy
from helpers import tiny_dict

from sim import simulate
from sim.arrivals import hourly_rate_per_min
from sim.config import WEEK_MIN, scenario_from_dict
from sim.sla import applicable
from sim.staff import Pool, Wait
from sim.staffing import pool_instances, scenario_weekly_cost, shift_step, weekly_cost
from sim.stages import STAGE_TABLE
from sim.sweeps import staffing_cost_per_week
from sim.timeaxis import WeekAxis, WeekStep, hourly_rate_profile

# -- time axis ---------------------------------------------------------------------------


def test_week_axis_maps_minutes_to_weekday_and_hour() -> None:
    axis = WeekAxis((2 * 24 + 7) * 60.0)  # Wednesday 07:00
    t = np.array([0.0, 59.9, 17 * 60.0, 5 * 1440.0 - 1.0])
    assert axis.hour_of_day(t).tolist() == [7, 7, 0, 6]
    assert axis.weekday(t).tolist() == [2, 2, 3, 0]  # ... Thu 00:00, next Mon 06:59
    assert axis.weekday_name(17 * 60.0) == "thu"
    assert axis.week_minute(5 * 1440.0) == pytest.approx(7 * 60.0)
    assert axis.hours_of_week(3).tolist() == [55, 56, 57]
    assert axis.hours_of_day(18).tolist()[-2:] == [23, 0]
    assert axis.at(axis.first_week() + 1, 0.0) == WEEK_MIN - axis.offset_min


def test_week_step_function_lookup_and_spans() -> None:
    step = WeekStep((0.0, 480.0, 1020.0), ("night", "day", "evening"))
    assert step.at(0.0) == "night"
    assert step.at(479.9) == "night"
    assert step.at(480.0) == "day"
    assert step.at(WEEK_MIN + 500.0) == "day"  # repeats weekly
    assert list(step.spans())[-1] == (1020.0, WEEK_MIN, "evening")
    with pytest.raises(ValueError):
        WeekStep((10.0,), ("x",))


def test_hourly_rate_follows_the_start_of_the_run() -> None:
    d = tiny_dict()
    com = d["communities"][0]
    com["hour_profile"] = [float(h + 1) for h in range(24)]
    com["weekday_profile"] = [1, 1, 1, 1, 1, 2, 3]
    sc = scenario_from_dict(d)
    c = sc.communities[0]
    per_min = c.households * c.requests_per_household_per_day / 1440
    hour, day = c.hour_profile, c.weekday_profile  # as normalised by the schema
    assert hour[23] / hour[0] == pytest.approx(24.0)
    profile = hourly_rate_profile(c)
    # Sunday 22:00 is hour 6 * 24 + 22 of the week
    assert profile.at((6 * 24 + 22) * 60.0) == pytest.approx(per_min * hour[22] * day[6])
    # a run starting Sunday 22:00: its hours are Sun 22, Sun 23, Mon 00
    rate = hourly_rate_per_min(c, (6 * 24 + 22) * 60.0, 3)
    expected = [hour[22] * day[6], hour[23] * day[6], hour[0] * day[0]]
    assert rate == pytest.approx(per_min * np.array(expected))


# -- staffing ----------------------------------------------------------------------------


def _cost_scenario_dict() -> dict[str, object]:
    d = tiny_dict()
    base = d["communities"][0]
    d["communities"] = [
        {**base, "name": "a", "street": "s1"},
        {**base, "name": "b", "street": "s1"},
        {**base, "name": "c", "street": "s2"},
    ]
    day = {"start_hour": 8, "end_hour": 16, "headcount": 2,
           "days": ["mon", "tue", "wed", "thu", "fri"]}
    d["staff"] = [
        {"name": "desk", "kind": "service_desk", "hourly_cost": 10.0, "shifts": [day]},
        {"name": "tech", "kind": "technician", "scope": "street", "hourly_cost": 20.0,
         "shifts": [day]},
        {"name": "cadre", "kind": "community_cadre", "scope": "zone", "hourly_cost": 5.0,
         "shifts": [{**day, "on_call": True, "cost_factor": 0.5}]},
    ]
    return d


def test_weekly_cost_counts_community_pools_per_community_and_street_pools_per_street() -> None:
    sc = scenario_from_dict(_cost_scenario_dict())
    staff_hours = 2 * 8 * 5  # two people, 8 h, five days
    assert weekly_cost(sc.staff[0]) == pytest.approx(staff_hours * 10.0)
    # desk: 3 communities; tech: 2 streets; cadre: once, at half pay
    expected = 3 * staff_hours * 10.0 + 2 * staff_hours * 20.0 + staff_hours * 5.0 * 0.5
    assert scenario_weekly_cost(sc) == pytest.approx(expected)
    assert staffing_cost_per_week(sc) == pytest.approx(expected)
    names = [name for name, _, _ in pool_instances(sc, list(sc.expanded_communities()))]
    assert names == ["desk@a", "desk@b", "desk@c", "tech@s1", "tech@s2", "cadre"]
    res = simulate(sc.model_copy(update={"run": sc.run.model_copy(
        update={"horizon_days": 1.0})}))
    assert res.pools["weekly_cost"].sum() == pytest.approx(expected)


def test_pool_coverage_agrees_with_the_scenario() -> None:
    d = _cost_scenario_dict()
    staff: list[dict[str, object]] = d["staff"]  # type: ignore[assignment]
    staff[1]["communities"] = ["a", "c"]
    staff.append({**staff[1], "name": "zone_tech", "scope": "zone", "communities": None})
    staff.append({**staff[0], "name": "b_desk", "communities": ["b"]})
    sc = scenario_from_dict(d)
    communities = list(sc.expanded_communities())
    instances = pool_instances(sc, communities)
    for com in communities:
        for kind in ("service_desk", "technician", "community_cadre"):
            ours = [spec.name for _, spec, served in instances
                    if spec.kind == kind and com in served]
            assert ours == [p.name for p in sc.pools_covering(com, kind)]


def test_shift_step_merges_overlaps_and_uses_on_call_delay_only_without_regular_staff() -> None:
    d = tiny_dict()
    d["staff"][0]["shifts"] = [
        {"start_hour": 8, "end_hour": 18, "headcount": 2},
        {"start_hour": 18, "end_hour": 8, "headcount": 1, "on_call": True, "callout_min": 20},
        {"start_hour": 12, "end_hour": 14, "headcount": 1},
    ]
    step = shift_step(scenario_from_dict(d).staff[0])
    assert step.at(3 * 60.0).headcount == 1
    assert step.at(3 * 60.0).callout_min == 20.0
    assert step.at(9 * 60.0).headcount == 2
    assert step.at(9 * 60.0).callout_min == 0.0
    assert step.at(13 * 60.0).headcount == 3
    assert step.at(WEEK_MIN - 1.0).headcount == 1


# -- the pool interface ------------------------------------------------------------------


def test_pool_takes_queues_and_releases_with_its_own_level_log() -> None:
    env = simpy.Environment()
    spec = scenario_from_dict(tiny_dict()).staff[0]
    started: list[int] = []
    pool = Pool(env, 0, "desk", spec, lambda p, w: started.append(w.rid))
    pool.set_capacity(1, 0.0)
    a, b, c, d = (Wait(r, 0, 1, [pool]) for r in range(4))
    env.run(until=1.0)
    assert pool.take(a)
    assert not pool.take(b)
    env.run(until=2.0)
    b.enqueue(pool)
    env.run(until=3.0)
    c.enqueue(pool)
    c.reprioritise(0)  # c moves ahead of b
    assert (pool.busy, pool.waiting) == (1, 2)
    env.run(until=4.0)
    pool.release()
    assert started == [0, 2]
    assert not c.active and b.active
    env.run(until=5.0)
    pool.release()
    env.run(until=6.0)
    pool.release()
    assert started == [0, 2, 1]
    assert (pool.busy, pool.waiting) == (0, 0)
    env.run(until=7.0)
    assert pool.take(d)  # taken and finished at one moment: one row, its levels after
    pool.release()
    # (time, busy, waiting, capacity, other) after the changes of each moment
    assert pool.levels().tolist() == [
        [0, 0, 0, 1, 0], [1, 1, 0, 1, 0], [2, 1, 1, 1, 0], [3, 1, 2, 1, 0], [4, 1, 1, 1, 0],
        [5, 1, 0, 1, 0], [6, 0, 0, 1, 0], [7, 0, 0, 1, 0],
    ]


# -- stage applicability from the stage table -------------------------------------------


def test_applicability_is_read_from_the_stage_table() -> None:
    d = tiny_dict()
    d["categories"]["desk_only"] = {"respond_time": {"dist": "fixed", "value_min": 5},
                                    "close_time": {"dist": "fixed", "value_min": 5},
                                    "onsite_by": []}
    sc = scenario_from_dict(d)
    req = pd.DataFrame({"category": ["job", "job", "desk_only"],
                        "complex": [False, True, False]})
    masks = applicable(req, sc.sla[0], sc)
    expect = {"all": [True, True, True], "site": [True, True, False],
              "routine": [True, False, True], "complex": [False, True, False]}
    for stage in STAGE_TABLE:
        assert masks[stage.name].tolist() == expect[stage.applies_to], stage.name


# -- zero demand -------------------------------------------------------------------------


def test_zero_demand_community_has_no_requests_and_leaves_the_others_unchanged() -> None:
    d = tiny_dict(run={"horizon_days": 3, "warmup_days": 0, "replications": 1, "seed": 5})
    base = d["communities"][0]
    d["communities"] = [{**base, "name": "a"}, {**base, "name": "b"}]
    both = simulate(scenario_from_dict(d)).requests
    d["communities"][0]["demand_multiplier"] = 0
    zero = simulate(scenario_from_dict(d)).requests
    assert (zero["community"] == "a").sum() == 0
    assert (both["community"] == "a").sum() > 0
    b_before = both[both["community"] == "b"].reset_index(drop=True)
    b_after = zero[zero["community"] == "b"].reset_index(drop=True)
    assert len(b_after) > 0
    pd.testing.assert_frame_equal(b_before, b_after)


def test_no_demand_anywhere_runs_with_no_requests() -> None:
    d = tiny_dict()
    d["communities"][0]["demand_multiplier"] = 0
    res = simulate(scenario_from_dict(d))
    assert len(res.requests) == 0
    assert res.load["busy_min"].sum() == 0.0
    assert res.load["rostered_min"].sum() == pytest.approx(3 * 1440.0)
