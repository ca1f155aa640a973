"""At a shift end a pool either finishes the job in hand (overtime) or hands it over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from helpers import run, table, tiny, tiny_dict

from sim.config import scenario_from_dict
from sim.model import simulate

ROOT = Path(__file__).resolve().parents[1]


def _office_cadre(at_shift_end: str) -> dict[str, Any]:
    d = tiny_dict()
    d["run"]["horizon_days"] = 2
    d["staff"][2] = {"name": "cadre", "kind": "community_cadre", "at_shift_end": at_shift_end,
                     "shifts": [{"start_hour": 9, "end_hour": 17, "headcount": 1}]}
    return d


# a complex request at 14:45: desk 10 min, travel 5, assessment 60 -> plan from 16:00,
# 120 min of plan work, of which 60 are left when the office closes at 17:00
ARRIVAL = 14 * 60 + 45


def test_hand_over_pauses_the_plan_at_shift_end_and_resumes_next_morning() -> None:
    sc = scenario_from_dict(_office_cadre("hand_over"), "<t>")
    res = run(sc, table(sc, [ARRIVAL], complex_=[True]))
    r = res.requests.iloc[0]
    assert r["onsite_min"] == ARRIVAL + 15
    # 16:00-17:00 on the plan, paused overnight, the last 60 min from 09:00 next day
    assert r["plan_min"] == 1440 + 9 * 60 + 60
    assert r["paused_min"] == 1440 + 9 * 60 - 17 * 60
    assert r["finished_min"] == r["plan_min"] + 30
    cadre = res.load[res.load["kind"] == "community_cadre"].set_index("hour")
    assert cadre["overtime_min"].sum() == 0.0
    assert res.pools.set_index("kind").loc["community_cadre", "overtime_min"] == 0.0
    assert cadre["busy_min"].sum() == pytest.approx(120.0)  # the work, not the pause
    assert cadre.loc[16, "busy_min"] == 60.0 and cadre.loc[9, "busy_min"] == 60.0


def test_finish_keeps_the_person_until_the_plan_is_done_with_overtime() -> None:
    sc = scenario_from_dict(_office_cadre("finish"), "<t>")
    res = run(sc, table(sc, [ARRIVAL], complex_=[True]))
    r = res.requests.iloc[0]
    assert r["plan_min"] == 16 * 60 + 120
    assert r["paused_min"] == 0.0
    cadre = res.load[res.load["kind"] == "community_cadre"].set_index("hour")
    assert cadre["overtime_min"].sum() == 60.0
    assert cadre.loc[17, "busy_min"] == 60.0


def test_handed_over_jobs_resume_in_the_order_they_started() -> None:
    # two plans start 16:00 and 16:30 with two cadres; both hand over at 17:00; on Tuesday
    # one cadre (shift b is Monday only) resumes them one after the other, oldest first
    d = _office_cadre("hand_over")
    d["staff"][2]["shifts"] = [
        {"name": "a", "start_hour": 9, "end_hour": 17, "headcount": 1},
        {"name": "b", "days": ["mon"], "start_hour": 9, "end_hour": 17, "headcount": 1},
    ]
    d["staff"][1]["shifts"][0]["headcount"] = 2
    sc = scenario_from_dict(d, "<t>")
    res = run(sc, table(sc, [ARRIVAL, ARRIVAL + 30], complex_=[True, True]))
    plan = res.requests["plan_min"].tolist()
    paused = res.requests["paused_min"].tolist()
    # 60 and 90 min were left; each waits first in its class, the older one in front
    assert plan == [1440 + 540 + 60, 1440 + 540 + 60 + 90]
    assert paused == [1440 + 540 - 1020, 1440 + 540 + 60 - 1020]


def test_default_is_finish() -> None:
    assert tiny().staff[2].at_shift_end == "finish"


def test_quanxueli_cadres_work_only_rostered_hours_with_hand_over() -> None:
    raw = yaml.safe_load((ROOT / "scenarios" / "quanxueli.yaml").read_text(encoding="utf-8"))
    raw["run"] = {**raw.get("run", {}), "horizon_days": 14, "warmup_days": 0,
                  "replications": 1}

    def cadre_load(rule: str) -> Any:
        d = {**raw, "staff": [dict(s, at_shift_end=rule) if s["kind"] == "community_cadre"
                              else s for s in raw["staff"]]}
        res = simulate(scenario_from_dict(d, "<quanxueli>"), seed=5)
        return res.load[res.load["kind"] == "community_cadre"].groupby("hour")[
            ["busy_min", "rostered_min", "overtime_min"]].sum(), res

    today, _ = cadre_load("finish")
    assert today["overtime_min"].sum() > 0  # the artefact: plans written after hours
    assert today.loc[today["rostered_min"] == 0, "busy_min"].sum() > 0
    handed, res = cadre_load("hand_over")
    assert handed["overtime_min"].sum() == 0.0
    off = handed["rostered_min"] == 0
    assert off.any() and handed.loc[off, "busy_min"].sum() == 0.0
    assert np.all(handed["busy_min"] <= handed["rostered_min"] + 1e-9)
    assert (res.requests["paused_min"] > 0).any()


def test_hand_over_sets_an_interruption_aside_too() -> None:
    import simpy

    from sim.config import StaffPool
    from sim.staff import Pool
    spec = StaffPool.model_validate({
        "name": "c", "kind": "community_cadre", "at_shift_end": "hand_over",
        "shifts": [{"start_hour": 9, "end_hour": 17, "headcount": 1}],
        "interruptions": {"rate_per_hour": 1, "duration": {"dist": "fixed", "value_min": 30}},
    })
    env = simpy.Environment()
    pool = Pool(env, 0, "c", spec)
    pool.set_capacity(1, 0.0)
    pool.interrupt(30.0)
    env.run(until=10.0)
    pool.set_capacity(0, 0.0)  # the shift ends 20 minutes before the interruption would
    assert (pool.other, list(pool.int_queue), pool.overtime_min) == (0, [20.0], 0.0)
    env.run(until=100.0)
    pool.set_capacity(1, 0.0)  # next person on duty resumes it
    assert pool.other == 1
    env.run(until=120.0 - 1e-9)
    assert pool.other == 1
    env.run(until=120.0 + 1e-9)
    assert pool.other == 0 and pool.overtime_min == 0.0
    other_work_hours = pool.levels()[:, [0, 4]]
    assert other_work_hours[(other_work_hours[:, 0] > 10) & (other_work_hours[:, 0] < 100),
                            1].sum() == 0.0


@pytest.mark.parametrize("name", ["quanxueli", "quanxueli_night_tech", "six_types",
                                  "jinan_hightech_zone"])
def test_shipped_plans_stay_within_rostered_hours(name: str) -> None:
    """No plan keeps a cadre or instructor past the end of the shift (hand-over)."""
    raw = yaml.safe_load((ROOT / "scenarios" / f"{name}.yaml").read_text(encoding="utf-8"))
    raw["run"] = {**raw["run"], "horizon_days": 14, "replications": 1}
    res = simulate(scenario_from_dict(raw, "<t>"), seed=2)
    plans = res.load[res.load["kind"].isin(["community_cadre", "party_instructor"])]
    off = plans[plans["rostered_min"] == 0]
    assert (off["busy_min"] + off["other_min"]).sum() == 0.0
    assert plans["overtime_min"].sum() == 0.0
    assert plans["busy_min"].sum() > 0 and plans["other_min"].sum() > 0
    desks = res.load[res.load["kind"] == "service_desk"]
    assert desks["other_min"].sum() > 0  # desk utilisation reflects other work
