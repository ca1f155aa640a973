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

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from sim.config import Scenario
from sim.executors import make_executor
from sim.results import summarise
from sim.stages import outcome_order
from sim.sweeps import Point, run_points, staffing_cost_per_week


class ComparisonError(ValueError):
    """The two scenarios cannot be compared pairwise (the message is one line)."""


def _communities(sc: Scenario) -> set[tuple[str, str, str]]:
    return {(c.name, c.type, c.street) for c in sc.expanded_communities()}


def check_comparable(base: Scenario, alternative: Scenario) -> None:
    """Refuse two scenarios whose communities (name, type, street) differ: their
    replications would not share arrivals, and breakdowns would not line up."""
    a, b = _communities(base), _communities(alternative)
    if a == b:
        return
    only_a = sorted(n for n, *_ in a - b)
    only_b = sorted(n for n, *_ in b - a)

    def few(names: list[str]) -> str:
        return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")

    parts = ([f"only in the base: {few(only_a)}"] if only_a else []) + (
        [f"only in the alternative: {few(only_b)}"] if only_b else [])
    raise ComparisonError("cannot compare: the scenarios' communities differ ("
                          + "; ".join(parts) + "); a paired comparison needs the same "
                          "communities (name, type and street)")


BREAKDOWNS = ("community_type", "hour", "category", "channel", "community", "street",
              "weekday", "priority")
"""What ``by`` may be."""


def compare(
    base: Scenario,
    alternative: Scenario,
    replications: int | None = None,
    seed: int | None = None,
    jobs: int | None = None,
    dask: str | None = None,
    level: float = 0.95,
    by: str = "community_type",
    on_replication: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Compliance difference (alternative - base) per ``by`` group and stage.

    Parameters
    ----------
    by:
        ``community_type`` (with ``all`` for every type together), or a request column
        of :data:`BREAKDOWNS` (``hour`` of arrival, ``category``, ``channel``,
        ``community``, ...).
    on_replication:
        Called with the number of replications finished (of both scenarios, ``2 n`` in
        all) each time one finishes, for progress displays.

    Raises
    ------
    ComparisonError
        When the scenarios' communities differ.

    Returns
    -------
    DataFrame
        The group (a column named after ``by``), ``stage, base, alternative,
        difference, halfwidth, ci_low, ci_high, replications`` (shares, not percentage
        points) and the weekly staff cost of each scenario as ``base_cost`` /
        ``alternative_cost``.
    """
    if by not in BREAKDOWNS:
        raise ComparisonError(f"--by: unknown breakdown {by!r} (one of "
                              f"{', '.join(BREAKDOWNS)})")
    check_comparable(base, alternative)
    n = replications if replications is not None else base.run.replications
    seed = base.run.seed if seed is None else seed
    points = [Point(0, {}, base), Point(1, {}, alternative)]
    extra = () if by == "community_type" else (by,)
    executor = make_executor(jobs, dask)
    done = [0]

    def finished(_p: Point, _r: int) -> None:
        done[0] += 1
        if on_replication is not None:
            on_replication(done[0])

    try:
        run_points(points, seed, n, executor, on_replication=finished, breakdowns=extra)
    finally:
        executor.close()
    a, b = (p.tidy() for p in points)
    if extra:
        a, b = (t[t["by"] == by].assign(community_type=t["group"]) for t in (a, b))
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
    if by == "community_type":
        out["_t"] = out["community_type"] != "all"
    else:  # hours and weekdays in their own order, names alphabetically
        num = pd.to_numeric(out["community_type"], errors="coerce")
        out["_t"] = num.fillna(-1)
    out = out.sort_values(["_t", "community_type", "_o"]).drop(columns=["_o", "_t"])
    cols = ["community_type", "stage", "base", "alternative", "difference", "halfwidth",
            "ci_low", "ci_high", "replications", "base_cost", "alternative_cost"]
    return out[cols].rename(columns={"community_type": by}).reset_index(drop=True)


def describe(row: pd.Series) -> str:
    """``respond +14.2 pts [12.9, 15.5]`` for one row of :func:`compare`."""
    d, lo, hi = 100 * row["difference"], 100 * row["ci_low"], 100 * row["ci_high"]
    return f"{row['stage']} {d:+.1f} pts [{lo:+.1f}, {hi:+.1f}]"


def save_comparison(outdir: Path, table: pd.DataFrame, by: str, base_file: str,
                    alternative_file: str, base_name: str, alternative_name: str) -> None:
    """Write ``compare.csv`` and ``compare.json`` into ``outdir`` (marked ``compare``)."""
    from sim import __version__
    from sim.io import atomic_write_frame, atomic_write_text
    from sim.rundir import claim_kind, lock_outdir

    with lock_outdir(outdir):
        claim_kind(outdir, "compare")
        atomic_write_frame(outdir / "compare.csv", table)
        atomic_write_text(outdir / "compare.json", json.dumps({
            "sim_version": __version__, "by": by, "base": base_file,
            "alternative": alternative_file, "base_name": base_name,
            "alternative_name": alternative_name,
            "replications": int(table["replications"].max()) if len(table) else 0},
            indent=2, ensure_ascii=False) + "\n")

