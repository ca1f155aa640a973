"""Interventions as levers: common random numbers when off, exact thinning rates (binomial
bands sized for <0.1% false alarms), travel changes, one cost scale with staff, and the
lever paths of sweep / compare / optimize."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim
from sim.arrivals import generate
from sim.comparison import compare
from sim.config import ScenarioError, scenario_from_dict
from sim.interventions import apply_interventions
from sim.levers import apply
from sim.optimiser import grid_search
from sim.rng import Streams
from sim.staffing import scenario_weekly_cost
from tests.helpers import tiny_dict

Z = stats.norm.ppf(0.9995)  # two-sided 99.9% band


def _data(*interventions: dict[str, Any], rate: float = 0.1) -> dict[str, Any]:
    data = tiny_dict(interventions=list(interventions))
    com = data["communities"][0]
    com["requests_per_household_per_day"] = rate
    com["category_mix"] = {"job": 0.5, "ebike_charging": 0.5}
    second = {**com, "name": "c2"}
    data["communities"].append(second)
    return data


def _sc(*interventions: dict[str, Any], rate: float = 0.1) -> sim.Scenario:
    return scenario_from_dict(_data(*interventions, rate=rate), "<test>")


SHEDS = {"name": "sheds", "weekly_cost": 700.0, "rate_multipliers": {"ebike_charging": 0.6}}


def _keys(df: pd.DataFrame) -> pd.DataFrame:
    return df[["community", "stream_copy", "stream_index"]].astype(str)


def test_off_or_zero_intensity_reproduces_the_base_run_exactly() -> None:
    base = sim.simulate(_sc(), seed=3).requests
    for variant in ({**SHEDS, "enabled": False}, {**SHEDS, "intensity": 0.0}):
        pd.testing.assert_frame_equal(sim.simulate(_sc(variant), seed=3).requests, base)


def test_kept_requests_are_the_base_requests_unchanged() -> None:
    base = sim.simulate(_sc(), seed=3).requests
    sheds = sim.simulate(_sc(SHEDS), seed=3).requests
    jobs = base[base["category"] == "job"]
    # every other category is untouched: same requests, same draws
    kept_jobs = sheds[sheds["category"] == "job"]
    np.testing.assert_array_equal(kept_jobs["raised_min"], jobs["raised_min"])
    merged = sheds.merge(base, on=["community", "stream_copy", "stream_index"],
                         suffixes=("", "_base"))
    assert len(merged) == len(sheds)  # nothing new appears
    np.testing.assert_array_equal(merged["raised_min"], merged["raised_min_base"])
    assert (merged["category"].astype(str) == merged["category_base"].astype(str)).all()
    assert (sheds["category"] == "ebike_charging").sum() < (
        base["category"] == "ebike_charging").sum()


def _counts(sc: sim.Scenario, seed: int, reps: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Per community x category: requests drawn, and kept by the interventions."""
    coms = list(sc.expanded_communities())
    drawn = np.zeros((len(coms), len(sc.categories)))
    kept = np.zeros_like(drawn)
    for r in range(reps):
        streams = Streams(seed, r)
        req = generate(sc, coms, streams)
        out = apply_interventions(sc, coms, req, streams)
        np.add.at(drawn, (req.community, req.category), 1)
        np.add.at(kept, (out.community, out.category), 1)
    return drawn, kept


@pytest.mark.statistical
@pytest.mark.parametrize(("interventions", "expected_c1", "expected_c2"), [
    ([SHEDS], 0.6, 0.6),
    ([{**SHEDS, "intensity": 0.5}], 0.8, 0.8),
    ([SHEDS, {"name": "app", "self_service": {"ebike_charging": 0.3},
              "communities": ["c2"]}], 0.6, 0.42),
])
def test_thinned_rates_are_the_declared_ones(
    interventions: list[dict[str, Any]], expected_c1: float, expected_c2: float,
    stat_seed: int,
) -> None:
    # two binomial checks at 0.1% each: fails for fewer than 0.2% of seeds
    sc = _sc(*interventions, rate=2.0)  # 200 requests a day per community
    drawn, kept = _counts(sc, stat_seed)
    e = list(sc.categories).index("ebike_charging")
    j = list(sc.categories).index("job")
    assert (kept[:, j] == drawn[:, j]).all()
    for ci, p in ((0, expected_c1), (1, expected_c2)):
        n = drawn[ci, e]
        assert n > 1000
        assert abs(kept[ci, e] / n - p) < Z * np.sqrt(p * (1 - p) / n), (ci, p)


