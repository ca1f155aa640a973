"""Reduced scenarios whose answers queueing theory knows.

:func:`mmc_scenario` builds an ordinary scenario (it goes through the same loader checks
and the same model code as any other) whose respond stage is exactly an M/M/c queue: one
community, a flat arrival profile (so arrivals are homogeneous Poisson), one category
closed at the desk, exponential handling, one 24-hour shift of ``servers`` people, FIFO
(no escalation, so no priority changes).
"""

from __future__ import annotations

from typing import Any

from sim.config import Scenario, scenario_from_dict


def mmc_dict(
    arrival_rate_per_hour: float,
    mean_service_min: float,
    servers: int,
    horizon_days: float,
    seed: int = 1,
    replications: int = 10,
    warmup_days: float | None = None,
) -> dict[str, Any]:
    """The plain-data form of :func:`mmc_scenario` (what a YAML file would hold)."""
    warm = horizon_days / 10 if warmup_days is None else warmup_days
    return {
        "name": f"mmc_{servers}",
        "description": (
            f"M/M/{servers}: lambda={arrival_rate_per_hour}/h, "
            f"mean service {mean_service_min} min"
        ),
        "run": {"horizon_days": horizon_days, "warmup_days": warm,
                "replications": replications, "seed": seed},
        "sla": [{"name": "respond20", "respond_min": 20, "onsite_min": None,
                 "finish_min": None, "plan_min": None}],
        "escalation": {"enabled": False},
        "categories": {
            "request": {
                "respond_time": {"dist": "exponential", "mean_min": mean_service_min},
                "onsite_by": [],
                "complex_prob": 0.0,
            }
        },
        "communities": [{
            "name": "queue",
            "type": "custom",
            "households": 1,
            "requests_per_household_per_day": arrival_rate_per_hour * 24.0,
            "hour_profile": [1.0] * 24,
            "weekday_profile": [1.0] * 7,
            "channel_mix": {"phone": 1.0},
            "category_mix": {"request": 1.0},
            "travel_time": {"dist": "fixed", "value_min": 0.0},
        }],
        "staff": [{
            "name": "servers",
            "kind": "service_desk",
            "scope": "community",
            "shifts": [{"name": "always", "start_hour": 0, "end_hour": 24, "headcount": servers}],
        }],
    }


def mmc_scenario(
    arrival_rate_per_hour: float,
    mean_service_min: float,
    servers: int,
    horizon_days: float,
    seed: int = 1,
    replications: int = 10,
) -> Scenario:
    """A scenario whose respond stage is an M/M/c queue (wait = ``responded - created``)."""
    return scenario_from_dict(
        mmc_dict(arrival_rate_per_hour, mean_service_min, servers, horizon_days, seed,
                 replications),
        source="<mmc_scenario>",
    )
