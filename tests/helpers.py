"""Builders shared by the tests: small scenarios as plain data and hand-made request tables."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from sim.arrivals import RequestTable
from sim.config import Scenario, scenario_from_dict
from sim.model import run_requests
from sim.records import SimulationResult


def fixed(minutes: float) -> dict[str, Any]:
    return {"dist": "fixed", "value_min": minutes}


def tiny_dict(**changes: Any) -> dict[str, Any]:
    """One custom community, one category, 24h staff: easy to reason about by hand."""
    base: dict[str, Any] = {
        "name": "tiny",
        "run": {"horizon_days": 1, "warmup_days": 0, "replications": 1, "seed": 1},
        "escalation": {"enabled": False},
        "categories": {
            "job": {
                "respond_time": fixed(10),
                "work_time": fixed(60),
                "plan_time": fixed(120),
                "close_time": fixed(30),
                "plan_by": ["community_cadre"],
            }
        },
        "communities": [{
            "name": "c1", "type": "custom", "street": "s1", "households": 100,
            "requests_per_household_per_day": 0.1, "hour_profile": [1] * 24,
            "weekday_profile": [1] * 7, "channel_mix": {"phone": 1.0},
            "category_mix": {"job": 1.0}, "travel_time": fixed(5),
        }],
        "staff": [
            {"name": "desk", "kind": "service_desk",
             "shifts": [{"start_hour": 0, "end_hour": 24, "headcount": 1}]},
            {"name": "tech", "kind": "technician",
             "shifts": [{"start_hour": 0, "end_hour": 24, "headcount": 1}]},
            {"name": "cadre", "kind": "community_cadre",
             "shifts": [{"start_hour": 0, "end_hour": 24, "headcount": 1}]},
        ],
    }
    out = copy.deepcopy(base)
    for key, value in changes.items():
        out[key] = value
    return out


def tiny(**changes: Any) -> Scenario:
    return scenario_from_dict(tiny_dict(**changes), "<test>")


def table(
    scenario: Scenario,
    created: list[float],
    *,
    urgent: list[bool] | None = None,
    complex_: list[bool] | None = None,
    outside: list[bool] | None = None,
    community: list[int] | None = None,
    respond: float | list[float] = 10.0,
    travel: float | list[float] = 5.0,
    work: float | list[float] = 60.0,
    plan: float | list[float] = 120.0,
    wait: float | list[float] = 0.0,
    close: float | list[float] = 30.0,
    category: str | None = None,
) -> RequestTable:
    """A request table with the given arrival times and durations.

    Every request is of ``category`` (a name in ``scenario.categories``); by default the
    scenario's first category, which for :func:`tiny` is the first preset (``lift_fault``,
    whose staff kinds per stage are those of ``job``).
    """
    n = len(created)
    cat = 0 if category is None else list(scenario.categories).index(category)

    def arr(v: float | list[float]) -> np.ndarray:
        return np.array(v, dtype=float) if isinstance(v, list) else np.full(n, float(v))

    def flags(v: list[bool] | None) -> np.ndarray:
        return np.zeros(n, bool) if v is None else np.array(v, dtype=bool)

    t = np.array(created, dtype=float)
    return RequestTable(
        community=np.array(community or [0] * n, dtype=np.int32),
        category=np.full(n, cat, np.int32), channel=np.zeros(n, np.int32),
        urgent=flags(urgent), complex=flags(complex_), outside=flags(outside),
        raised_min=t, created_min=t,
        stream_copy=np.zeros(n, np.int32), stream_index=np.arange(n, dtype=np.int32),
        respond_dur=arr(respond), travel_u=np.full(n, 0.5), travel_dur=arr(travel),
        work_dur=arr(work), plan_dur=arr(plan), wait_dur=arr(wait), close_dur=arr(close),
    )


def shipped(name: str, days: float, reps: int) -> Scenario:
    """Shipped scenario ``name`` cut to ``days`` (one day of warm-up) and ``reps``
    replications."""
    from pathlib import Path

    from sim.config import load_scenario

    sc = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / f"{name}.yaml")
    run = sc.run.model_copy(update={"horizon_days": days, "warmup_days": 1.0,
                                    "replications": reps})
    return sc.model_copy(update={"run": run})


def run(scenario: Scenario, req: RequestTable) -> SimulationResult:
    return run_requests(scenario, list(scenario.expanded_communities()), req)


def _default_sigint() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interruptible(args: Any, **kw: Any) -> Any:
    """``subprocess.Popen`` of a command a test may interrupt: Ctrl-C as at a terminal.

    A process started with SIGINT ignored (as a test runner's worker may be) passes that
    on, and Python then never raises KeyboardInterrupt; the child restores the default.
    """
    import subprocess

    return subprocess.Popen(args, preexec_fn=_default_sigint, **kw)
