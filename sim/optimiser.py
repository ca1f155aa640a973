"""Cheapest staffing whose lower confidence bounds meet the 2341 targets.

The search works on integer levers (shift headcounts) within given ranges:

1. **Start** from an analytic estimate (Erlang C per pool shift, :mod:`sim.analytic`),
   clipped to the ranges.
2. **Climb** while the point is infeasible: evaluate every one-step increase and take the
   one that removes the most shortfall per unit of cost.
3. **Descend** while a cheaper neighbour is feasible: evaluate every one-step decrease
   not already known to be infeasible and take the largest saving.
4. **Confirm** the chosen point with fresh replications (another root seed); if it fails
   there, climb again from it.

A point is *feasible* when, for every community type (or overall), every targeted
stage's one-sided lower confidence bound across replications is at least its target.
Monotonicity (more staff never hurts, under common random numbers) lets the search skip
any point below a known infeasible one; every point is simulated with the same
replication seeds, so comparisons are paired.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.analytic import shift_estimate
from sim.config import Scenario
from sim.executors import Executor, make_executor
from sim.levers import _child, apply
from sim.sweeps import Point, run_points, staffing_cost_per_week

CONFIRM_SEED_OFFSET = 1_000_003


@dataclass
class Evaluation:
    """One staffing point: cost, per-group lower bounds and feasibility."""

    values: tuple[int, ...]
    cost: float
    feasible: bool
    shortfall: float
    table: pd.DataFrame
    replications: int
    phase: str


@dataclass
class OptimizeResult:
    """The chosen staffing, its confirmation and everything explored on the way."""

    levers: list[str]
    best: Evaluation | None
    confirmation: Evaluation | None
    evaluations: list[Evaluation] = field(default_factory=list)
    replications_run: int = 0
    start: tuple[int, ...] = ()
    first_choice: tuple[int, ...] | None = None
    """The search's answer before confirmation (what a grid search would also pick)."""

    @property
    def confirmed(self) -> bool:
        return self.confirmation is not None and self.confirmation.feasible

    def frontier(self) -> pd.DataFrame:
        """Every point explored: cost, feasibility, worst margin, Pareto flag."""
        rows = []
        for e in self.evaluations:
            row: dict[str, Any] = dict(zip(self.levers, e.values, strict=True))
            row.update(weekly_cost=e.cost, feasible=e.feasible, shortfall=e.shortfall,
                       worst_margin=float(e.table["margin"].min()), phase=e.phase,
                       replications=e.replications)
            rows.append(row)
        df = pd.DataFrame(rows).sort_values(["weekly_cost", "worst_margin"])
        best_margin = -math.inf
        pareto = []
        for m in df["worst_margin"]:
            pareto.append(m > best_margin)
            best_margin = max(best_margin, m)
        df["pareto"] = pareto
        return df.reset_index(drop=True)


def lower_bounds(tidy: pd.DataFrame, targets: Mapping[str, float], confidence: float,
                 by_type: bool) -> pd.DataFrame:
    """One-sided lower confidence bound per group x targeted stage, and its margin."""
    d = tidy[tidy["stage"].isin(list(targets))]
    d = d[(d["community_type"] != "all")] if by_type else d[d["community_type"] == "all"]
    g = d.dropna(subset=["compliance"]).groupby(["community_type", "stage"], observed=True)
    s = g["compliance"].agg(["mean", "std", "count"]).reset_index()
    q = stats.t.ppf(confidence, np.maximum(s["count"] - 1, 1))
    s["lcb"] = s["mean"] - np.where(s["count"] > 1, q * s["std"].fillna(0) / np.sqrt(s["count"]),
                                    np.inf)
    s["target"] = s["stage"].map(targets)
    s["margin"] = s["lcb"] - s["target"]
    return s


