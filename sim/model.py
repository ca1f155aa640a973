"""Wiring: one replication of one scenario.

Builds the run-time pools from the scenario's staff, routes every request's stages to
tiers of pools, drives shift changes, runs SimPy to the horizon and hands the records to
:mod:`sim.records`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Generator, Sequence

import numpy as np
import simpy
from numpy.typing import NDArray
from simpy.events import Event, Timeout

from sim.arrivals import RequestTable, generate
from sim.backlog import backlog_table, with_backlog
from sim.calendars import DayAxis, dated_staffing, has_calendar, unroll, value_at
from sim.config import SCOPES, Community, Scenario, StaffPool
from sim.events import OutageWaits, staff_events
from sim.interventions import apply_interventions
from sim.kernel import Environment
from sim.lifecycle import Engine, PlanTrack, flags, values
from sim.meetings import start_meetings
from sim.otherwork import Absence, block_step, run_day, start_other_work
from sim.records import SimulationResult, build_result
from sim.rng import Streams
from sim.sla import clock_start, deadlines
from sim.staff import Pool
from sim.staffing import Staffing, pool_instances, shift_step
from sim.stages import QUEUED_STAGES, Stage
from sim.timeaxis import WeekAxis, WeekStep

__all__ = ["pool_instances", "run_requests", "simulate"]


_Change = tuple[Staffing, int, list[Pool]]


def _with_blocks(
    staffing: WeekStep[Staffing], blocks: WeekStep[int], absence: bool
) -> WeekStep[tuple[Staffing, int]]:
    """Staffing and block headcount together; with absence, a step at every midnight too
    (who is away is drawn per day)."""
    cuts = set(staffing.starts) | set(blocks.starts)
    if absence:
        cuts |= {d * 1440.0 for d in range(7)}
    starts = sorted(cuts)
    return WeekStep(tuple(starts), tuple((staffing.at(t), blocks.at(t)) for t in starts))


class _ShiftDriver:
    """Applies every pool's weekly staffing step function (and its scheduled blocks and
    daily absence, where it has other work) as the clock runs."""

    def __init__(
        self, env: simpy.Environment, pools: list[Pool], axis: WeekAxis,
        absences: dict[int, Absence] | None = None,
        dated: dict[str, list[tuple[float, Staffing]]] | None = None,
        horizon_min: float = 0.0,
    ) -> None:
        self.env = env
        self.axis = axis
        self.absences = absences or {}
        by_spec: dict[int, tuple[WeekStep[tuple[Staffing, int]], list[Pool]]] = {}
        # pools staffed day by day (calendars, staff events): changes in simulated time
        self.dated: dict[float, list[_Change]] = {}
        dated_groups: dict[int, list[Pool]] = {}
        for p in pools:
            if dated and p.spec.name in dated:
                dated_groups.setdefault(id(p.spec), []).append(p)
                continue
            key = id(p.spec)
            if key not in by_spec:
                step = shift_step(p.spec)
                if p.spec.blocks or p.spec.absence_prob > 0:
                    both = _with_blocks(step, block_step(p.spec), p.spec.absence_prob > 0)
                else:
                    both = WeekStep(step.starts, tuple((v, 0) for v in step.values))
                by_spec[key] = (both, [])
            by_spec[key][1].append(p)
        self.changes: dict[float, list[_Change]] = {}
        start = axis.week_minute(0.0)
        for wstep, group in by_spec.values():
            cur, blocked = wstep.at(start)  # initial state: the step in force at the start
            for p in group:
                self._apply(p, cur, blocked)
            if len(wstep.starts) > 1:
                for at, (value, b) in zip(wstep.starts, wstep.values, strict=True):
                    self.changes.setdefault(at, []).append((value, b, group))
        self.times = sorted(self.changes)
        self.week = 0
        self.i = 0
        for group in dated_groups.values():
            assert dated is not None
            changes = _dated_changes(group[0].spec, dated[group[0].spec.name], axis,
                                     horizon_min)
            for p in group:
                self._apply(p, *changes[0][1])
            for at, (value, b) in changes[1:]:
                self.dated.setdefault(at, []).append((value, b, group))
        self.dated_times = sorted(self.dated)

    def start(self) -> None:
        if self.dated_times:
            self._dated_next(0)
        if not self.times:
            return
        # first change strictly after the start
        self.week = self.axis.first_week()
        self.i = bisect_right(self.times, self.axis.week_minute(0.0))
        self._schedule()

    def _schedule(self) -> None:
        if self.i >= len(self.times):
            self.i = 0
            self.week += 1
        at = self.axis.at(self.week, self.times[self.i])
        Timeout(self.env, max(0.0, at - self.env.now)).callbacks.append(self._fire)

    def _apply(self, p: Pool, staffing: Staffing, blocked: int) -> None:
        absence = self.absences.get(p.index) if self.absences else None
        head = staffing.headcount
        if absence is not None:
            head = absence.present(head, run_day(self.axis, self.env.now))
        if blocked:
            p.set_capacity(head, staffing.callout_min, blocked)
        else:
            p.set_capacity(head, staffing.callout_min)

    def _dated_next(self, j: int) -> None:
        at = self.dated_times[j]
        ev = Timeout(self.env, max(0.0, at - self.env.now))
        ev.callbacks.append(lambda _e: self._dated_fire(j))

    def _dated_fire(self, j: int) -> None:
        for staffing, blocked, group in self.dated[self.dated_times[j]]:
            for p in group:
                self._apply(p, staffing, blocked)
        if j + 1 < len(self.dated_times):
            self._dated_next(j + 1)

    def _fire(self, _ev: Event) -> None:
        for staffing, blocked, group in self.changes[self.times[self.i]]:
            for p in group:
                self._apply(p, staffing, blocked)
        self.i += 1
        self._schedule()


def _dated_changes(
    spec: StaffPool, staffing: list[tuple[float, Staffing]], axis: WeekAxis,
    horizon_min: float,
) -> list[tuple[float, tuple[Staffing, int]]]:
    """Day-by-day staffing with the pool's weekly blocks (and, with absence, a change at
    every midnight) as ``(simulated minute, (staffing, blocked))``, the first at 0."""
    blocks = unroll(block_step(spec), axis, horizon_min) if spec.blocks else [(0.0, 0)]
    cuts = {t for t, _ in staffing} | {t for t, _ in blocks}
    if spec.absence_prob > 0:
        first = axis.week_time(np.array([0.0]))[0] // 1440.0 + 1
        cuts |= {float(t) for t in axis.sim_time(
            np.arange(first, first + horizon_min / 1440.0 + 1) * 1440.0) if t < horizon_min}
    return [(t, (value_at(staffing, t), value_at(blocks, t))) for t in sorted(cuts)]


def dated_pools(scenario: Scenario, pools: list[Pool]) -> dict[str, list[tuple[float, Staffing]]]:
    """Staffing changes of the pools staffed day by day: every pool when the scenario
    has a calendar, else those named by staff events; the rest keep the weekly driver."""
    out: dict[str, list[tuple[float, Staffing]]] = {}
    calendar = has_calendar(scenario)
    days = DayAxis.of(scenario)
    for spec in {id(p.spec): p.spec for p in pools}.values():
        events, windows = staff_events(scenario, spec.name)
        if calendar or events:
            out[spec.name] = dated_staffing(spec, days, scenario.run.horizon_min, events,
                                            windows)
    return out


def _stage_kinds(stage: Stage, scenario: Scenario, category: str) -> list[str]:
    """Staff kinds (tier order) serving ``stage`` of ``category``."""
    assert stage.staff_field is not None
    kinds: list[str] = getattr(scenario.categories[category], stage.staff_field)
    return kinds


def _routes(
    scenario: Scenario, communities: list[Community], req: RequestTable,
    tiers_of: dict[tuple[int, str], list[Pool]],
) -> list[list[list[Pool]]]:
    cat_names = list(scenario.categories)
    ncat = len(cat_names)
    per_key: list[list[list[Pool]]] = [[] for _ in QUEUED_STAGES]
    for ci in range(len(communities)):
        for name in cat_names:
            for stage in QUEUED_STAGES:
                kinds = _stage_kinds(stage, scenario, name)
                tiers = [p for kind in kinds for p in tiers_of.get((ci, kind), [])]
                per_key[_engine_index(stage)].append(tiers)
    keys = (req.community.astype(np.int64) * ncat + req.category).tolist()
    return [[table[key] for key in keys] for table in per_key]


def _engine_index(stage: Stage) -> int:
    assert stage.engine_index is not None
    return stage.engine_index


def _deadlines(scenario: Scenario, req: RequestTable) -> list[NDArray[np.float64]] | None:
    if not scenario.escalation.enabled:
        return None
    cat_names = np.array(list(scenario.categories))
    cats = cat_names[req.category]
    out = []
    for stage in QUEUED_STAGES:
        due = np.full(len(req), np.inf)
        for rule in reversed(scenario.sla):  # the first rule listed wins
            target = getattr(rule, stage.sla_field)
            if target is None:
                continue
            m = (
                np.ones(len(req), bool)
                if rule.categories == "all"
                else np.isin(cats, rule.categories)
            )
            if m.any():
                start = clock_start(req.raised_min[m], req.created_min[m], rule)
                due[m] = deadlines(start, target, rule, scenario, stage.name)
        out.append(due)  # numpy, not a list: only read for requests that must queue
    return out


def _plan_track(scenario: Scenario, req: RequestTable) -> PlanTrack | None:
    """Each request's plan-track options, from the first SLA rule covering its category;
    None where every rule keeps today's reading (the engine's defaults)."""
    n = len(req)
    cats = np.array(list(scenario.categories))[req.category]
    overdue = np.full(n, np.inf)
    parallel = np.zeros(n, dtype=bool)
    governed = np.zeros(n, dtype=bool)
    for rule in scenario.sla:
        m = ~governed & (np.ones(n, bool) if rule.categories == "all"
                         else np.isin(cats, rule.categories))
        governed |= m
        parallel[m] = rule.plan_during_outside_wait
        if rule.plan_track == "after_finish_target" and rule.finish_min is not None:
            m &= ~req.complex
            start = clock_start(req.raised_min[m], req.created_min[m], rule)
            overdue[m] = deadlines(start, rule.finish_min, rule, scenario, "finish")
    if not parallel.any() and np.isinf(overdue).all():
        return None
    return PlanTrack(values(overdue), flags(parallel))


def simulate(
    scenario: Scenario, seed: int | None = None, replication: int = 0,
    probe: Callable[[list[Pool]], None] | None = None,
    on_day: Callable[[int], None] | None = None,
) -> SimulationResult:
    """Run one replication and return its records.

    Parameters
    ----------
    scenario:
        A validated scenario (see :func:`sim.load_scenario`).
    seed:
        Root seed; ``None`` uses ``scenario.run.seed``.
    replication:
        Replication index: each index has independent random streams.
    probe:
        Called with the run-time pools once the run ends (to read their level logs).
    on_day:
        Called with the number of simulated days done at the end of each day (for
        progress displays); it cannot change the results.

    Returns
    -------
    SimulationResult
        ``.requests`` has one row per request (including those still open at the
        horizon); ``.pools``, ``.load`` and ``.backlog`` describe staff load.
    """
    seed = scenario.run.seed if seed is None else seed
    communities = list(scenario.expanded_communities())
    streams = Streams(seed, replication)
    req = apply_interventions(scenario, communities, generate(scenario, communities, streams),
                              streams)
    req = with_backlog(req, backlog_table(scenario, communities, streams))
    return run_requests(scenario, communities, req, seed, replication, probe, on_day)


def _day_ticks(env: simpy.Environment,
               on_day: Callable[[int], None]) -> Generator[Event, None, None]:
    """Call ``on_day(days done)`` at each simulated midnight; touches nothing else, so the
    other events keep their order and the results do not change."""
    day = 0
    while True:
        yield env.timeout(1440.0)  # minutes in a day
        day += 1
        on_day(day)


def run_requests(
    scenario: Scenario,
    communities: list[Community],
    req: RequestTable,
    seed: int = 0,
    replication: int = 0,
    probe: Callable[[list[Pool]], None] | None = None,
    on_day: Callable[[int], None] | None = None,
) -> SimulationResult:
    """Run a given table of requests through the scenario's staff.

    :func:`simulate` draws the table; tests hand-craft one to check exact event timings.
    The only draws here are the other work of pools that have it (:mod:`sim.otherwork`),
    each from the pool's own named streams of ``seed``/``replication``.
    """
    env = Environment()

    instances = pool_instances(scenario, communities)
    com_index = {c.name: i for i, c in enumerate(communities)}
    pools: list[Pool] = []
    tiers_of: dict[tuple[int, str], list[Pool]] = {}
    for name, spec, served in instances:
        pool = Pool(env, len(pools), name, spec)
        pools.append(pool)
        for c in served:
            tiers_of.setdefault((com_index[c.name], spec.kind), []).append(pool)
    for lst in tiers_of.values():
        lst.sort(key=lambda p: SCOPES.index(p.scope))

    # pools sent from further away travel by their own distribution (same uniforms, so
    # common random numbers hold); pools sharing a distribution share one list
    travel_override: dict[int, Sequence[float]] = {}
    by_dist: dict[str, Sequence[float]] = {}
    for p in pools:
        if p.spec.travel_time is not None:
            key = p.spec.travel_time.model_dump_json()
            if key not in by_dist:
                by_dist[key] = values(p.spec.travel_time.ppf(req.travel_u))
            travel_override[p.index] = by_dist[key]

    engine = Engine(
        env,
        req,
        pools,
        _routes(scenario, communities, req, tiers_of),
        _deadlines(scenario, req),
        travel_override,
        scenario.run.horizon_min,
        scenario.escalation.raise_priority,
        scenario.escalation.handoff,
        _plan_track(scenario, req),
        outage.wait if (outage := OutageWaits.of(scenario, req.category, req.wait_dur))
        else None,
    )
    engine.meeting_of = start_meetings(env, scenario, communities, req, engine.needs_plan,
                                       engine.plan_made)
    axis = WeekAxis.from_run(scenario.run)
    absences: dict[int, Absence] = {}
    if any(p.spec.has_other_work for p in pools):
        absences = start_other_work(env, pools, Streams(seed, replication), axis,
                                    scenario.run.horizon_min)
    dated = dated_pools(scenario, pools) if scenario.calendars or scenario.events else None
    _ShiftDriver(env, pools, axis, absences, dated, scenario.run.horizon_min).start()
    engine.start()
    if on_day is not None:
        env.process(_day_ticks(env, on_day))
    env.run(until=scenario.run.horizon_min)
    if probe is not None:
        probe(pools)
    return build_result(scenario, seed, replication, communities, req, engine.outputs(), pools)
