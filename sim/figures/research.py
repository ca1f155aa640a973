"""Figures of staffing research: compliance vs headcount, two-lever heatmaps, the
optimiser's cost-compliance frontier.

They take a ``SweepResult`` / ``OptimizeResult`` and use only the DataFrames these hold
(``.summary``, ``.tidy``, ``.frontier()``) and the chosen point: ``sim.sweeps`` imports the
simulation, so the types are imported for type checking only.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from sim.figures.style import (
    _styled,
    stage_label,
    type_labels,
)
from sim.stages import JOINT

if TYPE_CHECKING:
    from sim.optimiser import OptimizeResult
    from sim.sweeps import SweepResult


def lever_label(path: str) -> str:
    """Axis label of a lever path, with its unit.

    ``staff.technicians.day`` (or ``staff.technicians.shifts.day.headcount``) ->
    ``technicians "day" shift (people on duty)``; other paths as they are (their field
    names carry their units).
    """
    tokens = path.split(".")
    if tokens[0] == "staff" and len(tokens) == 3:
        return f'{tokens[1]} "{tokens[2]}" shift (people on duty)'
    if tokens[0] == "staff" and len(tokens) == 5 and tokens[2] == "shifts":
        what = "(people on duty)" if tokens[4] == "headcount" else f"{tokens[4]}"
        return f'{tokens[1]} "{tokens[3]}" shift {what}'
    return path


def _wrap(text: str, width: int) -> str:
    """Wrap each line of a title at ``width`` characters."""
    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))


def lever_short(path: str) -> str:
    """``staff.technicians.day`` -> ``technicians day``; other paths: the last field."""
    tokens = path.split(".")
    if tokens[0] == "staff" and len(tokens) == 3:
        return f"{tokens[1]} {tokens[2]}"
    if tokens[0] == "staff" and len(tokens) == 5 and tokens[2] == "shifts":
        return f"{tokens[1]} {tokens[3]}" + ("" if tokens[4] == "headcount" else f" {tokens[4]}")
    return tokens[-1]


def _fmt_value(v: Any) -> str:
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return f"{v:g}" if isinstance(v, float | np.floating) else str(v)


def _check_levers(result: SweepResult, *levers: str) -> None:
    for lever in levers:
        if lever not in result.levers:
            raise ValueError(f"{lever!r} is not a lever of this sweep "
                             f"(levers: {', '.join(result.levers)})")


def _stage_rows(summary: pd.DataFrame, stage: str) -> pd.DataFrame:
    d = summary[summary["stage"] == stage]
    if d.empty:
        raise ValueError(f"no stage {stage!r} in the sweep "
                         f"(stages: {', '.join(map(str, summary['stage'].unique()))})")
    return d


def _first_point_values(result: SweepResult, levers: list[str]) -> dict[str, Any]:
    """The values of ``levers`` at the sweep's first point (the order the values were given)."""
    first = result.tidy.sort_values("point", kind="stable").iloc[0]
    return {k: first[k] for k in levers}


