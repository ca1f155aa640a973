"""Arrivals from a log: daily rates per area, hour and weekday profiles, mixes.

Everything here is a function of the cleaned request table (``created``, ``category``,
``channel``, ``area``) and the observation window; nothing reads files.

Shrinkage.  A group's counts over ``K`` bins (24 hours, 7 weekdays, categories, channels)
are given a Dirichlet prior centred on the pooled shares ``p0`` with strength ``alpha``
(pseudo-requests).  The posterior mean share is ``(n_k + alpha p0_k) / (N + alpha)``: a
group with few requests is pulled towards the pooled profile, a large one keeps its own.
``alpha`` is chosen by empirical Bayes -- it maximises the Dirichlet-multinomial marginal
likelihood of all groups' counts -- within ``[ALPHA_MIN, ALPHA_MAX]``.  For each group the
centre ``p0`` is the shares of the *other* groups and the strength is capped at their
number of requests (leave-one-out), so a group's data are not counted twice and its
interval keeps the uncertainty of the pool.  Each share's interval is the central
quantile of its Beta posterior marginal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize, special, stats

FloatArray = NDArray[np.float64]

ALPHA_MIN = 1.0
"""Weakest prior strength considered (pseudo-requests)."""
ALPHA_MAX = 1e6
"""Strongest prior strength considered: above it every group is the pooled profile."""
LEVEL = 0.95
"""Level of the intervals written to fit.csv and the report."""
OTHER = "other"
"""Name of the pooled remainder when only the largest areas or categories are kept."""


def relative_weights(values: pd.Series, size: int) -> list[float]:
    """Count integer labels 0..size-1 and scale to average 1.0, rounded to 2 decimals."""
    counts = values.value_counts().reindex(range(size), fill_value=0).to_numpy(dtype=float)
    return [round(float(w), 2) for w in counts / counts.mean()]


@dataclass(frozen=True)
class Shares:
    """Shrunken shares of one group over named bins, with posterior intervals.

    ``share`` sums to 1; ``low``/``high`` bound each share at :data:`LEVEL`; ``n`` is the
    group's count per bin and ``alpha`` the prior strength used.
    """

    labels: tuple[str, ...]
    share: FloatArray
    low: FloatArray
    high: FloatArray
    n: FloatArray
    alpha: float

    @property
    def total(self) -> int:
        return int(self.n.sum())

    def weights(self) -> list[float]:
        """Shares as relative weights averaging 1 (the scenario's profile form)."""
        return [float(w) for w in self.share * len(self.share)]

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in zip(self.labels, self.share, strict=True)}


def dm_loglik(alpha: float, counts: FloatArray, p0: FloatArray) -> float:
    """Dirichlet-multinomial log marginal likelihood (up to a constant in ``alpha``) of
    the rows of ``counts`` under a Dirichlet(``alpha * p0``) prior."""
    a = alpha * p0
    pos = a > 0
    totals = counts.sum(axis=1)
    ll = len(counts) * special.gammaln(alpha) - special.gammaln(totals + alpha).sum()
    ll += (special.gammaln(counts[:, pos] + a[pos]) - special.gammaln(a[pos])).sum()
    return float(ll)


def eb_alpha(counts: FloatArray) -> float:
    """Empirical-Bayes prior strength for the groups (rows) of ``counts``.

    With fewer than two non-empty groups there is nothing to learn the spread from and
    the strongest prior (:data:`ALPHA_MAX`) is returned, which changes nothing: a single
    group is the pool.
    """
    rows = counts[counts.sum(axis=1) > 0]
    if len(rows) < 2:
        return ALPHA_MAX
    p0 = rows.sum(axis=0) / rows.sum()
    res = optimize.minimize_scalar(
        lambda la: -dm_loglik(float(np.exp(la)), rows, p0),
        bounds=(np.log(ALPHA_MIN), np.log(ALPHA_MAX)), method="bounded",
        options={"xatol": 1e-3},
    )
    return float(np.exp(res.x))


def shrunk_shares(
    counts: FloatArray, p0: FloatArray, alpha: float, labels: Sequence[str],
    level: float = LEVEL,
) -> Shares:
    """Posterior shares of one group's ``counts`` under a Dirichlet(alpha p0) prior."""
    a = counts + alpha * p0
    total = a.sum()
    tail = (1 - level) / 2
    with np.errstate(invalid="ignore"):
        low = np.where(a > 0, stats.beta.ppf(tail, np.maximum(a, 1e-12), total - a), 0.0)
        high = np.where(a > 0, stats.beta.ppf(1 - tail, np.maximum(a, 1e-12), total - a), 0.0)
    return Shares(tuple(labels), a / total, np.asarray(low, float), np.asarray(high, float),
                  counts.astype(float), alpha)


def per_exposure(s: Shares, exposure: FloatArray) -> Shares:
    """Shares of arrival *intensity*: each bin's share divided by the time the window
    spent in it (``exposure``), renormalised.  A window of 8 weeks and 4 days holds nine
    Mondays and eight Sundays; without this, Mondays would look busier than they are.
    The interval bounds are scaled by the same factors (the normaliser's own
    uncertainty, small next to a bin's, is left out)."""
    e = np.where(exposure > 0, exposure, np.inf)
    scale = 1.0 / e / float((s.share / e).sum())
    return Shares(s.labels, s.share * scale, np.minimum(s.low * scale, 1.0),
                  np.minimum(s.high * scale, 1.0), s.n, s.alpha)


