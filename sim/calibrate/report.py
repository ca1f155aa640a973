"""``fit_report.html``: the calibration's figures and tables on one self-contained page.

Same style as the run report (:mod:`sim.html_report`): inline CSS, figures embedded as
base64 PNG, no scripts, no external references.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullLocator

from sim.calibrate.check import TOLERANCES
from sim.calibrate.fit import CalibrationFit, StageFit, kaplan_meier
from sim.calibrate.profiles import LEVEL, FloatArray, Shares
from sim.html_report import CSS, esc, figure_html, fmt_duration, table_html

REPORT_NAME = "fit_report.html"


def _fig(width: float, height: float) -> Figure:
    # fixed margins: constrained layout re-measures every log-axis tick label per figure
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.9, wspace=0.25)
    FigureCanvasAgg(fig)
    return fig


def profile_figure(fit: CalibrationFit) -> Figure:
    """Pooled hour-of-day and weekday shares with their intervals, and each category's."""
    fig = _fig(11, 3.6)
    for ax, pooled, per, title in (
        (fig.add_subplot(1, 2, 1), fit.pooled_hours, fit.category_hours, "hour of day"),
        (fig.add_subplot(1, 2, 2), fit.pooled_weekdays, fit.category_weekdays, "weekday"),
    ):
        x = np.arange(len(pooled.labels))
        ax.fill_between(x, pooled.low, pooled.high, color="#1f77b4", alpha=0.25, step="mid",
                        label=f"all requests, {LEVEL:.0%} interval")
        ax.step(x, pooled.share, where="mid", color="#1f77b4", lw=2, label="all requests")
        for name, s in list(per.items())[:8]:
            ax.plot(x, s.share, lw=0.9, alpha=0.8, label=str(name)[:28])
        ax.set_xticks(x, list(pooled.labels), fontsize=7)
        ax.set_ylabel("share of arrival intensity")
        ax.set_title(f"Arrivals by {title}")
    fig.axes[1].legend(fontsize=7, loc="upper right")
    return fig


PLOT_POINTS = 2000
"""Most points drawn per curve: a million-row log plots as fast as a small one."""


def _thin(t: FloatArray, cdf: FloatArray) -> tuple[FloatArray, FloatArray]:
    if len(t) <= PLOT_POINTS:
        return t, cdf
    idx = np.unique(np.linspace(0, len(t) - 1, PLOT_POINTS).astype(int))
    return t[idx], cdf[idx]


def duration_figure(sf: StageFit) -> Figure:
    """Kaplan-Meier ECDF against the fitted CDFs, and a QQ plot of the chosen fit."""
    fig = _fig(10, 3.4)
    ax, qq = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    t, cdf = _thin(*kaplan_meier(sf.sample))
    ax.step(t, cdf, where="post", color="#222", lw=1.5,
            label="log (Kaplan-Meier)" if sf.sample.censored else "log (ECDF)")
    lo = max(float(t[0]), 0.1)          # below 6 s the log's clock is noise
    t, cdf = t[t >= lo], cdf[t >= lo]
    grid = np.geomspace(lo, max(float(sf.sample.times.max()), lo * 10), 200)
    for fam, f in sf.fits.items():
        ax.plot(grid, f.cdf(grid), lw=1.2, ls="-" if fam == sf.best.family else "--",
                label=f"{fam} (AIC {f.aic:.0f})")
    ax.set_xscale("log")
    ax.set_xlabel("minutes")
    ax.set_ylabel("share done")
    ax.legend(fontsize=7)
    ax.set_title(f"{sf.category}: {sf.stage}", fontsize=10)
    probs = np.clip(cdf, 1e-6, 1 - 1e-6)
    theo = sf.best.ppf(probs)
    qq.loglog(np.maximum(theo, 0.1), t, ".", ms=2, color="#1f77b4")
    lims = [max(min(float(theo.min()), float(t.min())), 0.1),
            max(float(theo.max()), float(t.max()))]
    qq.plot(lims, lims, color="#888", lw=1)
    qq.set_xlabel(f"fitted {sf.best.family} quantile (min)")
    qq.set_ylabel("log quantile (min)")
    qq.set_title("QQ plot", fontsize=10)
    for axis in (ax.xaxis, qq.xaxis, qq.yaxis):
        # a few decades of minor log ticks cost more to draw than the data
        axis.set_major_locator(LogLocator(numticks=6))
        axis.set_minor_locator(NullLocator())
    return fig