def _fixed_note(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{lever_short(k)} = {_fmt_value(v)}" for k, v in values.items())


def _ordered(values: Iterable[Any]) -> list[Any]:
    """Distinct lever values, sorted when they are numbers, else in order of appearance."""
    vals = list(dict.fromkeys(values))
    try:
        return sorted(vals)
    except TypeError:
        return vals


def _type_order(types: Iterable[str]) -> list[str]:
    from sim.config import community_presets

    rank = {t: i for i, t in enumerate(community_presets())}
    return sorted(dict.fromkeys(types), key=lambda t: (rank.get(t, len(rank)), t))


@_styled
def compliance_vs_headcount(
    result: SweepResult, lever: str, stage: str = JOINT, target: float | None = None,
    max_facets: int = 4,
) -> Figure:
    """Compliance against one lever's values, a line and 95% CI band per community type.

    With several community types the ``all`` group is left out (each type has its line);
    with one type its line is also the whole sweep.  The sweep's other levers give one
    panel per combination of their values (up to ``max_facets``); beyond that they are
    fixed at the sweep's first value, which the title says.  ``target`` (a share) draws
    a horizontal line.
    """
    _check_levers(result, lever)
    d = _stage_rows(result.summary, stage)
    types = _type_order(t for t in d["community_type"].astype(str) if t != "all")
    groups = types if types else ["all"]
    labels = type_labels(groups)
    if len(types) == 1:
        labels[types[0]] += " (the only type: all requests)"
    others = [k for k in result.levers if k != lever]
    note = ""
    combos: list[dict[str, Any]] = [{}]
    if others:
        combos = [{str(k): v for k, v in r.items()} for r in
                  d.sort_values("point", kind="stable")[others].drop_duplicates()
                  .to_dict("records")]
        if len(combos) > max_facets:
            combos = [_first_point_values(result, others)]
            note = f"; other levers fixed at their first value: {_fixed_note(combos[0])}"
    xs = _ordered(d[lever])
    numeric = all(isinstance(v, int | float | np.integer | np.floating)
                  and not isinstance(v, bool) for v in xs)
    pos = {v: (float(v) if numeric else float(i)) for i, v in enumerate(xs)}
    cmap = matplotlib.colormaps["tab10"]
    colors = {g: ("#222222" if g == "all" else cmap(i % 10)) for i, g in enumerate(groups)}

    fig = Figure(figsize=(max(7.5, 1.5 + 4.2 * len(combos)), 4.6), layout="constrained")
    axes = fig.subplots(1, len(combos), sharey=True, squeeze=False)[0]
    lows = [target] if target is not None else []
    for ax, combo in zip(axes, combos, strict=True):
        sub = d
        for k, v in combo.items():
            sub = sub[sub[k] == v]
        for g in groups:
            s = sub[sub["community_type"] == g].copy()
            s["x"] = s[lever].map(pos)
            s = s.sort_values("x")
            if s.empty:
                continue
            lo = s["ci_low"].clip(0, 1).to_numpy(float)
            ax.fill_between(s["x"].to_numpy(float), lo,
                            s["ci_high"].clip(0, 1).to_numpy(float), color=colors[g],
                            alpha=0.18, lw=0)
            ax.plot(s["x"], s["mean"], marker="o", ms=4.5, lw=1.8, color=colors[g],
                    label=labels[g])
            lows.extend(v for v in lo if np.isfinite(v))
        if target is not None:
            ax.axhline(target, color="#c00", ls="--", lw=1.2,
                       label=f"target {100 * target:.3g}%")
        if len(xs) <= 15:
            ax.set_xticks([pos[v] for v in xs], [_fmt_value(v) for v in xs])
        ax.set_xlabel(lever_label(lever))
        if combo and len(combos) > 1:
            ax.set_title(_fixed_note(combo))
    bottom = max(0.0, np.floor(min(lows, default=0.0) * 10) / 10 - 0.05)
    axes[0].set_ylim(bottom, 1.02)
    axes[0].yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    axes[0].set_ylabel(f"share of requests meeting: {stage_label(stage)} (%)")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=min(3, len(names)))
    reps = int(d["replications"].max())
    single = f" with {_fixed_note(combos[0])}" if len(combos) == 1 and combos[0] and not note \
        else ""
    width = int(fig.get_figwidth() * 11)
    fig.suptitle(_wrap(f"Compliance ({stage_label(stage)}) vs {lever_short(lever)}{single}\n"
                       f"(mean; band: 95% CI across {reps} replications{note})", width),
                 fontsize=11.5)
    return fig


