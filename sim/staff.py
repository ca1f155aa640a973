"""Staff pools at run time: shifts, priority queues, overtime and a level log.

A :class:`Pool` is an anonymous group of people of one kind at one scope.  It is not a
``simpy.Resource``: large pools would pay O(capacity) per release there, and shifts need
capacity to change while work is in progress.  The pool keeps counts (busy, on duty) and a
heap of waiting jobs; the request lifecycle (:mod:`sim.lifecycle`) decides what a job is.

Shift ends never interrupt work: a person still busy when capacity drops finishes the job,
then leaves, and the overtime is recorded.  Queued work waits for the next person on duty.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from heapq import heappop, heappush
from typing import Any

import simpy

from sim.config import WEEK_MIN, WEEKDAYS, StaffPool


@dataclass(frozen=True)
class Segment:
    """Staffing from ``start`` (minute of the week) until the next segment."""

    start: float
    headcount: int
    callout_min: float
    cost_per_hour: float


def weekly_segments(pool: StaffPool) -> list[Segment]:
    """The pool's staffing as a step function over one week (Monday 00:00 = 0)."""
    blocks = []
    for sh in pool.shifts:
        for day in sh.days:
            a = (WEEKDAYS.index(day) * 24 + sh.start_hour) * 60.0
            blocks.append((a % WEEK_MIN, sh.length_hour * 60.0, sh))
    cuts = sorted({0.0} | {a for a, _, _ in blocks} | {(a + ln) % WEEK_MIN for a, ln, _ in blocks})
    segs: list[Segment] = []
    for i, start in enumerate(cuts):
        end = cuts[i + 1] if i + 1 < len(cuts) else WEEK_MIN
        mid = (start + end) / 2
        on = [sh for a, ln, sh in blocks if (mid - a) % WEEK_MIN < ln]
        head = sum(sh.headcount for sh in on)
        regular = any(sh.headcount > 0 and not sh.on_call for sh in on)
        callouts = [sh.callout_min for sh in on if sh.headcount]
        callout = 0.0 if regular else max(callouts, default=0.0)
        cost = sum(sh.headcount * sh.cost_factor for sh in on) * pool.hourly_cost
        seg = Segment(start, head, callout, cost)
        if segs and (segs[-1].headcount, segs[-1].callout_min, segs[-1].cost_per_hour) == (
            head, callout, cost
        ):
            continue
        segs.append(seg)
    return segs


def weekly_cost(pool: StaffPool) -> float:
    """Cost of one week of the pool's shifts (hourly_cost x staff-hours x cost_factor)."""
    segs = weekly_segments(pool)
    total = 0.0
    for i, s in enumerate(segs):
        end = segs[i + 1].start if i + 1 < len(segs) else WEEK_MIN
        total += s.cost_per_hour * (end - s.start) / 60.0
    return total


def _unbound(pool: Pool, job: Any) -> None:
    raise RuntimeError(f"pool {pool.name} has no lifecycle bound to start jobs")


class Pool:
    """Run-time state of one staff pool.

    Parameters
    ----------
    env:
        The simulation environment (only ``env.now`` is read).
    index, name, kind, scope:
        Identity, as reported in the records.
    start_job:
        Called as ``start_job(pool, job)`` whenever a person takes a job; the lifecycle
        schedules the job's end and calls :meth:`release` then.  May be bound later.
    """

    __slots__ = (
        "_drops",
        "_seq",
        "busy",
        "callout",
        "capacity",
        "env",
        "index",
        "kind",
        "log",
        "name",
        "overtime_jobs",
        "overtime_min",
        "queue",
        "running",
        "scope",
        "spec",
        "start_job",
        "waiting",
    )

    def __init__(
        self,
        env: simpy.Environment,
        index: int,
        name: str,
        spec: StaffPool,
        start_job: Callable[[Pool, Any], None] | None = None,
    ) -> None:
        self.env = env
        self.index = index
        self.name = name
        self.kind = spec.kind
        self.scope = spec.scope
        self.spec = spec
        self.capacity = 0
        self.busy = 0
        self.waiting = 0
        self.callout = 0.0
        self.queue: list[tuple[int, int, Any]] = []
        self._seq = 0
        self._drops: deque[float] = deque()
        self.overtime_min = 0.0
        self.overtime_jobs = 0
        # level log: (time, busy, waiting, capacity) after every change
        self.log = array("d", (0.0, 0.0, 0.0, 0.0))
        self.start_job: Callable[[Pool, Any], None] = start_job or _unbound
        # jobs in progress, only tracked for preemptive pools: job -> end event
        self.running: dict[Any, Any] | None = {} if spec.preemptive else None

    # -- monitoring -------------------------------------------------------------------
    def _log(self) -> None:
        self.log.extend((self.env.now, self.busy, self.waiting, self.capacity))

    # -- work ---------------------------------------------------------------------------
    def push(self, prio: int, job: Any, first: bool = False) -> None:
        """Queue ``job`` (lower ``prio`` first, FIFO within a class)."""
        self._seq += 1
        heappush(self.queue, (prio, -self._seq if first else self._seq, job))

    def release(self) -> None:
        """A person finished a job: leave if the shift is over, else take the next job."""
        if self.busy > self.capacity:
            self.busy -= 1
            if self._drops:
                self.overtime_min += self.env.now - self._drops.popleft()
                self.overtime_jobs += 1
            self._log()
            return
        job = self._next()
        if job is None:
            self.busy -= 1
            self._log()
        else:
            self.start_job(self, job)

    def _next(self) -> Any:
        q = self.queue
        while q:
            job = heappop(q)[2]
            if job.active:
                job.taken()
                return job
        return None

    def set_capacity(self, headcount: int, callout_min: float) -> None:
        """Apply a shift change; queued work starts at once if people came on duty."""
        now = self.env.now
        self.callout = callout_min
        excess_before = max(0, self.busy - self.capacity)
        self.capacity = headcount
        excess = max(0, self.busy - headcount)
        for _ in range(excess - excess_before):
            self._drops.append(now)
        for _ in range(excess_before - excess):
            if self._drops:
                self._drops.pop()
        self._log()
        while self.busy < self.capacity:
            job = self._next()
            if job is None:
                break
            self.busy += 1
            self._log()
            self.start_job(self, job)
