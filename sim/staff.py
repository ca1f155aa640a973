"""Staff pools at run time: shifts, priority queues, overtime and a level log.

A :class:`Pool` is an anonymous group of people of one kind at one scope.  It is not a
``simpy.Resource``: large pools would pay O(capacity) per release there, and shifts need
capacity to change while work is in progress.  The pool owns its bookkeeping: the counts
(busy, waiting, on duty), a heap of waiting jobs, overtime, and a level log written after
every change (read it with :meth:`Pool.levels`).  Process code asks the pool to
:meth:`~Pool.take` a job, :meth:`~Pool.enqueue` it, let it :meth:`~Pool.leave` the queue,
or :meth:`~Pool.release` a person; it never changes the counts itself.

A :class:`Wait` is one request waiting for one stage, possibly queued at several pools
(tiers) at once; the request lifecycle (:mod:`sim.lifecycle`) decides what it means.

Shift ends never interrupt work: a person still busy when capacity drops finishes the job,
then leaves, and the overtime is recorded.  Queued work waits for the next person on duty.
The weekly staffing itself is computed in :mod:`sim.staffing`.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from heapq import heappop, heappush

import numpy as np
import simpy
from numpy.typing import NDArray
from simpy.events import Timeout

from sim.config import StaffPool
from sim.staffing import Segment, weekly_cost, weekly_segments

__all__ = ["Pool", "Running", "Segment", "Wait", "weekly_cost", "weekly_segments"]


class Wait:
    """A request waiting for one stage, possibly queued at several tiers at once.

    Attributes
    ----------
    rid, stage:
        The request and the engine index of the stage it waits for.
    active:
        True while nobody has taken it.
    prio:
        Queue class (0 first).
    pools:
        Pools it is queued at (each counts it as waiting once).
    tiers, next_tier:
        The pools that may serve it, in tier order, and the index of the next tier to
        offer it to.
    """

    __slots__ = ("active", "next_tier", "pools", "prio", "rid", "stage", "tiers")

    def __init__(self, rid: int, stage: int, prio: int, tiers: list[Pool]) -> None:
        self.rid = rid
        self.stage = stage
        self.active = True
        self.prio = prio
        self.pools: list[Pool] = []
        self.tiers = tiers
        self.next_tier = 1

    def enqueue(self, pool: Pool, first: bool = False) -> None:
        """Queue at ``pool`` (``first``: ahead of its class, for preempted work)."""
        if pool not in self.pools:
            self.pools.append(pool)
            pool.enqueue(self, self.prio, first)
        else:
            pool.requeue(self, self.prio)

    def reprioritise(self, prio: int) -> None:
        """Move to queue class ``prio`` at every pool it waits at."""
        self.prio = prio
        for p in self.pools:
            p.requeue(self, prio)

    def taken(self) -> None:
        """Someone took the request: it leaves every queue it was in."""
        self.active = False
        for p in self.pools:
            p.leave(self)


@dataclass(frozen=True, slots=True)
class Running:
    """A job in progress at a preemptive pool.

    ``milestone`` is the minute its stage is reached (``-inf`` when already reached or
    when the stage has none before its end).
    """

    end_event: Timeout
    stage: int
    start: float
    end: float
    wait: Wait
    milestone: float


def _unbound(pool: Pool, job: Wait) -> None:
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
        "_log",
        "_seq",
        "busy",
        "callout",
        "capacity",
        "env",
        "index",
        "kind",
        "name",
        "overtime_jobs",
        "overtime_min",
        "preemptive",
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
        start_job: Callable[[Pool, Wait], None] | None = None,
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
        self.queue: list[tuple[int, int, Wait]] = []
        self._seq = 0
        self._drops: deque[float] = deque()
        self.overtime_min = 0.0
        self.overtime_jobs = 0
        # level log: (time, busy, waiting, capacity) after every change
        self._log = array("d", (0.0, 0.0, 0.0, 0.0))
        self.start_job: Callable[[Pool, Wait], None] = start_job or _unbound
        # jobs in progress, only tracked for preemptive pools: request id -> job
        self.preemptive = spec.preemptive
        self.running: dict[int, Running] | None = {} if spec.preemptive else None

    def bind(self, start_job: Callable[[Pool, Wait], None]) -> None:
        """Hand the jobs this pool's people take to ``start_job`` (the lifecycle)."""
        self.start_job = start_job

    # -- monitoring -------------------------------------------------------------------
    def _record(self) -> None:
        self._log.extend((self.env.now, self.busy, self.waiting, self.capacity))

    def levels(self) -> NDArray[np.float64]:
        """The level log: rows ``(time, busy, waiting, capacity)``, one per change."""
        return np.frombuffer(self._log, dtype=np.float64).reshape(-1, 4)

    # -- work ---------------------------------------------------------------------------
    def take(self, job: Wait) -> bool:
        """Start ``job`` at once if someone is free (it leaves its queues); else False."""
        if self.busy < self.capacity:
            if job.pools:
                job.taken()
            else:  # was queued nowhere (the common case): nothing to leave
                job.active = False
            self.busy += 1
            self._record()
            self.start_job(self, job)
            return True
        return False

    def enqueue(self, job: Wait, prio: int, first: bool = False) -> None:
        """Count ``job`` as waiting here and queue it (lower ``prio`` first, FIFO within a
        class; ``first`` puts it ahead of its class)."""
        self.waiting += 1
        self._log.extend((self.env.now, self.busy, self.waiting, self.capacity))
        self._seq += 1
        heappush(self.queue, (prio, -self._seq if first else self._seq, job))

    def requeue(self, job: Wait, prio: int) -> None:
        """Queue an already waiting ``job`` again in class ``prio`` (its old entry is
        skipped once it is taken)."""
        self._push(prio, job, False)

    def leave(self, job: Wait) -> None:
        """``job`` no longer waits here (taken here or at another tier)."""
        self.waiting -= 1
        self._record()

    def _push(self, prio: int, job: Wait, first: bool) -> None:
        self._seq += 1
        heappush(self.queue, (prio, -self._seq if first else self._seq, job))

    def release(self) -> None:
        """A person finished a job: leave if the shift is over, else take the next job."""
        if self.busy > self.capacity:
            self.busy -= 1
            if self._drops:
                self.overtime_min += self.env.now - self._drops.popleft()
                self.overtime_jobs += 1
            self._record()
            return
        job = self._next()
        if job is None:
            self.busy -= 1
            self._record()
        else:
            self.start_job(self, job)

    def _next(self) -> Wait | None:
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
        self._record()
        while self.busy < self.capacity:
            job = self._next()
            if job is None:
                break
            self.busy += 1
            self._record()
            self.start_job(self, job)

    # -- preemptive pools ---------------------------------------------------------------
    def track(self, rid: int, job: Running) -> None:
        """Remember a job in progress (preemptive pools only)."""
        if self.running is not None:
            self.running[rid] = job

    def untrack(self, rid: int) -> Running | None:
        """Forget a finished or interrupted job; return it if it was tracked."""
        if self.running is None:
            return None
        return self.running.pop(rid, None)

    def latest_normal_job(self) -> int | None:
        """Request id of the most recently started normal-priority job, if any."""
        if not self.running:
            return None
        victims = [(v.start, r) for r, v in self.running.items() if v.wait.prio > 0]
        return max(victims)[1] if victims else None
