"""Drawn requests: arrival profiles, start offset, demand copies and per-request attributes.

Counts and shares are checked against their exact distributions with two-sided bounds at
1e-6 tail probability each, so a correct generator fails these tests for a negligible share
of seeds; the seed comes from ``SIM_TEST_SEED`` (see ``scripts/seed_robustness.py``).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import fixed, tiny_dict
from scipy import stats

import sim
from sim.config import scenario_from_dict

pytestmark = pytest.mark.statistical


def drawn(d: dict[str, Any], seed: int, replication: int = 0) -> pd.DataFrame:
    req: pd.DataFrame = sim.simulate(scenario_from_dict(d), seed, replication).requests
    return req


def busy_dict(**run: Any) -> dict[str, Any]:
    d = tiny_dict(run={"horizon_days": 14, "warmup_days": 0, "replications": 1, "seed": 1,
                       **run})
    c = d["communities"][0]
    c["households"] = 1000
    c["requests_per_household_per_day"] = 0.2  # 200 a day
    for p in d["staff"]:
        p["shifts"][0]["headcount"] = 50
    return d


def test_arrivals_follow_the_hour_profile_from_the_start_hour(stat_seed: int) -> None:
    d = busy_dict(start_weekday="wed", start_hour=7)
    prof = [0.0] * 24
    prof[9] = 1.0
    d["communities"][0]["hour_profile"] = prof
    req = drawn(d, stat_seed)
    created = req["created_min"].to_numpy()
    # only 09:00-10:00 on the clock, i.e. 120..180 min after each simulated 07:00
    assert len(created) > 500
    assert ((created % 1440 >= 120) & (created % 1440 < 180)).all()
    assert (req["hour"] == 9).all()
    # Poisson count over 14 days of 1 hour at 24 x 200/1440 x 60 per hour = 2800 expected
    lo, hi = stats.poisson.ppf([1e-6, 1 - 1e-6], 2800)
    assert lo <= len(created) <= hi
    # uniform inside the hour
    frac = (created % 1440 - 120) / 60
    assert stats.kstest(frac, "uniform").pvalue > 1e-6


def test_arrivals_follow_the_weekday_profile_from_the_start_weekday(stat_seed: int) -> None:
    d = busy_dict(start_weekday="sat", start_hour=0)
    d["communities"][0]["weekday_profile"] = [0, 0, 0, 0, 0, 0, 1]  # Sundays only
    req = drawn(d, stat_seed)
    day = (req["created_min"].to_numpy() // 1440).astype(int)
    assert set(day) == {1, 8}  # the run starts Saturday
    assert (req["weekday"] == "sun").all()
    # rate: 7 x 200 per Sunday -> 2800 expected over the two Sundays
    lo, hi = stats.poisson.ppf([1e-6, 1 - 1e-6], 2800)
    assert lo <= len(req) <= hi


def test_arrivals_are_sorted_inside_the_horizon_and_reproducible(stat_seed: int) -> None:
    d = busy_dict()
    a = drawn(d, stat_seed)
    assert (np.diff(a["created_min"].to_numpy()) >= 0).all()
    assert (a["created_min"] < 14 * 1440).all()
    assert a["created_min"].min() >= 0
    pd.testing.assert_frame_equal(a, drawn(d, stat_seed))
    assert not drawn(d, stat_seed + 1)["created_min"].equals(a["created_min"])
    assert not drawn(d, stat_seed, 1)["created_min"].equals(a["created_min"])


def test_durations_and_flags_come_from_the_category(stat_seed: int) -> None:
    d = busy_dict()
    d["categories"]["job"] = {
        "respond_time": fixed(7), "work_time": fixed(61), "assess_time": fixed(33),
        "plan_time": fixed(121), "close_time": fixed(31), "complex_prob": 0.3,
        "priority": "urgent", "plan_by": ["community_cadre"],
        "outside_party": {"name": "firm", "prob": 0.4, "wait": fixed(55)},
    }
    d["communities"][0]["travel_time"] = fixed(9)
    sc = scenario_from_dict(d)
    res = sim.simulate(sc, stat_seed, 0)
    req = res.requests
    assert (req["category"] == "job").all()
    assert (req["priority"] == "urgent").all()
    n = len(req)
    for share, col in ((0.3, "complex"), (0.4, "outside_wait")):
        k = int(req[col].sum())
        lo, hi = stats.binom.ppf([1e-6, 1 - 1e-6], n, share)
        assert lo <= k <= hi, (col, k, n)
    done = req.dropna(subset=["finished_min", "onsite_min"])
    routine = done[~done["complex"] & ~done["outside_wait"]]
    # plenty of staff: no queues, so every stage takes exactly its fixed duration
    assert np.allclose(routine["responded_min"], routine["created_min"])
    assert np.allclose(routine["onsite_min"] - routine["created_min"], 7 + 9)
    assert np.allclose(routine["finished_min"] - routine["created_min"], 7 + 9 + 61)
    waiting = done[~done["complex"] & done["outside_wait"]]
    assert np.allclose(waiting["finished_min"] - waiting["created_min"], 7 + 9 + 61 + 55)
    cx = req[req["complex"] & ~req["outside_wait"]].dropna(subset=["plan_min"])
    assert len(cx) > 0
    assert np.allclose(cx["plan_min"] - cx["created_min"], 7 + 9 + 33 + 121)
    cxw = req[req["complex"] & req["outside_wait"]].dropna(subset=["finished_min"])
    assert len(cxw) > 0
    assert np.allclose(cxw["finished_min"] - cxw["created_min"], 7 + 9 + 33 + 55 + 121 + 31)


def test_complex_prob_multiplier_and_its_cap(stat_seed: int) -> None:
    d = busy_dict()
    d["categories"]["job"]["complex_prob"] = 0.4
    d["communities"][0]["complex_prob_multiplier"] = 3.0  # 1.2, capped at 1
    assert drawn(d, stat_seed)["complex"].all()
    d["communities"][0]["complex_prob_multiplier"] = 0.0
    assert not drawn(d, stat_seed)["complex"].any()


def test_category_and_channel_mix(stat_seed: int) -> None:
    d = busy_dict()
    d["categories"]["other"] = copy.deepcopy(d["categories"]["job"])
    c = d["communities"][0]
    c["category_mix"] = {"job": 0.25, "other": 0.75}
    c["channel_mix"] = {"phone": 0.5, "walk_in": 0.5}
    req = drawn(d, stat_seed)
    n = len(req)
    cats = req["category"].value_counts()
    assert set(req["category"].unique()) == {"job", "other"}
    lo, hi = stats.binom.ppf([1e-6, 1 - 1e-6], n, 0.25)
    assert lo <= cats["job"] <= hi
    chans = req["channel"].value_counts()
    assert set(req["channel"].unique()) == {"phone", "walk_in"}
    lo, hi = stats.binom.ppf([1e-6, 1 - 1e-6], n, 0.5)
    assert lo <= chans["phone"] <= hi
    # only the 12345 hotline has a transfer delay by default
    assert (req["created_min"] == req["raised_min"]).all()


def test_hotline_tickets_reach_the_community_after_their_transfer_delay(stat_seed: int) -> None:
    d = busy_dict()
    d["communities"][0]["channel_mix"] = {"phone": 0.5, "hotline_12345": 0.5}
    d["channels"] = {"hotline_12345": {"transfer_delay": fixed(45)}}
    req = drawn(d, stat_seed)
    delay = (req["created_min"] - req["raised_min"]).to_numpy()
    hot = (req["channel"] == "hotline_12345").to_numpy()
    assert hot.any() and (~hot).any()
    assert np.allclose(delay[hot], 45.0)
    assert (delay[~hot] == 0).all()
    assert (req["created_min"] < 14 * 1440).all()  # raised late, received after the end: out
    assert (req["raised_min"] >= 0).all()


@pytest.mark.parametrize("m", [0.5, 1.0, 2.5])
def test_demand_multiplier_adds_copies_and_keeps_the_base_requests(
    m: float, stat_seed: int
) -> None:
    d = busy_dict()
    base = drawn(d, stat_seed)
    d["communities"][0]["demand_multiplier"] = m
    req = drawn(d, stat_seed)
    n0 = len(base)
    copies = req["stream_copy"].to_numpy()
    assert set(copies) == set(range(int(np.ceil(m))))
    if m >= 1:
        first = req[copies == 0]
        assert first["created_min"].tolist() == base["created_min"].tolist()
    lo, hi = stats.poisson.ppf([1e-6, 1 - 1e-6], n0 * m)
    assert lo <= len(req) <= hi
    # a thinned copy keeps a subset of the full copy's requests, same attributes
    if m != int(m):
        k = int(m)
        full = d["communities"][0] | {"demand_multiplier": k + 1}
        d2 = copy.deepcopy(d)
        d2["communities"][0] = full
        whole = drawn(d2, stat_seed)
        part = req[copies == k].set_index("stream_index")["created_min"]
        ref = whole[whole["stream_copy"] == k].set_index("stream_index")["created_min"]
        assert len(part) < len(ref)
        assert part.equals(ref.loc[part.index])


def test_households_and_firms_both_generate_demand(stat_seed: int) -> None:
    d = busy_dict()
    c = d["communities"][0]
    c["households"] = 0
    c["firms"] = 100
    c["requests_per_firm_per_day"] = 2.0  # 200 a day
    n = len(drawn(d, stat_seed))
    lo, hi = stats.poisson.ppf([1e-6, 1 - 1e-6], 2800)
    assert lo <= n <= hi
    c["requests_per_firm_per_day"] = 0.0
    assert len(drawn(d, stat_seed)) == 0


def test_a_community_expecting_under_one_request_still_gets_some(stat_seed: int) -> None:
    d = busy_dict()
    d["run"]["horizon_days"] = 1
    d["communities"][0]["households"] = 7
    d["communities"][0]["requests_per_household_per_day"] = 0.1  # 0.7 expected per run
    sc = scenario_from_dict(d)
    counts = [len(sim.simulate(sc, stat_seed, r).requests) for r in range(60)]
    lo, hi = stats.poisson.ppf([1e-6, 1 - 1e-6], 0.7 * 60)
    assert lo <= sum(counts) <= hi
    assert counts.count(1) > 3  # single arrivals are kept (P(N=1) = 0.35, 21 expected)
