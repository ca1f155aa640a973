"""Work that is not requests: scheduled blocks, random interruptions and absence.

All of it is opt-in per staff pool (:class:`sim.config.StaffPool` ``blocks``,
``interruptions``, ``absence_prob``); a pool without any runs exactly as before.

* :func:`block_step` -- a pool's scheduled blocks as a weekly step function of the number
  of people they take (overlapping blocks add up);
* :class:`Absence` -- who is away on a given day: person slot ``j`` of the pool is away on
  run day ``d`` when ``u[j, d] < absence_prob``, with ``u`` drawn once from the pool's own
  stream ``absence/<pool>``, unless a stand-in covers that day (``v[j, d] <
  absence_cover``, ``v`` from ``absence_cover/<pool>``).  Row ``j`` does not depend on the
  headcount, so adding a person never changes who else is away (common random numbers
  across staffing levels);
* :class:`InterruptionStream` -- Poisson arrivals of interruptions at one pool, one
  stream ``interruptions/<pool>/<j>`` per person slot ``j`` (live while ``j + 1`` people
  are present), or ``interruptions/<pool>`` for a rate per pool, handed to
  :meth:`sim.staff.Pool.interrupt`.

No other stream is touched, so switching other work on or off at one pool leaves the
arrivals, handling times and every other pool's draws unchanged.
"""

from __future__ import annotations

import math

import numpy as np
import simpy
from numpy.typing import NDArray

from sim.config import WEEKDAYS, Interruptions, StaffPool
from sim.kernel import Call, call_at
from sim.rng import Streams
from sim.staff import Pool
from sim.staffing import shift_step
from sim.timeaxis import WEEK_MIN, WeekAxis, WeekStep

__all__ = ["Absence", "InterruptionStream", "block_step", "max_headcount", "start_other_work"]

DAY_MIN = 1440.0
_BATCH = 512


def block_step(pool: StaffPool) -> WeekStep[int]:
    """People taken by the pool's scheduled blocks, as a step function over one week."""
    spans: list[tuple[float, float, int]] = []
    for b in pool.blocks:
        for day in b.days:
            a = (WEEKDAYS.index(day) * 24 + b.start_hour) * 60.0
            spans.append((a, a + (b.end_hour - b.start_hour) * 60.0, b.people))
    cuts = sorted({0.0} | {a for a, _, _ in spans} | {e % WEEK_MIN for _, e, _ in spans})
    starts: list[float] = []
    values: list[int] = []
    for i, start in enumerate(cuts):
        end = cuts[i + 1] if i + 1 < len(cuts) else WEEK_MIN
        mid = (start + end) / 2
        v = sum(n for a, e, n in spans if a <= mid < e)
        if values and values[-1] == v:
            continue
        starts.append(start)
        values.append(v)
    return WeekStep(tuple(starts), tuple(values))


def max_headcount(pool: StaffPool) -> int:
    """The largest headcount the pool's shifts put on duty at once."""
    return max(v.headcount for v in shift_step(pool).values)


class Absence:
    """Who of a pool is away, per run day (see the module docstring).

    Parameters
    ----------
    prob:
        Probability a rostered person is away on a given day.
    slots:
        Person slots to draw for (the pool's largest headcount).
    days:
        Run days to draw for (day 0 is the calendar day the run starts in).
    rng:
        The pool's own generator.
    cover, cover_rng:
        Probability a day away is covered by a stand-in, and the generator (the pool's
        ``absence_cover`` stream) that draws it; the day-away draws are the same whatever
        ``cover``, and more cover only ever takes days away off, never adds one.
    """

    def __init__(self, prob: float, slots: int, days: int, rng: np.random.Generator,
                 cover: float = 0.0, cover_rng: np.random.Generator | None = None) -> None:
        self.away: NDArray[np.bool_] = rng.random((max(slots, 1), days)) < prob
        if cover > 0:  # a stand-in covers the day: from its own draws, the same shape
            if cover_rng is None:
                raise ValueError("absence cover needs its own random generator")
            self.away &= ~(cover_rng.random(self.away.shape) < cover)
        # away_among[day][h]: how many of slots 0..h-1 are away on ``day`` (read at every
        # shift change, so a list lookup rather than a numpy sum)
        counts = np.cumsum(self.away, axis=0, dtype=np.int64)
        self.away_among: list[list[int]] = np.vstack(
            [np.zeros((1, days), dtype=np.int64), counts]).T.tolist()

    def present(self, headcount: int, day: int) -> int:
        """How many of ``headcount`` rostered people are at work on run day ``day``."""
        row = self.away_among[day]
        return headcount - row[min(headcount, len(row) - 1)]


