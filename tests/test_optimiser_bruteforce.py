"""The optimiser against an independent brute-force evaluation of a small lever grid.

The reference below shares no code with :mod:`sim.optimiser` or :mod:`sim.sweeps`: it
builds each grid point from plain data, simulates every replication with
:func:`sim.simulate`, computes compliance per community type x stage from
:func:`sim.sla.outcomes`, the one-sided lower confidence bounds with ``scipy.stats.t``
directly, and the weekly cost from the shift table by hand.
"""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim
from sim.config import scenario_from_dict
from sim.optimiser import lower_bounds
from sim.sla import outcomes

CONFIDENCE = 0.9
REPS = 4
SEED = 77
TARGETS = {"onsite": 0.7}
GRID = {"staff.tech.day": [1, 2, 3], "staff.tech.night": [0, 1, 2]}
WEEK_H = 168.0


def base_dict() -> dict[str, Any]:
    return {
        "name": "opt-tiny",
        "run": {"horizon_days": 5, "warmup_days": 1, "replications": REPS, "seed": SEED},
        "communities": [
            {"name": "n1", "type": "new_estate", "street": "s", "households": 250},
            {"name": "o1", "type": "old_estate", "street": "s", "households": 250},
        ],
        "staff": [
            {"name": "desk", "kind": "service_desk", "hourly_cost": 30,
             "shifts": [{"name": "all", "start_hour": 0, "end_hour": 24, "headcount": 1}]},
            {"name": "tech", "kind": "technician", "hourly_cost": 40,
             "shifts": [{"name": "day", "start_hour": 8, "end_hour": 20, "headcount": 1},
                        {"name": "night", "start_hour": 20, "end_hour": 24, "headcount": 0}]},
            {"name": "cadre", "kind": "community_cadre", "scope": "street", "hourly_cost": 35,
             "shifts": [{"name": "all", "start_hour": 0, "end_hour": 24, "headcount": 2}]},
        ],
    }


def with_levers(values: dict[str, int]) -> dict[str, Any]:
    d = copy.deepcopy(base_dict())
    for path, v in values.items():
        _, pool, shift = path.split(".")
        p = next(p for p in d["staff"] if p["name"] == pool)
        next(s for s in p["shifts"] if s["name"] == shift)["headcount"] = v
    return d


def weekly_cost_by_hand(d: dict[str, Any]) -> float:
    n_communities = len(d["communities"])
    n_streets = len({c["street"] for c in d["communities"]})
    total = 0.0
    for p in d["staff"]:
        copies = {"community": n_communities, "street": n_streets, "zone": 1}[
            p.get("scope", "community")]
        for s in p["shifts"]:
            hours = (s["end_hour"] - s["start_hour"]) % 24 or 24
            per_week = hours * len(s.get("days", range(7))) * s["headcount"]
            total += copies * per_week * s.get("cost_factor", 1.0) * p["hourly_cost"]
    return total


def per_replication(d: dict[str, Any]) -> pd.DataFrame:
    """Compliance per replication x community type x stage (decided outcomes only)."""
    sc = scenario_from_dict(d)
    rows = []
    for r in range(REPS):
        req = sim.simulate(sc, SEED, r).requests
        req = req[req["created_min"] >= sc.run.warmup_min]
        out = outcomes(req, sc.sla[0], sc)
        for ctype in sorted(set(req["community_type"].astype(str))):
            mine = (req["community_type"] == ctype).to_numpy()
            for stage in TARGETS:
                v = out.loc[mine, stage].to_numpy(dtype=float)
                v = v[~np.isnan(v)]
                if len(v):
                    rows.append((r, ctype, stage, float(v.mean())))
    return pd.DataFrame(rows, columns=["replication", "community_type", "stage", "value"])


def lcb_by_hand(values: np.ndarray, confidence: float) -> float:
    n = len(values)
    if n < 2:
        return -math.inf
    sd = float(np.std(values, ddof=1))
    return float(values.mean() - stats.t.ppf(confidence, n - 1) * sd / math.sqrt(n))


def evaluate_by_hand() -> dict[str, dict[tuple[int, ...], tuple[float, bool]]]:
    """Per bound (``lcb`` or ``mean``): grid point -> (weekly cost, feasible)."""
    out: dict[str, dict[tuple[int, ...], tuple[float, bool]]] = {"lcb": {}, "mean": {}}
    for combo in itertools.product(*GRID.values()):
        d = with_levers(dict(zip(GRID, combo, strict=True)))
        table = per_replication(d)
        for bound in out:
            ok = True
            for (_, stage), g in table.groupby(["community_type", "stage"]):
                v = g["value"].to_numpy()
                b = lcb_by_hand(v, CONFIDENCE) if bound == "lcb" else float(v.mean())
                ok &= b >= TARGETS[str(stage)]
            out[bound][combo] = (weekly_cost_by_hand(d), ok)
    return out


