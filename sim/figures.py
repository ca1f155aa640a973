"""Matplotlib figures of a run: compliance, stage-time CDFs, hours, staff load, backlog.

Never imports simpy: every function takes an :class:`~sim.experiment.ExperimentResult`
(or the DataFrames it produces) and returns a :class:`matplotlib.figure.Figure` built
without pyplot, so nothing is registered globally and figures render with Agg anywhere
(scripts, the HTML report, notebooks).

Chinese labels need a font with CJK glyphs.  :func:`cjk_font` looks for one at run time
and uses it as a fallback after DejaVu Sans; without one, labels fall back to English so
no glyph is drawn as an empty box.
"""

from __future__ import annotations

import functools
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, PercentFormatter

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

    from sim.config import Scenario, SlaRule
    from sim.experiment import ExperimentResult
    from sim.optimiser import OptimizeResult
    from sim.sweeps import SweepResult

P = ParamSpec("P")

# Kept here rather than imported from sim.sla: sim.sla imports the simpy-based staff module.
STAGES = ("respond", "onsite", "finish", "plan")
STAGE_COLUMNS = {"respond": "responded_min", "onsite": "onsite_min",
                 "finish": "finished_min", "plan": "plan_min"}
STAGE_LABELS = {  # the seed report's words for the four targets
    "respond": ("响应", "respond"), "onsite": ("处置", "on site"),
    "finish": ("办结", "finish"), "plan": ("出方案", "plan"), "joint": ("全部达标", "all met"),
}
STAGE_COLORS = {"respond": "#1f77b4", "onsite": "#ff7f0e", "finish": "#2ca02c",
                "plan": "#9467bd", "joint": "#222222"}
KIND_LABELS = {
    "service_desk": ("服务台", "service desk"), "technician": ("维修人员", "technicians"),
    "community_cadre": ("社区两委干部", "community cadres"),
    "party_instructor": ("党建指导员", "party instructors"),
}
KIND_ORDER = tuple(KIND_LABELS)

CJK_FAMILIES = (
    "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans CJK JP",
    "Noto Sans SC", "Source Han Sans SC", "Droid Sans Fallback", "Microsoft YaHei",
    "PingFang SC", "SimHei",
)
_CJK_FILE_HINTS = ("wqy", "notosanscjk", "notosanssc", "sourcehansans", "droidsansfallback",
                   "msyh", "pingfang", "simhei")
_CJK_CHARS = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]+")


# --------------------------------------------------------------------------- fonts, labels
@functools.cache
def cjk_font() -> str | None:
    """Family name of an installed font with Chinese glyphs, or ``None``.

    Matplotlib's font cache may predate the font's installation (it is rebuilt only when
    matplotlib changes), so font files with a known name are registered directly too.
    """
    def first_known() -> str | None:
        known = {f.name for f in font_manager.fontManager.ttflist}
        return next((f for f in CJK_FAMILIES if f in known), None)

    found = first_known()
    if found:
        return found
    for path in font_manager.findSystemFonts():
        base = Path(path).name.lower().replace("-", "").replace("_", "")
        if any(h in base for h in _CJK_FILE_HINTS):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
    return first_known()


def bilingual(zh: str, en: str, fallback: str = "") -> str:
    """``"电梯故障 lift fault"``; English alone when no CJK font is installed."""
    if zh and en:
        return f"{zh} {en}" if cjk_font() else en
    return plain(zh or en, fallback) or fallback


def plain(text: str, fallback: str = "") -> str:
    """``text`` as is, or stripped of Chinese characters when they cannot be drawn."""
    if cjk_font() or not _CJK_CHARS.search(text):
        return text
    return re.sub(r"\s+", " ", _CJK_CHARS.sub("", text)).strip(" ()·") or fallback


def stage_label(stage: str) -> str:
    return bilingual(*STAGE_LABELS[stage], fallback=stage)


def kind_label(kind: str) -> str:
    zh, en = KIND_LABELS.get(kind, ("", kind))
    return bilingual(zh, en, fallback=kind)


def type_labels(types: Iterable[str]) -> dict[str, str]:
    """Bilingual labels of community types, from the presets (the type name otherwise)."""
    from sim.config import community_presets

    presets = community_presets()
    return {t: bilingual(presets.get(t, {}).get("label_zh", ""),
                         presets.get(t, {}).get("label_en", ""), fallback=t) for t in types}


def category_labels(scenario: Scenario) -> dict[str, str]:
    """Bilingual labels of a scenario's request categories."""
    return {k: bilingual(c.label_zh, c.label_en, fallback=k)
            for k, c in scenario.categories.items()}


def fmt_minutes(m: float) -> str:
    """``20 min``, ``4 h``, ``1 d``, ``1.5 h``."""
    if m < 120:
        return f"{m:.0f} min"
    if m < 2880:
        return f"{m / 60:.3g} h"
    return f"{m / 1440:.3g} d"


def _styled(fn: Callable[P, Figure]) -> Callable[P, Figure]:
    """Build the figure with the CJK fallback font; text keeps its font once created."""
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Figure:
        family = ["DejaVu Sans", *([f] if (f := cjk_font()) else [])]
        style: dict[RcKeyType, Any] = {
            "font.family": family, "font.size": 9.5, "axes.titlesize": 10.5,
            "axes.spines.top": False, "axes.spines.right": False,
            "axes.grid": True, "grid.alpha": 0.3, "legend.frameon": False,
        }
        with matplotlib.rc_context(style):
            fig = fn(*args, **kwargs)
        FigureCanvasAgg(fig)  # explicit Agg canvas: no pyplot, no backend switching
        return fig
    return wrapper


