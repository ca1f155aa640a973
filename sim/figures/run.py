"""Figures of a run: compliance, stage-time CDFs, hours of day, staff load, backlog."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, PercentFormatter

from sim.figures.style import (
    KIND_ORDER,
    _clipped_errors,
    _empty,
    _rule,
    _stage_title,
    _styled,
    _targets,
    category_labels,
    fmt_minutes,
    kind_label,
    plain,
    stage_label,
    type_labels,
)
from sim.stages import JOINT, OUTCOME_COLORS, OUTCOMES, STAGE_COLUMNS, STAGES

if TYPE_CHECKING:
    from sim.results import ExperimentResult

OFF_DUTY = "#d9d9d9"
NOTHING = "nothing to show: no request measured with a target of this rule"


# --------------------------------------------------------------------------- compliance
@_styled
def plot_compliance(
    table: pd.DataFrame,
    labels: Mapping[str, str] | None = None,
    targets: Mapping[str, float | None] | None = None,
    title: str = "Share of requests meeting each 2341 target",
    group_title: str = "",
) -> Figure:
    """One panel per stage (and ``joint``): a bar per group with its 95% CI.

    ``table`` is an :meth:`ExperimentResult.compliance` table with one breakdown.
    """
    labels = labels or {}
    targets = targets or {}
    stages = [s for s in OUTCOMES if s in set(table["stage"])]
    groups = list(dict.fromkeys(table["group"]))
    if not stages:
        return _empty(Figure(figsize=(12, 2.6), layout="constrained"), title, NOTHING)
    names = [labels.get(g, g) for g in groups]
    height = 1.2 + 0.32 * len(groups)
    fig = Figure(figsize=(12, max(2.6, height)), layout="constrained")
    axes = fig.subplots(1, len(stages), sharey=True, squeeze=False)[0]
    y = np.arange(len(groups))
    for ax, stage in zip(axes, stages, strict=True):
        d = table[table["stage"] == stage].set_index("group").reindex(groups).reset_index()
        mean = d["mean"].to_numpy(float)
        ax.barh(y, np.nan_to_num(mean), xerr=_clipped_errors(d), color=OUTCOME_COLORS[stage],
                alpha=0.8, capsize=2.5, error_kw={"elinewidth": 1, "ecolor": "#333"})
        for yi, m in zip(y, mean, strict=True):
            # at the bar's foot: the whisker is at its end
            inside = not np.isnan(m) and m >= 0.2
            text = "n/a" if np.isnan(m) else f"{100 * m:.0f}%"
            ax.text(0.02 if inside or np.isnan(m) else m + 0.02, yi, text, va="center",
                    ha="left", fontsize=8, color="white" if inside else "#333")
        ax.set_xlim(0, 1.0)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xticks([0, 0.5, 1.0])
        ax.set_title(_stage_title(stage, targets, "\n"))
        ax.set_xlabel("share met (%)")
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(y, names)
    axes[0].invert_yaxis()
    axes[0].set_ylabel(group_title)
    fig.suptitle(title + " (mean and 95% CI across replications)", fontsize=11.5)
    return fig


def compliance_by_type(exp: ExperimentResult, rule: str | None = None) -> Figure:
    """Compliance per stage and joint by community type, with 95% CI error bars."""
    table = exp.compliance("community_type", rule)
    r = _rule(exp, rule)
    return plot_compliance(
        table, type_labels(table["group"].unique()), _targets(r),
        title=f"{plain(exp.scenario.name, 'scenario')}: share meeting rule {r.name} "
              "by community type", group_title="community type")


def compliance_by_category(exp: ExperimentResult, rule: str | None = None) -> Figure:
    """Compliance per stage and joint by request category, with 95% CI error bars."""
    table = exp.compliance("category", rule)
    r = _rule(exp, rule)
    return plot_compliance(
        table, category_labels(exp.scenario), _targets(r),
        title=f"{plain(exp.scenario.name, 'scenario')}: share meeting rule {r.name} "
              "by request category", group_title="request category")


@_styled
def plot_hourly_compliance(
    table: pd.DataFrame, title: str = "Compliance by hour of day",
    targets: Mapping[str, float | None] | None = None, measured_days: float | None = None,
) -> Figure:
    """Joint and per-stage compliance against the hour the request arrived, CI bands.

    ``table`` is ``ExperimentResult.compliance("hour")``.  One panel per stage and a last
    one with the number of requests per hour, which is why night bands are wide.
    """
    targets = targets or {}
    stages = [s for s in (JOINT, *STAGES)
              if table.loc[table["stage"] == s, "mean"].notna().any()]
    fig = Figure(figsize=(11, 6.4), layout="constrained")
    if not stages:
        return _empty(fig, title, NOTHING)
    axes = fig.subplots(2, 3, sharex=True).ravel()
    hours = np.arange(24)

    def by_hour(stage: str) -> pd.DataFrame:
        d = table[table["stage"] == stage].copy()
        d["h"] = d["group"].astype(int)
        return d.set_index("h").reindex(hours)

    lowest = min(float(np.nanmin(by_hour(s)["mean"])) for s in stages) if stages else 0.0
    bottom = max(0.0, np.floor(lowest * 10) / 10 - 0.05)
    for ax, stage in zip(axes, stages, strict=False):
        d = by_hour(stage)
        color = OUTCOME_COLORS[stage]
        ax.fill_between(hours, d["ci_low"].clip(0, 1).to_numpy(float),
                        d["ci_high"].clip(0, 1).to_numpy(float), color=color, alpha=0.2,
                        lw=0, step="mid")
        ax.plot(hours, d["mean"], marker="o", ms=3, color=color, lw=1.6)
        ax.set_ylim(bottom, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_title(_stage_title(stage, targets))
        ax.set_ylabel("share met (%)")
    vol = axes[len(stages)] if len(stages) < len(axes) else None
    for ax in axes[len(stages) + 1:]:
        ax.set_visible(False)
    if vol is not None and stages:
        d = by_hour(stages[0])
        per = d["requests"].fillna(0) / d["replications"].max()
        label = "requests per replication"
        if measured_days:
            per, label = per / measured_days, "requests per day"
        vol.bar(hours, per.to_numpy(float), color="#888", width=0.8)
        vol.set_title("requests arriving in each hour")
        vol.set_ylabel(label)
    for i, ax in enumerate(axes):
        ax.set_xlim(-0.5, 23.5)
        ax.set_xticks(range(0, 24, 3), [f"{h:02d}" for h in range(0, 24, 3)])
        if i >= 3:
            ax.set_xlabel("hour of arrival (local time)")
    fig.suptitle(title + " (mean; band: 95% CI across replications)", fontsize=11.5)
    return fig


def compliance_by_hour(exp: ExperimentResult, rule: str | None = None) -> Figure:
    """Compliance by hour of day, joint and per stage, with 95% CI bands."""
    r = _rule(exp, rule)
    run = exp.scenario.run
    return plot_hourly_compliance(
        exp.compliance("hour", rule), targets=_targets(r),
        measured_days=run.horizon_days - run.warmup_days,
        title=f"{plain(exp.scenario.name, 'scenario')}: rule {r.name} by hour of arrival")


# --------------------------------------------------------------------------- stage times
@_styled
def plot_stage_cdf(
    times: Mapping[str, Mapping[str, np.ndarray]],
    targets: Mapping[str, float | None],
    title: str = "Time to each stage",
    floor_min: float = 1.0,
) -> Figure:
    """Empirical CDFs of minutes to each stage, the target as a vertical line.

    ``times[stage][group]`` holds the minutes of every request the stage applies to;
    NaN (never reached) counts in the denominator, so a curve ends below 100% when
    requests were still open.  A marker shows where each curve crosses the target.
    """
    stages = [s for s in STAGES if any(len(v) for v in times.get(s, {}).values())]
    groups = list(dict.fromkeys(g for s in stages for g in times[s]))
    if not stages:
        return _empty(Figure(figsize=(11, 3.4), layout="constrained"), title, NOTHING)
    cmap = matplotlib.colormaps["tab10"]
    gcol = {g: cmap(i % 10) for i, g in enumerate(groups)}
    ncols = 2 if len(stages) > 1 else 1
    nrows = int(np.ceil(len(stages) / ncols)) or 1
    fig = Figure(figsize=(11, 3.4 * nrows + (0.8 if len(groups) > 1 else 0.3)),
                 layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    ticks = [1, 10, 60, 240, 1440, 10080, 43200]
    finite = [float(np.nanmax(t)) for s in stages for t in times[s].values()
              if len(t) and not np.isnan(t).all()]
    upper = max([floor_min * 10, *finite, *(2 * (targets.get(s) or 0) for s in stages)])
    for ax, stage in zip(axes, stages, strict=False):
        target = targets.get(stage)
        for g, t in times[stage].items():
            t = np.asarray(t, dtype=float)
            if not len(t):
                continue
            done = np.sort(np.maximum(t[~np.isnan(t)], floor_min))
            y = np.arange(1, len(done) + 1) / len(t)
            x = np.concatenate(([floor_min], done))
            ax.step(x, np.concatenate(([0.0], y)), where="post", color=gcol[g], lw=1.5,
                    label=g)
            if target:
                share = float(np.sum(t <= target + 1e-9)) / len(t)
                ax.plot([target], [share], marker="o", ms=6, mfc="white", mec=gcol[g],
                        mew=1.8, zorder=5)
                if len(times[stage]) == 1:
                    ax.annotate(f"{100 * share:.0f}% within target", (target, share),
                                xytext=(8, -14), textcoords="offset points", fontsize=8.5)
        if target:
            ax.axvline(target, color="#c00", ls="--", lw=1.2)
            ax.text(target * 1.08, 0.03, f"target {fmt_minutes(target)}", color="#c00",
                    ha="left", va="bottom", fontsize=8.5)
        ax.set_xscale("log")
        ax.set_xlim(floor_min * 0.8, upper * 1.3)
        ax.xaxis.set_major_locator(FixedLocator([v for v in ticks if v <= upper * 1.3]))
        ax.xaxis.set_major_formatter(lambda v, _pos: fmt_minutes(v))
        ax.xaxis.set_minor_locator(FixedLocator([]))
        ax.set_ylim(0, 1.0)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_title(stage_label(stage))
        ax.set_xlabel(f"time from arrival (log scale; under {fmt_minutes(floor_min)} "
                      f"drawn at {fmt_minutes(floor_min)})")
        ax.set_ylabel("share of requests done (%)")
    for ax in axes[len(stages):]:
        ax.set_visible(False)
    if len(groups) > 1:
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="outside lower center", ncols=min(3, len(groups)))
    fig.suptitle(title + "; circles: share within the target", fontsize=11.5)
    return fig


def stage_times_by_group(
    exp: ExperimentResult, by: str | None = "community_type", rule: str | None = None,
    max_groups: int = 8,
) -> dict[str, dict[str, np.ndarray]]:
    """Minutes to each stage of the requests whose outcome is decided, per group.

    ``finish`` covers routine requests and ``plan`` complex ones (the rule's
    applicability); requests still open with their deadline after the horizon are left
    out, as in the compliance tables.  More than ``max_groups`` groups: pooled.
    """
    req = exp.measured
    out = exp.outcomes(rule)
    labels = type_labels(req[by].astype(str).unique()) if by == "community_type" else {}
    group = req[by].astype(str) if by else pd.Series("all", index=req.index)
    if group.nunique() > max_groups:
        group = pd.Series("all", index=req.index)
    col = req[by] if by else group
    order = ([str(c) for c in col.cat.categories] if isinstance(col.dtype, pd.CategoricalDtype)
             else sorted(group.unique()))  # categories keep the scenario's order
    if group.nunique() == 1:
        order = list(group.unique())
    result: dict[str, dict[str, np.ndarray]] = {}
    for stage in STAGES:
        decided = out[stage].notna().to_numpy()
        t = (req[STAGE_COLUMNS[stage]] - req["created_min"]).to_numpy(float)
        g = group.to_numpy()
        result[stage] = {labels.get(k, k): t[decided & (g == k)]
                         for k in order if (decided & (g == k)).any()}
    return result


def stage_cdf(exp: ExperimentResult, rule: str | None = None,
              by: str | None = "community_type") -> Figure:
    """Empirical CDF of each stage's time per community type, targets marked."""
    r = _rule(exp, rule)
    note = "" if r.calendar == "24h" else " (wall-clock; the rule counts business hours)"
    return plot_stage_cdf(
        stage_times_by_group(exp, by, rule), _targets(r),
        title=f"{plain(exp.scenario.name, 'scenario')}: time from arrival to each stage"
              + note)