def test_stronger_intensity_keeps_a_subset() -> None:
    coms = list(_sc().expanded_communities())
    kept = []
    for s in (0.25, 0.5, 1.0):
        sc = _sc({**SHEDS, "intensity": s})
        streams = Streams(4, 0)
        out = apply_interventions(sc, coms, generate(sc, coms, streams), streams)
        kept.append(set(zip(out.community.tolist(), out.stream_index.tolist(), strict=True)))
    assert kept[2] < kept[1] < kept[0]


def test_travel_time_multiplier_moves_arrival_on_site_exactly() -> None:
    quick = {"name": "bikes", "travel_time_multiplier": 0.4, "communities": ["c1"]}
    base = sim.simulate(_sc(), seed=2).requests
    fast = sim.simulate(_sc(quick), seed=2).requests
    first = base.index[(base["community"] == "c1") & (base["category"] == "job")][0]
    # tiny: desk 10 min, travel fixed 5 min; the first request finds everyone free
    assert base.loc[first, "onsite_min"] - base.loc[first, "created_min"] == 15.0
    assert fast.loc[first, "onsite_min"] - fast.loc[first, "created_min"] == 12.0
    c2 = base["community"] == "c2"
    second = base.index[c2][0]
    assert fast.loc[second, "onsite_min"] == base.loc[second, "onsite_min"]


def test_weekly_cost_adds_to_the_staff_cost() -> None:
    staff = scenario_weekly_cost(_sc())
    assert scenario_weekly_cost(_sc(SHEDS)) == staff + 700.0
    assert scenario_weekly_cost(_sc({**SHEDS, "intensity": 0.5})) == staff + 350.0
    assert scenario_weekly_cost(_sc({**SHEDS, "enabled": False})) == staff


def test_lever_paths_switch_and_scale_an_intervention() -> None:
    sc = _sc({**SHEDS, "enabled": False})
    on = apply(sc, {"interventions.sheds": 1})
    assert on.interventions[0].enabled is True
    assert apply(on, {"interventions.sheds": "false"}).interventions[0].enabled is False
    half = apply(on, {"interventions.sheds.intensity": 0.5})
    assert scenario_weekly_cost(half) == scenario_weekly_cost(sc) + 350.0
    with pytest.raises(ScenarioError, match="no entry named 'barns'"):
        apply(sc, {"interventions.barns": 1})


def test_compare_and_grid_search_put_sheds_and_staff_on_one_scale() -> None:
    sc = _sc({**SHEDS, "enabled": False}, rate=1.0)
    on = apply(sc, {"interventions.sheds": 1})
    table = compare(sc, on, replications=2, jobs=1)
    assert (table["alternative_cost"] - table["base_cost"] == 700.0).all()
    res = grid_search(sc, {"interventions.sheds": [0, 1], "staff.tech.shifts.0": [1, 2]},
                      {"onsite": 0.5}, replications=2, jobs=1)
    costs = {e.values: e.cost for e in res.evaluations}
    assert costs[(1, 1)] - costs[(0, 1)] == 700.0


def test_bad_interventions_are_named() -> None:
    for bad, words in [
        ({"name": "x", "rate_multipliers": {"nope": 0.5}}, "unknown categories"),
        ({"name": "x", "rate_multipliers": {"job": 1.5}}, "between 0 and 1"),
        ({"name": "x", "communities": ["mars"]}, "unknown communities"),
        ({"name": "x", "intensity": 2}, "intensity"),
    ]:
        with pytest.raises(ScenarioError, match=words):
            scenario_from_dict(_data(bad), "<test>")


def test_sensitivity_varies_the_preset_effect_a_scenario_takes() -> None:
    from pathlib import Path

    import yaml

    from sim.sensitivity import patched, scenario_factors

    path = Path(__file__).resolve().parents[1] / "scenarios/yajuyuan_sheds_vs_staff.yaml"
    sc = sim.load_scenario(path)
    factors, _ = scenario_factors(sc, yaml.safe_load(path.read_text(encoding="utf-8")))
    by_path = {f.path: f for f in factors}
    effect = by_path["interventions.charging_sheds.rate_multipliers.ebike_charging"]
    assert (effect.value, effect.low, effect.high) == (0.6, 0.3, 0.9)
    cost = by_path["interventions.charging_sheds.weekly_cost"]
    low = patched(sim.config.resolved_dict(sc), [cost], [cost.low])
    assert low.interventions[0].weekly_cost == 400.0
