"""Results of finished runs: tables, confidence intervals.  Never imports simpy.

Everything here reads the frames a run produced (:class:`SimulationResult` per
replication, :class:`ExperimentResult` for all of them), so ``sim.io``, ``sim.report``,
``sim.figures``, ``sim.html_report`` and ``sim report`` work without the engine.

Every statistic is computed per replication first; means and 95% confidence intervals
are then taken across replications, the replications being the independent observations:

* compliance shares (in [0, 1]) get a Wilson score interval on an effective sample size
  (:func:`proportion_interval`), which stays inside [0, 1];
* everything else (stage-time percentiles, utilisation, queue lengths, paired
  differences) gets a Student-t interval (:func:`summarise`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from sim.sla import CLOCKS, outcomes, stage_time, with_clock
from sim.stages import FINISH, JOINT, OUTCOMES, STAGE_TABLE

if TYPE_CHECKING:
    from sim.config import Scenario, SlaRule

DEFAULT_BREAKDOWNS: tuple[str | None, ...] = (
    None, "community_type", "community", "street", "category", "channel", "priority",
    "hour", "weekday",
)
"""Breakdowns written to ``compliance.csv`` (``None``: everything together)."""

PERCENTILE_COLUMNS = ("stage", "by", "group", "quantile", "mean", "halfwidth", "ci_low",
                      "ci_high", "replications", "reached")
COMPLIANCE_COLUMNS = ("rule", "clock", "stage", "by", "group", "mean", "halfwidth", "ci_low",
                      "ci_high", "replications", "requests", "unknown")


@dataclass
class SimulationResult:
    """Everything one replication produced.

    Attributes
    ----------
    requests:
        One row per request that reached a community before the horizon, open ones
        included (their unreached stage times are NaN).  Times are minutes since the start
        of the run; ``hour``/``weekday`` are those of ``created_min``; ``escalated`` is a
        bit mask (1 respond, 2 on site, 4 plan) of stages escalated after a breach.
    pools:
        One row per run-time staff pool: kind, scope, weekly cost, overtime.
    load:
        Per pool and hour of day, after warm-up: minutes busy, on duty and of queue
        (time-integrals), and minutes observed; newer runs also ``rostered_min`` (staff
        rostered) and ``overtime_min`` (staff still busy after their shift ended).
    backlog:
        Per staff kind and simulated hour: mean number waiting, busy and on duty.
    """

    scenario: Scenario
    seed: int
    replication: int
    requests: pd.DataFrame
    pools: pd.DataFrame
    load: pd.DataFrame
    backlog: pd.DataFrame


# --------------------------------------------------------------------------- intervals
def t_halfwidth(std: ArrayLike, n: ArrayLike, level: float = 0.95) -> NDArray[np.float64]:
    """Half-width of a Student-t confidence interval for a mean of ``n`` observations.

    NaN where ``n < 2`` (one observation gives no estimate of the spread).
    """
    n_arr = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = stats.t.ppf(0.5 + level / 2, n_arr - 1)
        hw = np.where(n_arr > 1, q * np.asarray(std, dtype=float) / np.sqrt(n_arr), np.nan)
    return np.asarray(hw, dtype=float)


def proportion_interval(
    mean: ArrayLike, std: ArrayLike, n: ArrayLike, trials: ArrayLike, level: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Confidence interval in [0, 1] for a share estimated as a mean over replications.

    A Wilson score interval on the *effective sample size* (Korn & Graubard 1998, the
    survey-sampling interval for proportions under clustering): with ``p`` the mean of
    ``n`` replication shares and ``std`` their standard deviation, the effective number
    of independent trials is ``n_eff = p(1-p) / (std**2 / n)`` -- the binomial sample
    that would have the observed between-replication variance -- or, where every
    replication has the same share (``std = 0``, e.g. all at 100%), ``trials``, the
    decided requests behind the shares.  The quantile is Student t with ``n - 1``
    degrees of freedom.  Away from 0 and 1 it matches the t interval; near them it bends
    inwards instead of crossing the bound, and keeps its coverage where the t interval
    loses it (simulated binomial replications: 95-97% at a true 99.5% where the t
    interval covers 91%).  NaN where ``n < 2``: one replication gives no estimate of the
    replication-to-replication variance (its requests are not independent trials).

    Returns
    -------
    (low, high)
        Arrays of the bounds, ``0 <= low <= mean <= high <= 1``.
    """
    p = np.clip(np.asarray(mean, dtype=float), 0.0, 1.0)
    s = np.asarray(std, dtype=float)
    n_arr = np.asarray(n, dtype=float)
    big_n = np.asarray(trials, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        var_mean = s**2 / n_arr
        n_eff = np.where(var_mean > 0, p * (1 - p) / var_mean, big_n)
        z = stats.t.ppf(0.5 + level / 2, n_arr - 1)
        z2n = z**2 / n_eff
        centre = (p + z2n / 2) / (1 + z2n)
        hw = z / (1 + z2n) * np.sqrt(p * (1 - p) / n_eff + z2n / (4 * n_eff))
    ok = (n_arr > 1) & (n_eff > 0)
    low = np.where(ok, np.clip(centre - hw, 0.0, p), np.nan)
    high = np.where(ok, np.clip(centre + hw, p, 1.0), np.nan)
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def summarise(
    per_rep: pd.DataFrame, keys: list[str], value: str, level: float = 0.95
) -> pd.DataFrame:
    """Mean and Student-t CI of ``value`` across replications, per combination of ``keys``.

    Columns ``*keys, mean, replications, halfwidth, ci_low, ci_high`` (symmetric).
    """
    g = per_rep.groupby(keys, observed=True, sort=True)[value]
    out = g.agg(mean="mean", std="std", replications="count").reset_index()
    hw = t_halfwidth(out["std"].fillna(0.0), out["replications"], level)
    out["halfwidth"] = hw
    out["ci_low"] = out["mean"] - hw
    out["ci_high"] = out["mean"] + hw
    return out.drop(columns="std")


def find_rule(scenario: Scenario, name: str | None = None) -> SlaRule:
    """The SLA rule of ``scenario`` called ``name`` (default: its first rule).

    Raises
    ------
    KeyError
        When the scenario has no rule of that name.
    """
    if name is None:
        return scenario.sla[0]
    for r in scenario.sla:
        if r.name == name:
            return r
    raise KeyError(f"no SLA rule named {name!r}")


def summarise_shares(
    per_rep: pd.DataFrame, keys: list[str], value: str, trials: str, level: float = 0.95
) -> pd.DataFrame:
    """:func:`summarise` for shares: the same columns, with the interval of
    :func:`proportion_interval` (within [0, 1]) and ``halfwidth`` half its width.

    ``per_rep`` has one row per replication and group, the share in ``value`` (rows
    without one are dropped) and the decided requests behind it in ``trials``.
    """
    decided = per_rep.dropna(subset=[value])
    out = summarise(decided, keys, value, level)
    g = decided.groupby(keys, observed=True, sort=True)
    extra = pd.DataFrame({"_std": g[value].std().fillna(0.0), "_trials": g[trials].sum()})
    out = out.merge(extra.reset_index(), on=keys, how="left")
    low, high = proportion_interval(out["mean"], out["_std"],
                                    out["replications"], out["_trials"], level)
    out["ci_low"], out["ci_high"] = low, high
    out["halfwidth"] = (high - low) / 2
    return out.drop(columns=["_std", "_trials"])


Codes = NDArray[np.signedinteger[Any]]
"""Group codes of requests (-1: no group), in the smallest signed integer type that holds
them: a run keeps one array per breakdown, so ``int8`` instead of ``int64`` saves 7 bytes
a request each.  Arithmetic on them casts to ``int64`` first."""


def _small(codes: NDArray[np.integer[Any]], n: int) -> Codes:
    """``codes`` (``-1 <= code < n``) in the smallest signed type that holds them."""
    for kind in (np.int8, np.int16, np.int32):
        if n <= np.iinfo(kind).max:
            return np.asarray(codes, dtype=kind)
    return np.asarray(codes, dtype=np.int64)


def _codes(column: pd.Series) -> tuple[Codes, list[object]]:
    """Integer codes and their labels (category order for categoricals, else sorted)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        labels = list(column.cat.categories)
        return _small(np.asarray(column.cat.codes), len(labels)), labels
    values, codes = np.unique(column.to_numpy(), return_inverse=True)
    return _small(codes.ravel(), len(values)), list(values)


def _group_quantiles(
    rep: NDArray[np.generic], codes: Codes, t: NDArray[np.float64],
    q: NDArray[np.float64], rep_codes: Codes | None = None,
) -> pd.DataFrame:
    """Quantiles ``q`` of ``t`` per (replication, group code), as pandas' grouped
    ``quantile`` computes them (linear interpolation, ``a + (b - a) * frac``: equal to
    the last bit), from the order statistics each needs (``np.partition`` per group, in
    linear time) instead of a groupby or a sort.  ``rep_codes``: integer codes of
    ``rep`` in the same order as its values, if already known.

    Columns ``replication, quantile, value`` and ``first`` (a row of ``t`` in the group,
    to label it by), sorted by replication, group, quantile.
    """
    if rep_codes is None:
        rep_codes = np.unique(rep, return_inverse=True)[1].ravel()
    n_groups = int(codes.max()) + 1
    key = rep_codes.astype(np.int64) * n_groups + codes
    # rows grouped by key (16-bit keys sort by radix, in linear time)
    order = np.argsort(key.astype(np.int16) if key.max() < 2**15 else key, kind="stable")
    per_key = np.bincount(key)
    sizes = per_key[per_key > 0]
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    ts = t[order]
    pos = q[None, :] * (sizes[:, None] - 1)
    lo = np.floor(pos).astype(np.int64)
    frac = pos - lo
    hi = np.minimum(lo + 1, sizes[:, None] - 1)
    a = np.empty(lo.shape)
    b = np.empty(lo.shape)
    for g, (begin, size) in enumerate(zip(starts.tolist(), sizes.tolist(), strict=True)):
        part = ts[begin:begin + size]
        part.partition(np.union1d(lo[g], hi[g]))  # in place: ts is this function's copy
        a[g], b[g] = part[lo[g]], part[hi[g]]
    first = order[starts]
    return pd.DataFrame({
        "replication": rep[first].repeat(len(q)),
        "quantile": np.tile(q, len(starts)),
        "value": (a + (b - a) * frac).ravel(),
        "first": first.repeat(len(q)),
    })


@dataclass(frozen=True)
class StageCounts:
    """Counts behind one outcome's compliance, per replication (row) and group (column):
    ``met`` (requests meeting the target), ``decided`` (met or missed) and ``unknown``
    (censored: still open, deadline after the horizon)."""

    met: NDArray[Any]
    decided: NDArray[Any]
    unknown: NDArray[Any]


def compliance_table(
    groups: Sequence[object], counts: dict[str, StageCounts], rule: str, clock: str,
    by: str | None, level: float = 0.95,
) -> pd.DataFrame:
    """The table of :meth:`ExperimentResult.compliance` from its counts (see there)."""
    frames = []
    for stage in OUTCOMES:
        c = counts[stage]
        hits, count, unknown = c.met, c.decided, c.unknown
        with np.errstate(invalid="ignore", divide="ignore"):
            per_rep = np.where(count > 0, hits / count, np.nan)
        n = (count > 0).sum(axis=0)
        keep = n > 0
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(per_rep, axis=0)
            std = np.where(n > 1, np.nanstd(per_rep, axis=0, ddof=1), 0.0)
        trials = count.sum(axis=0)
        low, high = proportion_interval(mean, std, n, trials, level)
        frames.append(pd.DataFrame({
            "stage": stage,
            "group": np.asarray(groups, dtype=object)[keep],
            "mean": mean[keep],
            "halfwidth": ((high - low) / 2)[keep],
            "ci_low": low[keep],
            "ci_high": high[keep],
            "replications": n[keep],
            "requests": trials[keep],
            "unknown": unknown.sum(axis=0)[keep].astype(np.int64),
        }))
    table = pd.concat(frames, ignore_index=True)
    table.insert(0, "rule", rule)
    table.insert(1, "clock", clock)
    table.insert(3, "by", by or "all")
    table["group"] = table["group"].astype(str)
    return table


def utilisation_table(load: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """The table of :meth:`ExperimentResult.utilisation` from stacked load frames."""
    rostered = {"rostered_min", "overtime_min"} <= set(load.columns)
    sums = ["busy_min", "on_duty_min", "queue_min", "observed_min"]
    sums += ["rostered_min", "overtime_min"] if rostered else []
    other = rostered and "other_min" in load.columns
    sums += ["other_min"] if other else []
    whole = load.groupby(["replication", "pool", "kind", "scope"], observed=True)[
        sums].sum().reset_index()
    whole["hour"] = "all"
    both = pd.concat([load.assign(hour=load["hour"].astype(str)), whole], ignore_index=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        if rostered:
            work = (both["busy_min"] - both["overtime_min"]).clip(lower=0)
            both["utilisation"] = np.where(both["rostered_min"] > 0,
                                           work / both["rostered_min"], np.nan)
            both["overtime"] = both["overtime_min"] / both["observed_min"]
            if other:
                both["other_work"] = np.where(both["rostered_min"] > 0, np.minimum(
                    both["other_min"], both["rostered_min"]) / both["rostered_min"],
                    np.nan)
                both["idle"] = (1.0 - both["utilisation"] - both["other_work"]).clip(
                    lower=0.0)
        else:
            both["utilisation"] = np.where(both["on_duty_min"] > 0,
                                           both["busy_min"] / both["on_duty_min"], np.nan)
            both["overtime"] = np.nan
        both["queue_length"] = both["queue_min"] / both["observed_min"]
        both["on_duty"] = both["on_duty_min"] / both["observed_min"]
    keys = ["pool", "kind", "scope", "hour"]
    index = both[keys].drop_duplicates().set_index(keys).index
    parts = []
    metrics = ["utilisation", "overtime", "queue_length", "on_duty"]
    metrics += ["other_work", "idle"] if other else []
    for metric in metrics:
        s = summarise(both.dropna(subset=[metric]), keys, metric, level)
        s = s.drop(columns=["replications"]).rename(columns={
            "mean": metric, "halfwidth": f"{metric}_halfwidth",
            "ci_low": f"{metric}_ci_low", "ci_high": f"{metric}_ci_high"})
        parts.append(s.set_index(keys).reindex(index))
    table = pd.concat(parts, axis=1).reset_index()
    order = {str(h): h for h in range(24)} | {"all": 24}
    table["_h"] = table["hour"].map(order)
    return table.sort_values(["pool", "_h"]).drop(columns="_h").reset_index(drop=True)


# --------------------------------------------------------------------------- experiment
@dataclass
class ExperimentResult:
    """Replications of one scenario, with the tables analysts and reports read.

    Attributes
    ----------
    requests, pools, load, backlog:
        The :class:`SimulationResult` frames of all replications, stacked (column
        ``replication`` tells them apart).
    """

    scenario: Scenario
    seed: int
    requests: pd.DataFrame
    pools: pd.DataFrame
    load: pd.DataFrame
    backlog: pd.DataFrame
    _outcomes: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict, repr=False)
    # tables already computed (the frames are not changed once built): several writers
    # and the terminal summary ask for the same ones
    _memo: dict[tuple[object, ...], object] = field(default_factory=dict, repr=False)

    @classmethod
    def from_results(
        cls, scenario: Scenario, seed: int, results: Sequence[SimulationResult]
    ) -> ExperimentResult:
        """Stack the frames of finished replications."""
        if not results:
            raise ValueError("no replications to combine")
        if len(results) == 1:  # one replication: its frames as they are, no copy
            one = results[0]
            return cls(scenario, seed, one.requests, one.pools, one.load, one.backlog)
        return cls(
            scenario,
            seed,
            pd.concat([r.requests for r in results], ignore_index=True),
            pd.concat([r.pools for r in results], ignore_index=True),
            pd.concat([r.load for r in results], ignore_index=True),
            pd.concat([r.backlog for r in results], ignore_index=True),
        )

    @property
    def replications(self) -> int:
        """Number of replications (those with a pool table: a run may measure nothing)."""
        frame = self.pools if len(self.pools) else self.requests
        return int(frame["replication"].nunique()) if len(frame) else 0

    def _fresh_memo(self) -> dict[tuple[object, ...], object]:
        """The memo of computed tables, emptied if a frame was replaced since."""
        frames = self._memo.get(("frames",))
        if not (isinstance(frames, tuple) and frames[0] is self.requests
                and frames[1] is self.load):
            self._memo.clear()
            self._outcomes.clear()
            self._memo[("frames",)] = (self.requests, self.load)
        return self._memo

    @property
    def measured(self) -> pd.DataFrame:
        """Requests created after the warm-up: the ones statistics are computed on."""
        key: tuple[object, ...] = ("measured",)
        if key not in self._fresh_memo():
            req = self.requests
            keep = req["created_min"].to_numpy(dtype=float) >= self.scenario.run.warmup_min
            rows = np.flatnonzero(keep)
            if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
                # one block of rows (a replication's requests come in order of arrival):
                # a slice, which shares the columns instead of copying them
                self._memo[key] = req.iloc[int(rows[0]):int(rows[-1]) + 1]
            else:
                self._memo[key] = req[keep]
        out: pd.DataFrame = self._memo[key]  # type: ignore[assignment]
        return out

    def _measured_codes(self, column: str | None) -> tuple[Codes, list[object]]:
        """:func:`_codes` of a column of :attr:`measured` (``None``: one group, ``all``)."""
        key: tuple[object, ...] = ("codes", column)
        if key not in self._fresh_memo():
            req = self.measured
            self._memo[key] = (_codes(req[column]) if column else
                               (np.zeros(len(req), dtype=np.int8), ["all"]))
        out: tuple[Codes, list[object]] = self._memo[key]  # type: ignore[assignment]
        return out

    def outcomes(self, rule: str | None = None, clock: str | None = None) -> pd.DataFrame:
        """Per-request stage outcomes under ``rule`` (default: the first rule), after warm-up,
        counted from ``clock`` (``community`` or ``resident``; default the rule's own)."""
        rule_obj = with_clock(self.rule(rule), clock)
        key = (rule_obj.name, rule_obj.clock_from)
        self._fresh_memo()
        if key not in self._outcomes:
            self._outcomes[key] = outcomes(self.measured, rule_obj, self.scenario)
        return self._outcomes[key]

    def rule(self, name: str | None = None) -> SlaRule:
        """The SLA rule called ``name`` (default: the scenario's first rule)."""
        return find_rule(self.scenario, name)

    _rule = rule

    def compliance(
        self, by: str | None = None, rule: str | None = None, level: float = 0.95,
        clock: str | None = None,
    ) -> pd.DataFrame:
        """Share of requests meeting each stage target, mean and CI across replications.

        Parameters
        ----------
        by:
            A request column to break down by (``community_type``, ``street``,
            ``category``, ``hour``, ...) or ``None`` for everything together.
        rule:
            SLA rule name; default the first rule of the scenario.
        clock:
            ``community`` (targets from ``created_min``) or ``resident`` (from
            ``raised_min``); default the rule's ``clock_from``.

        Returns
        -------
        DataFrame
            Columns ``rule, clock, stage, by, group, mean, halfwidth, ci_low, ci_high,
            replications, requests, unknown``.  ``mean`` is the mean of the replications'
            shares; ``ci_low``/``ci_high`` the interval of :func:`proportion_interval`
            (within [0, 1], not symmetric about the mean near 0 or 1) and ``halfwidth``
            half its width, ``(ci_high - ci_low) / 2``.  ``requests`` counts decided
            outcomes and ``unknown`` the censored ones (still open, deadline after the
            horizon), both summed over replications.  Stages the rule switches off and
            groups with no decided outcome have no row.
        """
        # the rule and clock as resolved: the default rule by name or by None is one table
        named = with_clock(self.rule(rule), clock)
        key: tuple[object, ...] = ("compliance", by, named.name, level, named.clock_from)
        if key not in self._fresh_memo():
            self._memo[key] = self._compliance(by, named.name, level, named.clock_from)
        table: pd.DataFrame = self._memo[key]  # type: ignore[assignment]
        return table.copy()

    def _compliance(
        self, by: str | None, rule: str | None, level: float, clock: str | None
    ) -> pd.DataFrame:
        groups, counts = self.compliance_counts(by, rule, clock)
        return compliance_table(groups, counts, self.rule(rule).name,
                                with_clock(self.rule(rule), clock).clock_from, by, level)

    def _outcome_states(
        self, rule: str | None, clock: str | None
    ) -> tuple[Codes, NDArray[np.int64]]:
        """Each measured request's outcomes under ``rule`` and ``clock`` as one small code
        (its pattern of met / decided / unknown over the outcomes), and per code those
        flags (0 or 1; shape codes x outcomes x 3) -- shared by all breakdowns, so each
        breakdown's counts take one ``bincount`` over the requests.  The outcome frame
        is not kept unless :meth:`outcomes` had been asked for it already (it holds ten
        columns a request; the codes one byte or two)."""
        named = with_clock(self.rule(rule), clock)
        key: tuple[object, ...] = ("outcome states", named.name, named.clock_from)
        if key not in self._fresh_memo():
            kept = (named.name, named.clock_from) in self._outcomes
            out = self.outcomes(rule, clock)
            if not kept:
                self._outcomes.pop((named.name, named.clock_from), None)
            code = np.zeros(len(out), dtype=np.int64)
            for i, stage in enumerate(OUTCOMES):
                met = out[stage].to_numpy(dtype=float)  # 1.0 met, 0.0 missed, NaN
                bits = (~np.isnan(met)).astype(np.int64)
                bits |= (met == 1.0).astype(np.int64) << 1
                bits |= out[f"{stage}_unknown"].to_numpy(dtype=bool).astype(np.int64) << 2
                code |= bits << (3 * i)
            if 3 * len(OUTCOMES) <= 20:  # number the patterns present, in linear time
                seen = np.flatnonzero(np.bincount(code, minlength=1))
                lut = np.zeros(int(seen[-1]) + 1 if len(seen) else 1, dtype=np.int64)
                lut[seen] = np.arange(len(seen))
                compact = lut[code]
            else:
                seen, compact = np.unique(code, return_inverse=True)
            shifts = 3 * np.arange(len(OUTCOMES))[:, None] + np.array([1, 0, 2])[None, :]
            flags = (np.asarray(seen, dtype=np.int64)[:, None, None] >> shifts) & 1
            self._memo[key] = (_small(compact.ravel(), len(flags)), flags)
        got: tuple[Codes, NDArray[np.int64]]
        got = self._memo[key]  # type: ignore[assignment]
        return got

    def compliance_counts(
        self, by: str | None = None, rule: str | None = None, clock: str | None = None
    ) -> tuple[list[object], dict[str, StageCounts]]:
        """What :meth:`compliance` is computed from: the groups of ``by`` and, per
        outcome, met / decided / unknown counts per replication (row) and group (column).

        Rows are the replications with a measured request, in order.
        """
        state, flags = self._outcome_states(rule, clock)
        gcodes, groups = self._measured_codes(by)
        rcodes, _ = self._measured_codes("replication")
        n_rep = int(rcodes.max()) + 1 if len(rcodes) else 0
        n_grp = len(groups)
        n_states = len(flags)
        size = n_rep * n_grp
        # requests per (replication, group, outcome pattern), then per pattern its flags
        per_state = np.bincount((rcodes.astype(np.int64) * n_grp + gcodes) * n_states + state,
                                minlength=size * n_states).reshape(size, n_states)
        totals = (per_state @ flags.reshape(n_states, 3 * len(OUTCOMES))).reshape(
            n_rep, n_grp, len(OUTCOMES), 3)
        counts = {}
        for i, stage in enumerate(OUTCOMES):
            counts[stage] = StageCounts(totals[:, :, i, 0].astype(np.float64),
                                        totals[:, :, i, 1].astype(np.int64),
                                        totals[:, :, i, 2].astype(np.float64))
        return groups, counts

    def compliance_tables(
        self, breakdowns: Iterable[str | None] = DEFAULT_BREAKDOWNS
    ) -> pd.DataFrame:
        """:meth:`compliance` for every rule, on both clocks (the rule's own first), and
        every breakdown, stacked; the ``clock`` column tells the clocks apart."""
        return pd.concat(
            [self.compliance(by, r.name, clock=c) for r in self.scenario.sla
             for c in sorted(CLOCKS, key=lambda c: c != r.clock_from) for by in breakdowns],
            ignore_index=True,
        )

    def clock_comparison(
        self, rule: str | None = None, channel: str = "hotline_12345"
    ) -> pd.DataFrame:
        """Compliance of ``channel``'s requests on both clocks, one row per outcome.

        Columns ``stage, community, resident`` (mean shares) and ``requests_community,
        requests_resident, unknown_community, unknown_resident``; empty when the channel
        has no measured request.  On the resident clock the transfer to the community
        counts against the target, and tickets still in transit at the horizon count.
        """
        parts = []
        for clock in CLOCKS:
            t = self.compliance("channel", rule, clock=clock)
            t = t[t["group"] == channel].set_index("stage")
            parts.append(t[["mean", "requests", "unknown"]].rename(
                columns={"mean": clock, "requests": f"requests_{clock}",
                         "unknown": f"unknown_{clock}"}))
        wide = pd.concat(parts, axis=1, join="inner")
        order = [s for s in OUTCOMES if s in wide.index]
        return wide.loc[order].reset_index()

    def stage_percentiles(
        self, by: str | None = "community_type", q: Sequence[float] = (0.5, 0.9, 0.95)
    ) -> pd.DataFrame:
        """Percentiles of minutes from arrival to each stage, mean and CI over replications.

        Only requests that reached the stage count, so for heavily censored stages these
        are optimistic; the ``reached`` column says how many there were.  ``finish`` is
        for routine requests only (as in the 4-hour target).  No request reached any
        stage (nothing measured): an empty table with the same columns.
        """
        req = self.measured
        # "finish" is the routine requests' target; complex ones close days after a plan
        routine = ~req["complex"].to_numpy(dtype=bool)
        group = req[by] if by else pd.Series("all", index=req.index)
        gcodes, labels = self._measured_codes(by)
        rcodes, _ = self._measured_codes("replication")
        rep = req["replication"].to_numpy()
        qs = np.asarray(q, dtype=float)
        frames = []
        for st in STAGE_TABLE:
            stage = st.name
            t = stage_time(req, st)
            keep = ~np.isnan(t) & (gcodes >= 0)
            if stage == FINISH.name:
                keep &= routine
            if not keep.any():
                continue
            rows = np.flatnonzero(keep)
            per_rep = _group_quantiles(rep[rows], gcodes[rows], t[rows], qs, rcodes[rows])
            starts = per_rep.pop("first").to_numpy()
            per_rep.insert(1, "group", group.iloc[rows[starts]].to_numpy())
            s = summarise(per_rep, ["group", "quantile"], "value")
            counts = np.bincount(gcodes[keep], minlength=len(labels))
            reached = pd.Series(counts[counts > 0],
                                index=pd.Index(labels)[counts > 0],
                                name="reached")
            s = s.merge(reached, left_on="group", right_index=True)
            s.insert(0, "stage", stage)
            frames.append(s)
        if not frames:
            return pd.DataFrame({c: pd.Series(dtype=object if c in ("stage", "by", "group")
                                              else float) for c in PERCENTILE_COLUMNS})
        table = pd.concat(frames, ignore_index=True)
        table.insert(1, "by", by or "all")
        table["group"] = table["group"].astype(str)
        return table[list(PERCENTILE_COLUMNS)]

    def utilisation(self, level: float = 0.95) -> pd.DataFrame:
        """Per pool and hour of day (and ``all``): staff load, mean and CI across replications.

        Columns (each with ``_halfwidth``, ``_ci_low``, ``_ci_high``):

        * ``utilisation`` -- busy share of the staff *rostered*:
          ``(busy_min - overtime_min) / rostered_min``; NaN (off duty) where nobody is
          rostered.  Runs saved without ``rostered_min``/``overtime_min`` fall back to
          busy minutes over on-duty minutes (on-duty counting people finishing a job
          after their shift).
        * ``other_work`` -- share of the staff rostered on work that is not requests
          (scheduled blocks, interruptions: ``other_min / rostered_min``), and ``idle``
          -- the rest, ``1 - utilisation - other_work`` (both only for runs that record
          ``other_min``), so requests / other work / idle add up to the rostered time;
        * ``overtime`` -- mean number of staff still busy after their shift ended
          (``overtime_min / observed_min``; NaN for runs saved without it);
        * ``queue_length`` -- mean requests waiting for the pool;
        * ``on_duty`` -- mean staff on duty.

        A request offered to several tiers at once (borrowing, escalation) waits in each
        of their queues, so it counts in each pool's queue length: do not add queue
        lengths across tiers.
        """
        key: tuple[object, ...] = ("utilisation", level)
        if key not in self._fresh_memo():
            self._memo[key] = self._utilisation(level)
        table: pd.DataFrame = self._memo[key]  # type: ignore[assignment]
        return table.copy()

    def _utilisation(self, level: float) -> pd.DataFrame:
        return utilisation_table(self.load, level)

    def _unknown_joint(self) -> int:
        """Measured requests whose joint outcome under the first rule is unknown."""
        state, flags = self._outcome_states(None, None)
        return int(flags[:, OUTCOMES.index(JOINT), 2][state].sum())

    def censored(self) -> dict[str, int]:
        """Requests still open at the horizon, those of them still in transit (raised, not
        yet transferred to the community), and outcomes unknown (all replications)."""
        req = self.requests
        transit = req["in_transit"] if "in_transit" in req else pd.Series(False, req.index)
        return {
            "open_requests": int(req["finished_min"].isna().sum()),
            "in_transit": int(transit.sum()),
            "unknown_outcomes": self._unknown_joint(),
        }