# --------------------------------------------------------------------------- staff load
@_styled
def plot_utilisation(util: pd.DataFrame, specs: Mapping[str, str] | None = None,
                     max_rows: int = 40, title: str = "Staff utilisation") -> Figure:
    """Heatmap of the busy share of rostered staff, pool × hour of day; overtime beside.

    ``util`` is :meth:`ExperimentResult.utilisation`.  Hours with nobody rostered are
    grey ("off duty"), whatever overtime was worked in them; overtime (staff still busy
    after their shift ended) is drawn in a second panel, in staff-minutes per hour, when
    ``util`` has it.  With more than ``max_rows`` pools (a zone of hundreds of
    communities) rows are pool specs (the scenario's ``staff`` entries) and cells the
    mean over their pools.
    """
    d = util[util["hour"] != "all"].astype({"pool": str, "kind": str, "hour": str})
    d["h"] = d["hour"].astype(int)
    d["spec"] = d["pool"].map(specs or {}).fillna(d["pool"].str.split("@").str[0])
    d["korder"] = d["kind"].map({k: i for i, k in enumerate(KIND_ORDER)}).fillna(9)
    n_pools = d["pool"].nunique()
    aggregate = n_pools > max_rows
    key = ["korder", "kind", "spec"] if aggregate else ["korder", "kind", "pool"]

    def grid_of(metric: str) -> pd.DataFrame:
        return d.groupby([*key, "h"])[metric].mean().unstack("h").reindex(columns=range(24))

    grid = grid_of("utilisation")
    overtime = (grid_of("overtime").reindex(grid.index) * 60.0
                if "overtime" in d and d["overtime"].notna().any() else None)
    other = (grid_of("other_work").reindex(grid.index)
             if "other_work" in d and (d["other_work"] > 0).any() else None)
    counts = {k: int(v) for k, v in d.groupby(key)["pool"].nunique().items()}

    def row_label(k: tuple[Any, ...]) -> str:
        n = counts[k]
        size = f" ({n} pool{'s' * (n != 1)})" if aggregate else ""
        return f"{k[2]}{size} · {kind_label(str(k[1]))}"

    rows = [row_label(tuple(k)) for k in grid.index]
    panels = 1 + (overtime is not None) + (other is not None)
    fig = Figure(figsize=(11, (1.9 + 0.3 * len(rows)) * panels), layout="constrained")
    axes = fig.subplots(panels, 1, squeeze=False)[:, 0]
    ax = axes[0]
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad=OFF_DUTY)
    im = ax.imshow(np.ma.masked_invalid(grid.to_numpy(float)), aspect="auto", cmap=cmap,
                   vmin=0, vmax=1, interpolation="nearest")
    what = f"mean over pools of each spec, {n_pools} pools" if aggregate else "per pool"
    ax.set_title(f"{title}: busy share of the staff rostered\n({what}; grey: off duty, "
                 "nobody rostered)")
    cb = fig.colorbar(im, ax=ax, format=PercentFormatter(1.0, decimals=0), pad=0.01)
    cb.set_label("busy share of rostered staff (%)")
    if other is not None:  # requests / other work / idle: idle is what the two leave
        ax1 = axes[1]
        im1 = ax1.imshow(np.ma.masked_invalid(other.to_numpy(float)), aspect="auto",
                         cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        ax1.set_title("Other work (meetings, patrols, interruptions): share of the staff "
                      "rostered\n(idle = 100% - requests - other work)")
        cb1 = fig.colorbar(im1, ax=ax1, format=PercentFormatter(1.0, decimals=0), pad=0.01)
        cb1.set_label("other-work share of rostered staff (%)")
    if overtime is not None:
        ax2 = axes[-1]
        ot = overtime.to_numpy(float)
        im2 = ax2.imshow(np.ma.masked_invalid(ot), aspect="auto", interpolation="nearest",
                         cmap=matplotlib.colormaps["Oranges"], vmin=0,
                         vmax=max(1.0, float(np.nanmax(ot)) if np.isfinite(ot).any() else 1.0))
        ax2.set_title("Overtime: staff still busy after their shift ended "
                      "(staff-minutes in each hour of the day, mean per day)")
        cb2 = fig.colorbar(im2, ax=ax2, pad=0.01)
        cb2.set_label("overtime (staff-minutes per hour)")
    for a in axes:
        a.set_xticks(range(24), [f"{h:02d}" for h in range(24)])
        a.set_yticks(range(len(rows)), rows)
        a.grid(False)
        a.set_xlabel("hour of day (local time)")
        a.set_ylabel("staff pool spec" if aggregate else "staff pool")
    return fig


def utilisation_heatmap(exp: ExperimentResult, max_rows: int = 40) -> Figure:
    """Utilisation heatmap, pool (or pool spec, when there are many) × hour of day."""
    specs = dict(zip(exp.pools["pool"].astype(str), exp.pools["spec"].astype(str),
                     strict=True)) if "spec" in exp.pools else None
    return plot_utilisation(
        exp.utilisation(), specs, max_rows,
        title=f"{plain(exp.scenario.name, 'scenario')}: staff utilisation by hour")


@_styled
def plot_backlog(backlog: pd.DataFrame, warmup_days: float = 0.0,
                 title: str = "Requests waiting for staff") -> Figure:
    """Mean number of requests waiting per staff kind over simulated time.

    ``backlog`` is :attr:`ExperimentResult.backlog` (per replication, kind and simulated
    hour); lines are means over replications, hourly or, past 60 days, daily.
    """
    mean = backlog.groupby(["kind", "hour_index"], observed=True).agg(
        start_min=("start_min", "first"), waiting=("waiting", "mean")).reset_index()
    mean["day"] = mean["start_min"] / 1440.0
    long_run = mean["day"].max() > 60
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax = fig.add_subplot()
    kinds = sorted(mean["kind"].astype(str).unique(),
                   key=lambda k: KIND_ORDER.index(k) if k in KIND_ORDER else 9)
    for kind in kinds:
        d = mean[mean["kind"] == kind]
        if long_run:
            d = d.groupby(np.floor(d["day"])).agg(day=("day", "min"), waiting=("waiting", "mean"))
        ax.plot(d["day"], d["waiting"], lw=1.1, label=kind_label(kind),
                drawstyle="steps-post")
    if warmup_days > 0:
        ax.axvspan(0, warmup_days, color="#999", alpha=0.15, lw=0, label="warm-up (not measured)")
    ax.set_xlim(0, max(float(mean["day"].max()) + (1 if long_run else 1 / 24), 1e-9))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("simulated time (days)")
    ax.set_ylabel(("daily" if long_run else "hourly") + " mean of requests waiting")
    n = backlog["replication"].nunique()
    ax.set_title(f"{title}, by staff kind (mean of {n} replication{'s' * (n != 1)})")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="waiting for")
    return fig


