"""Progress inside replications: simulated days, reported without changing results."""

from __future__ import annotations

import pandas as pd

from sim.experiment import run_replications
from sim.model import simulate
from sim.progress import day_channel, days_per_replication
from sim.sweeps import replication_summary
from tests.decide_scenarios import night_disputes


def test_day_ticks_do_not_change_the_records() -> None:
    sc = night_disputes(horizon_days=3.5)
    days: list[int] = []
    ticked = simulate(sc, 3, 1, on_day=days.append)
    plain = simulate(sc, 3, 1)
    assert days == [1, 2, 3]  # each simulated midnight before the horizon
    pd.testing.assert_frame_equal(ticked.requests, plain.requests)
    pd.testing.assert_frame_equal(ticked.pools, plain.pools)


def test_days_from_worker_processes_add_up() -> None:
    sc = night_disputes(horizon_days=3.5)
    seen: list[int] = []
    with day_channel(seen.append):
        ticked = run_replications(sc, [0, 1, 2], 5, jobs=2)
        summary = replication_summary(sc, 5, 0)  # in this process
    assert days_per_replication(sc) == 4
    assert seen[-1] == 4 * 4 and seen == sorted(seen)
    plain = run_replications(sc, [0, 1, 2], 5, jobs=1)
    for a, b in zip(ticked, plain, strict=True):
        pd.testing.assert_frame_equal(a.requests, b.requests)
    pd.testing.assert_frame_equal(summary, replication_summary(sc, 5, 0))


def test_without_a_channel_nothing_is_sent() -> None:
    from sim.progress import day_callback

    assert day_callback() is None
    with day_channel(lambda _n: None):
        assert day_callback() is not None
    assert day_callback() is None
