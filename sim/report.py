"""Tables for people: the headline 2341 summary.  Never imports simpy."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from sim.stages import OUTCOMES

if TYPE_CHECKING:
    from sim.results import ExperimentResult

SHARE_NOTE = ("mean across replications [95% CI: Wilson score interval on the effective "
              "sample size, within 0-100%]")
"""What :func:`fmt_share` shows, for table titles."""


def fmt_share(mean: float, low: float, high: float) -> str:
    """``93.1% [91.8, 94.2]`` (percent; the interval need not be symmetric); ``n/a``
    when nothing was measured; the mean alone when there is no interval (one
    replication)."""
    if pd.isna(mean):
        return "n/a"
    if pd.isna(low) or pd.isna(high):
        return f"{100 * mean:.1f}%"
    return f"{100 * mean:.1f}% [{100 * low:.1f}, {100 * high:.1f}]"


def summary_frame(
    exp: ExperimentResult, by: str = "community_type", rule: str | None = None
) -> pd.DataFrame:
    """Wide table: one row per group (``all`` first), one column per stage, as text.

    Stages the rule switches off have no column; a run that measured nothing has no
    rows.
    """
    parts = [exp.compliance(None, rule), exp.compliance(by, rule)]
    table = pd.concat(parts, ignore_index=True)
    if table.empty:
        return pd.DataFrame(index=pd.Index([], name="group"), dtype=object)
    triples = zip(table["mean"], table["ci_low"], table["ci_high"], strict=True)
    table["text"] = [fmt_share(m, lo, hi) for m, lo, hi in triples]
    wide = table.pivot_table(
        index="group", columns="stage", values="text", aggfunc="first", sort=False
    )
    cols = [s for s in OUTCOMES if s in wide.columns]
    wide = wide[cols].fillna("n/a")
    order = ["all"] + [g for g in wide.index if g != "all"]
    return wide.loc[order]
