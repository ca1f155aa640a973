"""Analytic staffing estimates (Erlang C per pool and hour) to start searches from.

For a shift of a pool, the estimate takes the busiest hour the shift covers, the offered
load of every stage the pool is first in line for (arrival rate x mean handling time,
summed over the communities one run-time pool serves), and returns the smallest headcount
whose M/M/c waiting-time distribution meets the stage target with the wanted
probability.  It ignores shifts overlapping, priorities and borrowing: it is a starting
point for the simulation-based search, not an answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from sim.arrivals import hourly_rate_per_min
from sim.config import WEEKDAYS, Community, Scenario, StaffPool
from sim.queueing import mmc_wait_cdf
from sim.staffing import pool_instances
from sim.stages import ONSITE, PLAN, QUEUED_STAGES, RESPOND


def _stage_load(scenario: Scenario, com: Community, kind: str) -> list[tuple[str, float, float]]:
    """(stage, share of the community's requests, mean minutes) for stages ``kind`` leads."""
    out = []
    for cat_name, share in com.category_mix.items():
        if share <= 0:
            continue
        cat = scenario.categories[cat_name]
        p_cx = min(1.0, cat.complex_prob * com.complex_prob_multiplier)
        if cat.respond_by and cat.respond_by[0] == kind:
            out.append((RESPOND.name, share, cat.respond_time.mean()))
        if cat.onsite_by and cat.onsite_by[0] == kind and cat.work_time is not None:
            assess = cat.assess
            work = (1 - p_cx) * cat.work_time.mean() + p_cx * (
                assess.mean() if assess is not None else 0.0)
            out.append((ONSITE.name, share, com.travel_time.mean() + work))
        if p_cx > 0 and cat.plan_by and cat.plan_by[0] == kind and cat.plan_time is not None:
            out.append((PLAN.name, share * p_cx, cat.plan_time.mean()))
    return out


def min_servers(rate_per_min: float, mean_min: float, within_min: float, prob: float,
                cap: int = 500) -> int:
    """Smallest c with P(wait <= within) >= prob in an M/M/c queue (0 when no load)."""
    if rate_per_min <= 0 or mean_min <= 0:
        return 0
    load = rate_per_min * mean_min
    c = max(1, math.floor(load) + 1)
    while c < cap and mmc_wait_cdf(max(within_min, 0.0), c, rate_per_min, mean_min) < prob:
        c += 1
    return c


def shift_estimate(
    scenario: Scenario, pool: StaffPool, shift_name: str, targets: Mapping[str, float]
) -> int:
    """Erlang C headcount for one shift of ``pool`` (worst run-time instance and hour)."""
    shift = next(s for s in pool.shifts if s.name == shift_name)
    rule = scenario.sla[0]
    deadline: dict[str, float | None] = {
        s.name: getattr(rule, s.sla_field) for s in QUEUED_STAGES}
    n_hours = 168
    hours = np.zeros(n_hours, dtype=bool)
    for day in shift.days:
        start = WEEKDAYS.index(day) * 24 + int(shift.start_hour)
        for k in range(max(1, math.ceil(shift.length_hour))):
            hours[(start + k) % n_hours] = True
    best = 0
    communities = list(scenario.expanded_communities())
    for _, spec, served in pool_instances(scenario, communities):
        if spec.name != pool.name:
            continue
        per_stage: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
        for com in served:
            rate = hourly_rate_per_min(com, 0.0, n_hours) * com.demand_multiplier
            for stage, share, mean in _stage_load(scenario, com, pool.kind):
                lam, work = per_stage.get(stage, (np.zeros(n_hours), np.zeros(n_hours)))
                per_stage[stage] = (lam + rate * share, work + rate * share * mean)
        for stage, (lam, work) in per_stage.items():
            target_time = deadline.get(stage)
            if target_time is None:
                continue
            slack = target_time
            if stage == ONSITE.name:
                slack -= float(np.mean([c.travel_time.mean() for c in served]))
            prob = targets.get(stage, 0.9)
            for h in np.flatnonzero(hours):
                if lam[h] <= 0:
                    continue
                mean = work[h] / lam[h]
                best = max(best, min_servers(float(lam[h]), mean, slack, prob))
    return best
