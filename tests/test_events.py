"""Events: surges and clusters add requests without touching the others (common random
numbers), the rate inside a surge window is the declared one (chi-square), outages
lengthen the waits that start in their window (exact times)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np
import pytest
from helpers import run, table, tiny_dict
from scipy import stats

from sim.arrivals import RequestTable, generate
from sim.config import Scenario, scenario_from_dict
from sim.rng import Streams

DAY = 1440.0
RATE_PER_HOUR = 10.0  # 2400 households x 0.1 a day, flat over hours and weekdays
SURGE_START = DAY + 180.0  # day 1, 03:00
SURGE_HOURS = 6
TAIL_HOURS = 4
MULTIPLIER = 4.0


def busy(**changes: Any) -> dict[str, Any]:
    d = tiny_dict(**changes)
    d["run"] = {**d["run"], "horizon_days": 3}
    d["communities"][0].update(households=2400, category_mix={"job": 0.5, "lift_fault": 0.5})
    return d


def surge(**fields_: Any) -> dict[str, Any]:
    return {"name": "storm", "kind": "surge", "start_day": SURGE_START / DAY,
            "duration_hour": SURGE_HOURS, "multiplier": MULTIPLIER, "categories": ["job"],
            "tail_hour": TAIL_HOURS, **fields_}


def draw(sc: Scenario, rep: int = 0) -> RequestTable:
    return generate(sc, list(sc.expanded_communities()), Streams(sc.run.seed, rep))


def subset(req: RequestTable, keep: np.ndarray) -> dict[str, np.ndarray]:
    return {f.name: getattr(req, f.name)[keep] for f in fields(req)}


def test_requests_of_the_run_without_the_event_are_all_there_unchanged() -> None:
    plain = scenario_from_dict(busy())
    cluster = {"name": "lifts", "kind": "cluster", "category": "lift_fault", "count": 7,
               "start_day": 2.0, "duration_hour": 1}
    storm = scenario_from_dict(busy(events=[surge(), cluster]))
    for rep in range(3):
        a, b = draw(plain, rep), draw(storm, rep)
        base = b.stream_copy >= 0
        expected = subset(a, np.ones(len(a), dtype=bool))
        got = subset(b, base)
        for name, values in expected.items():
            np.testing.assert_array_equal(got[name], values, err_msg=name)
        # what was added lies inside the windows (tail included), of the declared kinds
        extra = ~base
        t = b.raised_min[extra]
        in_storm = (t >= SURGE_START) & (t < SURGE_START + (SURGE_HOURS + TAIL_HOURS) * 60)
        in_lifts = (t >= 2 * DAY) & (t < 2 * DAY + 60)
        assert np.all(in_storm | in_lifts)
        assert np.all(b.category[extra][in_storm] == list(storm.categories).index("job"))
        lifts = b.category[extra][in_lifts]
        assert len(lifts) == 7 and np.all(lifts == list(storm.categories).index("lift_fault"))


def test_the_rate_in_the_surge_window_and_its_tail_is_the_declared_one() -> None:
    """Counts per hour and category over 200 replications against the declared rate:
    inside the window multiplier x the usual rate for job, the usual rate for lift_fault;
    in the tail hour j of 4, 1 + (multiplier - 1)(1 - (j + 1/2)/4) times it.  The counts
    are independent Poisson, so the statistic is chi-square with one degree of freedom a
    bin; the 99.9% quantile fails a correct generator in 1 of 1000 seeds."""
    sc = scenario_from_dict(busy(events=[surge()]))
    reps = 200
    n_bins = SURGE_HOURS + TAIL_HOURS
    edges = SURGE_START + 60.0 * np.arange(n_bins + 1)
    counts = np.zeros((2, n_bins))
    cats = [list(sc.categories).index(c) for c in ("job", "lift_fault")]
    for rep in range(reps):
        req = draw(sc, rep)
        for row, k in enumerate(cats):
            counts[row] += np.histogram(req.raised_min[req.category == k], edges)[0]
    base = RATE_PER_HOUR * 0.5 * reps
    lift = np.array([1.0 - (j + 0.5) / TAIL_HOURS for j in range(TAIL_HOURS)])
    factor = np.concatenate([np.full(SURGE_HOURS, MULTIPLIER), 1 + (MULTIPLIER - 1) * lift])
    expected = np.vstack([base * factor, np.full(n_bins, base)])
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < stats.chi2.ppf(0.999, counts.size), (chi2, counts, expected)


def test_a_cluster_puts_count_requests_in_each_community_hit() -> None:
    d = busy(events=[{"name": "lifts", "kind": "cluster", "category": "lift_fault",
                      "count": 5, "communities": ["c1"], "start_day": 1.5,
                      "duration_hour": 2}])
    d["communities"].append({**d["communities"][0], "name": "c2"})
    sc = scenario_from_dict(d)
    req = draw(sc)
    extra = req.stream_copy < 0
    assert extra.sum() == 5
    assert np.all(req.community[extra] == 0)
    t = req.raised_min[extra]
    assert np.all((t >= 1.5 * DAY) & (t < 1.5 * DAY + 120))


def test_a_surge_of_the_other_community_leaves_this_one_alone() -> None:
    d = busy(events=[surge(communities=["c2"])])
    d["communities"].append({**d["communities"][0], "name": "c2"})
    req = draw(scenario_from_dict(d))
    assert np.all(req.community[req.stream_copy < 0] == 1)
    assert (req.stream_copy < 0).sum() > 0


@pytest.mark.parametrize(("start_day", "finished"), [
    (0.0, 175.0),                    # window 00:00-01:00: the wait starts 01:15, outside
    (1 / 24, 75.0 + 100 * 3 + 20),  # window 01:00-02:00 holds 01:15: x3 + 20 min
])
def test_an_outage_lengthens_the_waits_starting_in_its_window(
    start_day: float, finished: float
) -> None:
    outage = {"name": "lift firm down", "kind": "outage", "party": "lift_firm",
              "start_day": start_day, "duration_hour": 1, "wait_factor": 3,
              "extra_wait_min": 20}
    sc = scenario_from_dict(tiny_dict(events=[outage]))
    # respond 0-10, on site 15, work to 75, then the lift firm waits 100 min (drawn)
    res = run(sc, table(sc, [0.0], outside=[True], wait=100.0))
    assert res.requests["finished_min"].tolist() == [finished]
