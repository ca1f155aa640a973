"""Paired comparison of two scenarios under common random numbers.

Both scenarios run the same replication indices with the same seed, so each replication
gives a paired difference in compliance (alternative minus base) per community type and
stage; the mean difference and its Student-t confidence interval are taken across
replications.  Pairing removes most of the replication-to-replication noise, so the
interval is far narrower than comparing two independent means.

Unlike a share, a difference of shares lies in [-1, 1] and is centred where the two
scenarios differ, not pinned near a bound, so the symmetric t interval is used as is
(the shares themselves get :func:`sim.results.proportion_interval`).
"""

from __future__ import annotations

import pandas as pd

from sim.config import Scenario
from sim.executors import make_executor
from sim.results import summarise
from sim.stages import outcome_order
from sim.sweeps import Point, run_points, staffing_cost_per_week


def compare(
    base: Scenario,
    alternative: Scenario,
    replications: int | None = None,
    seed: int | None = None,
    jobs: int | None = None,
    dask: str | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Compliance difference (alternative - base) per community type and stage.

    Returns
    -------
    DataFrame
        ``community_type, stage, base, alternative, difference, halfwidth, ci_low,
        ci_high, replications`` (shares, not percentage points) and the weekly staff
        cost of each scenario as ``base_cost`` / ``alternative_cost``.
    """
    n = replications if replications is not None else base.run.replications
    seed = base.run.seed if seed is None else seed
    points = [Point(0, {}, base), Point(1, {}, alternative)]
    executor = make_executor(jobs, dask)
    try:
        run_points(points, seed, n, executor)
    finally:
        executor.close()
    a, b = (p.tidy() for p in points)
    keys = ["replication", "community_type", "stage"]
    paired = a[[*keys, "compliance"]].merge(
        b[[*keys, "compliance"]], on=keys, suffixes=("_base", "_alt")
    ).dropna()
    paired["difference"] = paired["compliance_alt"] - paired["compliance_base"]
    diff = summarise(paired, ["community_type", "stage"], "difference", level)
    means = paired.groupby(["community_type", "stage"], observed=True)[
        ["compliance_base", "compliance_alt"]].mean().reset_index()
    out = means.merge(diff, on=["community_type", "stage"])
    out = out.rename(columns={"compliance_base": "base", "compliance_alt": "alternative",
                              "mean": "difference"})
    out["base_cost"] = staffing_cost_per_week(base)
    out["alternative_cost"] = staffing_cost_per_week(alternative)
    out["_o"] = out["stage"].map(outcome_order)
    out["_t"] = out["community_type"] != "all"
    out = out.sort_values(["_t", "community_type", "_o"]).drop(columns=["_o", "_t"])
    cols = ["community_type", "stage", "base", "alternative", "difference", "halfwidth",
            "ci_low", "ci_high", "replications", "base_cost", "alternative_cost"]
    return out[cols].reset_index(drop=True)


def describe(row: pd.Series) -> str:
    """``respond +14.2 pts [12.9, 15.5]`` for one row of :func:`compare`."""
    d, lo, hi = 100 * row["difference"], 100 * row["ci_low"], 100 * row["ci_high"]
    return f"{row['stage']} {d:+.1f} pts [{lo:+.1f}, {hi:+.1f}]"
