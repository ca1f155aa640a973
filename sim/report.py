"""Tables for people: the headline 2341 summary.  Never imports simpy."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from sim.sla import OUTCOME_STAGES

if TYPE_CHECKING:
    from sim.experiment import ExperimentResult



def fmt_share(mean: float, halfwidth: float) -> str:
    """``93.1% ±1.2`` (percentage points); ``n/a`` when nothing was measured."""
    if pd.isna(mean):
        return "n/a"
    if pd.isna(halfwidth):
        return f"{100 * mean:.1f}%"
    return f"{100 * mean:.1f}% ±{100 * halfwidth:.1f}"


def summary_frame(
    exp: ExperimentResult, by: str = "community_type", rule: str | None = None
) -> pd.DataFrame:
    """Wide table: one row per group (plus ``all``), one column per stage, as text."""
    parts = [exp.compliance(None, rule), exp.compliance(by, rule)]
    table = pd.concat(parts, ignore_index=True)
    pairs = zip(table["mean"], table["halfwidth"], strict=True)
    table["text"] = [fmt_share(m, h) for m, h in pairs]
    wide = table.pivot_table(
        index="group", columns="stage", values="text", aggfunc="first", sort=False
    )
    cols = [s for s in OUTCOME_STAGES if s in wide.columns]
    wide = wide[cols].fillna("n/a")
    order = ["all"] + [g for g in wide.index if g != "all"]
    return wide.loc[order]
