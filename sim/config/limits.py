"""Size limits on scenario files and on the work one scenario asks for.

A scenario is refused, with the estimate in the message, before anything large is built:
a typo such as ``count: 1000000000`` or ``horizon_days: 1e9`` should cost the user one
line, not a machine that runs out of memory.  The limits are far beyond any real study
(the largest shipped scenario, a zone of 214 communities over a year, asks for about one
million requests per replication and needs about 0.5 GB).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.config.scenario import Scenario

# --- files
#: Largest scenario file read, in bytes (the largest shipped one is 11 kB).
MAX_FILE_BYTES = 1_000_000
#: Deepest nesting of YAML collections (a scenario needs about 6).
MAX_YAML_DEPTH = 40
#: Most YAML values (scalars and collections) after expanding aliases.
MAX_YAML_NODES = 100_000

# --- one scenario (checked as the scenario is validated)
#: Longest run, in days (ten years).
MAX_HORIZON_DAYS = 3660.0
#: Most replications a scenario may ask for.
MAX_REPLICATIONS = 10_000
#: Most people on one shift.
MAX_HEADCOUNT = 100_000
#: Most community entries, staff pools, categories, shifts per pool and SLA rules
#: (small enough that the resolved scenario a run writes can be read back as a file).
MAX_COMMUNITY_ENTRIES = 300
MAX_STAFF_ENTRIES = 300
MAX_CATEGORIES = 500  # a city 311 log has a few hundred request types (Baltimore: 222)
MAX_SHIFTS = 100
MAX_SLA_RULES = 50
#: Largest demand multiplier (each whole unit is one more copy of the arrival stream).
MAX_DEMAND_MULTIPLIER = 1_000.0
#: Most communities after stamping out ``count``.
MAX_COMMUNITIES = 20_000
#: Most requests expected in one replication (about 10 GB of memory at the engine's
#: 0.5 KB a request; a city of 2,140 communities asks for 10.2 million a year).
MAX_REQUESTS = 20_000_000
#: Most arrival streams (communities x whole copies of the demand multiplier).
MAX_ARRIVAL_STREAMS = 100_000
#: Most run-time staff pools (a community-scope pool is one pool per community).
MAX_POOLS = 50_000
#: Most pool-hours (run-time pools x simulated hours), the size of the load monitors.
MAX_POOL_HOURS = 100_000_000
#: Most staffing changes (shift starts and ends) in one replication.
MAX_SHIFT_CHANGES = 10_000_000

# --- lever grids (sweep, optimise)
#: Most values one lever range may hold.
MAX_LEVER_VALUES = 10_000
#: Most points of a lever grid.
MAX_GRID_POINTS = 100_000


def _n(x: float) -> str:
    """A count for a message: ``12345`` or ``3.2e+12``."""
    return f"{x:.0f}" if x < 1e6 else f"{x:.2g}"


def size_problem(sc: Scenario) -> str | None:
    """The first way ``sc`` asks for more than the limits allow, as ``field: problem``.

    Every estimate is arithmetic on the scenario's fields: nothing is stamped out or
    allocated, so the check is fast however absurd the numbers.
    """
    run = sc.run
    counts = [c.count for c in sc.communities]
    total = sum(counts)
    if total > MAX_COMMUNITIES:
        i = max(range(len(counts)), key=counts.__getitem__)
        return (f"communities[{i}].count: {_n(total)} communities in all; the limit is "
                f"{_n(MAX_COMMUNITIES)} — lower count")
    streams = sum(c.count * max(1, math.ceil(c.demand_multiplier)) for c in sc.communities)
    if streams > MAX_ARRIVAL_STREAMS:
        return (f"communities: {_n(streams)} arrival streams (communities x whole units of "
                f"demand_multiplier); the limit is {_n(MAX_ARRIVAL_STREAMS)} — lower "
                "demand_multiplier or count")
    per_entry = [c.count * c.requests_per_day * run.horizon_days for c in sc.communities]
    requests = sum(per_entry)
    if requests > MAX_REQUESTS:
        i = max(range(len(per_entry)), key=per_entry.__getitem__)
        return (f"communities: about {_n(requests)} requests per replication (most from "
                f"communities[{i}]); the limit is {_n(MAX_REQUESTS)} — shorten "
                "run.horizon_days or lower demand")
    pools = 0
    changes = 0.0
    weeks = run.horizon_days / 7.0
    for p in sc.staff:
        served = [
            c for c in sc.communities
            if p.communities is None or c.name in p.communities or c.type in p.communities
        ]
        if p.scope == "zone":
            n = 1 if served else 0
        elif p.scope == "street":
            n = len({c.street for c in served})
        else:
            n = sum(c.count for c in served)
        pools += n
        changes += n * (2 * sum(len(sh.days) for sh in p.shifts) + 1) * (weeks + 1)
    if pools > MAX_POOLS:
        return (f"staff: {_n(pools)} staff pools at run time (a community-scope pool is one "
                f"per community); the limit is {_n(MAX_POOLS)} — use street or zone scope")
    hours = pools * run.horizon_days * 24.0
    if hours > MAX_POOL_HOURS:
        return (f"run.horizon_days: {_n(pools)} staff pools x {_n(run.horizon_days * 24)} "
                f"hours is {_n(hours)} pool-hours to monitor; the limit is "
                f"{_n(MAX_POOL_HOURS)} — shorten run.horizon_days or use fewer pools")
    if changes > MAX_SHIFT_CHANGES:
        return (f"staff: about {_n(changes)} shift changes per replication; the limit is "
                f"{_n(MAX_SHIFT_CHANGES)} — shorten run.horizon_days or use fewer shifts")
    return None


def grid_problem(sizes: dict[str, int]) -> str | None:
    """Why a grid of levers with ``sizes`` (path -> number of values) is too large."""
    points = math.prod(sizes.values()) if sizes else 0
    if points > MAX_GRID_POINTS:
        shape = " x ".join(_n(s) for s in sizes.values())
        return (f"{shape} = {_n(points)} grid points; the limit is {_n(MAX_GRID_POINTS)} "
                "— use fewer values per lever")
    return None
