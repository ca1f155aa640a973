"""The dated layer over the weekly time axis: simulated minutes against real days.

:mod:`sim.timeaxis` keeps everything that repeats weekly.  This module adds what a run on
real dates needs (``run.start_date``, ``calendars``):

* :class:`DayAxis` -- simulated minute -> run day, date, weekday a day follows (a make-up
  working day follows the weekday it stands for) and day type (``workday``, ``weekend``,
  ``holiday``, ``makeup``);
* :func:`business_clock` -- the business-hours clock of SLA rules: on a run with
  calendars it stands still on holidays and runs on make-up days; without calendars it
  is the weekly :class:`sim.timeaxis.Calendar`, unchanged;
* :func:`dated_staffing` -- a pool's staffing as changes in simulated time, day by day:
  shifts with ``on_holidays: false`` skip holidays, make-up days run the shifts of the
  weekday they stand for, and staff events take people away.

An undated run (no ``start_date``) has days too, numbered from the start, with no
holidays: :func:`dated_staffing` then only applies staff events.  Imports no engine.
"""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from sim.config import WEEKDAYS, BusinessHours, RunConfig, Scenario, StaffPool
from sim.config.dated import CalendarSpec, StaffEvent
from sim.staffing import Staffing, staffing_of
from sim.timeaxis import EPS, Calendar, WeekAxis, WeekStep

__all__ = [
    "DAY_MIN", "BusinessClock", "DayAxis", "DayType", "business_clock", "dated_staffing",
    "has_calendar", "unroll",
]

DAY_MIN = 1440.0
DayType = Literal["workday", "weekend", "holiday", "makeup"]
T = TypeVar("T")


@dataclass(frozen=True)
class DayAxis:
    """Run days: day 0 holds simulated minute 0 and starts ``start_hour`` hours before it.

    ``start_date`` None: an undated run (weekdays from ``start_weekday``, no holidays).
    """

    start_weekday: int
    start_hour: int
    start_date: dt.date | None = None
    holidays: frozenset[dt.date] = frozenset()
    workdays: dict[dt.date, int] = field(default_factory=dict)

    @classmethod
    def from_run(cls, run: RunConfig, calendars: Sequence[CalendarSpec] = ()) -> DayAxis:
        """The days of ``run`` under the merged ``calendars``."""
        holidays = frozenset(d for c in calendars for d in c.holidays)
        workdays = {d: WEEKDAYS.index(w) for c in calendars for d, w in c.workdays.items()}
        return cls(WEEKDAYS.index(run.start_weekday), run.start_hour, run.start_date,
                   holidays, workdays)

    @classmethod
    def of(cls, scenario: Scenario) -> DayAxis:
        return cls.from_run(scenario.run, scenario.calendars)

    # -- minutes and days -----------------------------------------------------------
    def day_of(self, t: float) -> int:
        """Run day holding simulated minute ``t``."""
        return math.floor((t + self.start_hour * 60.0) / DAY_MIN)

    def day_start(self, k: int) -> float:
        """Simulated minute of 00:00 of run day ``k``."""
        return k * DAY_MIN - self.start_hour * 60.0

    def date(self, k: int) -> dt.date | None:
        """Date of run day ``k`` (None on an undated run)."""
        return None if self.start_date is None else self.start_date + dt.timedelta(days=k)

    def minute_of(self, when: dt.datetime) -> float:
        """Simulated minute of a local date and time (dated runs only)."""
        if self.start_date is None:
            raise ValueError("an undated run has no dates")
        zero = dt.datetime.combine(self.start_date, dt.time(self.start_hour))
        return (when - zero).total_seconds() / 60.0

    # -- what kind of day -------------------------------------------------------------
    def is_holiday(self, k: int) -> bool:
        d = self.date(k)
        return d is not None and d in self.holidays

    def weekday(self, k: int) -> int:
        """Weekday (0 = Monday) whose shifts and business hours run day ``k``."""
        d = self.date(k)
        if d is not None and d in self.workdays:
            return self.workdays[d]
        return (self.start_weekday + k) % 7

    def day_type(self, k: int) -> DayType:
        d = self.date(k)
        if d is not None and d in self.holidays:
            return "holiday"
        if d is not None and d in self.workdays:
            return "makeup"
        return "weekend" if (self.start_weekday + k) % 7 >= 5 else "workday"