def _lever_bounds(scenario: Scenario, path: str) -> None:
    """Raise a clear error unless ``path`` names a shift headcount."""
    from sim.config import ScenarioError, resolved_dict

    data = resolved_dict(scenario)
    tokens = path.split(".")
    if tokens[0] != "staff" or len(tokens) not in (3, 5):
        raise ScenarioError(f"--levers {path}: optimiser levers are shift headcounts, "
                            "e.g. staff.technicians.day")
    try:
        pools, i = _child(data["staff"], tokens[1], "staff")
        _child(pools[i]["shifts"], tokens[2] if len(tokens) == 3 else tokens[3],
               f"staff.{tokens[1]}.shifts")
    except KeyError as err:
        raise ScenarioError(f"--levers {path}: {err.args[0]}") from None


def analytic_start(scenario: Scenario, levers: Mapping[str, Sequence[int]],
                   targets: Mapping[str, float]) -> tuple[int, ...]:
    """Erlang C estimate for each lever, clipped to its range."""
    from sim.config import resolved_dict

    data = resolved_dict(scenario)
    start = []
    for path, values in levers.items():
        tokens = path.split(".")
        _, i = _child(data["staff"], tokens[1], "staff")
        pool = scenario.staff[i]
        shift = tokens[2] if len(tokens) == 3 else tokens[3]
        est = shift_estimate(scenario, pool, shift, targets)
        start.append(int(min(max(est, min(values)), max(values))))
    return tuple(start)


def optimize(
    scenario: Scenario,
    levers: Mapping[str, Sequence[int]],
    targets: Mapping[str, float],
    confidence: float = 0.95,
    replications: int = 10,
    seed: int | None = None,
    jobs: int | None = None,
    dask: str | None = None,
    by_type: bool = True,
    start: Sequence[int] | None = None,
    progress: Callable[[str], None] | None = None,
) -> OptimizeResult:
    """Find the cheapest staffing meeting ``targets`` with ``confidence``.

    Parameters
    ----------
    levers:
        Shift-headcount paths (``staff.technicians.day``) -> allowed values.
    targets:
        Stage -> minimum share, e.g. ``{"respond": 0.95, "onsite": 0.95}``.
    confidence:
        One-sided confidence of the lower bounds that must meet the targets.
    by_type:
        Every community type must meet the targets (default) or only all together.
    start:
        Starting point; default the analytic Erlang C estimate.
    """
    seed = scenario.run.seed if seed is None else seed
    names = list(levers)
    for path in names:
        _lever_bounds(scenario, path)
    ranges = {k: sorted(int(v) for v in vals) for k, vals in levers.items()}
    lo = tuple(r[0] for r in ranges.values())
    hi = tuple(r[-1] for r in ranges.values())
    x0 = tuple(start) if start is not None else analytic_start(scenario, ranges, targets)
    result = OptimizeResult(names, None, None, start=x0)
    cache: dict[tuple[int, ...], Evaluation] = {}
    infeasible: list[tuple[int, ...]] = []
    executor = make_executor(jobs, dask)

    def say(msg: str) -> None:
        if progress:
            progress(msg)

    def evaluate(points: list[tuple[int, ...]], phase: str, use_seed: int = seed,
                 record: bool = True) -> list[Evaluation]:
        new = [p for p in dict.fromkeys(points) if p not in cache or not record]
        runs = [Point(i, dict(zip(names, p, strict=True)),
                      apply(scenario, dict(zip(names, p, strict=True)), "--levers"))
                for i, p in enumerate(new)]
        if runs:
            run_points(runs, use_seed, replications, executor)
            result.replications_run += replications * len(runs)
        out = {}
        for p, pt in zip(new, runs, strict=True):
            tidy = pt.tidy()
            lcb = lower_bounds(tidy, targets, confidence, by_type)
            shortfall = float(np.clip(-lcb["margin"], 0, None).sum())
            ev = Evaluation(p, staffing_cost_per_week(pt.scenario), bool((lcb["margin"] >= 0)
                            .all()), shortfall, lcb, replications, phase)
            out[p] = ev
            if record:
                cache[p] = ev
                result.evaluations.append(ev)
                if not ev.feasible:
                    infeasible.append(p)
        return [out[p] if p in out else cache[p] for p in points]

    def known_infeasible(p: tuple[int, ...]) -> bool:
        return any(all(a <= b for a, b in zip(p, z, strict=True)) for z in infeasible)

    def climb(x: tuple[int, ...]) -> tuple[int, ...] | None:
        ex = evaluate([x], "start" if not cache else "climb")[0]
        while not ex.feasible:
            ups = [tuple(v + (j == i) for j, v in enumerate(x)) for i in range(len(x))
                   if x[i] < hi[i]]
            if not ups:
                return None
            evs = evaluate(ups, "climb")
            gain = [(ex.shortfall - e.shortfall) / max(e.cost - ex.cost, 1e-9) for e in evs]
            best = int(np.argmax(gain))
            if evs[best].feasible:
                x, ex = ups[best], evs[best]
                break
            x, ex = ups[best], evs[best]
            say(f"climb to {dict(zip(names, x, strict=True))}: shortfall {ex.shortfall:.3f}")
        return x

    def descend(x: tuple[int, ...]) -> tuple[int, ...]:
        while True:
            downs = [tuple(v - (j == i) for j, v in enumerate(x)) for i in range(len(x))
                     if x[i] > lo[i]]
            downs = [d for d in downs if not known_infeasible(d)]
            if not downs:
                return x
            evs = [e for e in evaluate(downs, "descend") if e.feasible]
            if not evs:
                return x
            cheapest = min(evs, key=lambda e: (e.cost, -e.table["margin"].min()))
            x = cheapest.values
            say(f"descend to {dict(zip(names, x, strict=True))}: cost {cheapest.cost:.0f}")

    try:
        say(f"analytic start {dict(zip(names, x0, strict=True))}")
        x: tuple[int, ...] | None = x0
        for _ in range(3):
            assert x is not None
            x = climb(x)
            if x is None:
                say("no staffing within the lever ranges meets the targets")
                return result
            x = descend(x)
            result.best = cache[x]
            if result.first_choice is None:
                result.first_choice = x
            conf = evaluate([x], "confirm", seed + CONFIRM_SEED_OFFSET, record=False)[0]
            result.confirmation = conf
            if conf.feasible:
                say(f"confirmed {dict(zip(names, x, strict=True))} with fresh replications")
                break
            say("confirmation with fresh replications failed; climbing from there")
            infeasible.append(x)
            ups = [tuple(v + (j == i) for j, v in enumerate(x)) for i in range(len(x))
                   if x[i] < hi[i]]
            if not ups:
                break
            x = min(evaluate(ups, "climb"), key=lambda e: (not e.feasible, e.cost)).values
    finally:
        executor.close()
    return result


