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

import contextlib
import hashlib
import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.analytic import shift_estimate
from sim.binding import HOURLY, Binding, binding, explain_failure, hourly_rows
from sim.config import Scenario, resolved_dict
from sim.executors import Executor, make_executor
from sim.io import atomic_write_frame, atomic_write_text
from sim.levers import _child, apply, is_switch
from sim.rundir import check_resumable, claim_kind, clean_temporary, lock_outdir
from sim.sweeps import Point, main_rows, run_points, staffing_cost_per_week

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
    binding: Binding | None = None
    """The tightest community type x stage (and the hours it fails in, if only some)."""
    hourly: pd.DataFrame | None = field(default=None, repr=False)
    """Per-replication compliance per community type x hour of day (rows of
    :data:`sim.binding.HOURLY`), for saying where a target fails."""


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
    failure: list[str] = field(default_factory=list)
    """When no point in range meets the targets: one line per target still missed at the
    top of every range, saying where it fails and what limits it."""

    @property
    def confirmed(self) -> bool:
        return self.confirmation is not None and self.confirmation.feasible

    def summary(self, targets: Mapping[str, float]) -> dict[str, Any]:
        """The answer as plain data (for ``optimize_result.json`` and reports)."""
        def point(e: Evaluation | None) -> dict[str, Any] | None:
            if e is None:
                return None
            return {"levers": dict(zip(self.levers, e.values, strict=True)),
                    "weekly_cost": e.cost, "feasible": e.feasible,
                    "binding": e.binding.text() if e.binding else None,
                    "binding_margin": e.binding.margin if e.binding else None}
        return {"levers": self.levers, "targets": dict(targets), "best": point(self.best),
                "confirmation": point(self.confirmation), "confirmed": self.confirmed,
                "failure": self.failure, "replications_run": self.replications_run}

    def frontier(self) -> pd.DataFrame:
        """Every point explored: cost, feasibility, worst margin, Pareto flag."""
        rows = []
        for e in self.evaluations:
            row: dict[str, Any] = dict(zip(self.levers, e.values, strict=True))
            row.update(weekly_cost=e.cost, feasible=e.feasible, shortfall=e.shortfall,
                       worst_margin=float(e.table["margin"].min()),
                       binding=e.binding.text() if e.binding else "",
                       binding_margin=e.binding.margin if e.binding else math.nan,
                       phase=e.phase, replications=e.replications)
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
    d = main_rows(tidy)
    d = d[d["stage"].isin(list(targets))]
    d = d[(d["community_type"] != "all")] if by_type else d[d["community_type"] == "all"]
    g = d.dropna(subset=["compliance"]).groupby(["community_type", "stage"], observed=True)
    s = g["compliance"].agg(["mean", "std", "count"]).reset_index()
    q = stats.t.ppf(confidence, np.maximum(s["count"] - 1, 1))
    s["lcb"] = s["mean"] - np.where(s["count"] > 1, q * s["std"].fillna(0) / np.sqrt(s["count"]),
                                    np.inf)
    s["target"] = s["stage"].map(targets)
    s["margin"] = s["lcb"] - s["target"]
    return s


def _evaluation(x: tuple[int, ...], tidy: pd.DataFrame, scenario: Scenario,
                targets: Mapping[str, float], confidence: float, by_type: bool,
                replications: int, phase: str) -> Evaluation:
    """Lower bounds, feasibility, shortfall and binding constraint of one point."""
    lcb = lower_bounds(tidy, targets, confidence, by_type)
    shortfall = float(np.clip(-lcb["margin"], 0, None).sum())
    hourly = hourly_rows(tidy)
    hourly = hourly[hourly["community_type"] != "all"] if by_type else hourly[
        hourly["community_type"] == "all"]
    return Evaluation(x, staffing_cost_per_week(scenario), bool((lcb["margin"] >= 0).all()),
                      shortfall, lcb, replications, phase, binding(lcb, hourly), hourly)


