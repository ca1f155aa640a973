"""Tornado figure of a one-at-a-time sensitivity analysis (:mod:`sim.sensitivity`).

Takes the table written as ``sensitivity_oat.csv``; never imports simpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.figures.style import _empty, _styled, stage_label
from sim.stages import outcome_order

LOW_COLOR = "#1f77b4"
HIGH_COLOR = "#ff7f0e"


@_styled
def tornado(oat: pd.DataFrame, stages: Sequence[str] | None = None, top: int = 10,
            community_type: str = "all") -> Figure:
    """One panel per stage: the ``top`` assumptions by the larger |effect| of their low and
    high settings on compliance (percentage points), with paired 95% CIs; assumptions with
    no effect at all are left out."""
    from sim.sensitivity_report import oat_swings

    sw = oat_swings(oat, community_type) if not oat.empty else pd.DataFrame()
    if sw.empty:
        return _empty(Figure(figsize=(7, 3)), "Which assumptions matter", "nothing measured")
    names = sorted(sw["stage"].unique(), key=outcome_order) if stages is None else stages
    fig = Figure(figsize=(9, (0.32 * top + 1.1) * len(names)), layout="constrained")
    axes = fig.subplots(len(names), 1, squeeze=False)[:, 0]
    for ax, stage in zip(axes, names, strict=True):
        d = sw[(sw["stage"] == stage) & (sw["swing"] > 0)].sort_values("swing", ascending=False,
                                                 kind="stable").head(top)[::-1]
        y = np.arange(len(d))
        for side, color, off in (("low", LOW_COLOR, -0.2), ("high", HIGH_COLOR, 0.2)):
            eff = 100 * d[f"effect_{side}"].to_numpy(float)
            err = 100 * np.vstack([eff / 100 - d[f"ci_low_{side}"].to_numpy(float),
                                   d[f"ci_high_{side}"].to_numpy(float) - eff / 100])
            ax.barh(y + off, eff, height=0.4, color=color, label=f"{side} end of range",
                    xerr=np.nan_to_num(err).clip(min=0), error_kw={"lw": 0.8})
        ax.axvline(0, color="#333", lw=0.8)
        ax.set_yticks(y, list(d["assumption"]), fontsize=7.5)
        ax.set_title(stage_label(stage), loc="left")
        ax.set_xlabel("change in compliance (percentage points)")
    axes[0].legend(loc="lower right", fontsize=8)
    return fig


__all__ = ["tornado"]
