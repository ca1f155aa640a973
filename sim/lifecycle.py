"""The life of a request: respond -> (travel) on site -> finish, or -> plan -> finish.

Stages and the moments recorded (minutes since the start of the run):

* **respond** -- a person of a ``respond_by`` kind takes the request: ``responded_min``
  (plus an on-call person's call-out delay).  The person is busy for the desk handling time.
* **on site** -- a person of an ``onsite_by`` kind is dispatched when the desk is done,
  travels, and arrives: ``onsite_min``.  They stay for the work (routine) or the
  assessment (complex).  A routine request is then ``finished_min``, unless it waits on
  an outside party first (which occupies no staff).
* **plan** -- a complex request goes to a ``plan_by`` person, who coordinates and writes
  the plan: ``plan_min``.  It is closed ``close_time`` later (by contractors or the outside
  party; no community staff time), giving ``finished_min``.  A complex request waiting on
  an outside party is planned after the wait, or during it where the rule sets
  ``plan_during_outside_wait`` (then closed ``close_time`` after both are done).
* **plan track after the finish target** (:class:`PlanTrack`, the seed's reading of
  4小时办结、1天出方案) -- a routine request still unfinished at its finish deadline
  enters the plan track then (``plan_owed_min``) and is queued for its ``plan_by`` staff;
  its own work goes on, and a plan not yet started when it finishes is dropped (the
  person is released at once, no plan recorded).  One waiting on an outside party is
  planned only after the wait -- when it is finished -- unless
  ``plan_during_outside_wait``.

A moment is recorded only if it falls within the run: a response or an arrival on site
that would come after the horizon stays NaN (not reached), like any stage still open.

The engine is written as callbacks on SimPy events rather than one generator process per
request: a request costs three to four scheduled events and no process start-up, which
is what makes a zone-year fit the time budget (see ``benchmarks/``).  All randomness was
drawn beforehand (:mod:`sim.arrivals`); this module draws nothing.  Callbacks are
scheduled with :func:`sim.kernel.call_in` and read the clock as ``env._now`` (SimPy's
``now`` is a property, a call each time): both keep SimPy's event order.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from heapq import heappush
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from simpy.events import NORMAL

from sim.arrivals import RequestTable
from sim.kernel import Call, Environment, call_in
from sim.meetings import MeetingServer
from sim.staff import Pool, Running, Wait
from sim.stages import FINISH as FINISH_STAGE
from sim.stages import ONSITE as ONSITE_STAGE
from sim.stages import PLAN as PLAN_STAGE
from sim.stages import QUEUED_STAGES
from sim.stages import RESPOND as RESPOND_STAGE

__all__ = ["NAN", "ONSITE", "PLAN", "RESPOND", "Engine", "PlanTrack", "Wait"]


def values(a: NDArray[np.float64]) -> Sequence[float]:
    """Read-only scalar access to a float array, without copying it."""
    return cast("Sequence[float]", np.ascontiguousarray(a, dtype=np.float64).data)


def flags(a: NDArray[np.bool_]) -> Sequence[bool]:
    """Read-only scalar access to a boolean array, without copying it."""
    return cast("Sequence[bool]", np.ascontiguousarray(a, dtype=np.bool_).data)


def _index(index: int | None) -> int:
    if index is None:  # pragma: no cover - the stage table gives every queued stage one
        raise ValueError("stage has no engine index")
    return index


RESPOND = _index(RESPOND_STAGE.engine_index)
ONSITE = _index(ONSITE_STAGE.engine_index)
PLAN = _index(PLAN_STAGE.engine_index)
NAN = math.nan
NEVER = -math.inf


@dataclass
class PlanTrack:
    """Per request, how the SLA rule governing its category routes it to a plan.

    Attributes
    ----------
    overdue_at:
        Minute at which a routine request not yet finished enters the plan track (its
        finish deadline under ``plan_track: after_finish_target``); ``inf``: never.
    parallel:
        The plan may be written while an outside party works
        (``plan_during_outside_wait``).
    """

    overdue_at: Sequence[float]
    parallel: Sequence[bool]


class Engine:
    """Runs the requests of one replication through the staff pools.

    Parameters
    ----------
    env:
        The simulation environment (:class:`sim.kernel.Environment`: the arrivals ride its
        feed).
    req:
        The pre-drawn requests, sorted by arrival.
    pools:
        Every run-time staff pool, indexed by ``Pool.index``.
    routes:
        ``routes[stage][r]`` is the list of pools (tier order) for request ``r``'s stage, or
        an empty list when the stage does not apply to its category.
    deadlines:
        ``deadlines[stage][r]``: absolute minute at which the stage target is breached
        (``inf`` when no rule measures it); used for escalation only.
    travel_override:
        For pools with their own travel time: pool index -> travel per request.
    """

    # slots: attribute access stays fast however many attributes the engine has
    __slots__ = (
        "_arrive_fn",
        "_done",
        "_next_arrival",
        "cancelled",
        "close_dur",
        "complex",
        "created",
        "deadlines",
        "dropped",
        "entry_stage",
        "env",
        "escalated",
        "finished",
        "handoff",
        "horizon",
        "meeting_of",
        "n",
        "onsite",
        "outside",
        "outside_wait",
        "overdue_at",
        "parallel",
        "plan",
        "plan_dur",
        "plan_owed",
        "pools",
        "raise_priority",
        "remaining",
        "respond_dur",
        "responded",
        "routes",
        "served_by",
        "travel_dur",
        "travel_override",
        "urgent",
        "wait_dur",
        "wait_end",
        "work_dur",
    )

    def __init__(
        self,
        env: Environment,
        req: RequestTable,
        pools: list[Pool],
        routes: list[list[list[Pool]]],
        deadlines: list[NDArray[np.float64]] | None,
        travel_override: dict[int, Sequence[float]],
        horizon_min: float,
        raise_priority: bool,
        handoff: bool,
        plan_track: PlanTrack | None = None,
        outside_wait: Callable[[int, float], float] | None = None,
    ) -> None:
        n = len(req)
        # wait on an outside party starting now (outages lengthen it); None: as drawn
        self.outside_wait = outside_wait
        self.env = env
        self.pools = pools
        for p in pools:  # each pool hands the jobs its people take to this engine
            p.bind(self.start_job, self.suspend)
        self.n = n
        self.horizon = horizon_min
        self.routes = routes
        self.deadlines = deadlines
        self.raise_priority = raise_priority
        self.handoff = handoff
        self.travel_override = travel_override
        # inputs: views of the request table (scalar access without a list's copy, which
        # costs 32 bytes a value to a view's 0)
        self.created = values(req.created_min)
        self.urgent = flags(req.urgent)
        self.complex = flags(req.complex)
        self.outside = flags(req.outside)
        self.respond_dur = values(req.respond_dur)
        self.travel_dur = values(req.travel_dur)
        self.work_dur = values(req.work_dur)
        self.plan_dur = values(req.plan_dur)
        self.wait_dur = values(req.wait_dur)
        self.close_dur = values(req.close_dur)
        track = plan_track or PlanTrack([math.inf] * n, [False] * n)
        self.overdue_at = track.overdue_at
        self.parallel = track.parallel
        # outputs: typed arrays, 8 bytes a time and 4 a pool index, handed over as numpy
        # arrays without a copy
        self.responded = array("d", [NAN]) * n
        self.onsite = array("d", [NAN]) * n
        self.plan = array("d", [NAN]) * n
        self.finished = array("d", [NAN]) * n
        self.served_by = [array("i", [-1]) * n for _ in range(3)]
        self.escalated = array("b", [0]) * n
        self.plan_owed = array("d", [NAN]) * n
        self.wait_end = array("d", [NAN]) * n  # when the outside party is done
        self.dropped: set[int] = set()  # plans started for requests already finished
        # preemptive-resume bookkeeping:
        # (rid, stage) -> (remaining work, milestone offset, when it was set aside)
        self.remaining: dict[tuple[int, int], tuple[float, float, float]] = {}
        self.cancelled: set[Call] = set()
        self._done: tuple[Callable[[Call], None], ...] = (
            self._respond_done, self._onsite_done, self._plan_done,
        )
        self._next_arrival = 0
        # arrivals chain through the kernel's feed (no queue entry each)
        self._arrive_fn = self._arrive  # one bound method for the whole chain
        # backlog requests (sim.backlog) enter at their waiting stage; -1: a new arrival
        stages = req.backlog_stage
        self.entry_stage = stages.tolist() if (stages >= 0).any() else None
        # per request, the meeting serving its plan stage (sim.meetings); None: staff
        self.meeting_of: list[MeetingServer | None] | None = None

    # -- arrivals -----------------------------------------------------------------------
    def start(self) -> None:
        """Schedule the first arrival; the rest chain from it."""
        if self.n:
            # backlog requests were created before the start: they arrive at minute 0
            self.env.feed(self.env._now + max(0.0, self.created[0]), self._arrive_fn)

    def _arrive(self, _ev: Call | None) -> None:
        i = self._next_arrival
        self._next_arrival = i + 1
        env = self.env
        if i + 1 < self.n:
            now = env._now
            delay = self.created[i + 1] - now
            # env.feed(at, self._arrive) written out, once per request: the feed is
            # empty (this call took it), and ``at`` is not in the past
            env._feed_at = now + delay if delay > 0 else now
            env._feed_eid = next(env._eid)
            env._feed_fn = self._arrive_fn
        if self.overdue_at[i] < self.horizon:
            call_in(env, max(0.0, self.overdue_at[i] - env._now), self._overdue, i)
        entry = self.entry_stage[i] if self.entry_stage is not None else -1
        self._wait(i, entry if entry >= 0 else RESPOND)

    def _overdue(self, ev: Call) -> None:
        """A routine request at its finish deadline: if unfinished, it now owes a plan."""
        rid: int = ev._value
        now = self.env._now
        if self.finished[rid] <= now:
            return
        self.plan_owed[rid] = now
        if not self.routes[PLAN][rid]:
            return  # nobody to write it: the plan stage is reached only by the fix
        if self.wait_end[rid] > now and not self.parallel[rid]:
            return  # planned after the outside party, when the request is finished
        self._wait(rid, PLAN)

    # -- waiting and starting ------------------------------------------------------------
    def _wait(self, rid: int, stage: int) -> None:
        if stage == PLAN and self.meeting_of is not None:
            meeting = self.meeting_of[rid]
            if meeting is not None:  # planned at the next sitting of its meeting
                meeting.join(rid)
                return
        tiers = self.routes[stage][rid]
        first = tiers[0]
        free = first.busy < first.limit
        if free and first.running is None:
            # someone is free and the job need not be tracked: Pool.take without a Wait
            first.busy += 1
            first._busy_up.append(self.env._now)
            self.start_job(first, None, rid, stage)
            return
        prio = 0 if self.urgent[rid] or self.escalated[rid] else 1
        w = Wait(rid, stage, prio, tiers)
        if free:
            first.take(w)
            return
        if prio == 0 and first.preemptive and self._preempt(first, w):
            return
        if prio == 0 and first.urgent_takes_other and first.pause_interruption():
            first.take(w)
            return
        w.pools = (first,)  # w.enqueue(first), for a wait queued nowhere yet
        first.enqueue(w, prio)
        env = self.env
        if len(tiers) > 1:
            call_in(env, tiers[1].spec.borrow_after_min, self._borrow, w)
        if self.deadlines is not None:
            due = float(self.deadlines[stage][rid]) - env._now
            if due < math.inf:
                call_in(env, due if due > 0 else 0.0, self._escalate, w)

    def _offer(self, w: Wait, pool: Pool) -> None:
        """Offer an already waiting request to one more tier."""
        if not pool.take(w):
            w.enqueue(pool)

    def _borrow(self, ev: Call) -> None:
        w: Wait = ev._value
        if not w.active or w.next_tier >= len(w.tiers):
            return
        pool = w.tiers[w.next_tier]
        w.next_tier += 1
        self._offer(w, pool)
        if w.active and w.next_tier < len(w.tiers):
            nxt = w.tiers[w.next_tier]
            delay = max(0.0, nxt.spec.borrow_after_min - pool.spec.borrow_after_min)
            call_in(self.env, delay, self._borrow, w)

    def _escalate(self, ev: Call) -> None:
        w: Wait = ev._value
        if not w.active:
            return
        self.escalated[w.rid] |= 1 << w.stage
        if self.raise_priority and w.prio > 0:
            w.reprioritise(0)
        if self.handoff:
            while w.active and w.next_tier < len(w.tiers):
                pool = w.tiers[w.next_tier]
                w.next_tier += 1
                self._offer(w, pool)

    def start_job(self, pool: Pool, w: Wait | None, rid: int = -1, stage: int = -1) -> None:
        """``pool`` has assigned a person to ``w``: record the milestone, schedule the end.

        A milestone (response, arrival on site) is recorded only if it falls within the
        run; one after the horizon stays NaN (not reached), like any stage still open.
        Without a ``w`` (a job started at once at a pool that does not track its jobs),
        ``rid`` and ``stage`` name it.
        """
        if w is not None:
            rid = w.rid
            stage = w.stage
        env = self.env
        now = env._now
        c = pool.callout
        self.served_by[stage][rid] = pool.index
        milestone = NEVER
        resumed = self.remaining.pop((rid, stage), None) if self.remaining else None
        if resumed is not None:
            dur, offset, since = resumed
            pool.paused[rid] = pool.paused.get(rid, 0.0) + now - since
            if offset > 0:  # was preempted before reaching the milestone
                milestone = now + c + offset
                if milestone <= self.horizon:
                    (self.responded if stage == RESPOND else self.onsite)[rid] = milestone
            dur += c
        elif stage == RESPOND:
            milestone = now + c
            if milestone <= self.horizon:
                self.responded[rid] = milestone
            dur = c + self.respond_dur[rid]
        elif stage == ONSITE:
            over = self.travel_override.get(pool.index) if self.travel_override else None
            travel = over[rid] if over is not None else self.travel_dur[rid]
            milestone = now + c + travel
            if milestone <= self.horizon:
                self.onsite[rid] = milestone
            dur = c + travel + self.work_dur[rid]
        else:
            dur = c + self.plan_dur[rid]
            if not self.complex[rid] and self.finished[rid] <= now:  # finished meanwhile
                dur = 0.0
                self.dropped.add(rid)
        if dur < 0:
            raise ValueError(f"negative duration {dur}")
        # call_in(env, dur, self._done[stage], rid) written out: once per job
        ev = Call(self._done[stage], rid)
        queue: list[Any] = env._queue
        heappush(queue, (now + dur, NORMAL, next(env._eid), ev))
        if pool.running is not None:
            assert w is not None
            pool.track(rid, Running(ev, stage, now, now + dur, w, milestone))

    # -- preemption (optional, per pool) ----------------------------------------------------
    def _preempt(self, pool: Pool, w: Wait) -> bool:
        """Interrupt the most recently started normal-priority job, if any, for ``w``."""
        if not self.suspend(pool, True):
            return False
        self.start_job(pool, w)
        return True

    def suspend(self, pool: Pool, normal_only: bool) -> bool:
        """Set aside the most recently started job at ``pool`` (normal-priority only if
        asked): it waits first in its class there with its remaining work, and its pause
        is recorded.  The pool counts its person as free; False if there is no such job."""
        key = pool.latest_job(normal_only)
        if key is None:
            return False
        vrid = key[0]
        victim = pool.untrack(*key)
        assert victim is not None
        self.cancelled.add(victim.end_event)
        now = self.env._now
        vstage = victim.stage
        offset = 0.0
        if vstage != PLAN and victim.milestone > now:
            offset = victim.milestone - now
            (self.responded if vstage == RESPOND else self.onsite)[vrid] = NAN
        self.remaining[(vrid, vstage)] = (victim.end - now, offset, now)
        again = Wait(vrid, vstage, victim.wait.prio, victim.wait.tiers)
        again.next_tier = len(victim.wait.tiers)  # stays with this pool
        again.enqueue(pool, first=True)
        return True

    def _finish_job(self, ev: Call, stage: int) -> int | None:
        """End of a job: free its person; the request id, or None if it was preempted."""
        if self.cancelled and ev in self.cancelled:
            self.cancelled.discard(ev)
            return None
        rid: int = ev._value
        pool = self.pools[self.served_by[stage][rid]]
        if pool.running is not None:
            pool.untrack(rid, stage)
        pool.release()
        return rid

    # -- stage ends ------------------------------------------------------------------------
    def _respond_done(self, ev: Call) -> None:
        # every request passes here: self._finish_job(ev, RESPOND) and _after_site
        # written out
        if self.cancelled and ev in self.cancelled:
            self.cancelled.discard(ev)
            return
        rid: int = ev._value
        pool = self.pools[self.served_by[RESPOND][rid]]
        if pool.running is not None:
            pool.untrack(rid, RESPOND)
        pool.release()
        if self.routes[ONSITE][rid]:
            self._wait(rid, ONSITE)
        elif self.complex[rid]:
            self._wait(rid, PLAN)
        else:
            self.finished[rid] = self.env._now

    def _onsite_done(self, ev: Call) -> None:
        rid = self._finish_job(ev, ONSITE)
        if rid is None:
            return
        if self.outside[rid]:
            now = self.env._now
            dur = (self.wait_dur[rid] if self.outside_wait is None
                   else self.outside_wait(rid, now))  # an outage may lengthen it
            self.wait_end[rid] = now + dur
            if self.complex[rid] and self.parallel[rid]:
                self._wait(rid, PLAN)
            elif self.complex[rid]:
                call_in(self.env, dur, self._outside_done, rid)
            else:
                self._close(rid, now + dur)
        else:
            self._after_site(rid)

    def _outside_done(self, ev: Call) -> None:
        rid: int = ev._value
        self._wait(rid, PLAN)

    def _after_site(self, rid: int) -> None:
        if self.complex[rid]:
            self._wait(rid, PLAN)
        else:
            self.finished[rid] = self.env._now

    def _plan_done(self, ev: Call) -> None:
        rid = self._finish_job(ev, PLAN)
        if rid is None:
            return
        self.plan_made(rid)

    def needs_plan(self, rid: int) -> bool:
        """Whether request ``rid`` still needs its plan (a routine one finished meanwhile
        does not)."""
        return bool(self.complex[rid]) or not self.finished[rid] <= self.env.now

    def plan_made(self, rid: int) -> None:
        """The plan of ``rid`` is made now (by staff or at a meeting): record it, and
        close a complex request ``close_time`` later."""
        now = self.env.now
        if not self.complex[rid]:  # a routine request's plan: it closes by its own work
            if rid in self.dropped:
                self.dropped.discard(rid)
            else:
                self.plan[rid] = now
            return
        self.plan[rid] = now
        end = self.wait_end[rid]  # NaN unless it waited on an outside party
        self._close(rid, (end if end > now else now) + self.close_dur[rid])

    def _close(self, rid: int, at: float) -> None:
        # work that needs no community staff: known now, recorded only if inside the run
        if at <= self.horizon:
            self.finished[rid] = at

    def _paused_array(self) -> NDArray[np.float64]:
        """Minutes each request's started jobs spent set aside (kept by the pools, so
        that this hot class keeps its attribute count)."""
        out = np.zeros(self.n)
        for p in self.pools:
            if p.paused:
                out[list(p.paused)] += list(p.paused.values())
        return out

    def outputs(self) -> dict[str, NDArray[np.generic]]:
        """The recorded milestones and serving pools as arrays."""
        times = {RESPOND: self.responded, ONSITE: self.onsite, PLAN: self.plan}

        def f64(a: array[float]) -> NDArray[np.float64]:
            return np.frombuffer(a, dtype=np.float64)

        return {
            **{s.column: f64(times[_index(s.engine_index)]) for s in QUEUED_STAGES},
            FINISH_STAGE.column: f64(self.finished),
            **{s.pool_column: np.frombuffer(self.served_by[_index(s.engine_index)],
                                            dtype=np.int32) for s in QUEUED_STAGES},
            "escalated": np.frombuffer(self.escalated, dtype=np.int8),
            "plan_owed_min": f64(self.plan_owed),
            "paused_min": self._paused_array(),
        }
