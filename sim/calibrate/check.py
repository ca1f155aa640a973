"""The model against the log: simulate the calibrated scenario and compare.

What is compared (observed on the left, simulated on the right, both with intervals):

* **hour-of-day and weekday shares of arrivals** -- shares of arrival intensity (counts
  per hour the window spent in each bin).  Observed: the pooled fit with its Beta
  interval; simulated: mean over replications with a Student-t interval.  A chi-square
  goodness-of-fit test of the observed counts against the simulated profile (expected
  counts from the simulated shares and the log's own exposure) is reported with its
  effect size ``w = sqrt(chi2 / n)``; with thousands of requests any small difference is
  "significant", so the verdict uses the tolerances below, not the p-value.
* **category and channel mix** -- shares, the same way.
* **stage-time quantiles** (p50, p90) per category for each stage the log has, from the
  Kaplan-Meier curve on both sides (open requests censored at the window end or the
  horizon).  Observed interval: the quantiles at ``q -/+ z sqrt(q(1-q)/events)``;
  simulated: mean over replications with a Student-t interval, infinite when a
  replication never got there.
* **compliance per stage** the log has -- observed with the same SLA code
  (:func:`sim.sla.outcomes`) on the log's timestamps, Wilson interval; simulated from
  ``compliance``.

A row fails when its two intervals do not overlap *and* the difference is larger than
the row's tolerance (:data:`TOLERANCES`): a difference the data cannot tell from noise
never fails, and neither does one too small to matter for staffing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from sim.calibrate.fit import HOURS, POOLED, CalibrationFit, Sample, kaplan_meier
from sim.calibrate.profiles import LEVEL, FloatArray, Shares, hour_of_week_exposure
from sim.config import CHANNELS, WEEKDAYS, Scenario
from sim.stages import BY_NAME

if TYPE_CHECKING:
    from sim.results import ExperimentResult

TOLERANCES = {
    "hour_share": 0.01, "weekday_share": 0.02, "category_share": 0.02,
    "channel_share": 0.02, "compliance": 0.05, "quantile_ratio": 1.25,
}
"""Largest difference that passes: absolute for shares and compliance, a ratio (either
way) for stage-time quantiles."""
CHECK_COLUMNS = ("section", "item", "observed", "obs_low", "obs_high", "simulated",
                 "sim_low", "sim_high", "tolerance", "test", "passed")
CHECK_STAGES = ("respond", "onsite", "finish")
"""Fitted durations that are also stages of a simulated run (from creation)."""
MONDAY = pd.Timestamp("2024-01-01")
"""A Monday 00:00: simulated minute 0 of a run starting Monday at hour 0."""


@dataclass(frozen=True)
class Side:
    value: float
    low: float
    high: float


def _row(section: str, item: str, obs: Side, sim: Side, tol: float, ratio: bool = False,
         test: str = "") -> dict[str, object]:
    overlap = not (obs.high < sim.low or sim.high < obs.low)
    if ratio:
        big = (obs.value > 0 and sim.value > 0
               and abs(math.log(sim.value / obs.value)) > math.log(tol))
    else:
        big = abs(sim.value - obs.value) > tol
    passed = overlap or not big or any(math.isnan(v) for v in (obs.value, sim.value))
    return {"section": section, "item": item, "observed": obs.value, "obs_low": obs.low,
            "obs_high": obs.high, "simulated": sim.value, "sim_low": sim.low,
            "sim_high": sim.high, "tolerance": tol, "test": test, "passed": bool(passed)}


def _t_side(per_rep: pd.DataFrame, level: float = LEVEL) -> dict[str, Side]:
    """Mean and Student-t interval over replications (rows) of each column."""
    from sim.results import t_halfwidth

    n = len(per_rep)
    out = {}
    for col in per_rep.columns:
        v = per_rep[col].to_numpy(dtype=float)
        m = float(np.nanmean(v))
        hw = float(t_halfwidth(np.nanstd(v, ddof=1) if n > 1 else np.nan, n, level))
        out[str(col)] = Side(m, m - hw, m + hw) if not math.isnan(hw) else Side(m, m, m)
    return out


def _sim_shares(req: pd.DataFrame, column: str, labels: list[str],
                exposure: FloatArray | None) -> tuple[dict[str, Side], FloatArray]:
    counts = pd.crosstab(req["replication"], req[column].astype(str)).reindex(
        columns=labels, fill_value=0).astype(float)
    if exposure is not None:
        counts = counts.div(np.where(exposure > 0, exposure, np.inf), axis=1)
    shares = counts.div(counts.sum(axis=1), axis=0)
    return _t_side(shares), shares.mean(axis=0).to_numpy(dtype=float)


def _obs_side(s: Shares) -> dict[str, Side]:
    return {k: Side(float(v), float(lo), float(hi))
            for k, v, lo, hi in zip(s.labels, s.share, s.low, s.high, strict=True)}


def _gof(counts: FloatArray, sim_intensity: FloatArray, exposure: FloatArray) -> str:
    """Chi-square of observed counts against the simulated intensity shares."""
    expected = sim_intensity * exposure
    ok = expected > 0
    exp_n = expected[ok] / expected[ok].sum() * counts[ok].sum()
    chi2, p = stats.chisquare(counts[ok], exp_n)
    n = counts[ok].sum()
    return (f"chi-square GOF vs simulated profile: chi2={chi2:.1f}, dof={int(ok.sum()) - 1}, "
            f"p={p:.3g}, w={math.sqrt(chi2 / n):.3f}")


def _observed_quantile(s: Sample, q: float, level: float = LEVEL) -> Side:
    t, cdf = kaplan_meier(s)
    z = float(stats.norm.ppf(0.5 + level / 2))
    half = z * math.sqrt(q * (1 - q) / max(s.events, 1))

    def at(p: float) -> float:
        i = int(np.searchsorted(cdf, p - 1e-12, side="left"))
        return float(t[i]) if i < len(t) else math.inf

    return Side(at(q), at(max(q - half, 0.0)), at(min(q + half, 1.0)))


def _km_quantile(s: Sample, q: float) -> float:
    """Kaplan-Meier quantile; infinite when fewer than ``q`` of the requests got there."""
    t, cdf = kaplan_meier(s)
    i = int(np.searchsorted(cdf, q - 1e-12, side="left"))
    return float(t[i]) if i < len(t) else math.inf


def _simulated_samples(req: pd.DataFrame, horizon_min: float, category: str,
                       column: str) -> list[Sample]:
    """Per replication, minutes from creation to ``column`` for one category, requests
    that had not got there by the horizon censored at it."""
    out = []
    sub = req[req["category"].astype(str) == category]
    for _, g in sub.groupby("replication", observed=True):
        t = (g[column] - g["created_min"]).to_numpy(dtype=float)
        seen = ~np.isnan(t)
        rest = horizon_min - g["created_min"].to_numpy(dtype=float)
        out.append(Sample(np.where(seen, t, rest), seen))
    return out


def _simulated_quantile(samples: list[Sample], q: float, level: float = LEVEL) -> Side:
    """Mean over replications of the Kaplan-Meier quantile, Student-t interval;
    infinite when a replication never reached it (the model is far slower)."""
    vals = np.array([_km_quantile(s, q) for s in samples if s.n], dtype=float)
    if not len(vals):
        return Side(math.nan, math.nan, math.nan)
    if not np.isfinite(vals).all():
        return Side(math.inf, math.inf, math.inf)
    side = _t_side(pd.DataFrame({"q": vals}), level)["q"]
    return side


def wilson(hits: int, n: int, level: float = LEVEL) -> Side:
    """Share ``hits / n`` with its Wilson score interval."""
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Side(p, max(centre - half, 0.0), min(centre + half, 1.0))


def observed_compliance(requests: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp,
                        scenario: Scenario, stages: list[str]) -> dict[str, Side]:
    """Compliance of the log with the scenario's first SLA rule, by the same code as a
    simulated run (:func:`sim.sla.outcomes`), open requests censored at ``end``."""
    from sim.sla import outcomes

    origin = start.floor("h")
    minutes = {c: (requests[c] - origin).dt.total_seconds().to_numpy() / 60.0
               for c in ("created", "first_response", "onsite", "closed")}
    frame = pd.DataFrame({
        "created_min": minutes["created"], "responded_min": minutes["first_response"],
        "onsite_min": minutes["onsite"], "finished_min": minutes["closed"],
        "plan_min": np.nan, "category": requests["category"].astype(str).to_numpy(),
        "complex": False,
    })
    frame = frame[frame["category"].isin(list(scenario.categories))]
    run = scenario.run.model_copy(update={
        "horizon_days": max((end - origin).total_seconds() / 86400.0, 1e-6),
        "warmup_days": 0.0, "start_weekday": WEEKDAYS[origin.day_of_week],
        "start_hour": origin.hour})
    sc = scenario.model_copy(update={"run": run})
    out = outcomes(frame, sc.sla[0], sc)
    res = {}
    for stage in stages:
        met = out[stage].dropna().to_numpy(dtype=float)
        if not len(met):
            continue
        res[stage] = wilson(int(met.sum()), len(met))
    return res


def compare(fit: CalibrationFit, requests: pd.DataFrame, exp: ExperimentResult
            ) -> pd.DataFrame:
    """Observed vs simulated, one row per compared quantity (``check.csv``)."""
    sc = exp.scenario
    req = exp.measured
    rows: list[dict[str, object]] = []
    warm = MONDAY + pd.Timedelta(minutes=sc.run.warmup_min)
    sim_expo = hour_of_week_exposure(warm, MONDAY + pd.Timedelta(minutes=sc.run.horizon_min))
    obs_expo = hour_of_week_exposure(fit.start, fit.end)
    req = req.assign(hour_label=req["hour"].map(lambda h: HOURS[int(h)]))
    sections: list[tuple[str, str, list[str], Shares, FloatArray | None,
                         FloatArray | None]] = [
        ("hour_share", "hour_label", list(HOURS), fit.pooled_hours, sim_expo.sum(axis=0),
         obs_expo.sum(axis=0)),
        ("weekday_share", "weekday", [str(d) for d in WEEKDAYS], fit.pooled_weekdays,
         sim_expo.sum(axis=1), obs_expo.sum(axis=1)),
        ("category_share", "category", list(fit.pooled_categories.labels),
         fit.pooled_categories, None, None),
        ("channel_share", "channel", [c for c in fit.pooled_channels.labels if c in CHANNELS],
         fit.pooled_channels, None, None),
    ]
    for section, col, labels, obs, s_expo, o_expo in sections:
        sim_side, sim_mean = _sim_shares(req, col, labels, s_expo)
        test = _gof(obs.n, sim_mean, o_expo if o_expo is not None else np.ones(len(labels)))
        o = _obs_side(obs)
        for k in labels:
            rows.append(_row(section, k, o[k], sim_side[k], TOLERANCES[section], test=test))
    for (cat, stage), sf in sorted(fit.durations.items()):
        if cat == POOLED or stage not in CHECK_STAGES:
            continue
        sims = _simulated_samples(req, sc.run.horizon_min, cat, BY_NAME[stage].column)
        for q in (0.5, 0.9):
            rows.append(_row(f"{stage}_p{int(q * 100)}", cat, _observed_quantile(sf.sample, q),
                             _simulated_quantile(sims, q), TOLERANCES["quantile_ratio"],
                             ratio=True, test="Kaplan-Meier quantiles (minutes), open "
                             "requests censored; model: mean over replications, t interval"))
    stages = [s for s in CHECK_STAGES if s in fit.stages]
    obs_c = observed_compliance(requests, fit.start, fit.end, sc, stages)
    comp = exp.compliance()
    for stage, o_side in obs_c.items():
        hit = comp[comp["stage"] == stage]
        if hit.empty:
            continue
        h = hit.iloc[0]
        target = getattr(sc.sla[0], BY_NAME[stage].sla_field)
        rows.append(_row("compliance", f"{stage} <= {target:g} min", o_side,
                         Side(float(h["mean"]), float(h["ci_low"]), float(h["ci_high"])),
                         TOLERANCES["compliance"], test="Wilson intervals; same SLA code"))
    return pd.DataFrame(rows, columns=list(CHECK_COLUMNS))


def run_check(fit: CalibrationFit, requests: pd.DataFrame, scenario: Scenario,
              replications: int | None = None) -> pd.DataFrame:
    """Simulate ``scenario`` (its own replications by default) and :func:`compare`."""
    from sim.experiment import replicate

    return compare(fit, requests, replicate(scenario, replications))