@_styled
def joint_heatmap(
    result: SweepResult, lever_x: str, lever_y: str, community_type: str = "all",
    stage: str = JOINT,
) -> Figure:
    """Mean compliance over two levers, each cell annotated with its percentage.

    Cells also give the 95% CI half-width across replications, in percentage points.
    The sweep's other levers, if any, are fixed at their first value (said in the title).
    """
    _check_levers(result, lever_x, lever_y)
    if lever_x == lever_y:
        raise ValueError("lever_x and lever_y must differ")
    d = _stage_rows(result.summary, stage)
    d = d[d["community_type"].astype(str) == community_type]
    if d.empty:
        types = ", ".join(map(str, result.summary["community_type"].unique()))
        raise ValueError(f"no community type {community_type!r} in the sweep (types: {types})")
    others = [k for k in result.levers if k not in (lever_x, lever_y)]
    note = ""
    if others:
        fixed = _first_point_values(result, others)
        for k, v in fixed.items():
            d = d[d[k] == v]
        note = f"; other levers fixed at their first value: {_fixed_note(fixed)}"
    xs, ys = _ordered(d[lever_x]), _ordered(d[lever_y])
    table = d.set_index([lever_y, lever_x])
    mean = table["mean"].unstack(lever_x).reindex(index=ys, columns=xs).to_numpy(float)
    hw = table["halfwidth"].unstack(lever_x).reindex(index=ys, columns=xs).to_numpy(float)

    fig = Figure(figsize=(max(6.0, 2.6 + 1.1 * len(xs)), max(3.8, 1.9 + 0.75 * len(ys))),
                 layout="constrained")
    ax = fig.add_subplot()
    lowest = float(np.nanmin(mean)) if np.isfinite(mean).any() else 0.0
    vmin = min(0.9, np.floor(lowest * 10) / 10)
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#d9d9d9")
    im = ax.imshow(np.ma.masked_invalid(mean), cmap=cmap, vmin=vmin, vmax=1.0,
                   origin="lower", aspect="auto", interpolation="nearest")
    for (i, j), m in np.ndenumerate(mean):
        if np.isnan(m):
            ax.text(j, i, "n/a", ha="center", va="center", fontsize=8.5, color="#333")
            continue
        r, g, b, _ = cmap((m - vmin) / (1.0 - vmin) if vmin < 1 else 1.0)
        dark = 0.299 * r + 0.587 * g + 0.114 * b > 0.55
        extra = f"\n±{100 * hw[i, j]:.0f} pts" if np.isfinite(hw[i, j]) else ""
        ax.text(j, i, f"{100 * m:.0f}%{extra}", ha="center", va="center", fontsize=9,
                color="#111" if dark else "white")
    ax.set_xticks(range(len(xs)), [_fmt_value(v) for v in xs])
    ax.set_yticks(range(len(ys)), [_fmt_value(v) for v in ys])
    ax.grid(False)
    ax.set_xlabel(lever_label(lever_x))
    ax.set_ylabel(lever_label(lever_y))
    cb = fig.colorbar(im, ax=ax, format=PercentFormatter(1.0, decimals=0), pad=0.02)
    cb.set_label(f"share meeting: {stage_label(stage)} (%)")
    who = ("all community types" if community_type == "all"
           else type_labels([community_type])[community_type])
    reps = int(d["replications"].max())
    ax.set_title(_wrap(f"{who}: {stage_label(stage)} compliance by {lever_short(lever_x)} "
                       f"and {lever_short(lever_y)}\n(cell: mean ± 95% CI half-width across "
                       f"{reps} replications{note})", int(fig.get_figwidth() * 10)))
    return fig