def hour_of_week_exposure(start: pd.Timestamp, end: pd.Timestamp) -> FloatArray:
    """Hours of the window ``[start, end)`` falling in each (weekday, hour) cell (7 x 24)."""
    out = np.zeros((7, 24))
    first = start.floor("h")
    edges = pd.date_range(first, end.ceil("h"), freq="h").as_unit("ns")
    if len(edges) < 2:
        out[start.day_of_week, start.hour] = max((end - start).total_seconds() / 3600, 1e-9)
        return out
    lo = np.maximum(edges[:-1].asi8, start.as_unit("ns").value)
    hi = np.minimum(edges[1:].asi8, end.as_unit("ns").value)
    hours = np.maximum(hi - lo, 0) / 3.6e12
    np.add.at(out, (edges[:-1].day_of_week.to_numpy(), edges[:-1].hour.to_numpy()), hours)
    return out


def grouped_shares(
    groups: pd.Series, bins: pd.Series, labels: Sequence[str], level: float = LEVEL,
    exposure: FloatArray | None = None,
) -> tuple[Shares, dict[str, Shares]]:
    """Pooled shares and each group's shares shrunk towards them (one alpha for all).

    ``bins`` holds, per request, the label of its bin (one of ``labels``); ``groups``
    the group it belongs to.  The pooled shares get a flat Jeffreys-like prior of one
    pseudo-request in all (they are the centre the groups shrink to).
    """
    table = pd.crosstab(groups, pd.Categorical(bins, categories=list(labels)), dropna=False)
    table = table.reindex(columns=list(labels), fill_value=0)
    counts = table.to_numpy(dtype=float)
    pooled_n = counts.sum(axis=0)
    k = len(labels)
    pooled = shrunk_shares(pooled_n, np.full(k, 1.0 / k), 1.0, labels, level)
    alpha = eb_alpha(counts)
    per = {}
    for i, g in enumerate(table.index):
        # The prior is centred on the *other* groups' shares and carries at most as many
        # pseudo-requests as they hold: the group's own data are not counted twice, and
        # the interval keeps the uncertainty of the pool it shrinks to.
        rest = pooled_n - counts[i]
        n_rest = float(rest.sum())
        p_rest = rest / n_rest if n_rest > 0 else np.full(k, 1.0 / k)
        per[str(g)] = shrunk_shares(counts[i], p_rest, min(alpha, n_rest), labels, level)
    if exposure is not None:
        pooled = per_exposure(pooled, exposure)
        per = {g: per_exposure(v, exposure) for g, v in per.items()}
    return pooled, per


@dataclass(frozen=True)
class Factorisation:
    """Chi-square test of hour-of-day x weekday independence (the model's factorised
    hour-of-week profile) on the arrivals' 24 x 7 table."""

    statistic: float
    dof: int
    p_value: float
    cramers_v: float
    n: int


def factorisation_test(created: pd.Series) -> Factorisation:
    """Test whether the hour-of-week counts are the product of an hour and a weekday
    profile.  With many requests any small interaction is "significant"; Cramér's V
    (0: independent, 1: fully dependent) says how large it is."""
    table = pd.crosstab(created.dt.hour, created.dt.day_of_week)
    table = table.loc[table.sum(axis=1) > 0, table.sum(axis=0) > 0]
    n = int(table.to_numpy().sum())
    if min(table.shape) < 2:
        return Factorisation(0.0, 0, 1.0, 0.0, n)
    res = stats.chi2_contingency(table.to_numpy())
    stat, p, dof = float(res[0]), float(res[1]), int(res[2])
    v = float(np.sqrt(stat / (n * (min(table.shape) - 1))))
    return Factorisation(stat, dof, p, v, n)


@dataclass(frozen=True)
class Rate:
    """Requests per day of one area over the window, with an exact Poisson interval."""

    area: str
    count: int
    days: float
    per_day: float
    low: float
    high: float


def window_days(start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Length of the observation window in days (at least one minute)."""
    return max((end - start).total_seconds() / 86400.0, 1.0 / 1440.0)


def poisson_rate(count: int, days: float, level: float = LEVEL) -> tuple[float, float]:
    """Exact (Garwood) interval for a Poisson rate per day from ``count`` events."""
    tail = (1 - level) / 2
    low = 0.0 if count == 0 else stats.chi2.ppf(tail, 2 * count) / 2
    high = stats.chi2.ppf(1 - tail, 2 * count + 2) / 2
    return float(low) / days, float(high) / days


def top_labels(values: pd.Series, k: int | None) -> list[str]:
    """The ``k`` most frequent labels (all when ``k`` is None), most frequent first,
    ties broken by name so the result does not depend on row order."""
    counts = values.value_counts()
    order = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    names = [str(name) for name, _ in order]
    return names if k is None or len(names) <= k else names[:k]


def collapse(values: pd.Series, keep: Sequence[str]) -> pd.Series:
    """Labels outside ``keep`` replaced by :data:`OTHER`."""
    s = values.astype(str)
    return s.where(s.isin(list(keep)), OTHER)


def effective_days(exposure: FloatArray, hour_w: Sequence[float],
                   day_w: Sequence[float]) -> float:
    """Days of the window weighted by the fitted profiles (weights averaging 1): the
    divisor that makes ``count / days`` the scenario's ``requests_per_day`` even when the
    window is not a whole number of weeks."""
    w = np.outer(np.asarray(day_w), np.asarray(hour_w))
    return max(float((exposure * w).sum()) / 24.0, 1.0 / 1440.0)


def area_rates(area: pd.Series, start: pd.Timestamp, end: pd.Timestamp,
               level: float = LEVEL, days: float | None = None) -> list[Rate]:
    """Requests per day of each area label (in order of size), over ``days`` (default:
    the window's length)."""
    days = window_days(start, end) if days is None else days
    out = []
    for name in top_labels(area, None):
        c = int((area == name).sum())
        lo, hi = poisson_rate(c, days, level)
        out.append(Rate(name, c, days, c / days, lo, hi))
    return out