def has_calendar(scenario: Scenario) -> bool:
    """Whether the scenario declares any holiday or make-up day."""
    return any(c.holidays or c.workdays for c in scenario.calendars)


# --------------------------------------------------------------------------- clocks
class BusinessClock(Protocol):
    """Business minutes in simulated time (see :func:`business_clock`)."""

    def elapsed(self, start: NDArray[np.float64], end: NDArray[np.float64]
                ) -> NDArray[np.float64]:
        """Business minutes between simulated minutes ``start`` and ``end``."""

    def add(self, start: NDArray[np.float64], minutes: float) -> NDArray[np.float64]:
        """Earliest simulated minute at which ``minutes`` business minutes have passed."""


@dataclass(frozen=True)
class WeeklyClock:
    """The weekly business-hours :class:`~sim.timeaxis.Calendar` on the run's axis."""

    cal: Calendar
    axis: WeekAxis

    def elapsed(self, start: NDArray[np.float64], end: NDArray[np.float64]
                ) -> NDArray[np.float64]:
        with np.errstate(invalid="ignore"):
            out: NDArray[np.float64] = (self.cal.elapsed_before(self.axis.week_time(end))
                                        - self.cal.elapsed_before(self.axis.week_time(start)))
        return out

    def add(self, start: NDArray[np.float64], minutes: float) -> NDArray[np.float64]:
        return self.axis.sim_time(self.cal.add(self.axis.week_time(start), minutes))