@pytest.fixture(scope="module")
def by_hand() -> dict[str, dict[tuple[int, ...], tuple[float, bool]]]:
    return evaluate_by_hand()


def cheapest(evals: dict[tuple[int, ...], tuple[float, bool]]) -> tuple[float, list[Any]]:
    feasible = [(c, p) for p, (c, ok) in evals.items() if ok]
    best = min(c for c, _ in feasible)
    return best, [p for c, p in feasible if c == best]


def test_the_grid_separates_mean_from_lower_bound(by_hand: Any) -> None:
    """The case is chosen so that a mean-based search would pick a cheaper point."""
    lcb_cost, _ = cheapest(by_hand["lcb"])
    mean_cost, _ = cheapest(by_hand["mean"])
    assert mean_cost < lcb_cost
    infeasible = [p for p, (_, ok) in by_hand["lcb"].items() if not ok]
    assert infeasible


def test_optimize_finds_the_brute_force_cheapest_feasible_point(by_hand: Any) -> None:
    sc = scenario_from_dict(base_dict())
    res = sim.optimize(sc, GRID, TARGETS, confidence=CONFIDENCE, replications=REPS,
                       seed=SEED, jobs=1, start=(1, 0))
    assert res.first_choice is not None
    cost, points = cheapest(by_hand["lcb"])
    chosen = tuple(res.first_choice)
    hand_cost, hand_ok = by_hand["lcb"][chosen]
    assert hand_ok, f"optimize chose {chosen}, infeasible by the independent evaluation"
    assert hand_cost <= cost + 1e-9, (chosen, points)
    # the optimiser's own cost and feasibility of every point it explored agree
    for e in res.evaluations:
        c, ok = by_hand["lcb"][tuple(e.values)]
        assert e.cost == pytest.approx(c, rel=1e-12), e.values
        assert e.feasible == ok, e.values


def _tidy(rng: np.random.Generator, n: int) -> pd.DataFrame:
    rows = []
    for r in range(n):
        for ctype in ("all", "a", "b"):
            for stage in ("respond", "onsite", "joint"):
                rows.append((r, ctype, stage, float(rng.uniform(0.6, 1.0))))
    df = pd.DataFrame(rows, columns=["replication", "community_type", "stage", "compliance"])
    return df


@pytest.mark.parametrize("n", [2, 3, 10])
@pytest.mark.parametrize("confidence", [0.8, 0.95])
@pytest.mark.parametrize("by_type", [True, False])
def test_lower_bounds_are_one_sided_student_t_bounds(n: int, confidence: float,
                                                     by_type: bool) -> None:
    tidy = _tidy(np.random.default_rng(n), n)
    targets = {"respond": 0.8, "onsite": 0.9}
    got = lower_bounds(tidy, targets, confidence, by_type).set_index(
        ["community_type", "stage"])
    groups = ("a", "b") if by_type else ("all",)
    assert sorted(got.index) == sorted(itertools.product(groups, targets))
    for (ctype, stage), row in got.iterrows():
        v = tidy[(tidy["community_type"] == ctype) & (tidy["stage"] == stage)][
            "compliance"].to_numpy()
        expect = v.mean() - stats.t.ppf(confidence, n - 1) * v.std(ddof=1) / math.sqrt(n)
        assert row["lcb"] == pytest.approx(expect, rel=1e-12, abs=1e-12)
        assert row["margin"] == pytest.approx(expect - targets[str(stage)], abs=1e-12)


def test_a_single_replication_bounds_nothing() -> None:
    tidy = _tidy(np.random.default_rng(0), 1)
    got = lower_bounds(tidy, {"respond": 0.5}, 0.95, True)
    assert (got["lcb"] == -math.inf).all()


def test_missing_replication_values_are_left_out() -> None:
    tidy = _tidy(np.random.default_rng(3), 4)
    sel = (tidy["community_type"] == "a") & (tidy["stage"] == "respond")
    tidy.loc[sel & (tidy["replication"] == 0), "compliance"] = np.nan
    got = lower_bounds(tidy, {"respond": 0.5}, 0.95, True).set_index("community_type")
    v = tidy.loc[sel, "compliance"].dropna().to_numpy()
    expect = v.mean() - stats.t.ppf(0.95, 2) * v.std(ddof=1) / math.sqrt(3)
    assert got.loc["a", "lcb"] == pytest.approx(expect, rel=1e-12)
