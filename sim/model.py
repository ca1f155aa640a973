"""Wiring: one replication of one scenario.

Builds the run-time pools from the scenario's staff, routes every request's stages to
tiers of pools, drives shift changes, runs SimPy to the horizon and hands the records to
:mod:`sim.records`.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

import numpy as np
import simpy
from simpy.events import Timeout

from sim.arrivals import RequestTable, generate
from sim.config import SCOPES, WEEK_MIN, Community, Scenario, StaffPool
from sim.lifecycle import ONSITE, PLAN, RESPOND, Engine
from sim.records import SimulationResult, build_result
from sim.rng import Streams
from sim.sla import deadlines
from sim.staff import Pool, Segment, weekly_segments


def pool_instances(
    scenario: Scenario, communities: list[Community]
) -> list[tuple[str, StaffPool, list[Community]]]:
    """(instance name, spec, communities served) for every run-time pool."""
    groups = scenario.community_groups()
    out: list[tuple[str, StaffPool, list[Community]]] = []
    for spec in scenario.staff:
        served = [
            c
            for c in communities
            if spec.communities is None
            or c.name in spec.communities
            or c.type in spec.communities
            or groups[c.name] in spec.communities  # "x-3" stamped from entry "x"
        ]
        if not served:
            continue
        if spec.scope == "zone":
            out.append((spec.name, spec, served))
        elif spec.scope == "street":
            for street in dict.fromkeys(c.street for c in served):
                here = [c for c in served if c.street == street]
                out.append((f"{spec.name}@{street}", spec, here))
        else:
            out.extend((f"{spec.name}@{c.name}", spec, [c]) for c in served)
    return out


class _ShiftDriver:
    """Applies every pool's weekly staffing step function as the clock runs."""

    def __init__(self, env: simpy.Environment, pools: list[Pool], offset_min: float) -> None:
        self.env = env
        self.offset = offset_min
        by_spec: dict[int, tuple[list[Segment], list[Pool]]] = {}
        for p in pools:
            key = id(p.spec)
            if key not in by_spec:
                by_spec[key] = (weekly_segments(p.spec), [])
            by_spec[key][1].append(p)
        self.changes: dict[float, list[tuple[Segment, list[Pool]]]] = {}
        for segs, group in by_spec.values():
            # initial state: the segment in force at the start offset
            starts = [s.start for s in segs]
            cur = segs[bisect_right(starts, offset_min % WEEK_MIN) - 1]
            for p in group:
                p.set_capacity(cur.headcount, cur.callout_min)
            if len(segs) > 1:
                for s in segs:
                    self.changes.setdefault(s.start, []).append((s, group))
        self.times = sorted(self.changes)
        self.week = 0
        self.i = 0

    def start(self) -> None:
        if not self.times:
            return
        # first change strictly after the start offset
        w = self.offset % WEEK_MIN
        self.week = int(self.offset // WEEK_MIN)
        self.i = bisect_right(self.times, w)
        self._schedule()

    def _schedule(self) -> None:
        if self.i >= len(self.times):
            self.i = 0
            self.week += 1
        at = self.week * WEEK_MIN + self.times[self.i] - self.offset
        Timeout(self.env, max(0.0, at - self.env.now)).callbacks.append(self._fire)

    def _fire(self, _ev: Any) -> None:
        for seg, group in self.changes[self.times[self.i]]:
            for p in group:
                p.set_capacity(seg.headcount, seg.callout_min)
        self.i += 1
        self._schedule()


def _routes(
    scenario: Scenario, communities: list[Community], req: RequestTable,
    tiers_of: dict[tuple[int, str], list[Pool]],
) -> list[list[list[Pool]]]:
    cat_names = list(scenario.categories)
    ncat = len(cat_names)
    per_key: list[list[list[Pool]]] = [[], [], []]
    for ci in range(len(communities)):
        for name in cat_names:
            cat = scenario.categories[name]
            for stage, kinds in ((RESPOND, cat.respond_by), (ONSITE, cat.onsite_by),
                                 (PLAN, cat.plan_by)):
                tiers = [p for kind in kinds for p in tiers_of.get((ci, kind), [])]
                per_key[stage].append(tiers)
    keys = (req.community.astype(np.int64) * ncat + req.category).tolist()
    return [[table[key] for key in keys] for table in per_key]


def _deadlines(scenario: Scenario, req: RequestTable) -> list[np.ndarray] | None:
    if not scenario.escalation.enabled:
        return None
    cat_names = np.array(list(scenario.categories))
    cats = cat_names[req.category]
    out = []
    for stage in ("respond", "onsite", "plan"):
        due = np.full(len(req), np.inf)
        for rule in reversed(scenario.sla):  # the first rule listed wins
            target = getattr(rule, f"{stage}_min")
            if target is None:
                continue
            m = (
                np.ones(len(req), bool)
                if rule.categories == "all"
                else np.isin(cats, rule.categories)
            )
            if m.any():
                due[m] = deadlines(req.created_min[m], target, rule, scenario)
        out.append(due)  # numpy, not a list: only read for requests that must queue
    return out


def simulate(
    scenario: Scenario, seed: int | None = None, replication: int = 0
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

    Returns
    -------
    SimulationResult
        ``.requests`` has one row per request (including those still open at the
        horizon); ``.pools``, ``.load`` and ``.backlog`` describe staff load.
    """
    seed = scenario.run.seed if seed is None else seed
    communities = list(scenario.expanded_communities())
    req = generate(scenario, communities, Streams(seed, replication))
    return run_requests(scenario, communities, req, seed, replication)


def run_requests(
    scenario: Scenario,
    communities: list[Community],
    req: RequestTable,
    seed: int = 0,
    replication: int = 0,
) -> SimulationResult:
    """Run a given table of requests through the scenario's staff (no randomness here).

    :func:`simulate` draws the table; tests hand-craft one to check exact event timings.
    """
    env = simpy.Environment()

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
    travel_override: dict[int, list[float]] = {}
    by_dist: dict[str, list[float]] = {}
    for p in pools:
        if p.spec.travel_time is not None:
            key = p.spec.travel_time.model_dump_json()
            if key not in by_dist:
                by_dist[key] = p.spec.travel_time.ppf(req.travel_u).tolist()
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
    )
    _ShiftDriver(env, pools, scenario.run.start_offset_min).start()
    engine.start()
    env.run(until=scenario.run.horizon_min)
    return build_result(scenario, seed, replication, communities, req, engine.outputs(), pools)
