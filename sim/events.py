"""Events: dated windows that change demand, outside parties' waits and staff on duty.

* Surges and clusters *add* requests, drawn from the event's own named streams
  (``events/<name>/<community>``, ...): every request of the run without the event is
  still there with the same attributes (common random numbers), and inside a surge
  window the arrival rate is exactly ``multiplier`` x the usual one -- the usual process
  plus an independent Poisson process at ``multiplier - 1`` times its rate (superposition).
  The after-tail is drawn by thinning that extra process with acceptance falling
  linearly from 1 to 0 over ``tail_hour``.
* An outage lengthens the waits on its outside party that start inside the window
  (:class:`OutageWaits`, read by the engine when a wait starts).
* Staff events take people off a pool's headcount (:func:`sim.calendars.dated_staffing`).

Overlapping surges add their extra rates.  Imports no engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.calendars import DayAxis
from sim.config import Community, Scenario
from sim.config.dated import Cluster, EventWindow, Outage, StaffEvent, Surge
from sim.rng import Streams

__all__ = [
    "OutageWaits", "event_arrivals", "piecewise_nhpp", "staff_events", "surge_rate", "window",
]


def window(event: EventWindow, days: DayAxis) -> tuple[float, float]:
    """``(start, end)`` of the event's window in simulated minutes (tail not included)."""
    if event.start is not None:
        start = days.minute_of(event.start)
    else:
        assert event.start_day is not None
        start = event.start_day * 1440.0
    return start, start + event.duration_hour * 60.0


def hits(event: Surge | Cluster, community: Community, groups: dict[str, str]) -> bool:
    """Whether the event touches ``community`` (by name, entry name or type)."""
    if event.communities == "all":
        return True
    names = set(event.communities)
    return bool({community.name, community.type, groups[community.name]} & names)


