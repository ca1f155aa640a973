"""Figures of a paired comparison: differences per group (`sim compare --by`).

Never imports simpy; takes the table :func:`sim.comparison.compare` returns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.figures.style import _styled, stage_label
from sim.stages import BY_NAME, OUTCOMES

_JOINT_COLOR = "#333333"


@_styled
def comparison_by_group(table: pd.DataFrame, by: str) -> Figure:
    """Paired difference (alternative - base, percentage points) per group of ``by``, a
    marker and 95% interval per stage, groups along the x axis in the table's order."""
    groups = list(dict.fromkeys(table[by].astype(str)))
    stages = [s for s in OUTCOMES if s in set(table["stage"])]
    fig = Figure(figsize=(min(14.0, max(6.0, 0.45 * len(groups) + 2.5)), 4.6),
                 layout="constrained")
    ax = fig.add_subplot()
    ax.axhline(0, color="#999", lw=1)
    width = 0.8 / max(1, len(stages))
    x = np.arange(len(groups))
    for i, st in enumerate(stages):
        d = table[table["stage"] == st].set_index(table[table["stage"] == st][by].astype(str))
        d = d.reindex(groups)
        color = BY_NAME[st].color if st in BY_NAME else _JOINT_COLOR
        ax.errorbar(x - 0.4 + width * (i + 0.5), 100 * d["difference"],
                    yerr=100 * d["halfwidth"].fillna(0), fmt="o", ms=4, capsize=2,
                    color=color, label=stage_label(st))
    ax.set_xticks(x, groups, rotation=90 if len(groups) > 12 else 0)
    ax.set_xlabel(by.replace("_", " "))
    ax.set_ylabel("difference, alternative − base\n(percentage points)")
    ax.legend(fontsize=8, ncols=len(stages))
    ax.set_title(f"Paired difference in compliance by {by.replace('_', ' ')} "
                 "(95% intervals)")
    return fig
