"""The tables `sim run` writes, computed the fast way, equal their plain definitions.

Compliance counts come from one ``bincount`` per breakdown over outcome patterns, stage
percentiles from ``np.partition`` per group, the measured requests of one replication
are a slice of its frame, and which requests a rule covers is decided per category:
each is checked here against the obvious pandas computation, value for value.
"""

from __future__ import annotations

from pathlib import Path

import hypothesis.extra.numpy as hnp
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.results import DEFAULT_BREAKDOWNS, ExperimentResult, _group_quantiles
from sim.sla import applicable
from sim.stages import FINISH, OUTCOMES, STAGE_TABLE
from tests.helpers import shipped

ROOT = Path(__file__).resolve().parents[1]


_short = shipped


@pytest.fixture(scope="module")
def festival() -> ExperimentResult:
    """Three replications of a scenario with two rules (one on the business-hours clock)
    and requests still open at the horizon (unknown outcomes)."""
    return sim.replicate(_short("spring_festival", 8.0, 3))


def _reference_counts(
    exp: ExperimentResult, by: str | None, rule: str, clock: str
) -> tuple[pd.DataFrame, list[int]]:
    """Met / decided / unknown per (replication, group) by a pandas groupby."""
    req = exp.measured
    out = exp.outcomes(rule, clock)
    frame = pd.DataFrame({"rep": req["replication"].to_numpy(),
                          "g": req[by].to_numpy() if by else "all"})
    for stage in OUTCOMES:
        met = out[stage].to_numpy(dtype=float)
        frame[f"{stage}/met"] = np.where(np.isnan(met), 0.0, met)
        frame[f"{stage}/decided"] = (~np.isnan(met)).astype(np.int64)
        frame[f"{stage}/unknown"] = out[f"{stage}_unknown"].to_numpy(dtype=float)
    return frame.groupby(["rep", "g"]).sum(), sorted(frame["rep"].unique())


@pytest.mark.parametrize("clock", ["community", "resident"])
def test_compliance_counts_equal_a_groupby_of_the_outcomes(
    festival: ExperimentResult, clock: str
) -> None:
    exp = festival
    assert sum(exp.outcomes(None, clock)["joint_unknown"]) > 0  # the test sees unknowns
    for rule in exp.scenario.sla:
        for by in DEFAULT_BREAKDOWNS:
            groups, counts = exp.compliance_counts(by, rule.name, clock)
            sums, reps = _reference_counts(exp, by, rule.name, clock)
            full = sums.reindex(pd.MultiIndex.from_product([reps, groups]), fill_value=0)
            for stage in OUTCOMES:
                c = counts[stage]
                shape = (len(reps), len(groups))
                for name, got in (("met", c.met), ("decided", c.decided),
                                  ("unknown", c.unknown)):
                    want = full[f"{stage}/{name}"].to_numpy().reshape(shape)
                    assert np.array_equal(got, want), (rule.name, clock, by, stage, name)
                assert c.met.dtype == np.float64 and c.decided.dtype == np.int64
                assert c.unknown.dtype == np.float64


def test_unknown_outcomes_of_the_summary_count_the_joint_unknowns(
    festival: ExperimentResult,
) -> None:
    fresh = ExperimentResult(festival.scenario, festival.seed, festival.requests,
                             festival.pools, festival.load, festival.backlog)
    want = int(fresh.outcomes()["joint_unknown"].sum())
    assert want > 0
    other = ExperimentResult(festival.scenario, festival.seed, festival.requests,
                             festival.pools, festival.load, festival.backlog)
    assert other.censored()["unknown_outcomes"] == want


def test_compliance_tables_keep_no_outcome_frame(festival: ExperimentResult) -> None:
    """The counts keep a code a request, not the ten-column outcome frame; an outcome
    frame asked for before stays memoised."""
    exp = ExperimentResult(festival.scenario, festival.seed, festival.requests,
                           festival.pools, festival.load, festival.backlog)
    exp.compliance_tables()
    assert exp._outcomes == {}
    kept = exp.outcomes()
    exp2 = ExperimentResult(festival.scenario, festival.seed, festival.requests,
                            festival.pools, festival.load, festival.backlog)
    kept2 = exp2.outcomes()
    exp2.compliance_tables()
    assert exp2.outcomes() is kept2
    pd.testing.assert_frame_equal(kept, kept2, check_exact=True)


