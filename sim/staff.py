"""Staff pools at run time: shifts, priority queues, overtime and a level log.

A :class:`Pool` is an anonymous group of people of one kind at one scope.  It is not a
``simpy.Resource``: large pools would pay O(capacity) per release there, and shifts need
capacity to change while work is in progress.  The pool owns its bookkeeping: the counts
(busy, waiting, on duty), a heap of waiting jobs, overtime, and a level log of every change
(read it with :meth:`Pool.levels`).  Process code asks the pool to
:meth:`~Pool.take` a job, :meth:`~Pool.enqueue` it, let it :meth:`~Pool.leave` the queue,
or :meth:`~Pool.release` a person; it never changes the counts itself.

A :class:`Wait` is one request waiting for one stage, possibly queued at several pools
(tiers) at once; the request lifecycle (:mod:`sim.lifecycle`) decides what it means.

At a shift end (``at_shift_end``) a person still busy when capacity drops either finishes
the job, then leaves, and the overtime is recorded (``finish``), or sets it aside: the job
is queued ahead of its class with its remaining work and the next person on duty resumes
it (``hand_over``; no overtime).  Queued work waits for the next person on duty.  The
weekly staffing itself is computed in :mod:`sim.staffing`.

Other work (:mod:`sim.otherwork`) is state of the pool too: ``other`` people are on it,
``block_in`` of them in a scheduled block (which wants ``block_want``; a person busy on a
request when a block starts joins it when done) and ``int_running`` on interruptions
(waiting interruptions are taken before waiting requests).  ``limit`` is how many people
may be on requests; it equals ``capacity`` for a pool without other work.
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

from sim.config import StaffPool
from sim.kernel import Call, call_in
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
        self.pools: tuple[Pool, ...] = ()  # a tuple: most requests never queue
        self.tiers = tiers
        self.next_tier = 1

    def enqueue(self, pool: Pool, first: bool = False) -> None:
        """Queue at ``pool`` (``first``: ahead of its class, for preempted work)."""
        if pool not in self.pools:
            self.pools = (*self.pools, pool)
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

    end_event: Call
    stage: int
    start: float
    end: float
    wait: Wait
    milestone: float


def _unbound(pool: Pool, job: Wait) -> None:
    raise RuntimeError(f"pool {pool.name} has no lifecycle bound to start jobs")


def _no_suspend(pool: Pool, normal_only: bool) -> bool:
    return False


class Pool:
    """Run-time state of one staff pool.

    Parameters
    ----------
    env:
        The simulation environment (only its clock, ``env._now``, is read: SimPy's
        ``now`` property costs a call, and the pool reads the clock at every change).
    index, name, kind, scope:
        Identity, as reported in the records.
    start_job:
        Called as ``start_job(pool, job)`` whenever a person takes a job; the lifecycle
        schedules the job's end and calls :meth:`release` then.  May be bound later.

    :meth:`levels` gives rows ``(time, busy, waiting, capacity, other)``.
    """

    __slots__ = (
        "_busy_down",
        "_busy_up",
        "_clog",
        "_drops",
        "_olog",
        "_seq",
        "_wait_down",
        "_wait_up",
        "block_in",
        "block_want",
        "busy",
        "callout",
        "capacity",
        "env",
        "hand_over",
        "index",
        "int_preempts",
        "int_queue",
        "int_running",
        "ints",
        "kind",
        "limit",
        "name",
        "other",
        "overtime_jobs",
        "overtime_min",
        "paused",
        "preemptive",
        "queue",
        "running",
        "scope",
        "spec",
        "start_job",
        "suspend",
        "urgent_takes_other",
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
        # level log, lean because it is written several times per request: the time of
        # every step of ``busy`` and ``waiting`` (+1 and -1 apart, 8 bytes a step); rows
        # (time, capacity) at every shift change and (time, other) when other work
        # changes.  levels() rebuilds the levels from them.
        self._busy_up = array("d")
        self._busy_down = array("d")
        self._wait_up = array("d")
        self._wait_down = array("d")
        self._clog = array("d", (0.0, 0.0))
        self._olog = array("d", (0.0, 0.0))
        self.start_job: Callable[[Pool, Wait], None] = start_job or _unbound
        # suspend(pool, normal_only): set aside the latest started request job (lifecycle)
        self.suspend: Callable[[Pool, bool], bool] = _no_suspend
        self.preemptive = spec.preemptive
        self.hand_over = spec.at_shift_end == "hand_over"
        inter = spec.interruptions
        self.int_preempts = inter is not None and inter.preempts_requests
        self.urgent_takes_other = inter is not None and inter.urgent_preempts
        # jobs in progress, tracked only where they may be set aside: request id -> job
        tracked = spec.preemptive or self.hand_over or self.int_preempts
        self.running: dict[tuple[int, int], Running] | None = {} if tracked else None
        # other work: people on it, the block's share, interruptions running and waiting
        self.limit = 0
        self.other = 0
        self.block_want = 0
        self.block_in = 0
        self.int_running = 0
        self.int_queue: deque[float] = deque()
        self.ints: dict[Call, float] = {}  # running interruption -> its end
        # request id -> minutes its jobs here spent set aside (filled by the lifecycle)
        self.paused: dict[int, float] = {}

    def bind(
        self, start_job: Callable[[Pool, Wait], None],
        suspend: Callable[[Pool, bool], bool] | None = None,
    ) -> None:
        """Hand the jobs this pool's people take to ``start_job`` (the lifecycle), and let
        the pool set a job aside with ``suspend``."""
        self.start_job = start_job
        if suspend is not None:
            self.suspend = suspend

    # -- monitoring -------------------------------------------------------------------
    def _busy(self, delta: int) -> None:
        self.busy += delta
        (self._busy_up if delta > 0 else self._busy_down).append(self.env._now)

    def _other(self, delta: int) -> None:
        self.other += delta
        self._olog.extend((self.env._now, self.other))

    def levels(self) -> NDArray[np.float64]:
        """The level log: rows ``(time, busy, waiting, capacity, other)``, one per moment
        something changed (and one per shift change), each with the levels after every
        change at that moment, from the row of time 0.

        Time integrals of these step functions equal those of a log written after every
        single change: changes at one moment last no time.
        """
        cap = np.frombuffer(self._clog, dtype=np.float64).reshape(-1, 2)
        oth = np.frombuffer(self._olog, dtype=np.float64).reshape(-1, 2)
        steps = [np.frombuffer(a, dtype=np.float64) for a in
                 (self._busy_up, self._busy_down, self._wait_up, self._wait_down)]
        times = np.concatenate([*steps, cap[:, 0], oth[:, 0]])
        # each log is in time order: a stable sort merges the runs in linear time, and
        # running sums of the steps (+1 up, -1 down) in that order give the levels
        order = np.argsort(times, kind="stable")
        t = times[order]
        last = np.append(t[1:] != t[:-1], True)  # the last change of each moment
        ends = np.cumsum([len(s) for s in steps])
        busy = np.zeros(len(times), dtype=np.int32)
        busy[:ends[0]], busy[ends[0]:ends[1]] = 1, -1
        waiting = np.zeros(len(times), dtype=np.int32)
        waiting[ends[1]:ends[2]], waiting[ends[2]:ends[3]] = 1, -1
        t = t[last]
        out = np.empty((len(t), 5))
        out[:, 0] = t
        out[:, 1] = np.cumsum(busy[order])[last]
        out[:, 2] = np.cumsum(waiting[order])[last]
        out[:, 3] = cap[np.searchsorted(cap[:, 0], t, side="right") - 1, 1]
        out[:, 4] = oth[np.searchsorted(oth[:, 0], t, side="right") - 1, 1]
        return out

    # -- work ---------------------------------------------------------------------------
    def take(self, job: Wait) -> bool:
        """Start ``job`` at once if someone is free (it leaves its queues); else False."""
        if self.busy < self.limit:
            if job.pools:
                job.taken()
            else:  # was queued nowhere (the common case): nothing to leave
                job.active = False
            self.busy += 1
            self._busy_up.append(self.env._now)
            self.start_job(self, job)
            return True
        return False

    def enqueue(self, job: Wait, prio: int, first: bool = False) -> None:
        """Count ``job`` as waiting here and queue it (lower ``prio`` first, FIFO within a
        class; ``first`` puts it ahead of its class)."""
        self.waiting += 1
        self._wait_up.append(self.env._now)
        self._seq += 1
        heappush(self.queue, (prio, -self._seq if first else self._seq, job))

    def requeue(self, job: Wait, prio: int) -> None:
        """Queue an already waiting ``job`` again in class ``prio`` (its old entry is
        skipped once it is taken)."""
        self._push(prio, job, False)

    def leave(self, job: Wait) -> None:
        """``job`` no longer waits here (taken here or at another tier)."""
        self.waiting -= 1
        self._wait_down.append(self.env._now)

    def _push(self, prio: int, job: Wait, first: bool) -> None:
        self._seq += 1
        heappush(self.queue, (prio, -self._seq if first else self._seq, job))

    def release(self) -> None:
        """A person finished a job: leave if the shift is over, else take the next job."""
        if self.busy > self.limit or self.int_queue:
            self._busy(-1)
            self._free()
            return
        job = self._next() if self.queue else None
        if job is None:
            self.busy -= 1
            self._busy_down.append(self.env._now)
        else:
            self.start_job(self, job)

    def _free(self) -> None:
        """Place a person no longer counted busy or on other work: home if their shift
        is over, else to an unfilled block, a waiting interruption or a waiting request."""
        if self.busy + self.other >= self.capacity:
            if self._drops:
                self.overtime_min += self.env._now - self._drops.popleft()
                self.overtime_jobs += 1
            return
        if self.block_in < min(self.block_want, self.capacity):
            self.block_in += 1
            self._other(1)
            self._relimit()
            return
        if self.int_queue:
            self._start_interruption(self.int_queue.popleft())
            return
        job = self._next()
        if job is not None:
            self._busy(1)
            self.start_job(self, job)

    def _relimit(self) -> None:
        self.limit = self.capacity - min(self.block_want, self.capacity) - self.int_running

    def _next(self) -> Wait | None:
        q = self.queue
        while q:
            job = heappop(q)[2]
            if job.active:
                # job.taken() written out (once per queued job): it leaves every queue
                job.active = False
                now = self.env._now
                for p in job.pools:
                    p.waiting -= 1  # p.leave(job)
                    p._wait_down.append(now)
                return job
        return None

    def set_capacity(self, headcount: int, callout_min: float, blocked: int = 0) -> None:
        """Apply a shift change (``headcount`` present, ``blocked`` of them wanted by
        scheduled blocks); idle people join blocks, then take waiting interruptions,
        then waiting requests."""
        now = self.env._now
        self.callout = callout_min
        excess_before = max(0, self.busy + self.other - self.capacity)
        self.capacity = headcount
        self.block_want = blocked
        eff = min(blocked, headcount)
        if self.block_in > eff:  # a block ended: its people come back
            self._other(eff - self.block_in)
            self.block_in = eff
        self._relimit()
        excess = max(0, self.busy + self.other - headcount)
        for _ in range(excess - excess_before):
            self._drops.append(now)
        for _ in range(excess_before - excess):
            if self._drops:
                self._drops.pop()
        if excess > excess_before and self.hand_over:
            self._hand_over(excess - excess_before)
        idle = headcount - self.busy - self.other
        if idle > 0 and self.block_in < eff:
            k = min(idle, eff - self.block_in)
            self.block_in += k
            self._other(k)
        self._clog.extend((now, headcount))
        while self.int_queue and self.busy + self.other < self.capacity:
            self._start_interruption(self.int_queue.popleft())
        while self.busy < self.limit:
            job = self._next()
            if job is None:
                break
            self._busy(1)
            self.start_job(self, job)

    def _hand_over(self, n: int) -> None:
        """Shift end, ``hand_over``: up to ``n`` people set their job aside and leave
        (requests first, then interruptions, which wait first in line)."""
        while n > 0:
            if self.busy > 0 and self.suspend(self, False):
                self._busy(-1)
            elif self.ints:
                self._set_aside_interruption()
            else:
                break
            n -= 1
            if self._drops:
                self._drops.pop()

    # -- other work -----------------------------------------------------------------------
    def interrupt(self, duration: float) -> None:
        """An interruption arrives: a free person takes it; else it interrupts a request
        (``preempts_requests``) or waits (ahead of waiting requests)."""
        if self.busy < self.limit:
            self._start_interruption(duration)
        elif self.int_preempts and self.busy > 0 and self.suspend(self, False):
            self._busy(-1)
            self._start_interruption(duration)
        else:
            self.int_queue.append(duration)

    def _start_interruption(self, duration: float) -> None:
        self._other(1)
        self.int_running += 1
        self._relimit()
        ev = call_in(self.env, duration, self._interruption_done)
        self.ints[ev] = self.env._now + duration

    def _interruption_done(self, ev: Call) -> None:
        if self.ints.pop(ev, None) is None:  # set aside for an urgent request
            return
        self._other(-1)
        self.int_running -= 1
        self._relimit()
        self._free()

    def pause_interruption(self) -> bool:
        """Free a person for an urgent request by setting aside the latest started
        interruption (it waits first in line, with its remaining time); False if none or
        the pool's rule forbids it."""
        if not self.urgent_takes_other or not self.ints or self.busy > self.limit:
            return False
        self._set_aside_interruption()
        return True

    def _set_aside_interruption(self) -> None:
        ev = next(reversed(self.ints))
        end = self.ints.pop(ev)
        self.int_queue.appendleft(max(0.0, end - self.env._now))
        self._other(-1)
        self.int_running -= 1
        self._relimit()

    # -- preemptive pools ---------------------------------------------------------------
    def track(self, rid: int, job: Running) -> None:
        """Remember a job in progress (preemptive pools only).  Jobs are keyed by request
        and stage: one request may hold two jobs at one pool (its fix and its plan)."""
        if self.running is not None:
            self.running[(rid, job.stage)] = job

    def untrack(self, rid: int, stage: int) -> Running | None:
        """Forget a finished or interrupted job; return it if it was tracked."""
        if self.running is None:
            return None
        return self.running.pop((rid, stage), None)

    def latest_normal_job(self) -> tuple[int, int] | None:
        """(request id, stage) of the most recently started normal-priority job, if any."""
        return self.latest_job(True)

    def latest_job(self, normal_only: bool) -> tuple[int, int] | None:
        """(request id, stage) of the most recently started job (normal-priority only if
        asked)."""
        if not self.running:
            return None
        victims = [(v.start, key) for key, v in self.running.items()
                   if not normal_only or v.wait.prio > 0]
        return max(victims)[1] if victims else None