def ks_distance(sf: StageFit) -> float:
    """Largest gap between the log's (Kaplan-Meier) CDF and the chosen fit, over the
    observed times -- the KS statistic when nothing is censored."""
    t, cdf = kaplan_meier(sf.sample)
    f = sf.best.cdf(t)
    before = np.concatenate([[0.0], cdf[:-1]])
    return float(max(np.abs(cdf - f).max(), np.abs(before - f).max()))


def _num(v: object, digits: int = 3) -> str:
    if not isinstance(v, int | float) or pd.isna(v):
        return "n/a"
    return "never" if v == float("inf") else f"{v:.{digits}g}"


def _rates(fit: CalibrationFit) -> str:
    rows = [(esc(r.area), str(r.count), f"{r.per_day:.3g}",
             f"{r.low:.3g} – {r.high:.3g}") for r in fit.rates]
    return table_html(["area (community)", "requests", "per day",
                       f"{LEVEL:.0%} interval"], rows, (1, 2, 3))


def _mix(title: str, s: Shares) -> str:
    rows = [(esc(k), f"{v:.1%}", f"{lo:.1%} – {hi:.1%}")
            for k, v, lo, hi in zip(s.labels, s.share, s.low, s.high, strict=True)]
    return f"<h3>{esc(title)}</h3>" + table_html(["", "share", "interval"], rows, (1, 2))


def _durations(fit: CalibrationFit) -> str:
    rows = []
    for (cat, stage), sf in fit.durations.items():
        b = sf.best
        other = [f for f in sf.fits.values() if f is not b]
        cv = f"{b.cv:.2f} ({b.cv_ci[0]:.2f} – {b.cv_ci[1]:.2f})" if b.family == "lognormal" \
            else "1 (fixed)"
        rows.append((esc(cat), esc(stage), str(sf.sample.n), str(sf.sample.censored),
                     esc(b.family),
                     f"{fmt_duration(b.mean_min)} ({fmt_duration(b.mean_ci[0])} – "
                     f"{fmt_duration(b.mean_ci[1])})", cv,
                     f"{b.aic:.1f}" + "".join(f" vs {o.family} {o.aic:.1f}" for o in other),
                     f"{ks_distance(sf):.3f}"))
    return table_html(["category", "duration", "n", "open (censored)", "family", "mean",
                       "CV", "AIC", "KS distance"], rows, (2, 3, 7, 8))


def _cleaning(dropped: pd.DataFrame | None, kept: int) -> str:
    if dropped is None:
        return "<p>No cleaning record was given.</p>"
    counts = dropped["reason"].value_counts() if len(dropped) else pd.Series(dtype=int)
    rows = [(esc(k), str(int(v))) for k, v in counts.items()]
    return (f"<p>{kept} requests kept, {len(dropped)} rows dropped.</p>"
            + table_html(["reason", "rows dropped"], rows, (1,)))


