"""An hour-by-hour roster for one staff pool: requirement, cheapest shifts, verification.

1. **Requirement** by the simulation-based iterative staffing algorithm (ISA) of
   Feldman, Mandelbaum, Massey and Whitt (2008), "Staffing of time-varying queues to
   achieve time-stable performance", *Management Science* 54(2): start with ample staff
   in every hour of the week; simulate; from the pool's level log take the number of
   jobs in the pool (busy + waiting) at many moments of each hour of the week, over all
   weeks and replications; set each hour's staff to the smallest ``s`` with
   ``P(L >= s) <= delay_prob``; repeat until the staffing stops changing.  With Poisson
   arrivals ``P(L >= s)`` is the probability that an arrival waits, so the fixed point
   holds the delay probability near ``delay_prob`` in every hour (time-stable).
2. **Shifts**: the cheapest whole numbers of shifts from allowed patterns (length, start
   hours, days, an unpaid break, cost factor, on call) whose people on duty cover the
   requirement in every hour -- an integer program solved by HiGHS
   (:func:`scipy.optimize.milp`), in :mod:`sim.shiftcover`.
3. **Verification**: the roster is simulated on fresh seeds; compliance per hour of day
   and the optimiser's feasibility test (:func:`sim.optimiser.lower_bounds`: every
   targeted stage's lower confidence bound, per community type, at least its target).
   The three steps repeat for other delay probabilities (:func:`roster`): the answer is
   the cheapest roster that meets the targets, confirmed on a second set of fresh seeds.

The pool must have one run-time instance (one community, street or the zone).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.config import WEEKDAYS, Scenario, ScenarioError, Shift, StaffPool, Weekday
from sim.executors import Executor
from sim.shiftcover import (
    HOURS,
    Candidate,
    PatternSet,
    ShiftPattern,
    cover,
    default_patterns,
    load_patterns,
)
from sim.staffing import pool_instances, scenario_weekly_cost

VERIFY_SEED_OFFSET = 3_000_017
CONFIRM_SEED_OFFSET = 4_000_037
TRIM_CONFIRM_SEED_OFFSET = 5_000_011


# ----------------------------------------------------------------------- the pool's hours
def find_pool(scenario: Scenario, name: str) -> tuple[StaffPool, str]:
    """The pool spec named ``name`` and its one run-time instance name."""
    specs = [p for p in scenario.staff if p.name == name]
    if not specs:
        raise ScenarioError(f"--pool {name}: no such pool (pools: "
                            f"{', '.join(p.name for p in scenario.staff)})")
    inst = [n for n, spec, _ in pool_instances(scenario, list(scenario.expanded_communities()))
            if spec.name == name]
    if len(inst) != 1:
        raise ScenarioError(f"--pool {name}: a roster needs a pool with one run-time "
                            f"instance; this one has {len(inst)}")
    return specs[0], inst[0]


def hourly_shifts(staff: Sequence[int] | np.ndarray[Any, Any], on_call: bool = False,
                  callout_min: float = 0.0, prefix: str = "h") -> list[Shift]:
    """Shifts giving ``staff[h]`` people in hour ``h`` of the week (Monday 00:00 = 0):
    runs of equal headcount within a day become one shift, equal runs on several days
    one shift with those days."""
    blocks: dict[tuple[int, int, int], list[Weekday]] = {}
    for d, day in enumerate(WEEKDAYS):
        row = list(staff[24 * d: 24 * d + 24])
        a = 0
        while a < 24:
            b = a
            while b < 24 and row[b] == row[a]:
                b += 1
            if row[a] > 0:
                blocks.setdefault((a, b, int(row[a])), []).append(day)
            a = b
    return [Shift(name=f"{prefix} {a:02d}-{b:02d} x{n}", days=days, start_hour=a,
                  end_hour=b, headcount=n, on_call=on_call, callout_min=callout_min)
            for (a, b, n), days in blocks.items()]


def with_shifts(scenario: Scenario, pool: str, shifts: list[Shift]) -> Scenario:
    """``scenario`` with the pool's shifts replaced (not re-validated: a roster may hold
    more shifts than a hand-written file would)."""
    staff = [p.model_copy(update={"shifts": shifts}) if p.name == pool else p
             for p in scenario.staff]
    return scenario.model_copy(update={"staff": staff})


def staff_per_hour(spec: StaffPool) -> np.ndarray[Any, np.dtype[np.int64]]:
    """People on duty in each hour of the week (at the middle of the hour)."""
    from sim.staffing import shift_step

    step = shift_step(spec)
    return np.array([step.at(60.0 * h + 30.0).headcount for h in range(HOURS)],
                    dtype=np.int64)


# ----------------------------------------------------------------------- step 1: the ISA
def level_samples(scenario: Scenario, instance: str, seed: int, replication: int,
                  step_min: float = 5.0) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Jobs in the pool (busy + waiting) sampled every ``step_min`` after the warm-up:
    counts per hour of the week (rows) and number in the pool (columns)."""
    from sim.model import simulate
    from sim.timeaxis import WeekAxis

    log: list[np.ndarray[Any, Any]] = []

    def probe(pools: list[Any]) -> None:
        log.extend(p.levels() for p in pools if p.name == instance)

    simulate(scenario, seed, replication, probe)
    lv = log[0]
    run = scenario.run
    t = np.arange(run.warmup_min + step_min / 2, run.horizon_min, step_min)
    i = np.searchsorted(lv[:, 0], t, side="right") - 1
    n = (lv[i, 1] + lv[i, 2]).astype(np.int64)
    h = WeekAxis.from_run(run).hour_index(t) % HOURS
    counts = np.zeros((HOURS, int(n.max()) + 2), dtype=np.int64)
    np.add.at(counts, (h, n), 1)
    return counts


