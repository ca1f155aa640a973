"""Replications, warm-up, confidence intervals and executors.

Replication ``i`` of a scenario always uses the streams of index ``i`` (see
:mod:`sim.rng`), so results do not depend on how many processes run them or in which
order they finish.  Every statistic is computed per replication first; means and 95%
confidence intervals (Student t) are then taken across replications, the replications
being the independent observations.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from sim.config import Scenario, SlaRule
from sim.model import simulate
from sim.records import SimulationResult
from sim.sla import OUTCOME_STAGES, STAGES, outcomes, stage_times

DEFAULT_BREAKDOWNS: tuple[str | None, ...] = (
    None, "community_type", "community", "category", "channel", "priority", "hour", "weekday",
)


def t_halfwidth(
    std: pd.Series | np.ndarray, n: pd.Series | np.ndarray, level: float = 0.95
) -> np.ndarray:
    """Half-width of a Student-t confidence interval for a mean of ``n`` observations."""
    n_arr = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = stats.t.ppf(0.5 + level / 2, n_arr - 1)
        return np.where(n_arr > 1, q * np.asarray(std, dtype=float) / np.sqrt(n_arr), np.nan)


def summarise(
    per_rep: pd.DataFrame, keys: list[str], value: str, level: float = 0.95
) -> pd.DataFrame:
    """Mean and CI of ``value`` across replications, per combination of ``keys``."""
    g = per_rep.groupby(keys, observed=True, sort=True)[value]
    out = g.agg(mean="mean", std="std", replications="count").reset_index()
    hw = t_halfwidth(out["std"].fillna(0.0), out["replications"], level)
    out["halfwidth"] = hw
    out["ci_low"] = out["mean"] - hw
    out["ci_high"] = out["mean"] + hw
    return out.drop(columns="std")


def _codes(column: pd.Series) -> tuple[np.ndarray, list[object]]:
    """Integer codes and their labels (category order for categoricals, else sorted)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(dtype=np.int64), list(column.cat.categories)
    labels, codes = np.unique(column.to_numpy(), return_inverse=True)
    return codes.astype(np.int64), list(labels)


def run_replications(
    scenario: Scenario,
    replications: Iterable[int],
    seed: int,
    jobs: int = 1,
    on_result: Callable[[SimulationResult], None] | None = None,
    dask: str | None = None,
) -> list[SimulationResult]:
    """Run the given replication indices on the executor for ``jobs`` / ``dask``.

    The executors are those of sweeps (:mod:`sim.executors`): this process, a local
    process pool, or a Dask cluster.  ``on_result`` is called in the parent process as
    each replication finishes (in completion order), so a caller can save work before
    the whole batch is done.  The returned list is in replication order whatever the
    completion order.
    """
    from sim.executors import make_executor

    reps = list(replications)
    done: dict[int, SimulationResult] = {}
    executor = make_executor(max(1, min(jobs, len(reps))), dask)
    try:
        handles = {executor.submit(simulate, scenario, seed, r): r for r in reps}
        for _, res in executor.as_completed(set(handles)):
            done[res.replication] = res
            if on_result:
                on_result(res)
    finally:
        executor.close()
    return [done[r] for r in reps]


