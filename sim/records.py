"""Per-request records and pool level logs -> tidy DataFrames.

The model writes into preallocated arrays; everything here runs once per replication,
vectorised, after the simulation has finished.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sim.arrivals import RequestTable
from sim.config import CHANNELS, WEEKDAYS, Community, Scenario
from sim.results import SimulationResult as SimulationResult  # its home is sim.results
from sim.staff import Pool
from sim.staffing import weekly_cost
from sim.stages import QUEUED_STAGES, STAGE_TABLE
from sim.timeaxis import WeekAxis

REQUEST_COLUMNS = (
    "replication", "community", "community_type", "street", "category", "channel",
    "priority", "complex", "outside_wait", "raised_min", "created_min", "responded_min",
    "onsite_min", "plan_min", "finished_min", "hour", "weekday", "respond_pool",
    "onsite_pool", "plan_pool", "escalated", "in_transit", "plan_owed_min", "paused_min",
    "stream_copy", "stream_index", "backlog", "backlog_stage",
)
"""Columns of :attr:`SimulationResult.requests`, in order (``in_transit``: raised before
the horizon, not yet transferred to the community at it; ``plan_owed_min``: when a routine
request entered the plan track by overrunning its finish target, NaN otherwise;
``backlog``: open at the start of the run, ``backlog_stage`` the stage it waited in then,
see :mod:`sim.backlog`)."""


LOAD_MEASURES = (
    "busy_min", "on_duty_min", "queue_min", "rostered_min", "overtime_min", "other_min",
)
"""Time-integral columns of :attr:`SimulationResult.load`, per pool and hour of day."""


def _cat(codes: NDArray[np.generic], names: list[str]) -> pd.Categorical[str]:
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64), categories=pd.Index(names))


def requests_frame(
    scenario: Scenario,
    replication: int,
    communities: list[Community],
    req: RequestTable,
    out: dict[str, NDArray[np.generic]],
    pool_names: list[str],
) -> pd.DataFrame:
    """The per-request table (see :data:`REQUEST_COLUMNS`)."""
    n = len(req)
    axis = WeekAxis.from_run(scenario.run)
    com_names = [c.name for c in communities]
    types = np.array([c.type for c in communities])
    streets = np.array([c.street for c in communities])
    type_names = list(dict.fromkeys(types))
    street_names = list(dict.fromkeys(streets))
    type_codes = np.array([type_names.index(t) for t in types])
    street_codes = np.array([street_names.index(s) for s in streets])
    cat_names = list(scenario.categories)
    backlog_codes = req.backlog_stage
    urgent_names = ["normal", "urgent"]
    columns: dict[str, object] = {
        "replication": np.full(n, replication, dtype=np.int32),
        "community": _cat(req.community, com_names),
        "community_type": _cat(type_codes[req.community], type_names),
        "street": _cat(street_codes[req.community], street_names),
        "category": _cat(req.category, cat_names),
        "channel": _cat(req.channel, list(CHANNELS)),
        "priority": _cat(req.urgent.astype(np.int64), urgent_names),
        "complex": req.complex,
        "outside_wait": req.outside,
        "raised_min": req.raised_min,
        "created_min": req.created_min,
        **{s.column: out[s.column] for s in STAGE_TABLE},
        "hour": axis.hour_of_day(req.created_min).astype(np.int8),
        "weekday": _cat(axis.weekday(req.created_min), list(WEEKDAYS)),
        **{s.pool_column: _cat(out[s.pool_column], pool_names) for s in QUEUED_STAGES},
        "escalated": out["escalated"],
        "in_transit": req.created_min >= scenario.run.horizon_min,
        "plan_owed_min": out["plan_owed_min"],
        "paused_min": out["paused_min"],
        "stream_copy": req.stream_copy,
        "stream_index": req.stream_index,
        "backlog": backlog_codes >= 0,
        "backlog_stage": _cat(backlog_codes, [s.name for s in QUEUED_STAGES]),
    }
    # in their order, not copied: the frame is built once the engine has finished
    # with its arrays, and a copy would double the peak memory of a long run
    return pd.DataFrame({c: columns[c] for c in REQUEST_COLUMNS}, copy=False)


def _areas(
    t: NDArray[np.float64], levels: NDArray[np.float64], edges: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Integrals of step functions (row ``j`` is ``levels[j, i]`` from ``t[i]`` on)
    between consecutive ``edges``: one row per function, one column per interval.

    Each function is a contiguous row, so its running sum runs along memory.
    """
    dt = np.diff(np.append(t, edges[-1]))
    cum = np.zeros((levels.shape[0], len(t) + 1))
    np.cumsum(levels * dt, axis=1, out=cum[:, 1:])
    k = np.searchsorted(t, edges, side="right") - 1
    return np.diff(cum[:, k] + levels[:, k] * (edges - t[k]), axis=1)


