"""Time-varying arrivals and per-request attributes, drawn before the simulation runs.

Arrivals of each community form a non-homogeneous Poisson process whose rate is
piecewise constant per hour of the week (``requests_per_day x hour_profile x
weekday_profile``).  It is generated exactly: the count over the horizon is Poisson with
the integrated rate, and given the count the times are i.i.d. with density proportional to
the rate, drawn by inverting the cumulative rate.

``demand_multiplier`` m is realised as ``ceil(m)`` independent copies of the base process,
the last one thinned to its fractional part.  Raising m therefore only *adds* requests and
keeps every existing request (and its attributes) unchanged: demand comparisons are
coupled as tightly as staffing comparisons.

Everything random about a request (category, channel, complexity, every duration) is fixed
here from its own named stream, so the model itself draws nothing.

Events (:mod:`sim.events`) add the requests of surges and clusters from their own streams
(``stream_copy`` -1 - the event's index), leaving every other request as it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.config import CHANNELS, Community, Scenario
from sim.events import event_arrivals
from sim.rng import Streams
from sim.timeaxis import WeekAxis, hourly_rate_profile, per_simulated_hour

# Columns of the per-request uniform matrix; one stream per community and copy.
U_CATEGORY, U_CHANNEL, U_COMPLEX, U_OUTSIDE, U_RESPOND, U_TRAVEL, U_WORK, U_PLAN, \
    U_WAIT, U_CLOSE, U_TRANSFER = range(11)
N_UNIFORMS = 11


@dataclass
class RequestTable:
    """All requests of one replication, sorted by the time they reach the community.

    Every request raised before the horizon is here, including hotline tickets still in
    transit at the horizon (``created_min >= horizon``): they never reach the community in
    the run, and the records flag them ``in_transit``.
    """

    community: NDArray[np.int32]
    category: NDArray[np.int32]
    channel: NDArray[np.int32]
    urgent: NDArray[np.bool_]
    complex: NDArray[np.bool_]
    outside: NDArray[np.bool_]
    raised_min: NDArray[np.float64]
    created_min: NDArray[np.float64]
    stream_copy: NDArray[np.int32]
    stream_index: NDArray[np.int32]
    respond_dur: NDArray[np.float64]
    travel_u: NDArray[np.float64]
    travel_dur: NDArray[np.float64]
    work_dur: NDArray[np.float64]
    plan_dur: NDArray[np.float64]
    wait_dur: NDArray[np.float64]
    close_dur: NDArray[np.float64]
    backlog_stage: NDArray[np.int8] = field(default_factory=lambda: np.empty(0, np.int8))
    """Stage a backlog request waits in at the start (engine index; -1 a new arrival, the
    default for every request when not given; see :mod:`sim.backlog`)."""

    def __post_init__(self) -> None:
        if len(self.backlog_stage) == 0 and len(self.created_min):
            self.backlog_stage = np.full(len(self.created_min), -1, dtype=np.int8)

    def __len__(self) -> int:
        return len(self.created_min)


def hourly_rate_per_min(
    community: Community, start_offset_min: float, n_hours: int
) -> NDArray[np.float64]:
    """Base arrival rate (requests/min, without demand multiplier) for each simulated hour.

    ``start_offset_min`` is the minute of the week at simulated minute 0 (see
    :class:`sim.timeaxis.WeekAxis`).
    """
    return per_simulated_hour(hourly_rate_profile(community), WeekAxis(start_offset_min),
                              n_hours)


def nhpp_times(
    rng: np.random.Generator, rate_per_min: NDArray[np.float64], horizon_min: float
) -> NDArray[np.float64]:
    """Exact NHPP event times on [0, horizon) for a rate constant within each hour."""
    n_hours = len(rate_per_min)
    edges = np.minimum(np.arange(n_hours + 1) * 60.0, horizon_min)
    cum = np.concatenate(([0.0], np.cumsum(rate_per_min * np.diff(edges))))
    total = cum[-1]
    n = rng.poisson(total) if total > 0 else 0
    if n == 0:
        return np.empty(0)
    s = np.sort(rng.random(n)) * total
    j = np.searchsorted(cum, s, side="right") - 1
    j = np.clip(j, 0, n_hours - 1)
    rate = rate_per_min[j]
    times: NDArray[np.float64] = edges[j] + (s - cum[j]) / np.where(rate > 0, rate, np.inf)
    return times


def generate(scenario: Scenario, communities: list[Community], streams: Streams) -> RequestTable:
    """Draw every request of one replication (see module docstring)."""
    run = scenario.run
    horizon = run.horizon_min
    n_hours = math.ceil(horizon / 60.0)
    cat_names = list(scenario.categories)
    parts: list[dict[str, NDArray[np.generic]]] = []
    for ci, com in enumerate(communities):
        base_rate = hourly_rate_per_min(com, run.start_offset_min, n_hours)
        m = com.demand_multiplier
        for k in range(math.ceil(m)):
            t = nhpp_times(streams.get(f"arrivals/{com.name}/{k}"), base_rate, horizon)
            u = streams.get(f"requests/{com.name}/{k}").random((len(t), N_UNIFORMS))
            if m - k < 1.0:  # thin the last copy to the fractional part
                keep = streams.get(f"thinning/{com.name}/{k}").random(len(t)) < (m - k)
                idx = np.flatnonzero(keep)
                t, u = t[idx], u[idx]
            else:
                idx = np.arange(len(t))
            parts.append(_attributes(scenario, com, ci, cat_names, t, u, k, idx))
        if scenario.events:  # surges and clusters add requests from their own streams
            for ei, cat, extra in event_arrivals(scenario, com, base_rate * m, streams,
                                                 N_UNIFORMS):
                idx = np.arange(len(extra.times))
                parts.append(_attributes(scenario, com, ci, cat_names, extra.times, extra.u,
                                         -1 - ei, idx, cat))
    if not parts:  # no demand anywhere (every multiplier 0): an empty table
        parts.append(_attributes(scenario, communities[0], 0, cat_names, np.empty(0),
                                 np.empty((0, N_UNIFORMS)), 0, np.empty(0, dtype=np.intp)))
    table: dict[str, Any] = (
        parts[0] if len(parts) == 1
        else {key: np.concatenate([p[key] for p in parts]) for key in parts[0]})
    # every request raised before the horizon is kept: a 12345 ticket still in transit at
    # the horizon (created_min >= horizon) never reaches the engine but stays in the records
    # as censored, so the resident's clock can count it (see sim.sla)
    created: NDArray[np.float64] = table["created_min"]
    if not (created[1:] >= created[:-1]).all():  # else in order already: the sort's order
        order = np.argsort(created, kind="stable")
        table = {key: v[order] for key, v in table.items()}
    return RequestTable(**table)


def _attributes(
    scenario: Scenario,
    com: Community,
    ci: int,
    cat_names: list[str],
    t: NDArray[np.float64],
    u: NDArray[np.float64],
    copy: int,
    index: NDArray[np.intp],
    forced_category: int = -1,
) -> dict[str, NDArray[np.generic]]:
    n = len(t)
    mix = np.array([com.category_mix.get(c, 0.0) for c in cat_names])
    category = np.searchsorted(np.cumsum(mix) / mix.sum(), u[:, U_CATEGORY], side="right")
    category = np.minimum(category, len(cat_names) - 1).astype(np.int32)
    if forced_category >= 0:  # an event's request: its category is the event's
        category = np.full(n, forced_category, dtype=np.int32)
    shares = {str(k): v for k, v in com.channel_mix.items()}
    chan_mix = np.array([shares.get(c, 0.0) for c in CHANNELS])
    channel = np.searchsorted(np.cumsum(chan_mix) / chan_mix.sum(), u[:, U_CHANNEL], "right")
    channel = np.minimum(channel, len(CHANNELS) - 1).astype(np.int32)

    urgent = np.zeros(n, dtype=bool)
    complex_ = np.zeros(n, dtype=bool)
    outside = np.zeros(n, dtype=bool)
    respond = np.zeros(n)
    work = np.zeros(n)
    plan = np.zeros(n)
    wait = np.zeros(n)
    close = np.zeros(n)
    for k in np.unique(category):
        cat = scenario.categories[cat_names[k]]
        m = category == k
        uk = u[m]
        urgent[m] = cat.priority == "urgent"
        cx = uk[:, U_COMPLEX] < min(1.0, cat.complex_prob * com.complex_prob_multiplier)
        complex_[m] = cx
        respond[m] = cat.respond_time.ppf(uk[:, U_RESPOND])
        if cat.onsite_by:
            assert cat.work_time is not None and cat.assess is not None
            work[m] = np.where(
                cx, cat.assess.ppf(uk[:, U_WORK]), cat.work_time.ppf(uk[:, U_WORK])
            )
        if cat.plan_time is not None:
            plan[m] = cat.plan_time.ppf(uk[:, U_PLAN])
        close[m] = cat.close_time.ppf(uk[:, U_CLOSE])
        if cat.outside_party is not None:
            outside[m] = uk[:, U_OUTSIDE] < cat.outside_party.prob
            wait[m] = cat.outside_party.wait.ppf(uk[:, U_WAIT])
    transfer = np.zeros(n)
    delays = {str(k): v.transfer_delay for k, v in scenario.channels.items()}
    for j, ch in enumerate(CHANNELS):
        m = channel == j
        if m.any():
            transfer[m] = delays[ch].ppf(u[m, U_TRANSFER])
    return {
        "community": np.full(n, ci, dtype=np.int32),
        "category": category,
        "channel": channel,
        "urgent": urgent,
        "complex": complex_,
        "outside": outside,
        "raised_min": t,
        "created_min": t + transfer,
        "stream_copy": np.full(n, copy, dtype=np.int32),
        "stream_index": index.astype(np.int32),
        "respond_dur": respond,
        "travel_u": u[:, U_TRAVEL].copy(),
        "travel_dur": com.travel_time.ppf(u[:, U_TRAVEL]),
        "work_dur": work,
        "plan_dur": plan,
        "wait_dur": wait,
        "close_dur": close,
    }
