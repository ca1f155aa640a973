"""Duration fits with right-censoring, and the whole fit of a cleaned log.

Durations.  A stage time is observed for requests that reached the stage; a request
still open at the end of the window has only a lower bound, ``end - created`` (right
censoring).  Dropping those requests biases every fit towards short times, so each
candidate family is fitted by maximum likelihood on the censored sample: density terms
for observed times, survival terms for censored ones (the likelihood scipy's
``CensoredData`` fitting maximises; this module writes it out so a million rows fit in
well under a second, and the tests check both agree).  The candidates are the families
the scenario schema can express with a fitted shape -- exponential (1 parameter) and
lognormal (2) -- and the one with the smaller AIC (``2k - 2 log L`` on the censored
likelihood) is chosen.  Intervals for the scenario's parameters (mean, and CV for the
lognormal) are profile-likelihood intervals: the values where the log-likelihood,
maximised over the other parameter, falls ``chi2_1(level) / 2`` below its maximum.
Above :data:`PROFILE_MAX_EVENTS` observed times they are Wald intervals on the log scale
from the observed information (delta method for the lognormal's mean and CV).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize, special, stats

from sim.calibrate.profiles import (
    LEVEL,
    Factorisation,
    Rate,
    Shares,
    area_rates,
    collapse,
    effective_days,
    factorisation_test,
    grouped_shares,
    hour_of_week_exposure,
    top_labels,
)
from sim.config import CHANNELS, WEEKDAYS

FloatArray = NDArray[np.float64]
FAMILIES = ("exponential", "lognormal")
"""Candidate families, as named by :mod:`sim.distributions`."""
MIN_DURATION_MIN = 1.0 / 60
"""Durations below one second are raised to it (a log keeps whole seconds at best)."""
MIN_EVENTS = 2
"""Fewest observed (uncensored) times a fit needs."""
PROFILE_MAX_EVENTS = 20_000
"""Up to this many observed times, parameter intervals are profile-likelihood intervals;
above it the likelihood is so nearly quadratic that the Wald interval (from the observed
information) agrees with them and costs nothing."""
_LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class Sample:
    """Durations in minutes; ``observed[i]`` False means ``times[i]`` is a lower bound."""

    times: FloatArray
    observed: NDArray[np.bool_]

    @property
    def n(self) -> int:
        return len(self.times)

    @property
    def events(self) -> int:
        return int(self.observed.sum())

    @property
    def censored(self) -> int:
        return self.n - self.events


@dataclass(frozen=True)
class DurationFit:
    """One family fitted to one sample.

    ``params`` are the family's natural parameters (``mean`` for exponential; ``mu``,
    ``sigma`` of the log for lognormal); ``mean_min``/``cv`` the scenario's
    parameters with their intervals ``(low, high)`` at :data:`LEVEL`.
    """

    family: str
    params: dict[str, float]
    loglik: float
    k: int
    n: int
    events: int
    mean_min: float
    mean_ci: tuple[float, float]
    cv: float
    cv_ci: tuple[float, float]

    @property
    def aic(self) -> float:
        return 2 * self.k - 2 * self.loglik

    def cdf(self, x: FloatArray) -> FloatArray:
        """Fitted CDF at durations ``x`` (minutes)."""
        if self.family == "exponential":
            return np.asarray(-np.expm1(-np.asarray(x) / self.params["mean"]), float)
        with np.errstate(divide="ignore"):
            z = (np.log(x) - self.params["mu"]) / self.params["sigma"]
        return np.asarray(special.ndtr(z), float)

    def ppf(self, q: FloatArray) -> FloatArray:
        """Fitted quantiles (minutes) at probabilities ``q``."""
        if self.family == "exponential":
            return np.asarray(-self.params["mean"] * np.log1p(-np.asarray(q)), float)
        return np.asarray(
            np.exp(self.params["mu"] + self.params["sigma"] * special.ndtri(q)), float)

    def distribution(self, digits: int = 4) -> dict[str, object]:
        """The fit as a scenario distribution (``sim.distributions``)."""
        mean = float(f"{self.mean_min:.{digits}g}")
        if self.family == "exponential":
            return {"dist": "exponential", "mean_min": mean}
        return {"dist": "lognormal", "mean_min": mean, "cv": float(f"{self.cv:.{digits}g}")}


def _z(level: float) -> float:
    return float(stats.norm.ppf(0.5 + level / 2))


def fit_exponential(s: Sample, level: float = LEVEL) -> DurationFit:
    """Censored exponential MLE: mean = total time at risk / observed events."""
    x = np.maximum(s.times, MIN_DURATION_MIN)
    d = s.events
    total = float(x.sum())
    mean = total / d
    ll = -d * math.log(mean) - total / mean
    half = _z(level) / math.sqrt(d)
    ci = (mean * math.exp(-half), mean * math.exp(half))
    if d <= PROFILE_MAX_EVENTS:
        lo, hi = profile_interval(lambda a: -d * a - total * math.exp(-a), math.log(mean),
                                  half / _z(level), ll, level)
        ci = (math.exp(lo), math.exp(hi))
    return DurationFit("exponential", {"mean": mean}, ll, 1, s.n, d, mean, ci, 1.0, (1.0, 1.0))


def _lognormal_nll(theta: FloatArray, lx: FloatArray, obs: NDArray[np.bool_]
                   ) -> tuple[float, FloatArray]:
    """Negative log-likelihood of (mu, log sigma) and its gradient."""
    mu, ls = float(theta[0]), float(theta[1])
    sigma = math.exp(ls)
    z = (lx - mu) / sigma
    zo, zc = z[obs], z[~obs]
    nll = float(0.5 * (zo**2).sum() + zo.size * (0.5 * _LOG_2PI + ls) + lx[obs].sum())
    logsurv = special.log_ndtr(-zc)
    nll -= float(logsurv.sum())
    # hazard of the standard normal at zc: phi(z) / (1 - Phi(z))
    lam = np.exp(-0.5 * zc**2 - 0.5 * _LOG_2PI - logsurv)
    g_mu = float(-(zo.sum() + lam.sum()) / sigma)
    g_ls = float(zo.size - (zo**2).sum() - (lam * zc).sum())
    return nll, np.array([g_mu, g_ls])


def fit_lognormal(s: Sample, level: float = LEVEL) -> DurationFit:
    """Censored lognormal MLE on (mu, log sigma), intervals from the observed information."""
    lx = np.log(np.maximum(s.times, MIN_DURATION_MIN))
    obs = s.observed
    lo = lx[obs]
    start = np.array([lo.mean(), math.log(max(float(lo.std()), 1e-3))])
    res = optimize.minimize(_lognormal_nll, start, args=(lx, obs), jac=True, method="L-BFGS-B")
    theta = np.asarray(res.x, float)
    mu, sigma = float(theta[0]), math.exp(float(theta[1]))
    hess = _numeric_hessian(lambda t: _lognormal_nll(t, lx, obs)[1], theta)
    try:
        cov = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        cov = np.full((2, 2), np.nan)
    s2 = sigma**2
    mean = math.exp(mu + s2 / 2)
    cv = math.sqrt(math.expm1(s2))
    z = _z(level)
    # delta method on log mean = mu + sigma^2/2 and log cv = 0.5 log(expm1(sigma^2)),
    # both functions of (mu, log sigma)
    g_mean = np.array([1.0, s2])
    g_cv = np.array([0.0, s2 * math.exp(s2) / math.expm1(s2)])
    se_m = math.sqrt(max(float(g_mean @ cov @ g_mean), 0.0))
    se_c = math.sqrt(max(float(g_cv @ cov @ g_cv), 0.0))
    ll = -float(res.fun)
    mean_ci = (mean * math.exp(-z * se_m), mean * math.exp(z * se_m))
    cv_ci = (cv * math.exp(-z * se_c), cv * math.exp(z * se_c))
    if s.events <= PROFILE_MAX_EVENTS and se_m > 0 and se_c > 0:
        a_hat, b_hat = math.log(mean), math.log(cv)

        def ll_ab(a: float, b: float) -> float:
            s2 = math.log1p(math.exp(2 * b))
            theta = np.array([a - s2 / 2, 0.5 * math.log(s2)])
            return -_lognormal_nll(theta, lx, obs)[0]

        def prof_a(a: float) -> float:
            return _max_over(lambda b: ll_ab(a, b), b_hat, se_c)

        def prof_b(b: float) -> float:
            return _max_over(lambda a: ll_ab(a, b), a_hat, se_m)

        a_lo, a_hi = profile_interval(prof_a, a_hat, se_m, ll, level)
        mean_ci = (math.exp(a_lo), math.exp(a_hi))
        b_lo, b_hi = profile_interval(prof_b, b_hat, se_c, ll, level)
        cv_ci = (math.exp(b_lo), math.exp(b_hi))
    return DurationFit("lognormal", {"mu": mu, "sigma": sigma}, ll, 2, s.n, s.events,
                       mean, mean_ci, cv, cv_ci)


def _max_over(f: Callable[[float], float], centre: float, scale: float) -> float:
    """Maximum of ``f`` near ``centre`` (the nuisance parameter of a profile)."""
    width = 10 * max(scale, 1e-3) + 1.0
    res = optimize.minimize_scalar(lambda x: -f(x), bounds=(centre - width, centre + width),
                                   method="bounded", options={"xatol": 1e-6})
    return -float(res.fun)


def profile_interval(profile: Callable[[float], float], estimate: float, se: float,
                     ll_max: float, level: float = LEVEL) -> tuple[float, float]:
    """Profile-likelihood interval of a parameter: where the profile log-likelihood is
    ``chi2_1(level) / 2`` below its maximum, searched outwards from the Wald half-width.
    An end the search cannot bracket within ``2**20`` half-widths stays infinite."""
    crit = float(stats.chi2.ppf(level, 1)) / 2

    def gap(x: float) -> float:
        return ll_max - profile(x) - crit

    ends = []
    for sign in (-1.0, 1.0):
        step = max(se, 1e-6) * float(np.sqrt(2 * crit))
        inner = estimate
        for _ in range(21):
            x = estimate + sign * step
            if gap(x) > 0:
                ends.append(float(optimize.brentq(gap, inner, x, xtol=1e-6)))
                break
            inner, step = x, step * 2
        else:
            ends.append(sign * math.inf)
    return ends[0], ends[1]


def _numeric_hessian(grad: Callable[[FloatArray], FloatArray], x: FloatArray) -> FloatArray:
    h = 1e-4 * np.maximum(1.0, np.abs(x))
    cols = []
    for i in range(len(x)):
        e = np.zeros_like(x)
        e[i] = h[i]
        cols.append((grad(x + e) - grad(x - e)) / (2 * h[i]))
    m = np.column_stack(cols)
    out: FloatArray = (m + m.T) / 2
    return out


FITTERS: dict[str, Callable[[Sample, float], DurationFit]] = {
    "exponential": fit_exponential, "lognormal": fit_lognormal,
}


@dataclass(frozen=True)
class StageFit:
    """Every candidate fitted to one (category, stage) sample, and the AIC choice."""

    category: str
    stage: str
    sample: Sample
    fits: dict[str, DurationFit]

    @property
    def best(self) -> DurationFit:
        return min(self.fits.values(), key=lambda f: f.aic)


def fit_sample(category: str, stage: str, s: Sample, level: float = LEVEL) -> StageFit | None:
    """All candidate families for one sample; None with fewer than :data:`MIN_EVENTS`."""
    if s.events < MIN_EVENTS:
        return None
    return StageFit(category, stage, s, {f: FITTERS[f](s, level) for f in FAMILIES})


def stage_sample(reached: pd.Series, origin: pd.Series, closed: pd.Series,
                 end: pd.Timestamp) -> Sample:
    """Minutes from ``origin`` to ``reached``; requests not reached and still open are
    censored at ``end``; those closed without the stage being recorded are left out
    (the stage is unknown for them, not pending)."""
    seen = reached.notna() & origin.notna()
    pending = reached.isna() & closed.isna() & origin.notna()
    t_seen = (reached[seen] - origin[seen]).dt.total_seconds().to_numpy() / 60.0
    t_pend = (end - origin[pending]).dt.total_seconds().to_numpy() / 60.0
    keep = t_seen >= 0
    times = np.concatenate([t_seen[keep], np.maximum(t_pend, MIN_DURATION_MIN)])
    observed = np.concatenate([np.ones(int(keep.sum()), bool), np.zeros(len(t_pend), bool)])
    return Sample(times.astype(float), observed)


def kaplan_meier(s: Sample) -> tuple[FloatArray, FloatArray]:
    """Kaplan-Meier estimate of the CDF: event times and ``1 - S(t)`` just after each."""
    order = np.lexsort((~s.observed, s.times))
    t, d = s.times[order], s.observed[order]
    at_risk = len(t) - np.arange(len(t))
    factors = np.where(d, 1.0 - 1.0 / at_risk, 1.0)
    surv = np.cumprod(factors)
    cdf: FloatArray = np.asarray(1.0 - surv[d], dtype=np.float64)
    return t[d], cdf



HOURS = tuple(f"{h:02d}" for h in range(24))
REQUEST_COLUMNS = ("created", "closed", "first_response", "onsite", "due", "category",
                   "category_raw", "channel", "area", "open")
"""Columns of a cleaned log's request table (``CleanLog.requests``)."""
DERIVED_STAGES: dict[str, tuple[str, str]] = {
    "respond": ("first_response", "created"),
    "onsite": ("onsite", "created"),
    "finish": ("closed", "created"),
    "work": ("closed", "onsite"),
    "travel": ("onsite", "first_response"),
}
"""Durations fitted, as (to column, from column).  ``respond``, ``onsite``, ``finish``
are measured from creation, like the stages of a simulated run (:mod:`sim.stages`);
``work`` (closed minus on site) and ``travel`` (on site minus first response) are what
the scenario's ``work_time`` and ``travel_time`` stand for when the log has them."""
POOLED = "(all)"
"""Category label of fits over all categories together."""


