"""Interventions on a drawn request table: fewer requests of some categories, shorter travel.

An intervention (:class:`sim.config.world.Intervention`) in force at strength s keeps a
request of category k in a community it applies to with probability

    p = prod over interventions (1 - s (1 - m_k)) x (1 - s x self_service_k)

and multiplies its travel time by ``1 + s (travel_time_multiplier - 1)``.  Thinning uses
one dedicated uniform per request, drawn from the stream ``interventions/<community>/<copy>``
and indexed by the request's position in its arrival stream (``stream_index``), so:

* with every intervention off (or none declared) the table is returned unchanged -- the
  base run exactly;
* the requests kept are exactly those of the base run whose uniform falls below p, with
  every attribute unchanged (common random numbers), and a stronger intervention keeps a
  subset of what a weaker one keeps.

Their weekly cost is added to the staff cost by :func:`sim.staffing.scenario_weekly_cost`.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
from numpy.typing import NDArray

from sim.arrivals import RequestTable
from sim.config import Community, Scenario
from sim.config.world import Intervention
from sim.rng import Streams

__all__ = ["applies", "apply_interventions", "keep_probability", "subset", "travel_factor"]


def applies(v: Intervention, community: Community, entry: str) -> bool:
    """Whether ``v`` acts in ``community`` (stamped from scenario entry ``entry``)."""
    return v.communities is None or bool(
        {community.name, entry, community.type} & set(v.communities))


def keep_probability(
    scenario: Scenario, communities: list[Community]
) -> NDArray[np.float64]:
    """``[community, category]`` -> probability a request is kept (1 where nothing acts)."""
    cats = list(scenario.categories)
    groups = scenario.community_groups()
    p = np.ones((len(communities), len(cats)))
    for v in scenario.interventions:
        s = v.strength
        if s == 0:
            continue
        for ci, com in enumerate(communities):
            if not applies(v, com, groups[com.name]):
                continue
            for name, m in v.rate_multipliers.items():
                p[ci, cats.index(name)] *= 1.0 - s * (1.0 - m)
            for name, share in v.self_service.items():
                p[ci, cats.index(name)] *= 1.0 - s * share
    return p


def travel_factor(scenario: Scenario, communities: list[Community]) -> NDArray[np.float64]:
    """Per community, the factor its travel times are multiplied by."""
    groups = scenario.community_groups()
    f = np.ones(len(communities))
    for v in scenario.interventions:
        s = v.strength
        if s == 0 or v.travel_time_multiplier == 1.0:
            continue
        for ci, com in enumerate(communities):
            if applies(v, com, groups[com.name]):
                f[ci] *= 1.0 + s * (v.travel_time_multiplier - 1.0)
    return f


def subset(req: RequestTable, keep: NDArray[np.bool_]) -> RequestTable:
    """The requests where ``keep`` is true, order kept."""
    return RequestTable(**{f.name: getattr(req, f.name)[keep] for f in fields(req)})


def apply_interventions(
    scenario: Scenario, communities: list[Community], req: RequestTable, streams: Streams
) -> RequestTable:
    """The table with every intervention in force applied (see module docstring)."""
    if not any(v.strength > 0 for v in scenario.interventions):
        return req
    p = keep_probability(scenario, communities)[req.community, req.category]
    keep = np.ones(len(req), dtype=bool)
    thin = p < 1.0
    if thin.any():
        u = np.ones(len(req))
        for ci, com in enumerate(communities):
            here = req.community == ci
            for copy in np.unique(req.stream_copy[here & thin]):
                m = here & (req.stream_copy == copy)
                idx = req.stream_index[m]
                draws = streams.get(f"interventions/{com.name}/{int(copy)}").random(
                    int(idx.max()) + 1)
                u[m] = draws[idx]
        keep = u < p
    factor = travel_factor(scenario, communities)
    out = subset(req, keep)
    if (factor != 1.0).any():
        out.travel_dur = out.travel_dur * factor[out.community]
    return out