def piecewise_nhpp(
    rng: np.random.Generator, edges: NDArray[np.float64], rates: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Exact Poisson event times on [edges[0], edges[-1]) for a rate (per minute) constant
    on each piece ``[edges[i], edges[i+1])``; sorted."""
    widths = np.diff(edges)
    cum = np.concatenate(([0.0], np.cumsum(rates * widths)))
    total = float(cum[-1])
    n = int(rng.poisson(total)) if total > 0 else 0
    if n == 0:
        return np.empty(0)
    s = np.sort(rng.random(n)) * total
    j = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(rates) - 1)
    rate = rates[j]
    out: NDArray[np.float64] = edges[j] + (s - cum[j]) / np.where(rate > 0, rate, np.inf)
    return out


def surge_rate(
    hourly: NDArray[np.float64], start: float, end: float, horizon: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The hourly rate (per simulated hour) restricted to [start, end) ∩ [0, horizon), as
    ``(edges, rates)`` for :func:`piecewise_nhpp`."""
    lo, hi = max(start, 0.0), min(end, horizon)
    if hi <= lo:
        return np.array([lo, lo]), np.zeros(1)
    first, last = int(lo // 60.0), int(np.ceil(hi / 60.0))
    edges = np.arange(first, last + 1) * 60.0
    edges[0], edges[-1] = lo, hi
    rates = hourly[np.minimum(np.arange(first, last), len(hourly) - 1)]
    return edges.astype(np.float64), rates


@dataclass(frozen=True)
class EventArrivals:
    """Extra arrivals of one event in one community: raised times, the category each
    is forced to (-1: drawn from the mix), and the uniform matrix of their attributes."""

    times: NDArray[np.float64]
    category: int
    u: NDArray[np.float64]


def event_arrivals(
    scenario: Scenario, com: Community, hourly: NDArray[np.float64], streams: Streams,
    n_uniforms: int,
) -> list[tuple[int, int, EventArrivals]]:
    """Every surge and cluster arrival of ``com`` as ``(event index, category index,
    arrivals)`` parts; ``hourly`` is the community's rate per simulated hour (requests
    per minute, demand multiplier included)."""
    days = DayAxis.of(scenario)
    groups = scenario.community_groups()
    horizon = scenario.run.horizon_min
    cats = list(scenario.categories)
    mix = np.array([com.category_mix.get(c, 0.0) for c in cats])
    share = mix / mix.sum()
    out: list[tuple[int, int, EventArrivals]] = []
    for ei, e in enumerate(scenario.events):
        if not isinstance(e, Surge | Cluster) or not hits(e, com, groups):
            continue
        start, end = window(e, days)
        key = f"events/{e.name}/{com.name}"
        if isinstance(e, Cluster):
            ci = cats.index(e.category)
            t = np.sort(start + streams.get(key).random(e.count) * (end - start))
            t = t[(t >= 0.0) & (t < horizon)]
            u = streams.get(f"{key}/requests").random((len(t), n_uniforms))
            out.append((ei, ci, EventArrivals(t, ci, u)))
            continue
        targets = (range(len(cats)) if e.categories == "all"
                   else [cats.index(c) for c in e.categories])
        tail = e.tail_hour * 60.0
        for ci in targets:
            if share[ci] <= 0 or e.multiplier <= 1.0:
                continue
            extra = hourly * share[ci] * (e.multiplier - 1.0)
            edges, rates = surge_rate(extra, start, end + tail, horizon)
            rng = streams.get(f"{key}/{cats[ci]}")
            t = piecewise_nhpp(rng, edges, rates)
            if tail > 0 and len(t):  # the after-tail: acceptance falls from 1 to 0
                keep_p = np.clip(1.0 - (t - end) / tail, 0.0, 1.0)
                u_thin = streams.get(f"{key}/{cats[ci]}/tail").random(len(t))
                t = t[(t < end) | (u_thin < keep_p)]
            u = streams.get(f"{key}/{cats[ci]}/requests").random((len(t), n_uniforms))
            out.append((ei, ci, EventArrivals(t, ci, u)))
    return out


class OutageWaits:
    """Waits on outside parties, lengthened by the outages of the scenario.

    ``wait(rid, now)``: the drawn wait of request ``rid`` when it starts at ``now`` --
    for each outage of its party whose window holds ``now``, ``x wait_factor +
    extra_wait_min`` (in the order the events are listed).
    """

    def __init__(self, scenario: Scenario, category: NDArray[np.int32],
                 wait_dur: NDArray[np.float64]) -> None:
        days = DayAxis.of(scenario)
        cats = list(scenario.categories)
        party_of = [c.outside_party.name if c.outside_party is not None else None
                    for c in scenario.categories.values()]
        self.windows: dict[str, list[tuple[float, float, float, float]]] = {}
        for e in scenario.events:
            if isinstance(e, Outage):
                a, b = window(e, days)
                self.windows.setdefault(e.party, []).append(
                    (a, b, e.wait_factor, e.extra_wait_min))
        self.party = [party_of[c] for c in category.tolist()] if len(cats) else []
        self.wait_dur = wait_dur.tolist()

    @classmethod
    def of(cls, scenario: Scenario, category: NDArray[np.int32],
           wait_dur: NDArray[np.float64]) -> OutageWaits | None:
        """None when the scenario has no outage (the engine then reads the drawn waits)."""
        if not any(isinstance(e, Outage) for e in scenario.events):
            return None
        return cls(scenario, category, wait_dur)

    def wait(self, rid: int, now: float) -> float:
        w: float = self.wait_dur[rid]
        party = self.party[rid]
        for a, b, factor, extra in self.windows.get(party or "", ()):
            if a <= now < b:
                w = w * factor + extra
        return w


def staff_events(scenario: Scenario, pool_name: str
                 ) -> tuple[list[StaffEvent], list[tuple[float, float]]]:
    """The staff events of the pool named ``pool_name`` and their windows (minutes)."""
    days = DayAxis.of(scenario)
    found = [e for e in scenario.events if isinstance(e, StaffEvent) and e.pool == pool_name]
    return found, [window(e, days) for e in found]
