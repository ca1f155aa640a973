"""Hand-made scenarios whose binding constraints are known by construction."""

from __future__ import annotations

from typing import Any

from sim.config import Scenario, scenario_from_dict
from tests.helpers import fixed, tiny_dict


def night_disputes_dict(dispute_share: float = 0.5, horizon_days: float = 4) -> dict[str, Any]:
    """Repairs (technicians, round the clock) and neighbour disputes (only community
    cadres go on site, and they work 08:00-18:00): disputes raised at night wait for the
    morning, so on-site compliance fails 18:00-08:00 whatever the technicians do."""
    d = tiny_dict()
    d["name"] = "night_disputes"
    d["run"] = {"horizon_days": horizon_days, "warmup_days": 1, "replications": 4, "seed": 7}
    d["sla"] = [{"name": "2341", "respond_min": 20, "onsite_min": 30, "finish_min": None,
                 "plan_min": None}]
    d["categories"] = {
        "repair": {"respond_time": fixed(5), "work_time": fixed(30)},
        "dispute": {"respond_time": fixed(5), "work_time": fixed(30),
                    "onsite_by": ["community_cadre"]},
    }
    c = d["communities"][0]
    c["type"] = "old_estate"
    c["requests_per_household_per_day"] = 0.3
    c["category_mix"] = {"repair": 1 - dispute_share, "dispute": dispute_share}
    d["staff"] = [
        {"name": "desk", "kind": "service_desk",
         "shifts": [{"name": "all", "start_hour": 0, "end_hour": 24, "headcount": 2}]},
        {"name": "tech", "kind": "technician",
         "shifts": [{"name": "day", "start_hour": 0, "end_hour": 24, "headcount": 1}]},
        {"name": "cadre", "kind": "community_cadre",
         "shifts": [{"name": "day", "start_hour": 8, "end_hour": 18, "headcount": 8}]},
    ]
    return d


def night_disputes(**kw: Any) -> Scenario:
    return scenario_from_dict(night_disputes_dict(**kw), "<night_disputes>")
