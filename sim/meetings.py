"""Meetings that serve waiting requests in batches (``meetings:`` in a scenario).

A request whose plan stage a meeting serves (by category and community) joins the
meeting's waiting line instead of a staff queue.  At each sitting start the meeting takes
up to ``capacity`` of those waiting, longest-waiting first, and their plan is made at the
sitting's end; the rest wait for the next sitting.  A routine request in the plan track
that was finished before the sitting is not taken (it no longer needs a plan).

Sittings are weekly (weekday x start hour), read on the run's week axis; on a run with
calendars, read day by day instead: none on a public holiday (unless ``on_holidays``),
and a make-up working day holds those of the weekday it stands for.  The sitting
times are known in advance, so they are scheduled as one chain of SimPy timeouts; nothing
here is random.  A request reaching the stage at the very minute a sitting starts (a tie
of probability zero with continuous durations) is taken or not as SimPy orders the two
events.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np
import simpy
from simpy.events import Event, Timeout

from sim.arrivals import RequestTable
from sim.calendars import DayAxis, has_calendar
from sim.config import WEEKDAYS, Community, Scenario
from sim.config.world import Meeting
from sim.timeaxis import WeekAxis

__all__ = ["MeetingServer", "dated_sitting_starts", "sitting_starts", "start_meetings"]


def dated_sitting_starts(meeting: Meeting, days: DayAxis, horizon_min: float) -> list[float]:
    """:func:`sitting_starts` on a run with calendars: day by day, skipping public
    holidays (unless the meeting sits on them), a make-up day as its stand-in weekday."""
    wanted = {WEEKDAYS.index(d) for d in meeting.days}
    out: list[float] = []
    for k in range(days.day_of(0.0), days.day_of(horizon_min) + 1):
        if days.weekday(k) not in wanted or (days.is_holiday(k) and not meeting.on_holidays):
            continue
        t = days.day_start(k) + meeting.start_hour * 60.0
        if 0 <= t < horizon_min:
            out.append(t)
    return out


def sitting_starts(meeting: Meeting, axis: WeekAxis, horizon_min: float) -> list[float]:
    """Simulated minutes of every sitting start in ``[0, horizon_min)``, in order."""
    minutes = sorted((WEEKDAYS.index(d) * 24 + meeting.start_hour) * 60.0
                     for d in set(meeting.days))
    out: list[float] = []
    week = axis.first_week()
    while True:
        for m in minutes:
            t = axis.at(week, m)
            if t >= horizon_min:
                return out
            if t >= 0:
                out.append(t)
        week += 1


class MeetingServer:
    """One meeting's waiting line and sittings.

    Parameters
    ----------
    env:
        The SimPy environment.
    meeting:
        The meeting's specification.
    starts:
        Simulated minutes of its sitting starts (:func:`sitting_starts`).
    needs_plan:
        Whether a waiting request still needs its plan at a sitting start.
    plan_made:
        Called with a request id at the end of the sitting that served it.
    """

    def __init__(
        self, env: simpy.Environment, meeting: Meeting, starts: list[float],
        needs_plan: Callable[[int], bool], plan_made: Callable[[int], None],
    ) -> None:
        self.env = env
        self.meeting = meeting
        self.starts = starts
        self.needs_plan = needs_plan
        self.plan_made = plan_made
        self.waiting: deque[int] = deque()
        self.served = 0
        self._next = 0

    def join(self, rid: int) -> None:
        """Request ``rid`` now waits for the next sitting."""
        self.waiting.append(rid)

    def start(self) -> None:
        """Schedule the first sitting; the rest chain from it."""
        if self.starts:
            Timeout(self.env, self.starts[0] - self.env.now).callbacks.append(self._sitting)

    def _sitting(self, _ev: Event) -> None:
        self._next += 1
        if self._next < len(self.starts):
            Timeout(self.env, self.starts[self._next] - self.env.now).callbacks.append(
                self._sitting)
        cap = self.meeting.capacity
        batch: list[int] = []
        while self.waiting and (cap is None or len(batch) < cap):
            rid = self.waiting.popleft()
            if self.needs_plan(rid):
                batch.append(rid)
        if batch:
            self.served += len(batch)
            Timeout(self.env, self.meeting.duration_min, batch).callbacks.append(self._end)

    def _end(self, ev: Event) -> None:
        for rid in ev._value:
            self.plan_made(rid)


def start_meetings(
    env: simpy.Environment, scenario: Scenario, communities: list[Community],
    req: RequestTable, needs_plan: Callable[[int], bool], plan_made: Callable[[int], None],
) -> list[MeetingServer | None] | None:
    """Start every enabled meeting; per request, the server of its plan stage (None:
    staff plan it).  None when no meeting is enabled."""
    live = [m for m in scenario.meetings if m.enabled]
    if not live:
        return None
    axis = WeekAxis.from_run(scenario.run)
    days = DayAxis.of(scenario) if has_calendar(scenario) else None
    groups = scenario.community_groups()
    cats = list(scenario.categories)
    by_key: list[MeetingServer | None] = [None] * (len(communities) * len(cats))
    for m in live:
        horizon = scenario.run.horizon_min
        starts = (sitting_starts(m, axis, horizon) if days is None
                  else dated_sitting_starts(m, days, horizon))
        server = MeetingServer(env, m, starts, needs_plan, plan_made)
        server.start()
        for ci, com in enumerate(communities):
            names = {com.name, groups[com.name], com.type}
            if m.communities is not None and not names & set(m.communities):
                continue
            for name in m.categories:
                by_key[ci * len(cats) + cats.index(name)] = server
    keys = (req.community.astype(np.int64) * len(cats) + req.category).tolist()
    return [by_key[k] for k in keys]
