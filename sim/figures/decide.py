"""Figures of decisions: where added staff go (a map-like grid of communities grouped by
street) and a roster's scheduled staff against the hourly requirement.

They take plain DataFrames (the tables ``sim allocate`` and ``sim roster`` write), so
they never import the simulation.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from sim.figures.style import _styled

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@_styled
def allocation_map(units: pd.DataFrame, over: str = "community", title: str = "") -> Figure:
    """Communities as tiles, one square block per street, coloured by joint compliance
    before (top) and by its change after the allocation (bottom); the change in staff is
    written on the tile (``over="community"``) or under the street's name (``street``).

    ``units``: one row per community with ``community, street, community_type, unit,
    change, before, after`` (``allocation_units.csv``).
    """
    streets = list(dict.fromkeys(units["street"]))
    sizes = [int((units["street"] == s).sum()) for s in streets]
    cols = [max(2, math.ceil(math.sqrt(n))) for n in sizes]
    rows = max(math.ceil(n / c) for n, c in zip(sizes, cols, strict=True))
    width = sum(cols) + len(cols) - 1
    fig = Figure(figsize=(min(18, 1.5 + 0.42 * width), 2.2 + 2 * 0.42 * (rows + 2.5)),
                 layout="constrained")
    axes = fig.subplots(2, 1)
    delta = (units["after"] - units["before"]) * 100
    lim = max(0.05, float(np.nanmax(np.abs(delta))) if delta.notna().any() else 0.05)
    low = float(np.nanmin(units["before"])) * 100 if units["before"].notna().any() else 0
    panels = [("joint 2341 compliance before (%)", units["before"] * 100,
               Normalize(max(0.0, low - 2), 100), "RdYlGn"),
              ("change in joint compliance after the allocation (pts)", delta,
               Normalize(-lim, lim), "PuOr")]
    for ax, (label, values, norm, cmap_name) in zip(axes, panels, strict=True):
        cmap = colormaps[cmap_name]
        x0 = 0
        for s, c in zip(streets, cols, strict=True):
            block = units[units["street"] == s].sort_values(["community_type", "community"])
            for k, (i, r) in enumerate(block.iterrows()):
                cx, cy = x0 + k % c, -(k // c)
                v = values.loc[i]
                ax.add_patch(_tile(cx, cy, "#dddddd" if pd.isna(v) else cmap(norm(v))))
                if r["change"] and over == "community":
                    ax.text(cx + 0.45, cy + 0.45, f"{int(r['change']):+d}", ha="center",
                            va="center", fontsize=7, fontweight="bold")
            ch = block["change"]
            change = int(ch.max() if (ch >= 0).all() else ch.min()) if len(ch) else 0
            extra = f" ({change:+d})" if change and over == "street" else ""
            ax.text(x0 + c / 2, 1.15, f"{s}{extra}", ha="center", va="bottom",
                    fontsize=8.5, fontweight="bold" if extra else "normal")
            x0 += c + 1
        ax.set_xlim(-0.3, x0 - 0.7)
        ax.set_ylim(-rows + 0.7, 2.2)
        ax.set_aspect("equal")
        ax.axis("off")
        fig.colorbar(_mappable(norm, cmap_name), ax=ax, shrink=0.8, label=label,
                     location="right")
    fig.suptitle(title or "Allocation: communities grouped by street (one tile per "
                 "community, ordered by type)", fontsize=10)
    return fig


def _tile(x: float, y: float, color: object) -> object:
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), 0.9, 0.9, facecolor=color, edgecolor="white")


def _mappable(norm: Normalize, cmap_name: str) -> ScalarMappable:
    return ScalarMappable(norm=norm, cmap=colormaps[cmap_name])


@_styled
def roster_coverage(hours: pd.DataFrame, compliance: pd.DataFrame | None = None,
                    title: str = "") -> Figure:
    """Requirement and scheduled staff per hour of the week (step plots) and, below, the
    verified compliance per hour of day.

    ``hours``: one row per hour of the week (0 = Monday 00:00) with ``hour``,
    ``requirement``, ``scheduled`` and optionally ``uniform`` (``roster_hours.csv``);
    ``compliance``: ``hour, mean, ci_low, ci_high`` and optionally ``target``.
    """
    has_c = compliance is not None and len(compliance) > 0
    fig = Figure(figsize=(13, 7 if has_c else 4), layout="constrained")
    axes = fig.subplots(2 if has_c else 1, 1, squeeze=False)[:, 0]
    h = np.append(hours["hour"].to_numpy(), 168)

    def steps(col: str) -> np.ndarray:
        v = hours[col].to_numpy()
        return np.append(v, v[-1])

    ax = axes[0]
    ax.step(h, steps("requirement"), where="post", color="#d62728", lw=1.4,
            label="requirement (iterative staffing algorithm)")
    ax.step(h, steps("scheduled"), where="post", color="#1f77b4", lw=2.2, alpha=0.75,
            label="scheduled by the roster")
    if "uniform" in hours:
        ax.step(h, steps("uniform"), where="post", color="#555", lw=1.2, ls="--",
                label="best uniform staffing (optimiser)")
    ax.set_ylabel("people on duty")
    ax.set_xticks(range(0, 169, 24), [*_DAYS, ""], ha="left")
    ax.set_xlim(0, 168)
    ax.set_xlabel("hour of the week")
    ax.legend(loc="upper right", fontsize=8, ncols=3)
    if has_c:
        assert compliance is not None
        c = compliance.sort_values("hour")
        ax2 = axes[1]
        ax2.plot(c["hour"] + 0.5, c["mean"] * 100, color="#2ca02c", marker="o", lw=1,
                 label="verified compliance of requests arriving that hour")
        ax2.fill_between(c["hour"] + 0.5, np.clip(c["ci_low"], 0, 1) * 100,
                         np.clip(c["ci_high"], 0, 1) * 100, color="#2ca02c", alpha=0.2,
                         lw=0, label="95% CI")
        if "target" in c:
            ax2.axhline(float(c["target"].iloc[0]) * 100, color="#444", ls=":",
                        label="target")
        ax2.set_xlim(0, 24)
        ax2.set_xticks(range(0, 25, 2))
        ax2.set_xlabel("hour of day")
        ax2.set_ylabel("compliance (%)")
        ax2.legend(loc="lower right", fontsize=8, ncols=3)
    fig.suptitle(title or "Roster: requirement vs scheduled staff per hour", fontsize=10.5)
    return fig


__all__ = ["allocation_map", "roster_coverage"]