@pytest.mark.parametrize("by", [None, "community_type", "hour"])
def test_stage_percentiles_are_means_of_pandas_grouped_quantiles(
    festival: ExperimentResult, by: str | None
) -> None:
    exp = festival
    q = (0.5, 0.9, 0.95)
    table = exp.stage_percentiles(by, q)
    req = exp.measured
    assert len(table) > 0
    assert (req["complex"] & req["finished_min"].notna()).any()  # finish leaves them out
    for stage in STAGE_TABLE:
        t = req[stage.column] - req["created_min"]
        if stage is FINISH:
            t = t.where(~req["complex"])
        frame = pd.DataFrame({"rep": req["replication"], "g": req[by] if by else "all",
                              "t": t}).dropna()
        per_rep = frame.groupby(["rep", "g"], observed=True)["t"].quantile(list(q))
        want = per_rep.groupby(level=[1, 2], observed=True).mean()
        got = table[table["stage"] == stage.name].set_index(["group", "quantile"])["mean"]
        assert len(got) == len(want) > 0
        for (g, quantile), value in want.items():
            assert got[(str(g), quantile)] == value, (stage.name, g, quantile)
        reached = frame.groupby("g", observed=True).size()
        got_reached = table[table["stage"] == stage.name].groupby("group")["reached"].first()
        assert {str(k): v for k, v in reached.items()} == got_reached.to_dict()


@settings(max_examples=60, deadline=None)
@given(
    values=hnp.arrays(np.float64, st.integers(1, 60),
                      elements=st.sampled_from([0.0, 1.5, 2.0, 7.25, 30.0, 1e3])
                      | st.floats(0, 1e4, allow_nan=False)),
    data=st.data(),
)
def test_group_quantiles_equal_pandas_to_the_last_bit(
    values: np.ndarray, data: st.DataObject
) -> None:
    n = len(values)
    reps = np.asarray(data.draw(hnp.arrays(np.int32, n, elements=st.integers(0, 2))))
    codes = np.asarray(data.draw(hnp.arrays(np.int8, n, elements=st.integers(0, 3))))
    q = np.array([0.0, 0.25, 0.5, 0.9, 0.95, 1.0])
    got = _group_quantiles(reps, codes, values, q)
    frame = pd.DataFrame({"rep": reps, "g": codes, "t": values})
    want = frame.groupby(["rep", "g"])["t"].quantile(list(q))
    assert np.array_equal(got["value"].to_numpy(), want.to_numpy())
    assert np.array_equal(got["replication"].to_numpy(),
                          want.index.get_level_values(0).to_numpy())
    first = got["first"].to_numpy()
    assert np.array_equal(codes[first], want.index.get_level_values(1).to_numpy())
    # codes of the replications given (not compacted: replication 1 may be missing)
    pd.testing.assert_frame_equal(_group_quantiles(reps, codes, values, q, reps * 2), got,
                                  check_exact=True)


def test_measured_requests_of_one_replication_share_its_columns() -> None:
    exp = sim.replicate(_short("quanxueli", 3.0, 1))
    req = exp.requests
    want = req[req["created_min"] >= exp.scenario.run.warmup_min]
    assert 0 < len(want) < len(req)
    pd.testing.assert_frame_equal(exp.measured, want, check_exact=True)
    assert np.shares_memory(exp.measured["created_min"].to_numpy(),
                            req["created_min"].to_numpy())


def test_measured_requests_of_interleaved_rows_are_the_rows_after_warm_up(
    festival: ExperimentResult,
) -> None:
    req = festival.requests.iloc[::-1].reset_index(drop=True)  # warm-up rows at the end
    exp = ExperimentResult(festival.scenario, festival.seed, req, festival.pools,
                           festival.load, festival.backlog)
    want = req[req["created_min"] >= exp.scenario.run.warmup_min]
    pd.testing.assert_frame_equal(exp.measured, want, check_exact=True)


def test_rules_cover_categories_as_text_whatever_the_column_type(
    festival: ExperimentResult,
) -> None:
    """Categorical or plain text, with a missing category and one the scenario lacks:
    a rule covers a request when its category (as text) is listed, and on-site work
    exists only for categories with ``onsite_by``."""
    sc = festival.scenario
    req = festival.requests.head(40).copy()
    names = list(sc.categories)
    text = np.array([names[i % len(names)] for i in range(len(req))], dtype=object)
    text[3], text[5] = None, "no_such_category"
    listed = [names[0], "no_such_category"]
    rule = sc.sla[0].model_copy(update={"categories": listed})
    site_names = {n for n, c in sc.categories.items() if c.onsite_by}
    as_text = pd.Series(text).astype(str).to_numpy()
    want_covered = np.isin(as_text, listed)
    want_site = want_covered & np.isin(as_text, list(site_names))
    for column in (pd.Categorical(text), pd.Series(text, dtype=object)):
        req["category"] = column
        masks = applicable(req, rule, sc)
        assert np.array_equal(masks["respond"], want_covered)
        assert np.array_equal(masks["onsite"], want_site)