@_styled
def optimiser_frontier(result: OptimizeResult, annotate_max: int = 30) -> Figure:
    """Weekly cost against worst margin for every staffing point the optimiser explored.

    The margin is the lowest, over community types and targeted stages, of the one-sided
    lower confidence bound minus the target, in percentage points: a point is feasible
    when it is at least 0.  Pareto points (no cheaper point has a larger margin) are
    joined; the chosen point is ringed.  Up to ``annotate_max`` points are labelled with
    their lever values.
    """
    df = result.frontier()
    if df.empty:
        raise ValueError("the optimiser explored no points")
    df["margin_pts"] = 100 * df["worst_margin"].astype(float)
    shown = df[np.isfinite(df["margin_pts"])]
    hidden = len(df) - len(shown)
    fig = Figure(figsize=(9.5, 5.4), layout="constrained")
    ax = fig.add_subplot()
    ax.axhline(0, color="#c00", ls="--", lw=1.2, label="margin 0: lower bound = target")
    pareto = shown[shown["pareto"]].sort_values("weekly_cost")
    ax.plot(pareto["weekly_cost"], pareto["margin_pts"], color="#555", lw=1.2, zorder=2,
            gid="pareto", label="Pareto frontier (no cheaper point has a larger margin)")
    feas = shown["feasible"].astype(bool)
    ax.scatter(shown.loc[feas, "weekly_cost"], shown.loc[feas, "margin_pts"], s=46,
               color="#2ca02c", marker="o", zorder=3, gid="feasible",
               label="feasible: every lower bound meets its target" if feas.any()
               else "_feasible")
    ax.scatter(shown.loc[~feas, "weekly_cost"], shown.loc[~feas, "margin_pts"], s=46,
               color="#d62728", marker="x", linewidths=1.8, zorder=3, gid="infeasible",
               label="infeasible: some lower bound below its target" if (~feas).any()
               else "_infeasible")
    names = [lever_short(k) for k in result.levers]
    if len(shown) <= annotate_max:
        for _, row in shown.iterrows():
            text = ", ".join(_fmt_value(row[k]) for k in result.levers)
            ax.annotate(text, (row["weekly_cost"], row["margin_pts"]), xytext=(9, 7),
                        textcoords="offset points", fontsize=7.5, color="#333")
    chosen = ""
    if result.best is not None:
        b = result.best
        m = float(shown.loc[(shown[result.levers].to_numpy() == np.array(b.values)).all(axis=1),
                            "margin_pts"].iloc[0]) if len(shown) else np.nan
        status = ("confirmed with fresh replications" if result.confirmed
                  else "NOT confirmed with fresh replications")
        ax.scatter([b.cost], [m], s=260, facecolors="none", edgecolors="#111", linewidths=2,
                   zorder=4, gid="chosen", label=f"chosen ({status})")
        values = ", ".join(f"{n} = {_fmt_value(v)}" for n, v in zip(names, b.values,
                                                                     strict=True))
        chosen = f"chosen: {values} at {b.cost:,.0f} per week, {status}"
        first = result.first_choice
        if first is not None and tuple(first) != tuple(b.values):
            hit = shown[(shown[result.levers].to_numpy() == np.array(first)).all(axis=1)]
            ax.scatter(hit["weekly_cost"], hit["margin_pts"], s=200, facecolors="none",
                       edgecolors="#888", linewidths=1.5, linestyles="--", zorder=4,
                       gid="first_choice",
                       label="first choice, failed with fresh replications")
            chosen += (" (first choice " + ", ".join(map(_fmt_value, first))
                       + " failed with fresh replications)")
    else:
        chosen = "no staffing within the lever ranges met every target"
    ax.set_xlabel("weekly staff cost (hourly cost × staff-hours on duty × cost factor, "
                  "per week)")
    ax.set_ylabel("worst margin: lower confidence bound − target\n(percentage points)")
    ax.xaxis.set_major_formatter(lambda v, _pos: f"{v:,.0f}")
    legend = fig.legend(loc="outside lower center", ncols=2, fontsize=8)
    for handle in legend.legend_handles:  # the rings at marker size
        if isinstance(handle, PathCollection):
            handle.set_sizes([46])
    labels = f"; points labelled {' / '.join(names)}" if len(shown) <= annotate_max else ""
    dropped = (f"; {hidden} point{'s' * (hidden != 1)} with a single replication (no bound) "
               "not shown") if hidden else ""
    explored = f"the {len(df)} staffing points" if len(df) != 1 else "the one staffing point"
    ax.set_title(_wrap(f"Optimiser: weekly cost vs worst margin of {explored} "
                       f"explored{labels}{dropped}\n{chosen}", 110))
    return fig

