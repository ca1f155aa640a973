"""Where the next staff should go: greedy marginal allocation under common random numbers.

A *unit* is a community (``over="community"``) or a street (``over="street"``) served by
one run-time pool of the chosen staff kind and matching scope.  Adding ``k`` people to a
unit raises the headcount of one shift of that unit's pool by ``k`` there only: the pool
specification is split, so the unit gets its own copy (named ``<pool>+<unit>``) and every
other unit keeps the original.  Arrivals and work times are drawn from the requests'
own streams, so every allocation sees the same requests (common random numbers).

The search (:func:`allocate`):

1. **Evaluate** the current allocation and every one-step candidate (one more person
   in one unit, or one fewer with ``remove``) with the same replication seeds.
2. **Choose** the candidate with the largest mean paired gain in the objective; the
   candidates whose paired difference from it is not significant are its *ties*.
3. **Guard**: an addition is taken only when its paired gain over the current allocation
   is significant (lower confidence bound above zero); otherwise the search stops and
   says how many people it left unplaced.  A removal is always taken (N must go); the
   table says whether its loss is significant.
4. **Confirm** the final allocation against the starting one on fresh seeds.

Objectives, each a number per replication (their mean is what is raised):

* ``worst_type`` -- the lowest joint 2341 compliance among community types;
* ``zone_wide`` -- the mean of the communities' joint compliance, each counted once;
* ``requests_weighted`` -- the share of all requests meeting every target.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from sim.config import Scenario, ScenarioError, StaffPool, resolved_dict
from sim.executors import Executor, make_executor
from sim.io import atomic_write_frame, atomic_write_text
from sim.rundir import check_resumable, claim_kind, clean_temporary, lock_outdir
from sim.staffing import pool_instances, scenario_weekly_cost
from sim.stages import JOINT

Over = Literal["community", "street"]
Objective = Literal["worst_type", "zone_wide", "requests_weighted"]
OBJECTIVES: tuple[str, ...] = ("worst_type", "zone_wide", "requests_weighted")
CONFIRM_SEED_OFFSET = 2_000_003
Allocation = tuple[tuple[str, int], ...]
"""Changes per unit, sorted by unit name, zero entries left out."""


@dataclass(frozen=True)
class Unit:
    """One place staff can be added: a community or a street, and its pool."""

    name: str
    street: str
    pool: str
    communities: tuple[str, ...]
    headcount: int
    """Headcount of the allocated shift there now."""


@dataclass
class AllocationProblem:
    """The base scenario, the units, the shift that changes and the objective."""

    scenario: Scenario
    kind: str
    over: Over
    shift: str
    units: dict[str, Unit]
    objective: Objective

    def scenario_for(self, alloc: Allocation) -> Scenario:
        """The base scenario with ``alloc`` applied (each changed unit its own pool)."""
        if not alloc:
            return self.scenario
        staff = list(self.scenario.staff)
        moved: dict[str, set[str]] = {}
        extra: list[StaffPool] = []
        for unit_name, delta in alloc:
            u = self.units[unit_name]
            spec = next(p for p in staff if p.name == u.pool)
            shifts = [s.model_copy(update={"headcount": s.headcount + delta})
                      if s.name == self.shift else s for s in spec.shifts]
            extra.append(spec.model_copy(update={
                "name": f"{spec.name}+{u.name}", "communities": list(u.communities),
                "streams_from": spec.streams_from or spec.name,
                "shifts": shifts}))
            moved.setdefault(spec.name, set()).update(u.communities)
        communities = list(self.scenario.expanded_communities())
        served: dict[str, list[str]] = {}
        for _, spec, cs in pool_instances(self.scenario, communities):
            served.setdefault(spec.name, []).extend(c.name for c in cs)
        for i, p in enumerate(staff):
            if p.name in moved:
                staff[i] = p.model_copy(update={"communities": [
                    c for c in dict.fromkeys(served[p.name]) if c not in moved[p.name]]})
        # model_copy skips validation on purpose: filters by stamped name are what the
        # engine reads, and every changed headcount was checked by the caller
        return self.scenario.model_copy(update={"staff": staff + extra})


def find_units(scenario: Scenario, kind: str, over: Over, pool: str | None = None,
               shift: str | None = None) -> tuple[dict[str, Unit], str]:
    """The units of ``kind`` staff over communities or streets, and the shift to change.

    Raises
    ------
    ScenarioError
        When no pool (or several per unit) of that kind and scope serves the units, or the
        shift is not one of the pool's.
    """
    communities = list(scenario.expanded_communities())
    street_of = {c.name: c.street for c in communities}
    units: dict[str, Unit] = {}
    shifts: set[str] = set()
    candidates = [p for p in scenario.staff if p.kind == kind and p.scope == over
                  and (pool is None or p.name == pool)]
    if not candidates:
        pools = ", ".join(f"{p.name} ({p.kind}, {p.scope})" for p in scenario.staff)
        raise ScenarioError(f"--kind {kind} --over {over}"
                            f"{f' --pool {pool}' if pool else ''}: no {over}-scope pool of "
                            f"kind {kind} (pools: {pools})")
    for _, spec, served in pool_instances(scenario, communities):
        if spec not in candidates:
            continue
        name = served[0].name if over == "community" else served[0].street
        if name in units:
            raise ScenarioError(f"--over {over}: {name!r} is served by pools "
                                f"{units[name].pool} and {spec.name}; choose one with --pool")
        chosen = shift or next((s.name for s in spec.shifts if not s.on_call), None)
        match = [s for s in spec.shifts if s.name == chosen]
        if not match:
            names = ", ".join(s.name for s in spec.shifts)
            raise ScenarioError(f"--shift {chosen}: pool {spec.name} has no such shift "
                                f"(shifts: {names})")
        shifts.add(match[0].name)
        units[name] = Unit(name, street_of[served[0].name], spec.name,
                           tuple(c.name for c in served), match[0].headcount)
    if len(shifts) != 1:
        raise ScenarioError(f"--pool: the units' pools have different first shifts "
                            f"({', '.join(sorted(shifts))}); name one with --shift")
    return units, shifts.pop()


def replication_table(scenario: Scenario, seed: int, replication: int) -> pd.DataFrame:
    """One replication's joint compliance per community, community type and overall.

    Columns ``replication, level, group, compliance, requests``.
    """
    from sim.experiment import ExperimentResult
    from sim.model import simulate

    exp = ExperimentResult.from_results(scenario, seed, [simulate(scenario, seed,
                                                                  replication)])
    parts = []
    for level, by in (("all", None), ("community_type", "community_type"),
                      ("community", "community")):
        t = exp.compliance(by)
        t = t[t["stage"] == JOINT]
        parts.append(pd.DataFrame({"level": level, "group": t["group"].astype(str),
                                   "compliance": t["mean"].astype(float),
                                   "requests": t["requests"].astype(np.int64)}))
    out = pd.concat(parts, ignore_index=True)
    out.insert(0, "replication", replication)
    return out


def objective_values(table: pd.DataFrame, objective: Objective) -> pd.Series:
    """The objective per replication of a stack of :func:`replication_table` frames."""
    if objective == "worst_type":
        d = table[table["level"] == "community_type"]
        return d.groupby("replication")["compliance"].min()
    if objective == "zone_wide":
        d = table[table["level"] == "community"]
        return d.groupby("replication")["compliance"].mean()
    if objective == "requests_weighted":
        d = table[table["level"] == "all"]
        return d.set_index("replication")["compliance"]
    raise ValueError(f"unknown objective {objective!r} (one of {', '.join(OBJECTIVES)})")


def paired(a: pd.Series, b: pd.Series, confidence: float) -> tuple[float, float, float]:
    """Mean of ``a - b`` over shared replications and its two-sided t interval."""
    d = (a - b).dropna()
    n = len(d)
    mean = float(d.mean()) if n else float("nan")
    if n < 2:
        return mean, float("-inf"), float("inf")
    hw = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * d.std(ddof=1) / np.sqrt(n))
    return mean, mean - hw, mean + hw


def key_of(alloc: Allocation) -> str:
    """A short, file-safe name of an allocation."""
    text = json.dumps(alloc)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plus(alloc: Allocation, unit: str, delta: int) -> Allocation:
    """``alloc`` with ``delta`` more in ``unit``."""
    d = dict(alloc)
    d[unit] = d.get(unit, 0) + delta
    return tuple(sorted((k, v) for k, v in d.items() if v != 0))


def describe(alloc: Allocation) -> str:
    """``Suncun +2, Juyehe +1`` (largest first), or ``none``."""
    if not alloc:
        return "none"
    return ", ".join(f"{u} {v:+d}" for u, v in sorted(alloc, key=lambda x: (-abs(x[1]), x[0])))


class _Evaluator:
    """Simulates allocations (in parallel), caches them, and stores them in ``outdir``."""

    def __init__(self, problem: AllocationProblem, replications: int, executor: Executor,
                 outdir: Path | None, say: Callable[[str], None]) -> None:
        self.p, self.replications, self.executor = problem, replications, executor
        self.outdir, self.say = outdir, say
        self.cache: dict[tuple[Allocation, int], pd.DataFrame] = {}
        self.replications_run = 0

    def _file(self, alloc: Allocation, seed: int) -> Path | None:
        if self.outdir is None:
            return None
        return self.outdir / "evaluations" / f"s{seed}" / f"{key_of(alloc)}.parquet"

    def tables(self, allocs: list[Allocation], seed: int) -> list[pd.DataFrame]:
        """Per-replication tables of ``allocs`` at ``seed``: cached, saved or simulated."""
        todo = []
        for a in dict.fromkeys(allocs):
            if (a, seed) in self.cache:
                continue
            f = self._file(a, seed)
            if f is not None and f.exists():
                self.cache[a, seed] = pd.read_parquet(f)
                continue
            todo.append(a)
        handles: dict[Any, tuple[Allocation, int]] = {}
        results: dict[Allocation, dict[int, pd.DataFrame]] = {a: {} for a in todo}
        for a in todo:
            sc = self.p.scenario_for(a)
            for r in range(self.replications):
                handles[self.executor.submit(replication_table, sc, seed, r)] = (a, r)
        for h, table in self.executor.as_completed(set(handles)):
            a, r = handles.pop(h)
            results[a][r] = table
            if len(results[a]) == self.replications:
                frame = pd.concat([results[a][i] for i in range(self.replications)],
                                  ignore_index=True)
                self.cache[a, seed] = frame
                f = self._file(a, seed)
                if f is not None:
                    atomic_write_frame(f, frame)
        self.replications_run += self.replications * len(todo)
        return [self.cache[a, seed] for a in allocs]

    def objective(self, alloc: Allocation, seed: int) -> pd.Series:
        return objective_values(self.tables([alloc], seed)[0], self.p.objective)


@dataclass
class AllocationResult:
    """Steps taken, every candidate considered, and the confirmation on fresh seeds."""

    problem: AllocationProblem
    mode: Literal["add", "remove"]
    requested: int
    steps: pd.DataFrame
    candidates: pd.DataFrame
    confirmation: pd.DataFrame
    final: Allocation
    units_table: pd.DataFrame
    replications_run: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def placed(self) -> int:
        return sum(abs(v) for _, v in self.final)


def _step_candidates(problem: AllocationProblem, current: Allocation, sign: int
                     ) -> list[str]:
    now = dict(current)
    return [u for u, unit in problem.units.items()
            if unit.headcount + now.get(u, 0) + sign >= 0]


def greedy(problem: AllocationProblem, n: int, sign: int, evaluator: _Evaluator, seed: int,
           confidence: float) -> tuple[Allocation, list[dict[str, Any]], list[dict[str, Any]],
                                       list[str]]:
    """The greedy search; returns the final allocation, step rows, candidate rows, notes."""
    current: Allocation = ()
    steps: list[dict[str, Any]] = []
    cand_rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for step in range(1, n + 1):
        units = _step_candidates(problem, current, sign)
        if not units:
            notes.append(f"step {step}: no unit has anyone left to remove")
            break
        allocs = [plus(current, u, sign) for u in units]
        base = evaluator.objective(current, seed)
        vals = [objective_values(t, problem.objective)
                for t in evaluator.tables(allocs, seed)]
        gains = [paired(v, base, confidence) for v in vals]
        best = int(np.argmax([g[0] for g in gains]))  # first unit wins an exact tie
        ties = [units[i] for i, v in enumerate(vals) if i != best
                and paired(vals[best], v, confidence)[1] <= 0]
        for i, u in enumerate(units):
            cand_rows.append({"step": step, "unit": u, "street": problem.units[u].street,
                              "gain": gains[i][0], "ci_low": gains[i][1],
                              "ci_high": gains[i][2], "objective": float(vals[i].mean()),
                              "chosen": i == best})
        gain, low, high = gains[best]
        significant = (low > 0) if sign > 0 else (high < 0)
        if sign > 0 and not significant:
            notes.append(f"step {step}: no unit's gain is significant (best {units[best]} "
                         f"{100 * gain:+.2f} pts, CI [{100 * low:+.2f}, {100 * high:+.2f}]); "
                         f"{n - step + 1} left unplaced")
            break
        current = allocs[best]
        steps.append({"step": step, "unit": units[best], "street": problem.units[
            units[best]].street, "change": sign, "gain": gain, "ci_low": low,
            "ci_high": high, "significant": bool(significant),
            "objective": float(vals[best].mean()),
            "weekly_cost": scenario_weekly_cost(problem.scenario_for(current)),
            "ties": ", ".join(ties), "allocation": describe(current)})
        evaluator.say(f"step {step}: {units[best]} {sign:+d} — gain {100 * gain:+.2f} pts "
                      f"[{100 * low:+.2f}, {100 * high:+.2f}]"
                      + (f"; tied with {', '.join(ties)}" if ties else ""))
    return current, steps, cand_rows, notes


def exhaustive(problem: AllocationProblem, n: int, replications: int, seed: int,
               jobs: int | None = 1) -> pd.DataFrame:
    """Every way to place ``n`` more people over the units, with its mean objective
    (same seeds for all): the check on the greedy search for small cases."""
    import itertools

    names = list(problem.units)
    allocs: list[Allocation] = []
    for combo in itertools.combinations_with_replacement(names, n):
        a: Allocation = ()
        for u in combo:
            a = plus(a, u, 1)
        allocs.append(a)
    executor = make_executor(jobs)
    try:
        ev = _Evaluator(problem, replications, executor, None, lambda _m: None)
        tables = ev.tables(allocs, seed)
    finally:
        executor.close()
    rows = [{"allocation": a, "objective": float(objective_values(t, problem.objective)
                                                 .mean())} for a, t in zip(allocs, tables,
                                                                           strict=True)]
    return pd.DataFrame(rows).sort_values("objective", ascending=False, kind="stable"
                                          ).reset_index(drop=True)


def _units_table(problem: AllocationProblem, final: Allocation, base: pd.DataFrame,
                 after: pd.DataFrame) -> pd.DataFrame:
    """Per community: street, unit, change there, joint compliance before and after."""
    communities = list(problem.scenario.expanded_communities())
    unit_of = {c: u.name for u in problem.units.values() for c in u.communities}
    change = dict(final)

    def mean(t: pd.DataFrame) -> pd.Series:
        d = t[t["level"] == "community"]
        return d.groupby("group")["compliance"].mean()

    b, a = mean(base), mean(after)
    rows = []
    for c in communities:
        u = unit_of.get(c.name)
        rows.append({"community": c.name, "street": c.street, "community_type": c.type,
                     "unit": u or "", "change": change.get(u, 0) if u else 0,
                     "before": b.get(c.name, np.nan), "after": a.get(c.name, np.nan)})
    return pd.DataFrame(rows)


def allocate(
    scenario: Scenario,
    n: int,
    kind: str = "technician",
    over: Over = "community",
    remove: bool = False,
    objective: Objective = "worst_type",
    pool: str | None = None,
    shift: str | None = None,
    replications: int = 10,
    confidence: float = 0.95,
    seed: int | None = None,
    jobs: int | None = None,
    dask: str | None = None,
    outdir: str | Path | None = None,
    resume: bool = False,
    progress: Callable[[str], None] | None = None,
) -> AllocationResult:
    """Place ``n`` more (or remove ``n``) ``kind`` staff over communities or streets.

    Parameters
    ----------
    n:
        People to place (or remove with ``remove``), one per step.
    over:
        ``community`` or ``street``: the units, each served by one pool of that scope.
    objective:
        ``worst_type`` (default), ``zone_wide`` or ``requests_weighted``.
    pool, shift:
        The pool (when several of the kind serve a unit) and the shift that changes
        (default the pool's first shift that is not on call).
    confidence:
        Two-sided confidence of the paired intervals behind the guard and the ties.
    outdir, resume:
        Save every evaluation and the tables here (locked while running); ``resume``
        reads the evaluations an interrupted run saved.
    """
    if objective not in OBJECTIVES:
        raise ScenarioError(f"--objective {objective}: one of {', '.join(OBJECTIVES)}")
    if n < 1:
        raise ScenarioError(f"--add/--remove {n}: must be at least 1")
    seed = scenario.run.seed if seed is None else seed
    units, shift_name = find_units(scenario, kind, over, pool, shift)
    problem = AllocationProblem(scenario, kind, over, shift_name, units, objective)
    say = progress or (lambda _m: None)
    path = Path(outdir) if outdir is not None else None
    with contextlib.ExitStack() as stack:
        if path is not None:
            from sim import __version__

            stack.enter_context(lock_outdir(path))
            claim_kind(path, "allocate")
            clean_temporary(path)
            key = hashlib.sha256(json.dumps({
                "scenario": resolved_dict(scenario), "n": n, "kind": kind, "over": over,
                "remove": remove, "objective": objective, "pool": pool, "shift": shift_name,
                "replications": replications, "confidence": confidence, "seed": seed},
                sort_keys=True, default=str).encode()).hexdigest()[:16]
            check_resumable(path, "allocate.json", key, resume, __version__, "allocation",
                            "scenario or settings")
            atomic_write_text(path / "allocate.json", json.dumps(
                {"key": key, "sim_version": __version__}, indent=2) + "\n")
        executor = make_executor(jobs, dask)
        stack.callback(executor.close)
        ev = _Evaluator(problem, replications, executor, path, say)
        sign = -1 if remove else 1
        final, steps, cands, notes = greedy(problem, n, sign, ev, seed, confidence)
        fresh = seed + CONFIRM_SEED_OFFSET
        base_t, final_t = ev.tables([(), final], fresh)
        b = objective_values(base_t, objective)
        f = objective_values(final_t, objective)
        gain, low, high = paired(f, b, confidence)
        confirmation = pd.DataFrame([{
            "allocation": describe(final), "seed": fresh, "replications": replications,
            "objective_before": float(b.mean()), "objective_after": float(f.mean()),
            "gain": gain, "ci_low": low, "ci_high": high,
            "cost_before": scenario_weekly_cost(scenario),
            "cost_after": scenario_weekly_cost(problem.scenario_for(final))}])
        result = AllocationResult(
            problem, "remove" if remove else "add", n,
            pd.DataFrame(steps, columns=["step", "unit", "street", "change", "gain",
                                         "ci_low", "ci_high", "significant", "objective",
                                         "weekly_cost", "ties", "allocation"]),
            pd.DataFrame(cands), confirmation, final,
            _units_table(problem, final, base_t, final_t), ev.replications_run, notes)
        if path is not None:
            write_tables(result, path)
    return result


def write_tables(result: AllocationResult, outdir: Path) -> None:
    """``allocation_steps.csv``, ``allocation_candidates.csv``, ``allocation_confirm.csv``
    and ``allocation_units.csv`` in ``outdir``."""
    atomic_write_frame(outdir / "allocation_steps.csv", result.steps)
    atomic_write_frame(outdir / "allocation_candidates.csv", result.candidates)
    atomic_write_frame(outdir / "allocation_confirm.csv", result.confirmation)
    atomic_write_frame(outdir / "allocation_units.csv", result.units_table)


__all__ = ["OBJECTIVES", "AllocationProblem", "AllocationResult", "Unit", "allocate",
           "exhaustive", "find_units", "objective_values", "paired", "replication_table"]