class InterruptionStream:
    """Poisson interruptions at one pool, handed to :meth:`Pool.interrupt`.

    With ``per: person`` there is one stream per person slot ``j`` (its own generator),
    live while at least ``j + 1`` people are present, so the pool's rate follows the
    people on duty and one more person adds a stream without moving the others; with
    ``per: pool`` one stream runs while anyone is on duty.  Arrivals outside the
    stream's hours of the day (``start_hour``-``end_hour``) are drawn and dropped, so the
    window thins the stream without moving its draws.
    """

    def __init__(
        self, env: simpy.Environment, pool: Pool, spec: Interruptions, slot: int,
        rng: np.random.Generator, offset_min: float = 0.0,
    ) -> None:
        self.env = env
        self.offset_min = offset_min
        self.windowed = not spec.all_day
        # the window as numbers, compared here as Interruptions.in_window compares them
        self.start_hour = spec.start_hour
        self.end_hour = spec.end_hour
        self.wraps = spec.start_hour > spec.end_hour  # a window past midnight
        self.pool = pool
        self.spec = spec
        self.slot = slot
        self.rate = spec.rate_per_hour / 60.0
        self.rng = rng
        # the batch being used: arrival times in the window, their durations, the next
        # one's index, and the time of the batch's last arrival (in the window or not)
        self.times: list[float] = []
        self.durs: list[float] = []
        self.k = 0
        self.t_end = 0.0

    def start(self) -> None:
        """Schedule the first arrival (nothing when the rate is 0)."""
        if self.rate > 0:
            self.t_end = self.env._now
            self._next()

    def _refill(self) -> None:
        """Draw the next batch, following the last one: gaps, then durations (the order
        of the draws is the stream's, whatever the window).  Arrival ``j`` of the batch is
        at ``t_end + gap_0 + ... + gap_j``, added one gap at a time (a running sum, the
        same additions in the same order as stepping from arrival to arrival); those
        outside the window are passed over here, so they cost no event."""
        rng = self.rng
        gaps = rng.exponential(1.0 / self.rate, _BATCH)
        durs = self.spec.duration.ppf(rng.random(_BATCH))
        times = np.cumsum(np.concatenate(([self.t_end], gaps)))[1:]
        self.t_end = float(times[-1])
        if self.windowed:  # as Interruptions.in_window, on the hour of day of each
            hour = ((times + self.offset_min) % DAY_MIN) / 60.0
            inside = ((hour >= self.start_hour) | (hour < self.end_hour) if self.wraps
                      else (self.start_hour <= hour) & (hour < self.end_hour))
            times, durs = times[inside], durs[inside]
        self.times = times.tolist()
        self.durs = durs.tolist()
        self.k = 0

    def _next(self) -> None:
        while self.k >= len(self.times):
            self._refill()
        call_at(self.env, self.times[self.k], self._arrive)

    def _arrive(self, _ev: Call) -> None:
        k = self.k
        self.k = k + 1
        if self.slot < self.pool.capacity:
            self.pool.interrupt(max(0.0, self.durs[k]))
        self._next()


def run_days(axis: WeekAxis, horizon_min: float) -> int:
    """Calendar days the run touches (day 0 holds simulated minute 0)."""
    return int(math.floor((horizon_min + axis.offset_min) / DAY_MIN)
               - math.floor(axis.offset_min / DAY_MIN)) + 2


def run_day(axis: WeekAxis, t: float) -> int:
    """Run day of simulated minute ``t`` (0 for the day the run starts in)."""
    return int(math.floor((t + axis.offset_min) / DAY_MIN)
               - math.floor(axis.offset_min / DAY_MIN))


def start_other_work(
    env: simpy.Environment, pools: list[Pool], streams: Streams, axis: WeekAxis,
    horizon_min: float,
) -> dict[int, Absence]:
    """Start every pool's interruption stream; return each pool's absence draws by index."""
    absences: dict[int, Absence] = {}
    most: dict[int, int] = {}  # largest headcount per staff entry (pools share specs)
    for p in pools:
        spec = p.spec
        if not spec.has_other_work:
            continue
        # runtime name "<spec>@<where>"; a copy drawing as another pool swaps the spec part
        key = (spec.streams_from + p.name[len(spec.name):]) if spec.streams_from else p.name
        if id(spec) not in most:
            most[id(spec)] = max_headcount(spec)
        slots = most[id(spec)]
        if spec.absence_prob > 0:
            cover_rng = (streams.get(f"absence_cover/{key}") if spec.absence_cover > 0
                         else None)
            absences[p.index] = Absence(spec.absence_prob, slots, run_days(axis, horizon_min),
                                        streams.get(f"absence/{key}"), spec.absence_cover,
                                        cover_rng)
        inter = spec.interruptions
        if inter is not None and inter.per == "pool":
            InterruptionStream(env, p, inter, 0, streams.get(f"interruptions/{key}"),
                               axis.offset_min).start()
        elif inter is not None:
            for j in range(slots):
                InterruptionStream(env, p, inter, j,
                                   streams.get(f"interruptions/{key}/{j}"),
                                   axis.offset_min).start()
    return absences