def check_html(check: pd.DataFrame) -> str:
    """The observed-vs-simulated table, failures first."""
    if check.empty:
        return "<p>Nothing to compare.</p>"
    tests = "".join(f"<li>{esc(s)}: {esc(t)}</li>"
                    for s, t in check.groupby("section", sort=False)["test"].first().items())
    rows = []
    for r in check.sort_values("passed", kind="stable").itertuples():
        rows.append((esc(r.section), esc(r.item),
                     f"{_num(r.observed)} ({_num(r.obs_low)} – {_num(r.obs_high)})",
                     f"{_num(r.simulated)} ({_num(r.sim_low)} – {_num(r.sim_high)})",
                     _num(r.tolerance), "pass" if r.passed else "<b>FAIL</b>"))
    failed = int((~check["passed"]).sum())
    return (f"<p>{len(check)} quantities compared, <b>{failed} outside tolerance</b>. A row "
            "fails when the observed and simulated intervals do not overlap and the "
            "difference exceeds the tolerance (shares and compliance: absolute; stage "
            f"times: ratio {TOLERANCES['quantile_ratio']}).</p><ul>{tests}</ul>"
            + table_html(["what", "item", "log (interval)", "model (interval)", "tolerance",
                          "verdict"], rows, (2, 3, 4)))


def render_fit_report(fit: CalibrationFit, source: str, command: str,
                      dropped: pd.DataFrame | None = None,
                      check: pd.DataFrame | None = None) -> str:
    """The whole page as a string."""
    fz = fit.factorisation
    alpha = next(iter(fit.area_hours.values())).alpha if fit.area_hours else float("nan")
    figs = [figure_html(profile_figure(fit), "arrival profiles",
                        "Shares of arrival intensity (arrivals per hour the window spent in "
                        f"each bin) with {LEVEL:.0%} Dirichlet-posterior intervals; thin "
                        "lines: categories, shrunk towards all requests.")]
    for sf in fit.durations.values():
        figs.append(figure_html(duration_figure(sf), f"{sf.category} {sf.stage}",
                                "Left: the log's distribution (Kaplan–Meier, open requests "
                                "censored at the window end) and the fitted CDFs; solid is "
                                "the AIC choice. Right: QQ plot of the chosen fit."))
    title = f"Calibration from {source}"
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="lead">{esc(command)}</p>',
        f"<p>{fit.n_requests} requests ({fit.n_open} still open) from "
        f"{fit.start:%Y-%m-%d %H:%M} to {fit.end:%Y-%m-%d %H:%M}. Every calibrated number "
        "of scenario.yaml is in fit.csv with its interval.</p>",
        "<h2>Cleaning</h2>", _cleaning(dropped, fit.n_requests),
        "<h2>Arrivals</h2>", _rates(fit), figs[0],
        "<p>The scenario's hour-of-week intensity is the product of an hour-of-day and a "
        f"weekday profile. Chi-square test of hour × weekday independence: χ² = "
        f"{fz.statistic:.1f} on {fz.dof} degrees of freedom, p = {fz.p_value:.3g}, "
        f"Cramér's V = {fz.cramers_v:.3f} (n = {fz.n}); a V below about 0.1 means the "
        "factorised form loses little even when p is small. Areas' profiles and mixes "
        f"are shrunk towards all requests with prior strength {alpha:.4g} "
        "pseudo-requests, chosen by empirical Bayes.</p>",
        _mix("Category mix (all areas)", fit.pooled_categories),
        _mix("Channel mix (all areas)", fit.pooled_channels),
        "<h2>Durations</h2>",
        "<p>Fitted by maximum likelihood with open requests right-censored; family chosen "
        "by AIC. KS distance: the largest gap between the log's Kaplan–Meier CDF and the "
        "fit (the Kolmogorov–Smirnov statistic when nothing is censored).</p>",
        _durations(fit), *figs[1:],
    ]
    if check is not None:
        body += ["<h2>Check: the model against the log</h2>", check_html(check)]
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body><main>\n"
        + "\n".join(body) + "\n</main></body>\n</html>\n")


def write_fit_report(outdir: Path, fit: CalibrationFit, source: str, command: str,
                     dropped: pd.DataFrame | None = None,
                     check: pd.DataFrame | None = None) -> Path:
    path = outdir / REPORT_NAME
    path.write_text(render_fit_report(fit, source, command, dropped, check), encoding="utf-8")
    return path


__all__: Sequence[str] = ("REPORT_NAME", "render_fit_report", "write_fit_report")