@dataclass
class ExperimentResult:
    """Replications of one scenario, with the tables analysts and reports read.

    Attributes
    ----------
    requests, pools, load, backlog:
        The :class:`~sim.records.SimulationResult` frames of all replications, stacked
        (column ``replication`` tells them apart).
    """

    scenario: Scenario
    seed: int
    requests: pd.DataFrame
    pools: pd.DataFrame
    load: pd.DataFrame
    backlog: pd.DataFrame
    _outcomes: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    @classmethod
    def from_results(
        cls, scenario: Scenario, seed: int, results: Sequence[SimulationResult]
    ) -> ExperimentResult:
        if not results:
            raise ValueError("no replications to combine")
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
        return int(self.requests["replication"].nunique()) if len(self.requests) else 0

    @property
    def measured(self) -> pd.DataFrame:
        """Requests created after the warm-up: the ones statistics are computed on."""
        return self.requests[self.requests["created_min"] >= self.scenario.run.warmup_min]

    def outcomes(self, rule: str | None = None) -> pd.DataFrame:
        """Per-request stage outcomes under ``rule`` (default: the first rule), after warm-up."""
        rule_obj = self._rule(rule)
        if rule_obj.name not in self._outcomes:
            self._outcomes[rule_obj.name] = outcomes(self.measured, rule_obj, self.scenario)
        return self._outcomes[rule_obj.name]

    def _rule(self, name: str | None) -> SlaRule:
        if name is None:
            return self.scenario.sla[0]
        for r in self.scenario.sla:
            if r.name == name:
                return r
        raise KeyError(f"no SLA rule named {name!r}")

    def compliance(
        self, by: str | None = None, rule: str | None = None, level: float = 0.95
    ) -> pd.DataFrame:
        """Share of requests meeting each stage target, mean and CI across replications.

        Parameters
        ----------
        by:
            A request column to break down by (``community_type``, ``category``, ``hour``,
            ...) or ``None`` for everything together.
        rule:
            SLA rule name; default the first rule of the scenario.

        Returns
        -------
        DataFrame
            Columns ``rule, stage, by, group, mean, halfwidth, ci_low, ci_high,
            replications, requests, unknown``: ``requests`` counts decided outcomes and
            ``unknown`` the censored ones (still open, deadline after the horizon), both
            summed over replications.
        """
        req = self.measured
        out = self.outcomes(rule)
        if by:
            gcodes, groups = _codes(req[by])
        else:
            gcodes, groups = np.zeros(len(req), dtype=np.int64), ["all"]
        rcodes, _ = _codes(req["replication"])
        n_rep = int(rcodes.max()) + 1 if len(rcodes) else 0
        n_grp = len(groups)
        key = rcodes * n_grp + gcodes
        size = n_rep * n_grp
        frames = []
        for stage in OUTCOME_STAGES:
            met = out[stage].to_numpy(dtype=float)
            ok = ~np.isnan(met)
            hits = np.bincount(key[ok], weights=met[ok], minlength=size).reshape(n_rep, n_grp)
            count = np.bincount(key[ok], minlength=size).reshape(n_rep, n_grp)
            unknown = np.bincount(key, weights=out[f"{stage}_unknown"].to_numpy(dtype=float),
                                  minlength=size).reshape(n_rep, n_grp)
            with np.errstate(invalid="ignore", divide="ignore"):
                per_rep = np.where(count > 0, hits / count, np.nan)
            n = (count > 0).sum(axis=0)
            keep = n > 0
            with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(per_rep, axis=0)
                std = np.where(n > 1, np.nanstd(per_rep, axis=0, ddof=1), 0.0)
            hw = t_halfwidth(std, n, level)
            frames.append(pd.DataFrame({
                "stage": stage,
                "group": np.asarray(groups, dtype=object)[keep],
                "mean": mean[keep],
                "halfwidth": hw[keep],
                "ci_low": (mean - hw)[keep],
                "ci_high": (mean + hw)[keep],
                "replications": n[keep],
                "requests": count.sum(axis=0)[keep],
                "unknown": unknown.sum(axis=0)[keep].astype(np.int64),
            }))
        table = pd.concat(frames, ignore_index=True)
        table.insert(0, "rule", self._rule(rule).name)
        table.insert(2, "by", by or "all")
        table["group"] = table["group"].astype(str)
        return table

    def compliance_tables(
        self, breakdowns: Iterable[str | None] = DEFAULT_BREAKDOWNS
    ) -> pd.DataFrame:
        """:meth:`compliance` for every rule and every breakdown, stacked."""
        return pd.concat(
            [self.compliance(by, r.name) for r in self.scenario.sla for by in breakdowns],
            ignore_index=True,
        )

    def stage_percentiles(
        self, by: str | None = "community_type", q: Sequence[float] = (0.5, 0.9, 0.95)
    ) -> pd.DataFrame:
        """Percentiles of minutes from arrival to each stage, mean and CI over replications.

        Only requests that reached the stage count, so for heavily censored stages these
        are optimistic; the ``reached`` column says how many there were.  ``finish`` is
        for routine requests only (as in the 4-hour target).
        """
        req = self.measured
        times = stage_times(req)
        # "finish" is the routine requests' target; complex ones close days after a plan
        times.loc[req["complex"].to_numpy(dtype=bool), "finish"] = np.nan
        group = req[by] if by else pd.Series("all", index=req.index)
        frames = []
        for stage in STAGES:
            d = pd.DataFrame({"replication": req["replication"].to_numpy(),
                              "group": group.to_numpy(), "t": times[stage].to_numpy()}).dropna()
            if d.empty:
                continue
            g = d.groupby(["replication", "group"], observed=True)["t"]
            per_rep = g.quantile(np.asarray(q)).rename("value").reset_index()
            per_rep = per_rep.rename(columns={per_rep.columns[2]: "quantile"})
            s = summarise(per_rep, ["group", "quantile"], "value")
            reached = d.groupby("group", observed=True)["t"].count().rename("reached")
            s = s.merge(reached, left_on="group", right_index=True)
            s.insert(0, "stage", stage)
            frames.append(s)
        table = pd.concat(frames, ignore_index=True)
        table.insert(1, "by", by or "all")
        table["group"] = table["group"].astype(str)
        return table

    def utilisation(self, level: float = 0.95) -> pd.DataFrame:
        """Per pool and hour of day (and ``all``): busy share of staff on duty, mean queue
        length and mean staff on duty; mean and CI across replications.

        A request offered to several tiers at once (borrowing, escalation) waits in each
        of their queues, so it counts in each pool's queue length: do not add queue
        lengths across tiers.
        """
        load = self.load
        whole = load.groupby(["replication", "pool", "kind", "scope"], observed=True)[
            ["busy_min", "on_duty_min", "queue_min", "observed_min"]].sum().reset_index()
        whole["hour"] = "all"
        both = pd.concat([load.assign(hour=load["hour"].astype(str)), whole], ignore_index=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            both["utilisation"] = np.where(both["on_duty_min"] > 0,
                                           both["busy_min"] / both["on_duty_min"], np.nan)
        both["queue_length"] = both["queue_min"] / both["observed_min"]
        both["on_duty"] = both["on_duty_min"] / both["observed_min"]
        keys = ["pool", "kind", "scope", "hour"]
        parts = []
        for metric in ("utilisation", "queue_length", "on_duty"):
            s = summarise(both.dropna(subset=[metric]), keys, metric, level)
            s = s.drop(columns=["replications"]).rename(columns={
                "mean": metric, "halfwidth": f"{metric}_halfwidth",
                "ci_low": f"{metric}_ci_low", "ci_high": f"{metric}_ci_high"})
            parts.append(s.set_index(keys))
        table = pd.concat(parts, axis=1).reset_index()
        order = {str(h): h for h in range(24)} | {"all": 24}
        table["_h"] = table["hour"].map(order)
        return table.sort_values(["pool", "_h"]).drop(columns="_h").reset_index(drop=True)

    def censored(self) -> dict[str, int]:
        """How many requests are still open at the horizon, per stage (all replications)."""
        req = self.requests
        open_ = {
            "open_requests": int(req["finished_min"].isna().sum()),
            "unknown_outcomes": int(self.outcomes()["joint_unknown"].sum()),
        }
        return open_


def replicate(
    scenario: Scenario,
    replications: int | None = None,
    seed: int | None = None,
    jobs: int = 1,
    on_result: Callable[[SimulationResult], None] | None = None,
    dask: str | None = None,
) -> ExperimentResult:
    """Run ``replications`` independent replications (default: the scenario's).

    Results are identical for any ``jobs``: replication ``i`` always uses the streams of
    index ``i``.
    """
    n = scenario.run.replications if replications is None else replications
    seed = scenario.run.seed if seed is None else seed
    results = run_replications(scenario, range(n), seed, jobs, on_result, dask)
    return ExperimentResult.from_results(scenario, seed, results)