def _lever_bounds(scenario: Scenario, path: str) -> None:
    """Raise a clear error unless ``path`` names a shift headcount."""
    from sim.config import ScenarioError, resolved_dict

    data = resolved_dict(scenario)
    tokens = path.split(".")
    if is_switch(path) and tokens[0] == "interventions":  # an intervention off/on (0/1)
        try:
            _child(data["interventions"], tokens[1], "interventions")
        except KeyError as err:
            raise ScenarioError(f"--levers {path}: {err.args[0]}") from None
        return
    if tokens[0] != "staff" or len(tokens) not in (3, 5):
        raise ScenarioError(f"--levers {path}: optimiser levers are shift headcounts "
                            "or intervention switches, e.g. staff.technicians.day or "
                            "interventions.sheds=0..1")
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
        if is_switch(path):  # an intervention starts off; the climb switches it on
            start.append(int(min(values)))
            continue
        tokens = path.split(".")
        _, i = _child(data["staff"], tokens[1], "staff")
        pool = scenario.staff[i]
        shift = tokens[2] if len(tokens) == 3 else tokens[3]
        est = shift_estimate(scenario, pool, shift, targets)
        start.append(int(min(max(est, min(values)), max(values))))
    return tuple(start)


class EvaluationStore:
    """An optimisation's checkpoints in ``outdir``: every evaluated point, saved at once.

    ``optimize.json`` names the problem (a hash of scenario, levers, targets and settings)
    and the package version; ``evaluations/s<seed>/<values>.parquet`` holds the per
    replication compliance of one staffing point at one root seed (written atomically), so
    a resumed search reads instead of simulating and reaches the same answer.  The folder
    is locked while the store is open.
    """

    def __init__(self, outdir: Path, problem: dict[str, Any]) -> None:
        self.outdir = outdir
        self.key = hashlib.sha256(json.dumps(problem, sort_keys=True, default=str)
                                  .encode()).hexdigest()[:16]
        self._lock = contextlib.ExitStack()

    def open(self, resume: bool) -> None:
        """Lock the folder and check it holds this problem (or none)."""
        from sim import __version__

        self._lock.enter_context(lock_outdir(self.outdir))
        try:
            claim_kind(self.outdir, "optimize")
            clean_temporary(self.outdir)
            manifest = self.outdir / "optimize.json"
            check_resumable(self.outdir, manifest.name, self.key, resume, __version__,
                            "optimisation", "scenario, levers, targets or settings")
            atomic_write_text(manifest, json.dumps(
                {"key": self.key, "sim_version": __version__}, indent=2) + "\n")
        except BaseException:
            self.close()
            raise

    def _file(self, values: tuple[int, ...], seed: int) -> Path:
        return self.outdir / "evaluations" / f"s{seed}" / (
            "-".join(str(v) for v in values) + ".parquet")

    def load(self, values: tuple[int, ...], seed: int) -> pd.DataFrame | None:
        """The saved tidy table of a point, or ``None`` (missing or unreadable)."""
        f = self._file(values, seed)
        if not f.exists():
            return None
        try:
            return pd.read_parquet(f)
        except Exception as e:  # pyarrow raises OSError or ArrowInvalid variants
            warnings.warn(f"{f} is unreadable ({' '.join(str(e).split())[:120]}); "
                          "evaluating that point again", RuntimeWarning, stacklevel=2)
            f.unlink()
            return None

    def save(self, values: tuple[int, ...], seed: int, tidy: pd.DataFrame) -> None:
        atomic_write_frame(self._file(values, seed), tidy)

    def close(self) -> None:
        self._lock.close()


@dataclass
class _Problem:
    """What is being optimised: base scenario, levers and their ranges, targets."""

    scenario: Scenario
    names: list[str]
    ranges: dict[str, list[int]]
    targets: Mapping[str, float]
    confidence: float
    replications: int
    by_type: bool

    @property
    def lo(self) -> tuple[int, ...]:
        return tuple(r[0] for r in self.ranges.values())

    @property
    def hi(self) -> tuple[int, ...]:
        return tuple(r[-1] for r in self.ranges.values())

    def staffing(self, x: tuple[int, ...]) -> dict[str, int]:
        return dict(zip(self.names, x, strict=True))

    def judge(self, x: tuple[int, ...], tidy: pd.DataFrame, scenario: Scenario,
              phase: str) -> Evaluation:
        """Lower bounds, feasibility and shortfall of one simulated point."""
        return _evaluation(x, tidy, scenario, self.targets, self.confidence, self.by_type,
                           self.replications, phase)


