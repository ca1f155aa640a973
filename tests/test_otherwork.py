"""Other work at staff pools: blocks, interruptions, absence, and the validation of
interruptions that pre-empt requests against preemptive-priority M/M/c results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import simpy
import yaml
from helpers import run, table, tiny_dict

from sim.config import scenario_from_dict
from sim.experiment import replicate, summarise
from sim.model import simulate
from sim.otherwork import Absence, block_step
from sim.queueing import preemptive_low_mean_response
from sim.staff import Pool, Wait
from sim.validation import mmc_dict

ROOT = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------- validation
PRIORITY_CASES = [  # servers, utilisation by other work, by requests, mean service (min)
    (1, 0.3, 0.4, 10.0),
    (3, 0.3, 0.45, 10.0),
]
N_CHECKS = 2 * len(PRIORITY_CASES)
LEVEL = 1 - 0.01 / N_CHECKS  # the family fails < 1% of seeds by chance


def _preemptive_dict(servers: int, rho_hi: float, rho_lo: float, mean: float,
                     days: float, reps: int) -> dict[str, Any]:
    lam_lo = rho_lo * servers / mean * 60.0  # per hour
    d = mmc_dict(lam_lo, mean, servers, horizon_days=days, seed=11, replications=reps)
    d["staff"][0]["interruptions"] = {
        "rate_per_hour": rho_hi * servers / mean * 60.0, "per": "pool",
        "duration": {"dist": "exponential", "mean_min": mean},
        "urgent_preempts": False, "preempts_requests": True,
    }
    return d


def _ci(per_rep: pd.DataFrame, value: str) -> tuple[float, float]:
    s = summarise(per_rep.assign(k=0), ["k"], value, LEVEL).iloc[0]
    return float(s["ci_low"]), float(s["ci_high"])


@pytest.mark.parametrize(("servers", "rho_hi", "rho_lo", "mean"), PRIORITY_CASES)
def test_preempting_other_work_reproduces_preemptive_priority_mmc(
    servers: int, rho_hi: float, rho_lo: float, mean: float
) -> None:
    sc = scenario_from_dict(_preemptive_dict(servers, rho_hi, rho_lo, mean, 60, 20), "<t>")
    exp = replicate(sc)
    req = exp.measured
    req = req[req["created_min"] <= sc.run.horizon_min - 1440.0]  # a day to finish
    sojourn = req["finished_min"] - req["created_min"]
    assert sojourn.notna().all()
    per_rep = pd.DataFrame({"replication": req["replication"], "T": sojourn})
    per_rep = per_rep.groupby("replication", as_index=False).agg(T=("T", "mean"))
    lam_hi, lam_lo = rho_hi * servers / mean, rho_lo * servers / mean  # per minute
    exact_t = preemptive_low_mean_response(servers, lam_hi, lam_lo, mean)
    if servers == 1:  # the textbook form, as a check on the closed form itself
        assert exact_t == pytest.approx(mean / ((1 - rho_hi) * (1 - rho_hi - rho_lo)))
    lo, hi = _ci(per_rep, "T")
    assert lo <= exact_t <= hi, f"mean response {exact_t:.3f} outside [{lo:.3f}, {hi:.3f}]"
    assert hi - lo < 0.3 * exact_t, "CI too wide to mean much"
    # people on other work: the high class alone is M/M/c, so its mean busy servers is rho1*c
    load = exp.load
    other = load.groupby("replication", as_index=False)[["other_min", "observed_min"]].sum()
    other["share"] = other["other_min"] / other["observed_min"]
    lo, hi = _ci(other, "share")
    assert lo <= rho_hi * servers <= hi, f"other work {rho_hi * servers} outside [{lo}, {hi}]"


# --------------------------------------------------------------------------- blocks
def _desk_with(**extra: Any) -> dict[str, Any]:
    d = tiny_dict()
    d["staff"][0] = {"name": "desk", "kind": "service_desk", **extra,
                     "shifts": [{"start_hour": 0, "end_hour": 24, "headcount": 1}]}
    return d


def test_a_block_takes_the_desk_and_a_busy_person_joins_when_done() -> None:
    block = {"name": "meeting", "start_hour": 9, "end_hour": 10, "people": 1}
    sc = scenario_from_dict(_desk_with(blocks=[block]), "<t>")
    # 08:55: served at once, done 09:05, then to the meeting; 09:01: waits for 10:00
    res = run(sc, table(sc, [8 * 60 + 55, 9 * 60 + 1, 11 * 60], respond=10.0))
    assert res.requests["responded_min"].tolist() == [535.0, 600.0, 660.0]
    desk = res.load[res.load["kind"] == "service_desk"].set_index("hour")
    assert desk.loc[9, "other_min"] == 55.0
    assert desk["other_min"].sum() == 55.0
    assert desk.loc[9, "busy_min"] == 5.0
    assert desk["overtime_min"].sum() == 0.0  # joining a block is not overtime


def test_block_step_adds_overlapping_blocks_by_weekday() -> None:
    from sim.config import StaffPool
    pool = StaffPool.model_validate({
        "name": "c", "kind": "community_cadre",
        "shifts": [{"start_hour": 9, "end_hour": 17, "headcount": 3}],
        "blocks": [{"start_hour": 9, "end_hour": 9.5, "people": 3},
                   {"days": ["fri"], "start_hour": 9, "end_hour": 12, "people": 1}],
    })
    step = block_step(pool)
    assert step.at(9 * 60 + 10) == 3  # Monday meeting
    assert step.at(9 * 60 + 40) == 0
    fri = 4 * 1440
    assert step.at(fri + 9 * 60 + 10) == 4 and step.at(fri + 11 * 60) == 1
    assert step.at(fri + 12 * 60) == 0


# --------------------------------------------------------------------------- interruptions
def _pool(**inter: Any) -> tuple[simpy.Environment, Pool, list[int]]:
    from sim.config import StaffPool
    spec = StaffPool.model_validate({
        "name": "d", "kind": "service_desk",
        "shifts": [{"start_hour": 0, "end_hour": 24, "headcount": 1}],
        "interruptions": {"rate_per_hour": 1.0,
                          "duration": {"dist": "fixed", "value_min": 30}, **inter},
    })
    env = simpy.Environment()
    started: list[int] = []
    pool = Pool(env, 0, "d", spec, lambda p, w: started.append(w.rid))
    pool.set_capacity(1, 0.0)
    return env, pool, started


def test_an_interruption_holds_the_person_and_requests_wait_behind_it() -> None:
    env, pool, started = _pool()
    pool.interrupt(30.0)
    w = Wait(0, 0, 1, [pool])
    assert not pool.take(w)
    w.enqueue(pool)
    pool.interrupt(30.0)  # a second one waits too, ahead of the request
    env.run(until=30.0)
    assert started == [] and pool.other == 1
    env.run(until=60.0 + 1e-9)
    assert started == [0] and pool.other == 0 and pool.busy == 1
    lv = pool.levels()
    assert lv[-1, 1:].tolist() == [1.0, 0.0, 1.0, 0.0]  # busy, waiting, capacity, other


def test_an_urgent_request_sets_an_interruption_aside_only_where_allowed() -> None:
    env, pool, started = _pool(urgent_preempts=True)
    pool.interrupt(30.0)
    env.run(until=10.0)
    assert pool.pause_interruption()
    w = Wait(0, 0, 0, [pool])
    assert pool.take(w) and started == [0]
    env.run(until=15.0)
    pool.release()  # done at 15: the person resumes the 20 minutes left
    assert pool.other == 1 and pool.busy == 0
    env.run(until=35.0 - 1e-9)
    assert pool.other == 1
    env.run(until=35.0 + 1e-9)
    assert pool.other == 0
    _, strict, _ = _pool(urgent_preempts=False)
    strict.interrupt(30.0)
    assert not strict.pause_interruption()


def test_interruption_rate_is_per_person_on_duty() -> None:
    d = _desk_with(interruptions={"rate_per_hour": 0.5,
                                  "duration": {"dist": "fixed", "value_min": 6}})
    d["staff"][0]["shifts"] = [{"start_hour": 8, "end_hour": 20, "headcount": 2},
                               {"start_hour": 20, "end_hour": 8, "headcount": 1}]
    d["communities"][0]["requests_per_household_per_day"] = 0.0001
    d["run"]["horizon_days"] = 60
    res = simulate(scenario_from_dict(d, "<t>"), seed=3)
    desk = res.load[res.load["kind"] == "service_desk"]
    staff_hours = desk["rostered_min"].sum() / 60.0
    # Poisson count with mean 0.5 per staff-hour; each lasts 6 min (those cut off at the
    # horizon aside): a 4-sigma band
    expected = 0.5 * staff_hours * 6.0
    sd = 6.0 * np.sqrt(0.5 * staff_hours)
    assert abs(desk["other_min"].sum() - expected) < 4 * sd + 6.0
    day = desk[desk["hour"].between(8, 19)]["other_min"].sum()
    night = desk[~desk["hour"].between(8, 19)]["other_min"].sum()
    assert day > 1.5 * night  # twice the people, twice the interruptions


# --------------------------------------------------------------------------- absence
def test_absence_is_monotone_in_headcount_and_draws_its_own_stream() -> None:
    a = Absence(0.3, 6, 200, np.random.default_rng(1))
    b = Absence(0.3, 9, 200, np.random.default_rng(1))
    for day in range(200):
        for h in range(6):
            assert a.present(h, day) == b.present(h, day)  # more slots drawn: same people
            assert b.present(h + 1, day) >= b.present(h, day)
    away = 1 - np.mean([b.present(9, d) / 9 for d in range(200)])
    assert abs(away - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 1800)


def test_absence_cover_takes_days_away_off_and_never_adds_one() -> None:
    def away(cover: float) -> np.ndarray:
        a = Absence(0.3, 6, 400, np.random.default_rng(1), cover, np.random.default_rng(2))
        return a.away

    none, half, more, full = away(0.0), away(0.5), away(0.8), away(1.0)
    assert np.array_equal(none, Absence(0.3, 6, 400, np.random.default_rng(1)).away)
    assert not full.any()
    assert not (half & ~none).any() and not (more & ~half).any()  # only ever fewer
    # covered days are a fair draw: away with probability 0.3 x 0.5 (4 sd: a seed in
    # about 16,000 would fail)
    assert abs(half.mean() - 0.15) < 4 * np.sqrt(0.15 * 0.85 / half.size)
    a = Absence(0.3, 6, 400, np.random.default_rng(1), 0.5, np.random.default_rng(2))
    assert all(a.present(6, d) == 6 - int(half[:, d].sum()) for d in range(400))
    with pytest.raises(ValueError, match="own random generator"):
        Absence(0.3, 6, 4, np.random.default_rng(1), 0.5)


def test_full_absence_cover_runs_as_if_nobody_were_away() -> None:
    base = simulate(scenario_from_dict(_tech_scenario(0.0, 3), "<t>"), seed=9)
    away = simulate(scenario_from_dict(_tech_scenario(0.2, 3), "<t>"), seed=9)
    raw = _tech_scenario(0.2, 3)
    raw["staff"] = [{**s, "absence_cover": 1.0} if s["kind"] == "technician" else s
                    for s in raw["staff"]]
    covered = simulate(scenario_from_dict(raw, "<t>"), seed=9)
    pd.testing.assert_frame_equal(covered.requests, base.requests)
    assert not covered.requests["onsite_min"].equals(away.requests["onsite_min"])

    def rostered(r: Any) -> float:
        return float(r.load.loc[r.load["kind"] == "technician", "rostered_min"].sum())
    assert rostered(covered) == pytest.approx(rostered(base), rel=1e-12)
    assert rostered(away) < rostered(base)


def _tech_scenario(absence: float, tech_head: int) -> dict[str, Any]:
    raw = yaml.safe_load((ROOT / "scenarios" / "quanxueli.yaml").read_text(encoding="utf-8"))
    raw["run"] = {**raw.get("run", {}), "horizon_days": 14, "warmup_days": 0,
                  "replications": 1}
    staff = []
    for s in raw["staff"]:
        if s["kind"] == "technician":
            s = {**s, "absence_prob": absence,
                 "shifts": [dict(s["shifts"][0], headcount=tech_head), *s["shifts"][1:]]}
        staff.append(s)
    return {**raw, "staff": staff}


def test_other_work_keeps_common_random_numbers() -> None:
    base = simulate(scenario_from_dict(_tech_scenario(0.0, 3), "<t>"), seed=9)
    away = simulate(scenario_from_dict(_tech_scenario(0.2, 3), "<t>"), seed=9)
    more = simulate(scenario_from_dict(_tech_scenario(0.2, 4), "<t>"), seed=9)
    same = ["created_min", "category", "priority", "complex", "community"]
    for res in (away, more):
        assert res.requests[same].equals(base.requests[same])
        # desks do not see technicians: their responses are unchanged
        assert res.requests["responded_min"].equals(base.requests["responded_min"])
    tech = {name: r.load[r.load["kind"] == "technician"]["rostered_min"].sum()
            for name, r in (("base", base), ("away", away), ("more", more))}
    assert tech["away"] < tech["base"]  # someone was away
    assert tech["more"] > tech["away"]  # one more person: nobody else stays home


# --------------------------------------------------------------------------- results
def test_utilisation_splits_rostered_time_into_requests_other_work_and_idle() -> None:
    from sim.results import ExperimentResult
    block = {"name": "meeting", "start_hour": 9, "end_hour": 10, "people": 1}
    sc = scenario_from_dict(_desk_with(blocks=[block]), "<t>")
    res = run(sc, table(sc, [8 * 60 + 55, 9 * 60 + 1, 11 * 60], respond=10.0))
    exp = ExperimentResult.from_results(sc, 0, [res])
    util = exp.utilisation()
    desk = util[util["kind"] == "service_desk"].set_index("hour")
    assert desk.loc["9", "utilisation"] == pytest.approx(5 / 60)
    assert desk.loc["9", "other_work"] == pytest.approx(55 / 60)
    assert desk.loc["9", "idle"] == pytest.approx(0.0)
    whole = desk.loc["all"]
    assert whole["utilisation"] + whole["other_work"] + whole["idle"] == pytest.approx(1.0)
    assert whole["other_work"] == pytest.approx(55 / 1440)


# --------------------------------------------------------------------------- the preset
def _lean_other_work(name: str, desk_day: int) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((ROOT / "scenarios" / f"{name}.yaml")
                                         .read_text(encoding="utf-8"))
    raw["run"] = {**raw["run"], "horizon_days": 7, "warmup_days": 0, "replications": 4}
    desk = next(s for s in raw["staff"] if s["name"] == "desk")
    assert desk.get("other_work") == "kind_preset"  # the shipped scenario has other work
    day = next(sh for sh in desk["shifts"] if sh["name"] == "day")
    day["headcount"] = desk_day
    return raw


@pytest.mark.parametrize(("name", "desk_day"), [
    ("quanxueli", 1), ("quanxueli", 2), ("six_types", 1), ("jinan_hightech_zone", 1),
])
def test_one_more_desk_person_never_lowers_respond_compliance_with_other_work(
    name: str, desk_day: int,
) -> None:
    def per_rep(d: dict[str, Any]) -> list[float]:
        exp = replicate(scenario_from_dict(d, "<t>"))
        out, req = exp.outcomes(), exp.measured
        return list(out["respond"].groupby(req["replication"].to_numpy()).mean())

    before = per_rep(_lean_other_work(name, desk_day))
    after = per_rep(_lean_other_work(name, desk_day + 1))
    assert all(a >= b for a, b in zip(after, before, strict=True)), (before, after)
    assert min(before) < 1.0  # the respond target binds: the lever can matter


# --------------------------------------------------------------------- interruption hours
def _interruption_times(window: dict[str, float], offset_min: float) -> list[float]:
    from sim.config import StaffPool
    from sim.otherwork import InterruptionStream
    spec = StaffPool.model_validate({
        "name": "d", "kind": "service_desk",
        "shifts": [{"start_hour": 0, "end_hour": 24, "headcount": 1}],
        "interruptions": {"rate_per_hour": 30, "duration": {"dist": "fixed", "value_min": 0.1},
                          **window},
    })
    seen: list[float] = []

    class Recording(Pool):
        def interrupt(self, duration: float) -> None:
            seen.append(self.env.now)

    env = simpy.Environment()
    pool = Recording(env, 0, "d", spec)
    pool.set_capacity(1, 0.0)
    assert spec.interruptions is not None
    InterruptionStream(env, pool, spec.interruptions, 0, np.random.default_rng(5),
                       offset_min).start()
    env.run(until=3 * 1440.0)
    return seen


@pytest.mark.parametrize("offset_min", [0.0, 7 * 60.0])
def test_interruptions_arrive_only_in_their_hours_and_keep_their_draws(
        offset_min: float) -> None:
    everything = _interruption_times({}, offset_min)
    late = _interruption_times({"start_hour": 22, "end_hour": 2}, offset_min)
    office = _interruption_times({"start_hour": 8, "end_hour": 20}, offset_min)

    def hour(t: float) -> float:
        return ((t + offset_min) % 1440.0) / 60.0
    # the window thins the all-day stream: exactly its arrivals in the window, no others
    assert late == [t for t in everything if hour(t) >= 22 or hour(t) < 2]
    assert office == [t for t in everything if 8 <= hour(t) < 20]
    assert late and office and len(office) > 2 * len(late)


def test_an_interruption_stream_is_its_generator_drawn_batch_by_batch() -> None:
    """Arrival j is the sum of the first j gaps, each batch drawing its 512 gaps and
    then its 512 durations from the pool's generator (the draws, and so the arrivals,
    do not depend on how the stream is stepped through)."""
    rng = np.random.default_rng(5)  # the generator _interruption_times hands the stream
    t, expected = 0.0, []
    while t < 3 * 1440.0:
        gaps = rng.exponential(1.0 / 0.5, 512)  # 30 an hour
        rng.random(512)  # the batch's durations
        for g in gaps.tolist():
            t += g
            expected.append(t)
    got = _interruption_times({}, 0.0)
    assert len(got) > 3 * 512  # several batches
    assert got == [x for x in expected if x < 3 * 1440.0]
