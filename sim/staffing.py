"""Staffing as data: shift step functions, run-time pool coverage and weekly cost.

Everything here is arithmetic on the scenario (no simulation engine), so the engine, the
sweeps, the optimiser and the reports agree on which pools exist and what they cost.

* :func:`shift_step` -- a pool's shifts as a weekly step function of headcount, call-out
  delay and cost (a :class:`sim.timeaxis.WeekStep`);
* :func:`pool_instances` -- the run-time pools a pool specification becomes: one per
  community it serves (``community`` scope), one per street, or one for the zone;
* :func:`weekly_cost` / :func:`scenario_weekly_cost` -- cost of a week of one pool
  instance, and of every instance of the scenario (a community-scope pool costs once per
  community it serves, a street pool once per street).
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.config import WEEKDAYS, Community, Scenario, Shift, StaffPool
from sim.config.world import interventions_weekly_cost
from sim.timeaxis import WEEK_MIN, WeekStep


@dataclass(frozen=True)
class Staffing:
    """What a pool has on duty during one step of its week."""

    headcount: int
    callout_min: float
    cost_per_hour: float


@dataclass(frozen=True)
class Segment:
    """Staffing from ``start`` (minute of the week) until the next segment."""

    start: float
    headcount: int
    callout_min: float
    cost_per_hour: float


def staffing_of(pool: StaffPool, on: list[Shift]) -> Staffing:
    """What the pool has on duty while the shifts ``on`` run (see :func:`shift_step`)."""
    head = sum(sh.headcount for sh in on)
    regular = any(sh.headcount > 0 and not sh.on_call for sh in on)
    callouts = [sh.callout_min for sh in on if sh.headcount]
    callout = 0.0 if regular else max(callouts, default=0.0)
    cost = sum(sh.headcount * sh.cost_factor for sh in on) * pool.hourly_cost
    return Staffing(head, callout, cost)


def shift_step(pool: StaffPool) -> WeekStep[Staffing]:
    """The pool's staffing as a step function over one week (Monday 00:00 = 0).

    Overlapping shifts add their headcounts; while any regular (not on-call) person is on
    duty the call-out delay is 0, otherwise it is the longest on-call delay.  Adjacent
    steps with equal staffing are merged.
    """
    blocks: list[tuple[float, float, Shift]] = []
    for sh in pool.shifts:
        for day in sh.days:
            a = (WEEKDAYS.index(day) * 24 + sh.start_hour) * 60.0
            blocks.append((a % WEEK_MIN, sh.length_hour * 60.0, sh))
    cuts = sorted({0.0} | {a for a, _, _ in blocks} | {(a + ln) % WEEK_MIN for a, ln, _ in blocks})
    starts: list[float] = []
    values: list[Staffing] = []
    for i, start in enumerate(cuts):
        end = cuts[i + 1] if i + 1 < len(cuts) else WEEK_MIN
        mid = (start + end) / 2
        on = [sh for a, ln, sh in blocks if (mid - a) % WEEK_MIN < ln]
        value = staffing_of(pool, on)
        if values and values[-1] == value:
            continue
        starts.append(start)
        values.append(value)
    return WeekStep(tuple(starts), tuple(values))


def weekly_segments(pool: StaffPool) -> list[Segment]:
    """:func:`shift_step` as a list of :class:`Segment` (start and staffing together)."""
    step = shift_step(pool)
    return [Segment(s, v.headcount, v.callout_min, v.cost_per_hour)
            for s, v in zip(step.starts, step.values, strict=True)]


def weekly_cost(pool: StaffPool) -> float:
    """Cost of one week of one instance of the pool (hourly_cost x staff-hours x factor)."""
    total = 0.0
    for start, end, v in shift_step(pool).spans():
        total += v.cost_per_hour * (end - start) / 60.0
    return total


def pool_instances(
    scenario: Scenario, communities: list[Community]
) -> list[tuple[str, StaffPool, list[Community]]]:
    """(instance name, spec, communities served) for every run-time pool.

    A pool serves a community named in its ``communities`` list by name, by type or by
    the scenario entry it was stamped from (``x-3`` from ``x``), or every community when
    the list is null.  Pools serving no community are left out.
    """
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


def scenario_weekly_cost(scenario: Scenario) -> float:
    """Weekly cost of all staff, summed over every run-time pool instance, plus the
    interventions in force (staff and facilities on one cost scale)."""
    communities = list(scenario.expanded_communities())
    staff = sum(weekly_cost(spec) for _, spec, _ in pool_instances(scenario, communities))
    return float(staff + interventions_weekly_cost(scenario))