class DatedClock:
    """Business hours day by day over run days ``0 .. n_days - 1``: closed on holidays,
    open on make-up days as on the weekday they stand for; past the last day, the
    weekly calendar."""

    def __init__(self, bh: BusinessHours, days: DayAxis, weekly: WeeklyClock,
                 n_days: int) -> None:
        open_days = {WEEKDAYS.index(d) for d in bh.days}
        ks = [k for k in range(n_days)
              if not days.is_holiday(k) and days.weekday(k) in open_days]
        base = np.array([days.day_start(k) for k in ks], dtype=float)
        self.starts = base + bh.start_hour * 60.0
        self.ends = base + bh.end_hour * 60.0
        lengths = self.ends - self.starts
        self.cum_end = np.cumsum(lengths)
        self.cum_start = self.cum_end - lengths
        self.total = float(self.cum_end[-1]) if len(ks) else 0.0
        self.t_end = days.day_start(n_days)
        self.weekly = weekly
        self.xs = np.column_stack([self.starts, self.ends]).ravel()
        self.ys = np.column_stack([self.cum_start, self.cum_end]).ravel()

    def _before(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        t = np.asarray(t, dtype=float)
        inside = np.interp(t, self.xs, self.ys, left=0.0) if len(self.xs) else np.zeros_like(t)
        end = np.full_like(t, self.t_end)
        past = self.total + self.weekly.elapsed(end, np.maximum(t, self.t_end))
        out: NDArray[np.float64] = np.where(t > self.t_end, past, inside)
        return np.where(np.isnan(t), np.nan, out)

    def elapsed(self, start: NDArray[np.float64], end: NDArray[np.float64]
                ) -> NDArray[np.float64]:
        with np.errstate(invalid="ignore"):
            out: NDArray[np.float64] = self._before(end) - self._before(start)
        return out

    def add(self, start: NDArray[np.float64], minutes: float) -> NDArray[np.float64]:
        y = self._before(start) + minutes
        n = len(self.cum_end)
        out = np.full_like(y, np.nan)
        inside = np.zeros(len(y), dtype=bool)
        if n:
            i = np.searchsorted(self.cum_end, y - EPS, side="left")
            inside = (i < n) & ~np.isnan(y)
            j = np.minimum(i, n - 1)
            out = np.where(inside, self.starts[j] + (y - self.cum_start[j]), np.nan)
        # past the last day of the table: the weekly calendar from the table's end
        for idx in np.flatnonzero(~inside & ~np.isnan(y)):
            out[idx] = self.weekly.add(np.array([self.t_end]), float(y[idx] - self.total))[0]
        return out


def business_clock(scenario: Scenario) -> BusinessClock:
    """The business-hours clock of the scenario (holidays skipped where it has calendars)."""
    weekly = WeeklyClock(Calendar(scenario.business_hours),
                         WeekAxis.from_run(scenario.run))
    if not has_calendar(scenario):
        return weekly
    # days covered day by day: the run, then room for the longest target counted on it
    bh = scenario.business_hours
    per_week = weekly.cal.per_week
    longest = max((t.days * (bh.end_hour - bh.start_hour) * 60.0
                   for r in scenario.sla for t in r.targets_in_days.values()), default=0.0)
    longest = max([longest] + [float(getattr(r, f"{s}_min") or 0.0) for r in scenario.sla
                               for s in ("respond", "onsite", "finish", "plan")])
    pad = 7 * math.ceil(longest / per_week) + 40
    n_days = math.ceil(scenario.run.horizon_days) + 2 + pad
    return DatedClock(bh, DayAxis.of(scenario), weekly, n_days)


# --------------------------------------------------------------------------- staffing
def unroll(step: WeekStep[T], axis: WeekAxis, horizon_min: float) -> list[tuple[float, T]]:
    """A weekly step function as ``(simulated minute, value)`` changes on [0, horizon),
    the first at minute 0."""
    out: list[tuple[float, T]] = [(0.0, step.at(axis.week_minute(0.0)))]
    week = axis.first_week()
    while True:
        for start, value in zip(step.starts, step.values, strict=True):
            t = axis.at(week, start)
            if t >= horizon_min:
                return out
            if t > 0.0:
                out.append((t, value))
        week += 1


def dated_staffing(
    pool: StaffPool, days: DayAxis, horizon_min: float, events: Sequence[StaffEvent] = (),
    windows: Sequence[tuple[float, float]] = (),
) -> list[tuple[float, Staffing]]:
    """The pool's staffing as ``(simulated minute, staffing)`` changes on [0, horizon).

    Day by day: a shift starts on a run day whose weekday (:meth:`DayAxis.weekday`) it
    lists, unless the day is a holiday and the shift has ``on_holidays: false``.  Staff
    events (``events[i]`` during ``windows[i]``) take their people off the headcount
    (never below 0); the cost is unchanged, as the people are still paid.
    """
    # shift starts and ends as +1 / -1 of that shift, swept in time order
    marks: list[tuple[float, int, int]] = []  # (minute, +1 or -1, index into shifts)
    last = days.day_of(horizon_min) + 1
    for k in range(-1, last + 1):
        wd = WEEKDAYS[days.weekday(k)]
        holiday = days.is_holiday(k)
        for i, sh in enumerate(pool.shifts):
            if wd in sh.days and (sh.on_holidays or not holiday):
                a = days.day_start(k) + sh.start_hour * 60.0
                marks += [(a, 1, i), (a + sh.length_hour * 60.0, -1, i)]
    marks.sort()
    cuts = sorted({0.0} | {t for t, _, _ in marks if 0.0 < t < horizon_min}
                  | {t for w in windows for t in w if 0.0 < t < horizon_min})
    active = [0] * len(pool.shifts)  # instances of each shift running
    j = 0
    out: list[tuple[float, Staffing]] = []
    for start in cuts:
        while j < len(marks) and marks[j][0] <= start:
            active[marks[j][2]] += marks[j][1]
            j += 1
        on = [sh for sh, n in zip(pool.shifts, active, strict=True) for _ in range(n)]
        value = staffing_of(pool, on)
        away = sum(e.people for e, (a, b) in zip(events, windows, strict=True)
                   if a <= start < b)
        if away:
            value = Staffing(max(0, value.headcount - away), value.callout_min,
                             value.cost_per_hour)
        if out and out[-1][1] == value:
            continue
        out.append((start, value))
    return out


def value_at(changes: Sequence[tuple[float, T]], t: float) -> T:
    """The value of a ``(minute, value)`` change list in force at ``t``."""
    i = bisect_right([c[0] for c in changes], t) - 1
    return changes[max(i, 0)][1]