def grid_search(scenario: Scenario, levers: Mapping[str, Sequence[int]],
                targets: Mapping[str, float], confidence: float = 0.95,
                replications: int = 10, seed: int | None = None, jobs: int | None = None,
                executor: Executor | None = None, by_type: bool = True) -> OptimizeResult:
    """The plain alternative: evaluate every combination, keep the cheapest feasible."""
    from sim.levers import grid

    seed = scenario.run.seed if seed is None else seed
    combos = grid(levers)
    names = list(levers)
    runs = [Point(i, c, apply(scenario, c, "--levers")) for i, c in enumerate(combos)]
    ex = executor or make_executor(jobs)
    try:
        run_points(runs, seed, replications, ex)
    finally:
        if executor is None:
            ex.close()
    result = OptimizeResult(names, None, None, replications_run=replications * len(runs))
    for pt in runs:
        lcb = lower_bounds(pt.tidy(), targets, confidence, by_type)
        values = tuple(int(pt.levers[n]) for n in names)
        result.evaluations.append(Evaluation(
            values, staffing_cost_per_week(pt.scenario), bool((lcb["margin"] >= 0).all()),
            float(np.clip(-lcb["margin"], 0, None).sum()), lcb, replications, "grid"))
    feasible = [e for e in result.evaluations if e.feasible]
    if feasible:
        result.best = min(feasible, key=lambda e: (e.cost, -e.table["margin"].min()))
    return result
