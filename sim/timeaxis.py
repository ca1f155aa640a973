"""The time axis: simulated minutes against the week, and everything that repeats weekly.

Every week-periodic input of the model is read through this module:

* :class:`WeekAxis` maps a simulated minute (0 = start of the run) to the week, given the
  run's ``start_weekday``/``start_hour``: minute of the week, hour of day, weekday;
* :class:`WeekStep` is a value that changes at fixed minutes of the week -- the staffing of
  a pool's shifts (:mod:`sim.staffing`) and the hour-of-week arrival rate
  (:func:`hourly_rate_profile`) are both step functions of this type;
* :class:`Calendar` is the business-hours clock that SLA rules on ``business_hours`` count
  on.

All of it is periodic with period :data:`WEEK_MIN`.  Dated exceptions -- public
holidays, make-up working days -- live in the layer above, :mod:`sim.calendars`, which
maps a simulated minute to a run day and date and builds day-by-day staffing and a
holiday-aware business-hours clock from the weekly pieces here; event windows are in
:mod:`sim.events`.  A run without calendars or events uses this module alone.

This module imports no simulation engine; it reads only the scenario schema.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

from sim.config import WEEK_MIN, WEEKDAYS, BusinessHours, Community, RunConfig, Weekday

__all__ = [
    "EPS", "WEEK_MIN", "Calendar", "WeekAxis", "WeekStep", "hourly_rate_profile",
]

HOURS_PER_WEEK = 168
EPS = 1e-9
T = TypeVar("T")


@dataclass(frozen=True)
class WeekAxis:
    """Simulated minutes against the week.

    Parameters
    ----------
    offset_min:
        Minute of the week (Monday 00:00 = 0) at simulated minute 0; a whole number of
        hours (see :attr:`sim.config.RunConfig.start_offset_min`).
    """

    offset_min: float = 0.0

    @classmethod
    def from_run(cls, run: RunConfig) -> WeekAxis:
        """The axis of a run starting at ``run.start_weekday`` ``run.start_hour``:00."""
        return cls(run.start_offset_min)

    # -- scalar and array mappings ------------------------------------------------------
    def week_time(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        """Minutes since Monday 00:00 of the run's first week (not wrapped)."""
        return t + self.offset_min

    def sim_time(self, week_t: NDArray[np.float64]) -> NDArray[np.float64]:
        """Inverse of :meth:`week_time`."""
        return week_t - self.offset_min

    def week_minute(self, t: float) -> float:
        """Minute of the week (0 <= m < WEEK_MIN) at simulated minute ``t``."""
        return (t + self.offset_min) % WEEK_MIN

    def hour_index(self, t: NDArray[np.float64]) -> NDArray[np.int64]:
        """Hours since Monday 00:00 of the run's first week, at simulated minutes ``t``."""
        return np.floor(t / 60.0 + self.offset_min / 60.0).astype(np.int64)

    def hour_of_day(self, t: NDArray[np.float64]) -> NDArray[np.int64]:
        """Hour of day (0-23) at simulated minutes ``t``."""
        return self.hour_index(t) % 24

    def weekday(self, t: NDArray[np.float64]) -> NDArray[np.int64]:
        """Weekday (0 = Monday) at simulated minutes ``t``."""
        return (self.hour_index(t) // 24) % 7

    def weekday_name(self, t: float) -> Weekday:
        """Weekday (``mon`` .. ``sun``) at simulated minute ``t``."""
        return WEEKDAYS[int(self.weekday(np.array([t]))[0])]

    # -- the run's simulated hours ------------------------------------------------------
    def hours_of_week(self, n_hours: int) -> NDArray[np.int64]:
        """Hour of the week (0-167) of each simulated hour ``0 .. n_hours-1``."""
        return (int(self.offset_min // 60) + np.arange(n_hours)) % HOURS_PER_WEEK

    def hours_of_day(self, n_hours: int) -> NDArray[np.int64]:
        """Hour of day (0-23) of each simulated hour ``0 .. n_hours-1``."""
        return ((self.offset_min // 60 + np.arange(n_hours)) % 24).astype(np.int64)

    # -- weekly changes in simulated time ----------------------------------------------
    def first_week(self) -> int:
        """Index of the week (since Monday 00:00 of week 0) the run starts in."""
        return int(self.offset_min // WEEK_MIN)

    def at(self, week: int, week_minute: float) -> float:
        """Simulated minute of minute ``week_minute`` of week ``week``."""
        return week * WEEK_MIN + week_minute - self.offset_min


@dataclass(frozen=True)
class WeekStep(Generic[T]):
    """A value that changes at fixed minutes of the week and repeats every week.

    ``values[i]`` holds from ``starts[i]`` (minute of the week, Monday 00:00 = 0) until
    ``starts[i + 1]``, the last one until the end of the week.  ``starts[0]`` is 0.
    """

    starts: tuple[float, ...]
    values: tuple[T, ...]

    def __post_init__(self) -> None:
        if not self.starts or self.starts[0] != 0.0 or len(self.starts) != len(self.values):
            raise ValueError("a week step function starts at minute 0 with one value a step")
        if any(b <= a for a, b in zip(self.starts, self.starts[1:], strict=False)):
            raise ValueError("step starts must increase")

    @classmethod
    def hourly(cls, values: Sequence[T]) -> WeekStep[T]:
        """One value per hour of the week (168 values, Monday 00:00-01:00 first)."""
        if len(values) != HOURS_PER_WEEK:
            raise ValueError(f"an hourly week profile has {HOURS_PER_WEEK} values")
        return cls(tuple(h * 60.0 for h in range(HOURS_PER_WEEK)), tuple(values))

    def index_at(self, week_minute: float) -> int:
        """Index of the step in force at ``week_minute`` (wrapped into the week)."""
        return bisect_right(self.starts, week_minute % WEEK_MIN) - 1

    def at(self, week_minute: float) -> T:
        """Value in force at ``week_minute``."""
        return self.values[self.index_at(week_minute)]

    def spans(self) -> Iterator[tuple[float, float, T]]:
        """``(start, end, value)`` of every step, in order."""
        n = len(self.starts)
        for i, (start, value) in enumerate(zip(self.starts, self.values, strict=True)):
            end = self.starts[i + 1] if i + 1 < n else WEEK_MIN
            yield start, end, value


def hourly_rate_profile(community: Community) -> WeekStep[float]:
    """Base arrival rate (requests/min, without demand multiplier) per hour of the week."""
    base_per_day = (
        community.households * community.requests_per_household_per_day
        + community.firms * community.requests_per_firm_per_day
    )
    hours = np.array(community.hour_profile)
    days = np.array(community.weekday_profile)
    how = np.arange(HOURS_PER_WEEK)
    rate = base_per_day / 1440.0 * hours[how % 24] * days[how // 24]
    return WeekStep.hourly([float(r) for r in rate])


def per_simulated_hour(
    profile: WeekStep[float], axis: WeekAxis, n_hours: int
) -> NDArray[np.float64]:
    """The value of an hour-of-week profile at the start of each simulated hour."""
    at_hour = np.array([profile.at(h * 60.0) for h in range(HOURS_PER_WEEK)])
    return at_hour[axis.hours_of_week(n_hours)]


class Calendar:
    """Business-hours clock: cumulative business minutes since Monday 00:00 of week 0."""

    def __init__(self, bh: BusinessHours) -> None:
        days = sorted(WEEKDAYS.index(d) for d in set(bh.days))
        self.starts = np.array([d * 1440.0 + bh.start_hour * 60.0 for d in days])
        self.ends = np.array([d * 1440.0 + bh.end_hour * 60.0 for d in days])
        lengths = self.ends - self.starts
        self.cum_end = np.cumsum(lengths)
        self.cum_start = self.cum_end - lengths
        self.per_week = float(self.cum_end[-1])

    def elapsed_before(self, t_week_min: NDArray[np.float64]) -> NDArray[np.float64]:
        """Business minutes in [0, t) for absolute minutes ``t`` since Monday 00:00."""
        t = np.asarray(t_week_min, dtype=float)
        weeks = np.floor(t / WEEK_MIN)
        x = t - weeks * WEEK_MIN
        xs = np.column_stack([self.starts, self.ends]).ravel()
        ys = np.column_stack([self.cum_start, self.cum_end]).ravel()
        xs = np.concatenate(([0.0], xs, [WEEK_MIN]))
        ys = np.concatenate(([0.0], ys, [self.per_week]))
        out: NDArray[np.float64] = weeks * self.per_week + np.interp(x, xs, ys)
        return out

    def add(self, t_week_min: NDArray[np.float64], minutes: float) -> NDArray[np.float64]:
        """The earliest absolute minute at which ``minutes`` business minutes have passed."""
        y = self.elapsed_before(t_week_min) + minutes
        cycles = np.ceil(y / self.per_week) - 1
        rem = y - cycles * self.per_week
        i = np.searchsorted(self.cum_end, rem - EPS, side="left")
        i = np.minimum(i, len(self.cum_end) - 1)
        out: NDArray[np.float64] = cycles * WEEK_MIN + self.starts[i] + (rem - self.cum_start[i])
        return out