def _rule(exp: ExperimentResult, name: str | None) -> SlaRule:
    rules = exp.scenario.sla
    if name is None:
        return rules[0]
    for r in rules:
        if r.name == name:
            return r
    raise KeyError(f"no SLA rule named {name!r}")


def _targets(rule: SlaRule) -> dict[str, float | None]:
    return {s: getattr(rule, f"{s}_min") for s in STAGES}


def _stage_title(stage: str, targets: Mapping[str, float | None], sep: str = "  ") -> str:
    t = targets.get(stage)
    return stage_label(stage) + (f"{sep}≤ {fmt_minutes(t)}" if t else "")


def _clipped_errors(d: pd.DataFrame) -> np.ndarray:
    """Asymmetric error bars of shares, the CI clipped to [0, 1]; zero where unknown."""
    mean = d["mean"].to_numpy(float)
    lo = np.clip(d["ci_low"].to_numpy(float), 0, 1)
    hi = np.clip(d["ci_high"].to_numpy(float), 0, 1)
    return np.nan_to_num(np.vstack([mean - lo, hi - mean]).clip(min=0))


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
    stages = [s for s in (*STAGES, "joint") if s in set(table["stage"])]
    groups = list(dict.fromkeys(table["group"]))
    names = [labels.get(g, g) for g in groups]
    height = 1.2 + 0.32 * len(groups)
    fig = Figure(figsize=(12, max(2.6, height)), layout="constrained")
    axes = fig.subplots(1, len(stages), sharey=True, squeeze=False)[0]
    y = np.arange(len(groups))
    for ax, stage in zip(axes, stages, strict=True):
        d = table[table["stage"] == stage].set_index("group").reindex(groups).reset_index()
        mean = d["mean"].to_numpy(float)
        ax.barh(y, np.nan_to_num(mean), xerr=_clipped_errors(d), color=STAGE_COLORS[stage],
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
    stages = [s for s in ("joint", *STAGES)
              if table.loc[table["stage"] == s, "mean"].notna().any()]
    fig = Figure(figsize=(11, 6.4), layout="constrained")
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
        color = STAGE_COLORS[stage]
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
    """Heatmap of the busy share of on-duty staff, pool × hour of day.

    ``util`` is :meth:`ExperimentResult.utilisation`.  With more than ``max_rows`` pools
    (a zone of hundreds of communities) rows are pool specs (the scenario's ``staff``
    entries) and cells the mean over their pools.
    """
    d = util[util["hour"] != "all"].astype({"pool": str, "kind": str, "hour": str})
    d["h"] = d["hour"].astype(int)
    d["spec"] = d["pool"].map(specs or {}).fillna(d["pool"].str.split("@").str[0])
    d["korder"] = d["kind"].map({k: i for i, k in enumerate(KIND_ORDER)}).fillna(9)
    n_pools = d["pool"].nunique()
    aggregate = n_pools > max_rows
    key = ["korder", "kind", "spec"] if aggregate else ["korder", "kind", "pool"]
    grid = d.groupby([*key, "h"])["utilisation"].mean().unstack("h").reindex(
        columns=range(24))
    counts = {k: int(v) for k, v in d.groupby(key)["pool"].nunique().items()}
    def row_label(k: tuple[Any, ...]) -> str:
        n = counts[k]
        size = f" ({n} pool{'s' * (n != 1)})" if aggregate else ""
        return f"{k[2]}{size} · {kind_label(str(k[1]))}"

    rows = [row_label(tuple(k)) for k in grid.index]
    fig = Figure(figsize=(11, 1.6 + 0.3 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#d9d9d9")
    im = ax.imshow(np.ma.masked_invalid(grid.to_numpy(float)), aspect="auto", cmap=cmap,
                   vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks(range(24), [f"{h:02d}" for h in range(24)])
    ax.set_yticks(range(len(rows)), rows)
    ax.grid(False)
    ax.set_xlabel("hour of day (local time)")
    ax.set_ylabel("staff pool spec" if aggregate else "staff pool")
    cb = fig.colorbar(im, ax=ax, format=PercentFormatter(1.0, decimals=0), pad=0.01)
    cb.set_label("busy share of staff on duty (%)")
    what = f"mean over pools of each spec, {n_pools} pools" if aggregate else "per pool"
    ax.set_title(f"{title}\n({what}; grey: nobody on duty)")
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
    """Every figure of the HTML report, by short name, in reading order."""
    return {
        "compliance_by_type": compliance_by_type(exp, rule),
        "stage_cdf": stage_cdf(exp, rule),
        "compliance_by_hour": compliance_by_hour(exp, rule),
        "compliance_by_category": compliance_by_category(exp, rule),
        "utilisation": utilisation_heatmap(exp),
        "backlog": backlog_over_time(exp),
    }


# --------------------------------------------------------------------------- sweeps, optimiser
# These take a SweepResult / OptimizeResult and use only the DataFrames they hold
# (``.summary``, ``.tidy``, ``.frontier()``) and the chosen point: sim.sweeps imports the
# simulation, so the types are imported for type checking only.

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
    result: SweepResult, lever: str, stage: str = "joint", target: float | None = None,
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
    stage: str = "joint",
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
