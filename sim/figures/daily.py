"""Compliance over calendar time: one point a day, with events and holidays marked.

For dated runs (``run.start_date``) and runs with events.  :func:`daily_compliance` is
the table (mean over replications of each day's share met, by the day a request reached
the community); :func:`compliance_by_day` draws it, shading holidays and each event's
window (its after-tail lighter).  Imports no engine.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from sim.calendars import DAY_MIN, DayAxis
from sim.config.dated import Surge
from sim.events import window
from sim.figures.style import _empty, _rule, _styled, plain, stage_label
from sim.stages import JOINT, OUTCOME_COLORS, OUTCOMES

if TYPE_CHECKING:
    from sim.results import ExperimentResult

__all__ = ["compliance_by_day", "daily_compliance", "is_dated"]

EVENT_COLORS = ("#1f77b4", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def is_dated(exp: ExperimentResult) -> bool:
    """Whether the run sits on dates or has events (the daily figure has something to say)."""
    return exp.scenario.run.start_date is not None or bool(exp.scenario.events)


def daily_compliance(exp: ExperimentResult, rule: str | None = None) -> pd.DataFrame:
    """Per run day (of ``created_min``) and stage: ``mean`` over replications of the
    share met, ``requests`` decided (summed over replications); day 0 holds minute 0."""
    req = exp.measured
    out = exp.outcomes(rule)
    days = DayAxis.of(exp.scenario)
    day = np.floor((req["created_min"].to_numpy(float) + days.start_hour * 60.0) / DAY_MIN)
    rows = []
    for stage in OUTCOMES:
        frame = pd.DataFrame({"day": day.astype(np.int64), "rep": req["replication"].to_numpy(),
                              "met": out[stage].to_numpy(float)}).dropna()
        if frame.empty:
            continue
        per_rep = frame.groupby(["day", "rep"])["met"].agg(["mean", "size"]).reset_index()
        by_day = per_rep.groupby("day").agg(mean=("mean", "mean"), requests=("size", "sum"))
        rows.append(by_day.reset_index().assign(stage=stage))
    if not rows:
        return pd.DataFrame(columns=["day", "stage", "mean", "requests"])
    table = pd.concat(rows, ignore_index=True)
    return table[["day", "stage", "mean", "requests"]]


def _tick(days: DayAxis, k: int) -> str:
    d = days.date(k)
    return f"day {k}" if d is None else f"{d:%m-%d}\n{d:%a}"


@_styled
def compliance_by_day(exp: ExperimentResult, rule: str | None = None) -> Figure:
    """Daily compliance (joint bold, each stage thin), holidays grey, event windows
    shaded in their colour (the after-tail of a surge lighter)."""
    r = _rule(exp, rule)
    sc = exp.scenario
    title = f"{plain(sc.name, 'scenario')}: rule {r.name} by day of arrival"
    table = daily_compliance(exp, rule)
    if table.empty:
        return _empty(Figure(figsize=(11, 3.6), layout="constrained"), title,
                      "nothing to show: no request measured with a target of this rule")
    days = DayAxis.of(sc)
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax = fig.add_subplot()
    run = sc.run
    first = min(days.day_of(run.warmup_min), int(table["day"].min()))
    last = max(days.day_of(run.horizon_min - 1e-6), int(table["day"].max()))
    for k in range(first, last + 1):
        if days.is_holiday(k):
            ax.axvspan(k, k + 1, color="#bbbbbb", alpha=0.35, lw=0,
                       label="holiday" if not any(days.is_holiday(j)
                                                  for j in range(first, k)) else None)
    to_day = days.start_hour * 60.0
    for i, e in enumerate(sc.events):
        a, b = window(e, days)
        color = EVENT_COLORS[i % len(EVENT_COLORS)]
        ax.axvspan((a + to_day) / DAY_MIN, (b + to_day) / DAY_MIN, color=color, alpha=0.25,
                   lw=0, label=f"{e.kind}: {plain(e.name, e.kind)}")
        if isinstance(e, Surge) and e.tail_hour > 0:
            ax.axvspan((b + to_day) / DAY_MIN, (b + e.tail_hour * 60.0 + to_day) / DAY_MIN,
                       color=color, alpha=0.1, lw=0)
    for stage in OUTCOMES:
        d = table[table["stage"] == stage]
        if d.empty:
            continue
        joint = stage == JOINT
        ax.plot(d["day"] + 0.5, d["mean"], marker="o", ms=4 if joint else 2.5,
                lw=2.2 if joint else 1.0, alpha=1.0 if joint else 0.75,
                color=OUTCOME_COLORS.get(stage, "#333"), label=stage_label(stage))
    ticks = list(range(first, last + 2))
    step = max(1, len(ticks) // 16)
    ax.set_xticks([k + 0.5 for k in ticks[:-1:step]],
                  [_tick(days, k) for k in ticks[:-1:step]], fontsize=8)
    ax.set_xlim(first, last + 1)
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("share met (mean over replications)")
    start = sc.run.start_date
    ax.set_xlabel("day the request arrived" + (
        f" (run from {start:%Y-%m-%d})" if isinstance(start, dt.date) else ""))
    fig.legend(loc="outside lower center", fontsize=8, ncols=6)
    ax.set_title(title)
    return fig
