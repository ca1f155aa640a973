"""Results that travel cheaply (sim.summary): summaries give the full path's tables.

Workers may send back a replication reduced to compliance counts and load frames
(``replicate(..., summary_only=True)``, used by sweeps, the optimiser and sensitivity
runs).  The tables built from those summaries must equal, value for value, the tables
of the full request frames of the same replications.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.experiment import replicate, simulate_summary
from sim.summary import ExperimentSummary
from tests.helpers import shipped

ROOT = Path(__file__).resolve().parents[1]


_short = shipped


@pytest.mark.parametrize(("name", "days", "reps"), [("quanxueli", 5.0, 3),
                                                    ("quanxueli_requests_only", 4.0, 2),
                                                    ("jingu_breakfast", 4.0, 2)])
def test_summary_tables_equal_the_full_tables(name: str, days: float, reps: int) -> None:
    sc = _short(name, days, reps)
    full = replicate(sc)
    small = replicate(sc, summary_only=True)
    assert isinstance(small, ExperimentSummary) and small.replications == reps
    pd.testing.assert_frame_equal(small.compliance_tables(), full.compliance_tables(),
                                  check_exact=True)
    pd.testing.assert_frame_equal(small.utilisation(), full.utilisation(), check_exact=True)
    for by in (None, "hour", "category"):  # hour: groups are the values seen
        pd.testing.assert_frame_equal(small.compliance(by, clock="resident"),
                                      full.compliance(by, clock="resident"),
                                      check_exact=True)


def test_groups_seen_in_only_some_replications_line_up() -> None:
    """A breakdown by values (not categories) can see different groups per replication;
    the stacked counts must align them as the full frames do."""
    sc = _short("quanxueli", 2.0, 1)
    reps = [simulate_summary(sc, sc.run.seed, r, ("hour",)) for r in range(2)]
    full = sim.experiment.ExperimentResult.from_results(
        sc, sc.run.seed, [sim.simulate(sc, replication=r) for r in range(2)])
    # drop the night hours from replication 1's counts: groups now differ
    key = next(iter(reps[1].counts))
    groups, per_stage = reps[1].counts[key]
    keep = [i for i, g in enumerate(groups) if int(g) >= 7]  # type: ignore[call-overload]
    reps[1].counts[key] = ([groups[i] for i in keep],
                           {s: (v[0][keep], v[1][keep], v[2][keep])
                            for s, v in per_stage.items()})
    mask = ~((full.requests["replication"] == 1) & (full.requests["hour"] < 7))
    cut = sim.experiment.ExperimentResult(sc, sc.run.seed, full.requests[mask].reset_index(
        drop=True), full.pools, full.load, full.backlog)
    small = ExperimentSummary(sc, sc.run.seed, reps)
    pd.testing.assert_frame_equal(small.compliance("hour"), cut.compliance("hour"),
                                  check_exact=True)


def test_a_summary_is_small_and_knows_its_breakdowns() -> None:
    sc = _short("quanxueli", 28.0, 1)
    summary = simulate_summary(sc, sc.run.seed, 0, (None, "community_type"))
    full = sim.simulate(sc)
    assert len(pickle.dumps(summary)) * 4 < len(pickle.dumps(full))
    exp = ExperimentSummary(sc, sc.run.seed, [summary])
    assert not exp.compliance("community_type").empty
    with pytest.raises(KeyError, match="no breakdown 'street'"):
        exp.compliance("street")


def test_dask_batches_scatter_and_keep_every_result() -> None:
    """Tasks sent in batches, a scenario sent once, handles asked for in two rounds:
    every handle gets its own task's result, once."""
    pytest.importorskip("distributed")
    from sim.executors import DaskExecutor
    from sim.staffing import scenario_weekly_cost

    sc = _short("quanxueli", 2.0, 1)
    ex = DaskExecutor("local", 2, batch=3)
    try:
        first = {ex.submit(pow, i, 2): i for i in range(7)}
        first[ex.submit(scenario_weekly_cost, sc)] = -1
        got = {}
        for h, r in ex.as_completed(set(first)):
            assert h not in got
            got[h] = r
            if len(got) == 2:
                break  # a caller may stop early and ask again with more handles
        more = {ex.submit(pow, i, 3): 100 + i for i in range(4)}
        for h, r in ex.as_completed(set(first) - set(got) | set(more)):
            assert h not in got
            got[h] = r
    finally:
        ex.close()
    expected = {h: (i**2 if i >= 0 else scenario_weekly_cost(sc)) for h, i in first.items()}
    expected |= {h: (i - 100) ** 3 for h, i in more.items()}
    assert got == expected
    assert len(ex._scattered) == 1