@dataclass
class CalibrationFit:
    """Everything fitted from one cleaned log.

    Areas and categories beyond the largest ``top_*`` are pooled as ``other``.  Profiles
    and mixes per area are shrunk towards the pooled ones (:mod:`sim.calibrate.profiles`);
    hour and weekday profiles per category are also fitted (shrunk likewise) for the
    report, since the scenario schema carries profiles per community only.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    n_requests: int
    n_open: int
    areas: list[str]
    categories: list[str]
    stages: list[str]
    rates: list[Rate]
    pooled_hours: Shares
    pooled_weekdays: Shares
    area_hours: dict[str, Shares]
    area_weekdays: dict[str, Shares]
    category_hours: dict[str, Shares]
    category_weekdays: dict[str, Shares]
    pooled_categories: Shares
    pooled_channels: Shares
    area_categories: dict[str, Shares]
    area_channels: dict[str, Shares]
    factorisation: Factorisation
    durations: dict[tuple[str, str], StageFit] = field(default_factory=dict)

    @property
    def days(self) -> float:
        return self.rates[0].days if self.rates else 0.0


def log_stages(requests: pd.DataFrame) -> list[str]:
    """Fitted durations the log has timestamps for (``finish`` always)."""
    has = {c: bool(requests[c].notna().any()) for c in ("first_response", "onsite")}
    return [name for name, (to, frm) in DERIVED_STAGES.items()
            if all(has.get(c, True) for c in (to, frm))]


def fit_log(
    requests: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    top_areas: int | None = None,
    top_categories: int | None = None,
    level: float = LEVEL,
) -> CalibrationFit:
    """Fit arrivals, mixes and durations to a cleaned log's request table.

    ``requests`` has the columns of :data:`REQUEST_COLUMNS`; ``start``/``end`` bound the
    observation window (``end`` is the censoring point of open requests).
    """
    missing = [c for c in REQUEST_COLUMNS if c not in requests.columns]
    if missing:
        raise ValueError(f"request table lacks columns {missing}")
    if requests.empty:
        raise ValueError("the log has no requests to fit")
    areas = top_labels(requests["area"], top_areas)
    cats = top_labels(requests["category"], top_categories)
    area = collapse(requests["area"], areas)
    cat = collapse(requests["category"], cats)
    areas = top_labels(area, None)
    cats = top_labels(cat, None)
    created = requests["created"]
    hour = created.dt.hour.map(HOURS.__getitem__)
    wday = created.dt.day_of_week.map(WEEKDAYS.__getitem__)
    channel = requests["channel"].astype(str)
    known = channel.isin(CHANNELS)
    expo = hour_of_week_exposure(start, end)
    e_hour, e_day = expo.sum(axis=0), expo.sum(axis=1)
    pooled_h, area_h = grouped_shares(area, hour, HOURS, level, e_hour)
    pooled_w, area_w = grouped_shares(area, wday, WEEKDAYS, level, e_day)
    _, cat_h = grouped_shares(cat, hour, HOURS, level, e_hour)
    _, cat_w = grouped_shares(cat, wday, WEEKDAYS, level, e_day)
    pooled_c, area_c = grouped_shares(area, cat, cats, level)
    chan_labels = [c for c in CHANNELS if (channel == c).any()] or ["phone"]
    if known.any():
        pooled_ch, area_ch = grouped_shares(area[known], channel[known], chan_labels, level)
    else:  # the log names no channel the scenario knows: all by phone, said in fit.csv
        pooled_ch, area_ch = grouped_shares(area, pd.Series("phone", index=area.index),
                                            chan_labels, level)
    stages = log_stages(requests)
    fit = CalibrationFit(
        start=start, end=end, n_requests=len(requests),
        n_open=int(requests["closed"].isna().sum()), areas=areas, categories=cats,
        stages=stages,
        rates=area_rates(area, start, end, level,
                         effective_days(expo, pooled_h.weights(), pooled_w.weights())),
        pooled_hours=pooled_h, pooled_weekdays=pooled_w, area_hours=area_h,
        area_weekdays=area_w, category_hours=cat_h, category_weekdays=cat_w,
        pooled_categories=pooled_c, pooled_channels=pooled_ch, area_categories=area_c,
        area_channels=area_ch, factorisation=factorisation_test(created),
    )
    codes = pd.Categorical(cat, categories=cats)
    for stage in stages:
        to, frm = DERIVED_STAGES[stage]
        groups: list[tuple[str, NDArray[np.bool_]]] = (
            [(POOLED, np.ones(len(requests), bool))] if stage == "travel"
            else [(c, np.asarray(codes == c)) for c in cats]
            + [(POOLED, np.ones(len(requests), bool))])
        for name, mask in groups:
            sub = requests.loc[mask]
            s = stage_sample(sub[to], sub[frm], sub["closed"], end)
            f = fit_sample(name, stage, s, level)
            if f is not None:
                fit.durations[(name, stage)] = f
    return fit


FIT_COLUMNS = ("quantity", "estimate", "ci_low", "ci_high", "n", "method")


def _shares_rows(prefix: str, s: Shares, method: str) -> list[tuple[object, ...]]:
    return [(f"{prefix}/{k}", float(v), float(lo), float(hi), s.total, method)
            for k, v, lo, hi in zip(s.labels, s.share, s.low, s.high, strict=True)]


def fit_table(fit: CalibrationFit) -> pd.DataFrame:
    """One row per fitted quantity (the contents of ``fit.csv``)."""
    pct = f"{LEVEL:.0%}"
    eb = (f"Dirichlet posterior mean, shrunk to pooled (alpha={{a:.4g}} by empirical Bayes);"
          f" {pct} Beta interval")
    flat = f"pooled shares, {pct} Beta interval (Dirichlet posterior, 1 pseudo-count)"
    rows: list[tuple[object, ...]] = []
    for r in fit.rates:
        rows.append((f"rate/{r.area}", r.per_day, r.low, r.high, r.count,
                     f"requests per day: count / {r.days:.2f} profile-weighted days; "
                     f"exact Poisson {pct}"))
    for prefix, pooled, per in (
        ("hour_share", fit.pooled_hours, fit.area_hours),
        ("weekday_share", fit.pooled_weekdays, fit.area_weekdays),
        ("category_share", fit.pooled_categories, fit.area_categories),
        ("channel_share", fit.pooled_channels, fit.area_channels),
    ):
        rows += _shares_rows(f"{prefix}/{POOLED}", pooled, flat)
        for area, s in per.items():
            rows += _shares_rows(f"{prefix}/{area}", s, eb.format(a=s.alpha))
    for prefix, per in (("category_hour_share", fit.category_hours),
                        ("category_weekday_share", fit.category_weekdays)):
        for cat, s in per.items():
            rows += _shares_rows(f"{prefix}/{cat}", s, eb.format(a=s.alpha))
    fz = fit.factorisation
    rows.append(("hour_weekday_independence/chi2", fz.statistic, float("nan"), float("nan"),
                 fz.n, f"chi-square test of hour x weekday independence: dof={fz.dof}, "
                 f"p={fz.p_value:.3g}, Cramer's V={fz.cramers_v:.3f}"))
    for (cat, stage), sf in fit.durations.items():
        best = sf.best.family
        for fam, f in sf.fits.items():
            tag = "chosen (lowest AIC)" if fam == best else "candidate"
            method = (f"censored MLE, {f.n - f.events} right-censored; AIC={f.aic:.1f}; "
                      f"{tag}; {pct} " + ("profile likelihood" if f.events <= PROFILE_MAX_EVENTS
                                          else "Wald on log scale"))
            q = f"duration/{cat}/{stage}/{fam}"
            rows.append((f"{q}/mean_min", f.mean_min, *f.mean_ci, f.n, method))
            if fam == "lognormal":
                rows.append((f"{q}/cv", f.cv, *f.cv_ci, f.n, method))
    return pd.DataFrame(rows, columns=list(FIT_COLUMNS))