class _Search:
    """Search state: evaluations so far, points known infeasible, the result so far."""

    def __init__(self, problem: _Problem, seed: int, executor: Executor,
                 store: EvaluationStore | None, say: Callable[[str], None],
                 start: tuple[int, ...]) -> None:
        self.p, self.seed, self.executor, self.store, self.say = (
            problem, seed, executor, store, say)
        self.cache: dict[tuple[int, ...], Evaluation] = {}
        self.infeasible: list[tuple[int, ...]] = []
        self.result = OptimizeResult(problem.names, None, None, start=start)

    def _tidies(self, xs: list[tuple[int, ...]], seed: int) -> list[tuple[pd.DataFrame,
                                                                            Scenario]]:
        """Per-replication compliance of each point: from the store, else simulated."""
        p = self.p
        scenarios = [apply(p.scenario, p.staffing(x), "--levers") for x in xs]
        saved = [self.store.load(x, seed) if self.store else None for x in xs]
        runs = [Point(i, p.staffing(x), sc) for i, (x, sc, t) in
                enumerate(zip(xs, scenarios, saved, strict=True)) if t is None]
        if runs:
            run_points(runs, seed, p.replications, self.executor, breakdowns=(HOURLY,))
        fresh = iter(runs)
        tidies = []
        for x, t in zip(xs, saved, strict=True):
            if t is None:
                t = next(fresh).tidy()
                if self.store:
                    self.store.save(x, seed, t)
            tidies.append(t)
        self.result.replications_run += p.replications * len(xs)
        return list(zip(tidies, scenarios, strict=True))

    def evaluate(self, points: list[tuple[int, ...]], phase: str) -> list[Evaluation]:
        """Evaluate (once) and record points with the search's seed."""
        new = [x for x in dict.fromkeys(points) if x not in self.cache]
        for x, (tidy, sc) in zip(new, self._tidies(new, self.seed), strict=True):
            ev = self.p.judge(x, tidy, sc, phase)
            self.cache[x] = ev
            self.result.evaluations.append(ev)
            if not ev.feasible:
                self.infeasible.append(x)
        return [self.cache[x] for x in points]

    def confirm(self, x: tuple[int, ...]) -> Evaluation:
        """Evaluate ``x`` with fresh replications (another root seed); not recorded."""
        tidy, sc = self._tidies([x], self.seed + CONFIRM_SEED_OFFSET)[0]
        return self.p.judge(x, tidy, sc, "confirm")

    def explain(self) -> list[str]:
        """Why the top of every range still misses: see :func:`sim.binding.explain_failure`."""
        top = self.p.hi
        ev = self.evaluate([top], "climb")[0]
        scenario = apply(self.p.scenario, self.p.staffing(top), "--levers")
        return explain_failure(scenario, ev.table, ev.hourly, self.p.staffing(top),
                               self.p.targets)

    def known_infeasible(self, x: tuple[int, ...]) -> bool:
        return any(all(a <= b for a, b in zip(x, z, strict=True)) for z in self.infeasible)

    def ups(self, x: tuple[int, ...]) -> list[tuple[int, ...]]:
        hi = self.p.hi
        return [tuple(v + (j == i) for j, v in enumerate(x)) for i in range(len(x))
                if x[i] < hi[i]]

    def downs(self, x: tuple[int, ...]) -> list[tuple[int, ...]]:
        lo = self.p.lo
        return [tuple(v - (j == i) for j, v in enumerate(x)) for i in range(len(x))
                if x[i] > lo[i]]

    def climb(self, x: tuple[int, ...]) -> tuple[int, ...] | None:
        """Add staff, best shortfall reduction per unit cost first, until feasible."""
        ex = self.evaluate([x], "start" if not self.cache else "climb")[0]
        while not ex.feasible:
            ups = self.ups(x)
            if not ups:
                return None
            evs = self.evaluate(ups, "climb")
            gain = [(ex.shortfall - e.shortfall) / max(e.cost - ex.cost, 1e-9) for e in evs]
            best = int(np.argmax(gain))
            x, ex = ups[best], evs[best]
            if ex.feasible:
                break
            self.say(f"climb to {self.p.staffing(x)}: shortfall {ex.shortfall:.3f}")
        return x

    def descend(self, x: tuple[int, ...]) -> tuple[int, ...]:
        """Take the cheapest feasible one-step decrease while there is one."""
        while True:
            downs = [d for d in self.downs(x) if not self.known_infeasible(d)]
            if not downs:
                return x
            evs = [e for e in self.evaluate(downs, "descend") if e.feasible]
            if not evs:
                return x
            cheapest = min(evs, key=lambda e: (e.cost, -e.table["margin"].min()))
            x = cheapest.values
            self.say(f"descend to {self.p.staffing(x)}: cost {cheapest.cost:.0f}")

    def run(self, x0: tuple[int, ...], rounds: int = 3) -> OptimizeResult:
        """Climb, descend and confirm; after a failed confirmation, climb from there."""
        result = self.result
        self.say(f"analytic start {self.p.staffing(x0)}")
        x: tuple[int, ...] | None = x0
        for _ in range(rounds):
            assert x is not None
            x = self.climb(x)
            if x is None:
                self.say("no staffing within the lever ranges meets the targets")
                result.failure = self.explain()
                return result
            x = self.descend(x)
            result.best = self.cache[x]
            if result.first_choice is None:
                result.first_choice = x
            result.confirmation = self.confirm(x)
            if result.confirmation.feasible:
                self.say(f"confirmed {self.p.staffing(x)} with fresh replications")
                break
            self.say("confirmation with fresh replications failed; climbing from there")
            self.infeasible.append(x)
            ups = self.ups(x)
            if not ups:
                break
            x = min(self.evaluate(ups, "climb"), key=lambda e: (not e.feasible, e.cost)).values
        return result


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
    outdir: str | Path | None = None,
    resume: bool = False,
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
    outdir, resume:
        Save every evaluation in ``outdir`` as it finishes (and ``frontier.csv`` at the
        end); with ``resume``, read the evaluations an interrupted search saved there, so
        it reaches the same answer without simulating them again.  The folder is locked
        while the search runs.

    ``replications_run`` counts the replications the search used, including any read
    back from ``outdir``, so a resumed search reports what an uninterrupted one does.
    """
    seed = scenario.run.seed if seed is None else seed
    for path in levers:
        _lever_bounds(scenario, path)
    ranges = {k: sorted(int(v) for v in vals) for k, vals in levers.items()}
    problem = _Problem(scenario, list(levers), ranges, targets, confidence, replications,
                       by_type)
    x0 = tuple(start) if start is not None else analytic_start(scenario, ranges, targets)
    store = None
    if outdir is not None:
        store = EvaluationStore(Path(outdir), {
            "scenario": resolved_dict(scenario), "levers": ranges, "targets": dict(targets),
            "confidence": confidence, "replications": replications, "seed": seed,
            "by_type": by_type, "start": list(x0)})
        store.open(resume)
    say = progress or (lambda _msg: None)
    try:
        executor = make_executor(jobs, dask)
        try:
            result = _Search(problem, seed, executor, store, say, x0).run(x0)
        finally:
            executor.close()
        if store is not None and result.evaluations:
            atomic_write_frame(store.outdir / "frontier.csv", result.frontier())
            atomic_write_text(store.outdir / "optimize_result.json", json.dumps(
                result.summary(targets), indent=2, ensure_ascii=False) + "\n")
    finally:
        if store is not None:
            store.close()
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
        run_points(runs, seed, replications, ex, breakdowns=(HOURLY,))
    finally:
        if executor is None:
            ex.close()
    result = OptimizeResult(names, None, None, replications_run=replications * len(runs))
    for pt in runs:
        values = tuple(int(pt.levers[n]) for n in names)
        result.evaluations.append(_evaluation(values, pt.tidy(), pt.scenario, targets,
                                              confidence, by_type, replications, "grid"))
    feasible = [e for e in result.evaluations if e.feasible]
    if feasible:
        result.best = min(feasible, key=lambda e: (e.cost, -e.table["margin"].min()))
    return result