@dataclass
class Requirement:
    """The ISA's staffing per hour of the week, its history and ``P(L >= s)`` per hour."""

    staff: np.ndarray[Any, np.dtype[np.int64]]
    delay_prob: np.ndarray[Any, np.dtype[np.float64]]
    history: list[np.ndarray[Any, np.dtype[np.int64]]]
    tail: np.ndarray[Any, np.dtype[np.float64]]
    converged: bool


def _tail(counts: np.ndarray[Any, Any], s: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``P(L >= s[h])`` per hour from sample counts."""
    total = counts.sum(axis=1)
    cum = np.cumsum(counts[:, ::-1], axis=1)[:, ::-1]  # cum[h, k] = #(L >= k)
    k = np.minimum(s, counts.shape[1] - 1)
    ge = np.where(s < counts.shape[1], cum[np.arange(HOURS), k], 0)
    return np.asarray(ge / np.maximum(total, 1), dtype=np.float64)


def quantile_staff(counts: np.ndarray[Any, Any], delay_prob: float | np.ndarray[Any, Any]
                   ) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Per hour the smallest ``s`` with ``P(L >= s) <= delay_prob`` (at least 1);
    ``delay_prob`` is one number or one per hour of the week."""
    total = np.maximum(counts.sum(axis=1, keepdims=True), 1)
    cum = np.cumsum(counts[:, ::-1], axis=1)[:, ::-1] / total  # P(L >= k)
    alpha = np.broadcast_to(np.asarray(delay_prob, dtype=float), (HOURS,))[:, None]
    ok = cum <= alpha + 1e-12
    ok[:, -1] = True
    staff: np.ndarray[Any, np.dtype[np.int64]] = np.maximum(np.argmax(ok, axis=1), 1
                                                            ).astype(np.int64)
    return staff


def requirement(scenario: Scenario, pool: str, delay_prob: float | np.ndarray[Any, Any],
                replications: int, seed: int, executor: Executor, iterations: int = 8,
                start: Sequence[int] | np.ndarray[Any, Any] | None = None,
                say: Callable[[str], None] = lambda _m: None,
                daily: bool = False) -> Requirement:
    """The ISA (module docstring, step 1) for ``pool`` with regular staff only.

    Stops when an iteration changes at most 1% of the week's staff-hours (sampling
    noise moves single hours back and forth) or after ``iterations``.  With ``daily``
    the samples of the seven days are pooled per hour of day, so every day gets the same
    requirement (seven times the samples per hour; for demand that differs little
    between weekdays).
    """
    spec, instance = find_pool(scenario, pool)
    if start is None:
        s = np.full(HOURS, 2 * int(staff_per_hour(spec).max()) + 5, dtype=np.int64)
    else:
        s = np.asarray(start, dtype=np.int64)
    history = [s]
    converged = False
    counts = np.zeros((HOURS, 1), dtype=np.int64)
    for it in range(1, iterations + 1):
        sc = with_shifts(scenario, pool, hourly_shifts(s))
        handles = {executor.submit(level_samples, sc, instance, seed, r): r
                   for r in range(replications)}
        parts = [c for _, c in executor.as_completed(set(handles))]
        width = max(c.shape[1] for c in parts)
        counts = np.zeros((HOURS, width), dtype=np.int64)
        for c in parts:
            counts[:, : c.shape[1]] += c
        if daily:  # one requirement per hour of day: pool the days' samples
            day = counts.reshape(7, 24, -1).sum(axis=0)
            counts = np.tile(day, (7, 1))
        new = quantile_staff(counts, delay_prob)
        changed = int(np.abs(new - s).sum())
        say(f"ISA iteration {it}: {changed} staff-hours changed, peak {int(new.max())}, "
            f"{int(new.sum())} staff-hours a week")
        s = new
        history.append(s)
        if changed <= 0.01 * s.sum():
            converged = True
            break
    alpha = np.broadcast_to(np.asarray(delay_prob, dtype=float), (HOURS,)).copy()
    return Requirement(s, alpha, history, _tail(counts, s), converged)


# ---------------------------------------------------------------- step 3: verification
def verify_replication(scenario: Scenario, seed: int, replication: int
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One replication: the optimiser's tidy table and compliance per hour of day."""
    from sim.experiment import ExperimentResult
    from sim.model import simulate

    exp = ExperimentResult.from_results(scenario, seed, [simulate(scenario, seed,
                                                                  replication)])
    tidy = pd.concat([exp.compliance(None), exp.compliance("community_type")],
                     ignore_index=True).rename(columns={"group": "community_type",
                                                        "mean": "compliance"})
    # the optimiser's tidy tables use ``by`` for breakdown rows within types ("" for the
    # main rows); these are all main rows
    tidy["by"] = ""
    tidy.insert(0, "replication", replication)
    hourly = exp.compliance("hour")[["stage", "group", "mean", "requests"]]
    hourly.insert(0, "replication", replication)
    return tidy, hourly


def verify_many(scenarios: Sequence[Scenario], targets: Mapping[str, float],
                confidence: float, replications: int, seed: int, executor: Executor
                ) -> list[tuple[pd.DataFrame, pd.DataFrame, bool]]:
    """:func:`verify` of several scenarios at once (same seeds: paired), in parallel."""
    from sim.optimiser import lower_bounds
    from sim.results import summarise_shares

    handles = {executor.submit(verify_replication, sc, seed, r): (i, r)
               for i, sc in enumerate(scenarios) for r in range(replications)}
    parts: dict[int, dict[int, tuple[pd.DataFrame, pd.DataFrame]]] = {
        i: {} for i in range(len(scenarios))}
    for h, res in executor.as_completed(set(handles)):
        i, r = handles[h]
        parts[i][r] = res
    out = []
    for i in range(len(scenarios)):
        reps = [parts[i][r] for r in range(replications)]
        tidy = pd.concat([p[0] for p in reps], ignore_index=True)
        hourly = pd.concat([p[1] for p in reps], ignore_index=True)
        lcb = lower_bounds(tidy, targets, confidence, by_type=True)
        hours = summarise_shares(hourly, ["stage", "group"], "mean", "requests")
        hours["hour"] = hours["group"].astype(int)
        hours = hours.drop(columns="group").sort_values(["stage", "hour"]).reset_index(
            drop=True)
        out.append((lcb, hours, bool((lcb["margin"] >= 0).all())))
    return out


def verify(scenario: Scenario, targets: Mapping[str, float], confidence: float,
           replications: int, seed: int, executor: Executor
           ) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    """Lower bounds per type x targeted stage, compliance per hour of day, feasibility."""
    return verify_many([scenario], targets, confidence, replications, seed, executor)[0]


# -------------------------------------------------------------------- step 4: trimming
def _cost(chosen: Sequence[tuple[Candidate, int]], hourly_cost: float) -> float:
    return float(sum(n * hourly_cost * c.pattern.cost_factor * len(c.hours())
                     for c, n in chosen))


def trim(scenario: Scenario, pool: str, spec: StaffPool,
         chosen: list[tuple[Candidate, int]], targets: Mapping[str, float],
         confidence: float, replications: int, seed: int, executor: Executor,
         say: Callable[[str], None] = lambda _m: None, max_steps: int = 30
         ) -> tuple[list[tuple[Candidate, int]], list[dict[str, Any]]]:
    """Take people out of a roster that meets the targets while it still does.

    A candidate removes one person from every day's shift of one pattern and start hour
    (a shift line); all candidates of a step run on the same
    seeds, and the one saving most among those still meeting every target is taken.
    Selection on the same seeds flatters the winner, so the caller confirms the result
    on fresh ones.
    """
    steps: list[dict[str, Any]] = []
    for _ in range(max_steps):
        lines: dict[tuple[str, int], list[int]] = {}
        for i, (c, n) in enumerate(chosen):
            if n > 0:
                lines.setdefault((c.pattern.name, c.start), []).append(i)
        moves: list[tuple[str, list[int]]] = []
        for (name, start), idx in lines.items():
            days = "/".join(WEEKDAYS[chosen[i][0].day] for i in idx)
            moves.append((f"{name} {start:02d}:00 ({days})", idx))
        options = []
        for label, idx in moves:
            new = [(c, n - (i in idx)) for i, (c, n) in enumerate(chosen)]
            options.append((label, [(c, n) for c, n in new if n > 0]))
        scenarios = [with_shifts(scenario, pool, [s for c, n in opt for s in c.shifts(n)])
                     for _, opt in options]
        checks = verify_many(scenarios, targets, confidence, replications, seed, executor)
        now = _cost(chosen, spec.hourly_cost)
        good = [(now - _cost(opt, spec.hourly_cost), float(chk[0]["margin"].min()), k)
                for k, ((_, opt), chk) in enumerate(zip(options, checks, strict=True))
                if chk[2]]
        if not good:
            break
        saving, margin, k = max(good)
        chosen = options[k][1]
        steps.append({"removed": options[k][0], "saving": saving, "worst_margin": margin,
                      "pool_cost": now - saving})
        say(f"trim: remove {options[k][0]} — saves {saving:,.0f}, worst margin "
            f"{100 * margin:+.1f} pts")
    return chosen, steps


# -------------------------------------------------------------------------- the command
@dataclass
class RosterResult:
    """The requirement, the chosen shifts, their verification and costs."""

    pool: str
    requirement: Requirement
    shifts: pd.DataFrame
    hours: pd.DataFrame
    hourly_compliance: pd.DataFrame
    bounds: pd.DataFrame
    feasible: bool
    scenario: Scenario
    pool_cost: float
    total_cost: float
    rounds: list[dict[str, Any]] = field(default_factory=list)
    chosen: list[tuple[Candidate, int]] = field(default_factory=list)
    trimmed: list[dict[str, Any]] = field(default_factory=list)
    """Trimming steps (:func:`trim`) behind this roster; empty when untrimmed."""
    notes: list[str] = field(default_factory=list)
    confirmed: bool = False
    """Met the targets on a second set of fresh seeds too."""


def roster(scenario: Scenario, pool: str, targets: Mapping[str, float],
           patterns: Sequence[ShiftPattern] | None = None, delay_prob: float = 0.2,
           replications: int = 10, confidence: float = 0.95, seed: int | None = None,
           executor: Executor | None = None, iterations: int = 8, rounds: int = 6,
           trim_steps: int = 0, daily: bool = False,
           say: Callable[[str], None] = lambda _m: None) -> RosterResult:
    """Requirement (ISA), cheapest covering shifts (MILP) and verification, for up to
    ``rounds`` delay probabilities: doubled from ``delay_prob`` while the roster meets
    every target, halved while it does not, then bisected (geometric mean) between the
    largest that met them and the smallest that did not.  The answer is the cheapest
    roster that met every target on the verification seeds and again on fresh ones
    (else the one closest to, not confirmed).  With ``trim_steps``, that
    roster is then trimmed (:func:`trim`) and the trimmed one kept only if it meets the
    targets again on fresh seeds.
    """
    from sim.executors import make_executor

    seed = scenario.run.seed if seed is None else seed
    spec, _ = find_pool(scenario, pool)
    pats = list(patterns) if patterns is not None else default_patterns(spec)
    own = executor is None
    ex = executor or make_executor(1)
    results: list[RosterResult] = []
    passed: float | None = None
    failed: float | None = None
    try:
        alpha = delay_prob
        start: Sequence[int] | np.ndarray[Any, Any] | None = None
        for rnd in range(1, rounds + 1):
            req = requirement(scenario, pool, alpha, replications, seed, ex, iterations,
                              start, say, daily)
            chosen, pool_cost = cover(req.staff, pats, spec.hourly_cost)
            sc = with_shifts(scenario, pool, [s for c, n in chosen for s in c.shifts(n)])
            bounds, hourly, ok = verify(sc, targets, confidence, replications,
                                        seed + VERIFY_SEED_OFFSET, ex)
            worst = bounds.iloc[int(np.argmin(bounds["margin"].to_numpy()))]
            say(f"round {rnd}: delay probability {alpha:.3g} -> weekly cost "
                f"{pool_cost:,.0f}; worst margin {100 * worst['margin']:+.1f} pts "
                f"({worst['stage']}, {worst['community_type']})"
                f"{'' if ok else ' — not met'}")
            results.append(_result(pool, spec, req, chosen, sc, pool_cost, bounds, hourly,
                                   ok, rnd))
            if ok:
                passed = alpha if passed is None else max(passed, alpha)
            else:
                failed = alpha if failed is None else min(failed, alpha)
            if passed is not None and failed is not None:
                if failed <= passed:  # sampling noise: not monotone here; stop
                    break
                alpha = float(np.sqrt(passed * failed))
            elif passed is not None:
                if passed >= 0.9:
                    break
                alpha = min(0.9, 2 * passed)
            else:
                alpha = alpha / 2
            start = req.staff
        history = [r.rounds[0] for r in results]
        best = _confirmed(results, targets, confidence, replications,
                          seed + CONFIRM_SEED_OFFSET, ex, say)
        best.rounds = history
        if trim_steps and best.feasible:
            best = _trimmed(scenario, pool, spec, best, targets, confidence, replications,
                            seed, ex, say, trim_steps)
    finally:
        if own:
            ex.close()
    return best


def _confirmed(results: list[RosterResult], targets: Mapping[str, float],
               confidence: float, replications: int, seed: int, ex: Executor,
               say: Callable[[str], None]) -> RosterResult:
    """The cheapest roster that met the targets and meets them again on fresh seeds
    (choosing the cheapest of several on the same seeds flatters it); else the one
    closest to meeting them, marked not confirmed."""
    for r in sorted((r for r in results if r.feasible), key=lambda r: r.pool_cost):
        bounds = verify(r.scenario, targets, confidence, replications, seed, ex)[0]
        margin = float(bounds["margin"].min())
        if margin >= 0:
            r.confirmed = True
            r.notes.append(f"confirmed on fresh seeds (worst margin {100 * margin:+.1f} "
                           "pts)")
            return r
        say(f"the roster costing {r.pool_cost:,.0f} fails on fresh seeds (worst margin "
            f"{100 * margin:+.1f} pts); trying the next cheapest")
        r.feasible = False
    return max(results, key=lambda r: float(r.bounds["margin"].min()))


def _trimmed(scenario: Scenario, pool: str, spec: StaffPool, best: RosterResult,
             targets: Mapping[str, float], confidence: float, replications: int,
             seed: int, ex: Executor, say: Callable[[str], None], steps: int
             ) -> RosterResult:
    """:func:`trim` ``best`` and confirm on fresh seeds; ``best`` when that fails."""
    chosen, log = trim(scenario, pool, spec, best.chosen, targets, confidence,
                       replications, seed + VERIFY_SEED_OFFSET, ex, say, steps)
    if not log:
        return best
    sc = with_shifts(scenario, pool, [s for c, n in chosen for s in c.shifts(n)])
    bounds, hourly, ok = verify(sc, targets, confidence, replications,
                                seed + TRIM_CONFIRM_SEED_OFFSET, ex)
    if not ok:
        best.notes.append(f"trimming saved {best.pool_cost - log[-1]['pool_cost']:,.0f} "
                          "but failed on fresh seeds; the untrimmed roster is kept")
        say(best.notes[-1])
        return best
    req = best.requirement
    out = _result(pool, spec, req, chosen, sc, _cost(chosen, spec.hourly_cost), bounds,
                  hourly, ok, best.rounds[-1]["round"])
    out.rounds, out.trimmed, out.confirmed = best.rounds, log, True
    out.notes.append(f"trimmed {len(log)} time(s) and confirmed on fresh seeds: weekly "
                     f"cost {best.pool_cost:,.0f} -> {out.pool_cost:,.0f}")
    say(out.notes[-1])
    return out


def _result(pool: str, spec: StaffPool, req: Requirement,
            chosen: list[tuple[Candidate, int]], sc: Scenario, pool_cost: float,
            bounds: pd.DataFrame, hourly: pd.DataFrame, ok: bool, rnd: int) -> RosterResult:
    new_spec = next(p for p in sc.staff if p.name == pool)
    hours = pd.DataFrame({"hour": np.arange(HOURS), "requirement": req.staff,
                          "scheduled": staff_per_hour(new_spec),
                          "delay_prob": req.delay_prob, "p_at_least_staff": req.tail})
    table = pd.DataFrame([{
        "pattern": c.pattern.name, "day": WEEKDAYS[c.day], "start_hour": c.start,
        "end_hour": (c.start + c.pattern.length_hour) % 24,
        "break_after_hour": c.pattern.break_after_hour, "headcount": n,
        "on_call": c.pattern.on_call, "cost_factor": c.pattern.cost_factor,
        "weekly_cost": n * spec.hourly_cost * c.pattern.cost_factor * len(c.hours())}
        for c, n in chosen])
    worst = bounds.iloc[int(np.argmin(bounds["margin"].to_numpy()))]
    row = {"round": rnd, "delay_prob": float(req.delay_prob.max()),
           "isa_iterations": len(req.history) - 1, "converged": req.converged,
           "staff_hours": int(req.staff.sum()), "pool_cost": pool_cost, "feasible": ok,
           "worst": f"{worst['stage']} {worst['community_type']}",
           "worst_margin": float(worst["margin"])}
    return RosterResult(pool, req, table, hours, hourly, bounds, ok, sc, pool_cost,
                        scenario_weekly_cost(sc), [row], list(chosen))


__all__ = [
    "PatternSet",
    "RosterResult",
    "ShiftPattern",
    "cover",
    "default_patterns",
    "hourly_shifts",
    "load_patterns",
    "quantile_staff",
    "requirement",
    "roster",
    "staff_per_hour",
    "verify",
]