def load_frames(scenario: Scenario, pools: list[Pool]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Time-weighted load per pool x hour of day, and per kind x simulated hour.

    The load frame's minutes are time-integrals over the hours after warm-up:
    ``busy_min`` (people working on requests), ``other_min`` (people on other work:
    blocks and interruptions), ``on_duty_min`` (rostered or still working,
    max(capacity, busy + other)), ``queue_min`` (requests waiting), ``rostered_min`` (the
    shift headcount present, capacity: absent people are not counted) and
    ``overtime_min`` (people finishing a job after their shift ended,
    max(busy + other - capacity, 0)); ``on_duty_min = rostered_min + overtime_min``.
    """
    run = scenario.run
    horizon = run.horizon_min
    n_hours = int(np.ceil(horizon / 60.0))
    edges = np.minimum(np.arange(n_hours + 1) * 60.0, horizon)
    hod = WeekAxis.from_run(run).hours_of_day(n_hours)
    after = edges[:-1] >= run.warmup_min
    width = np.diff(edges)
    kinds: dict[str, NDArray[np.float64]] = {}
    observed = np.bincount(hod[after], weights=width[after], minlength=24)
    sums = np.empty((len(pools), len(LOAD_MEASURES), 24))
    for i, p in enumerate(pools):
        log = p.levels()
        t, busy, waiting, cap, other = log[:, 0], log[:, 1], log[:, 2], log[:, 3], log[:, 4]
        working = busy + other
        per_hour = _areas(t, np.stack([
            busy, np.maximum(cap, working), waiting, cap, np.maximum(working - cap, 0.0),
            other,
        ]), edges)  # one row per measure of LOAD_MEASURES
        acc = kinds.setdefault(p.kind, np.zeros((3, n_hours)))
        acc += per_hour[:3]
        for m in range(len(LOAD_MEASURES)):
            sums[i, m] = np.bincount(hod[after], weights=per_hour[m][after], minlength=24)
    n = len(pools)
    load = pd.DataFrame({
        "pool": np.repeat([p.name for p in pools], 24),
        "kind": np.repeat([p.kind for p in pools], 24),
        "scope": np.repeat([p.scope for p in pools], 24),
        "hour": np.tile(np.arange(24), n),
        "observed_min": np.tile(observed, n),
        **{name: sums[:, m].ravel() for m, name in enumerate(LOAD_MEASURES)},
    })
    backlog = pd.concat(
        [
            pd.DataFrame({
                "kind": k, "hour_index": np.arange(n_hours), "start_min": edges[:-1],
                "busy": v[0] / width, "on_duty": v[1] / width, "waiting": v[2] / width,
            })
            for k, v in kinds.items()
        ],
        ignore_index=True,
    )
    return load, backlog


def build_result(
    scenario: Scenario,
    seed: int,
    replication: int,
    communities: list[Community],
    req: RequestTable,
    out: dict[str, NDArray[np.generic]],
    pools: list[Pool],
) -> SimulationResult:
    """Assemble a :class:`SimulationResult` from the engine's arrays and pool logs."""
    names = [p.name for p in pools]
    cost = {id(p.spec): weekly_cost(p.spec) for p in pools}  # once per staff entry
    requests = requests_frame(scenario, replication, communities, req, out, names)
    load, backlog = load_frames(scenario, pools)
    pool_df = pd.DataFrame({
        "pool": names,
        "spec": [p.spec.name for p in pools],
        "kind": [p.kind for p in pools],
        "scope": [p.scope for p in pools],
        "weekly_cost": [cost[id(p.spec)] for p in pools],
        "overtime_min": [p.overtime_min for p in pools],
        "overtime_jobs": [p.overtime_jobs for p in pools],
    })
    for df in (load, backlog, pool_df):
        df.insert(0, "replication", replication)
    return SimulationResult(scenario, seed, replication, requests, pool_df, load, backlog)