def backlog_over_time(exp: ExperimentResult) -> Figure:
    """Queue length per staff kind over simulated time (mean over replications)."""
    return plot_backlog(exp.backlog, exp.scenario.run.warmup_days,
                        title=f"{plain(exp.scenario.name, 'scenario')}: requests waiting")


def report_figures(exp: ExperimentResult, rule: str | None = None) -> dict[str, Figure]:
    """Every figure of the HTML report, by short name, in reading order (a dated run or
    one with events adds compliance by day, :mod:`sim.figures.daily`)."""
    from sim.figures.daily import compliance_by_day, is_dated

    return {
        "compliance_by_type": compliance_by_type(exp, rule),
        "stage_cdf": stage_cdf(exp, rule),
        "compliance_by_hour": compliance_by_hour(exp, rule),
        "compliance_by_category": compliance_by_category(exp, rule),
        "utilisation": utilisation_heatmap(exp),
        "backlog": backlog_over_time(exp),
        **({"compliance_by_day": compliance_by_day(exp, rule)} if is_dated(exp) else {}),
    }


# --------------------------------------------------------------------------- sweeps, optimiser
# These take a SweepResult / OptimizeResult and use only the DataFrames they hold
# (``.summary``, ``.tidy``, ``.frontier()``) and the chosen point: sim.sweeps imports the
# simulation, so the types are imported for type checking only.
