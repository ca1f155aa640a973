"""Which assumptions matter: factors of a scenario, exact settings, common random numbers,
rankings, Morris through SALib, reproducibility and the command line."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
import yaml
from typer.testing import CliRunner

import sim.sweeps
from sim import sensitivity as sens
from sim.cli_sensitivity import register
from sim.config import Scenario, resolved_dict, scenario_from_dict
from sim.sensitivity_report import ranking

RESPOND_MEAN = "categories.home_repair.respond_time.mean_min"
UNUSED_SHARE_ZERO = "categories.dispute.work_time.mean_min"  # in the mix at share 0
TRAVEL = "types.new_estate.travel_time.mean_min"
TRAVEL_CV = "types.new_estate.travel_time.cv"  # shipped at the low end of this range
RANGES: dict[str, tuple[Any, tuple[float, float]]] = {
    RESPOND_MEAN: (5.0, (2.0, 40.0)),
    UNUSED_SHARE_ZERO: (60.0, (30.0, 120.0)),
    TRAVEL: (8.0, (4.0, 15.0)),
    TRAVEL_CV: (0.5, (0.5, 1.0)),
    "categories.parking.complex_prob": (0.05, (0.01, 0.15)),  # not in any mix
    "types.village.households": (800.0, (200.0, 2000.0)),  # no village
    "types.new_estate.households": (2000.0, (1000.0, 4000.0)),  # set by the scenario
    "schema.Shift.cost_factor": (1.0, (1.0, 1.0)),  # no width
}


def small_raw() -> dict[str, Any]:
    """One new-estate community (preset travel time) with one lean desk person."""
    return {
        "name": "small",
        "run": {"horizon_days": 3, "warmup_days": 0, "replications": 2, "seed": 7},
        "escalation": {"enabled": False},
        "communities": [{
            "name": "c1", "type": "new_estate", "street": "s1", "households": 1500,
            "requests_per_household_per_day": 0.02,
            "category_mix": {"home_repair": 0.7, "lift_fault": 0.3, "dispute": 0.0},
        }],
        "staff": [
            {"name": "desk", "kind": "service_desk",
             "shifts": [{"start_hour": 0, "end_hour": 24, "headcount": 1}]},
            {"name": "tech", "kind": "technician",
             "shifts": [{"start_hour": 0, "end_hour": 24, "headcount": 2}]},
            {"name": "cadre", "kind": "community_cadre",
             "shifts": [{"start_hour": 0, "end_hour": 24, "headcount": 1}]},
        ],
    }


def small() -> tuple[Scenario, dict[str, Any]]:
    raw = small_raw()
    return scenario_from_dict(copy.deepcopy(raw), "<test>"), raw


def run(method: sens.Method = "both", **kw: Any) -> sens.SensitivityResult:
    sc, raw = small()
    args: dict[str, Any] = {"replications": 3, "trajectories": 4, "jobs": 1,
                            "ranges": RANGES, **kw}
    return sens.sensitivity(sc, raw, method, **args)


@pytest.fixture(scope="module")
def both() -> sens.SensitivityResult:
    return run("both")


# --------------------------------------------------------------------------- factors
def test_factors_and_skip_reasons() -> None:
    sc, raw = small()
    factors, skipped = sens.scenario_factors(sc, raw, RANGES)
    assert [f.path for f in factors] == [RESPOND_MEAN, UNUSED_SHARE_ZERO, TRAVEL, TRAVEL_CV]
    reasons = {s.path: s.reason for s in skipped}
    assert reasons == {
        "categories.parking.complex_prob": "category parking is not used",
        "types.village.households": "no community of type village",
        "types.new_estate.households": "every new_estate community sets households",
        "schema.Shift.cost_factor": "range [1, 1] has no width",
    }
    travel = factors[2]
    assert travel.targets == (("communities", 0, "travel_time", "mean_min"),)
    assert travel.value == 8.0


def test_scenario_that_sets_a_category_field_is_not_varied_there() -> None:
    raw = small_raw()
    raw["categories"] = {"home_repair": {"respond_time": {"dist": "fixed", "value_min": 3}}}
    sc = scenario_from_dict(copy.deepcopy(raw), "<test>")
    factors, skipped = sens.scenario_factors(sc, raw, RANGES)
    assert RESPOND_MEAN not in [f.path for f in factors]
    assert {s.path: s.reason for s in skipped}[RESPOND_MEAN] == (
        "the scenario sets categories.home_repair.respond_time")


def test_schema_default_reaches_only_objects_that_leave_it_unset() -> None:
    raw = small_raw()
    raw["staff"][1]["borrow_after_min"] = 40
    sc = scenario_from_dict(copy.deepcopy(raw), "<test>")
    ranges = {"schema.StaffPool.borrow_after_min": (15.0, (5.0, 20.0))}
    (f,), _ = sens.scenario_factors(sc, raw, ranges)
    assert f.targets == (("staff", 0, "borrow_after_min"), ("staff", 2, "borrow_after_min"))
    pools = sens.patched(resolved_dict(sc), [f], [5.0]).staff
    assert [p.borrow_after_min for p in pools] == [5.0, 40.0, 5.0]


def test_other_work_preset_reaches_only_pools_that_take_it_and_do_not_set_it() -> None:
    raw = small_raw()
    kind = raw["staff"][0]["kind"]
    raw["staff"][0]["other_work"] = "kind_preset"
    raw["staff"].append({**copy.deepcopy(raw["staff"][0]), "name": "desk2",
                         "absence_prob": 0.2})  # set by the pool: the preset cannot reach
    raw["staff"].append({**copy.deepcopy(raw["staff"][0]), "name": "desk3"})
    raw["staff"].append({**copy.deepcopy(raw["staff"][0]), "name": "desk4",
                         "other_work": "none"})  # does not take the preset
    sc = scenario_from_dict(copy.deepcopy(raw), "<test>")
    ranges = {f"other_work.{kind}.absence_prob": (0.05, (0.02, 0.1)),
              f"other_work.{kind}.interruptions.rate_per_hour": (2.0, (0.5, 4.0)),
              f"other_work.{kind}.blocks.0.start_hour": (8.5, (8.0, 9.0))}
    factors, skipped = sens.scenario_factors(sc, raw, ranges)
    by = {f.path: f for f in factors}
    same_kind = [i for i, p in enumerate(raw["staff"])
                 if p["kind"] == kind and p.get("other_work") == "kind_preset"
                 and "absence_prob" not in p]
    assert same_kind == [0, 4]
    assert by[f"other_work.{kind}.absence_prob"].targets == tuple(
        ("staff", i, "absence_prob") for i in same_kind)
    assert f"other_work.{kind}.blocks.0.start_hour" in [s.path for s in skipped]
    rate = by[f"other_work.{kind}.interruptions.rate_per_hour"]
    pool = sens.patched(resolved_dict(sc), [rate], [4.0]).staff[0]
    assert pool.interruptions is not None and pool.interruptions.rate_per_hour == 4.0
    assert sc.staff[0].interruptions is not None
    assert sc.staff[0].interruptions.rate_per_hour != 4.0


def test_share_is_set_exactly_and_the_rest_rescaled() -> None:
    sc, raw = small()
    ranges = {"types.new_estate.channel_mix.phone": (0.45, (0.3, 0.6))}
    (f,), _ = sens.scenario_factors(sc, raw, ranges)
    assert f.kind == "share"
    base = sc.communities[0].channel_mix
    mix = sens.patched(resolved_dict(sc), [f], [0.6]).communities[0].channel_mix
    assert mix["phone"] == 0.6
    assert sum(mix.values()) == pytest.approx(1.0, abs=1e-12)
    others = [k for k in base if k != "phone"]
    ratios = [mix[k] / base[k] for k in others]
    assert ratios == pytest.approx([0.4 / (1 - base["phone"])] * len(others))


def test_profile_factor_scales_the_deviation_from_flat() -> None:
    sc, raw = small()
    ranges = {"types.new_estate.hour_profile": ((1.0,) * 24, (0.05, 3.0))}
    (f,), _ = sens.scenario_factors(sc, raw, ranges)
    assert (f.kind, f.value, f.low) == ("profile", 1.0, 0.0)
    base = np.array(sc.communities[0].hour_profile)
    # the top keeps every weight within [0.05, 3]: one weight sits on a bound
    top = sens.patched(resolved_dict(sc), [f], [f.high]).communities[0].hour_profile
    assert min(top) >= 0.05 - 1e-9 and max(top) <= 3.0 + 1e-9
    assert min(top) == pytest.approx(0.05) or max(top) == pytest.approx(3.0) or f.high == 2.0
    flat = sens.patched(resolved_dict(sc), [f], [0.0]).communities[0].hour_profile
    assert flat == pytest.approx([1.0] * 24)
    half = sens.patched(resolved_dict(sc), [f], [0.5]).communities[0].hour_profile
    assert half == pytest.approx(list(1 + 0.5 * (base - 1)))


# --------------------------------------------------------------------------- one at a time
def test_oat_settings_reach_the_model_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[float, float, float, float]] = []
    real = sim.sweeps.replication_summary

    def spy(scenario: Scenario, seed: int, replication: int) -> pd.DataFrame:
        seen.append((scenario.categories["home_repair"].respond_time.mean_min,  # type: ignore[union-attr]
                     scenario.categories["dispute"].work_time.mean_min,  # type: ignore[union-attr]
                     scenario.communities[0].travel_time.mean_min,  # type: ignore[union-attr]
                     scenario.communities[0].travel_time.cv))  # type: ignore[union-attr]
        assert seed == 7
        return real(scenario, seed, replication)

    monkeypatch.setattr(sim.sweeps, "replication_summary", spy)
    run("oat", replications=2)
    base = (5.0, 60.0, 8.0, 0.5)
    expected = {base, (2.0, 60.0, 8.0, 0.5), (40.0, 60.0, 8.0, 0.5), (5.0, 30.0, 8.0, 0.5),
                (5.0, 120.0, 8.0, 0.5), (5.0, 60.0, 4.0, 0.5), (5.0, 60.0, 15.0, 0.5),
                (5.0, 60.0, 8.0, 1.0)}
    assert set(seen) == expected
    assert len(seen) == 2 * len(expected)  # every setting, every replication, once


def test_unused_assumption_has_exactly_zero_effect(both: sens.SensitivityResult) -> None:
    d = both.oat[both.oat["assumption"] == UNUSED_SHARE_ZERO].dropna(subset=["effect"])
    assert len(d) > 0
    assert (d["effect"] == 0.0).all()
    assert (d["ci_low"] == 0.0).all() and (d["ci_high"] == 0.0).all()
    m = both.morris[both.morris["assumption"] == UNUSED_SHARE_ZERO]
    assert len(m) > 0 and (m["mu_star"] == 0.0).all()


def test_respond_time_matters_most_for_respond(both: sens.SensitivityResult) -> None:
    o = both.oat
    (high,) = o[(o["assumption"] == RESPOND_MEAN) & (o["side"] == "high")
                & (o["community_type"] == "all") & (o["stage"] == "respond")].to_dict("records")
    assert high["effect"] < -0.3 and high["ci_high"] < 0
    rank = ranking(both.oat, both.morris, top=3)
    first = rank[(rank["stage"] == "respond") & (rank["rank"] == 1)]
    assert sorted(first["method"]) == ["morris", "oat"]
    assert (first["assumption"] == RESPOND_MEAN).all()
    # travel cannot reach the respond stage (it comes after): exactly zero there
    travel = both.oat[(both.oat["assumption"] == TRAVEL) & (both.oat["stage"] == "respond")]
    assert len(travel) == 2 * 2 and (travel["effect"] == 0).all()  # low/high x all/type


def test_setting_at_the_shipped_value_is_the_base_run(both: sens.SensitivityResult) -> None:
    low = both.oat[(both.oat["assumption"] == TRAVEL_CV) & (both.oat["side"] == "low")]
    assert len(low) > 0 and (low["effect"].dropna() == 0.0).all()
    high = both.oat[(both.oat["assumption"] == TRAVEL_CV) & (both.oat["side"] == "high")]
    assert (high.loc[high["stage"] == "onsite", "effect"] != 0.0).all()


def test_paired_effect_is_the_mean_difference(both: sens.SensitivityResult) -> None:
    d = both.oat[(both.oat["community_type"] == "all")]
    assert np.allclose(d["compliance"] - d["base_compliance"], d["effect"], atol=1e-12)
    assert (d["ci_low"] <= d["effect"]).all() and (d["effect"] <= d["ci_high"]).all()


# --------------------------------------------------------------------------- Morris
def test_morris_mu_star_bounds_mu(both: sens.SensitivityResult) -> None:
    m = both.morris
    assert (m["mu_star"] >= m["mu"].abs() - 1e-12).all()
    assert (m["sigma"] >= 0).all() and (m["mu_star_conf"] >= 0).all()
    assert len(m) == 4 * m[["community_type", "stage"]].drop_duplicates().shape[0]
    assert both.settings.model_runs == 3 * (1 + 7) + 3 * 4 * (4 + 1)
    assert sens.model_runs(both.factors, "both", 3, 4) == both.settings.model_runs


def test_morris_table_matches_salib_on_a_known_function() -> None:
    # y = 2 x0 + 0 x1 on [0, 1]^2: elementary effects are exactly 2 and 0
    factors = [sens.Factor("a", 0.5, 0.0, 1.0, ()), sens.Factor("b", 0.5, 0.0, 1.0, ())]
    x = sens.morris_sample(factors, 6, seed=3)
    y = pd.DataFrame({("all", "respond"): 2 * x[:, 0]})
    m = sens.morris_table(factors, x, y, seed=3).set_index("assumption")
    assert m.loc["a", "mu"] == pytest.approx(2.0) and m.loc["a", "mu_star"] == pytest.approx(2.0)
    assert m.loc["b", "mu_star"] == 0.0


# --------------------------------------------------------------------------- reproducibility
def test_same_seed_gives_identical_tables(both: sens.SensitivityResult) -> None:
    again = run("both")
    pd.testing.assert_frame_equal(both.oat, again.oat)
    pd.testing.assert_frame_equal(both.morris, again.morris)
    other = run("oat", seed=8)
    assert not np.allclose(other.oat["compliance"], both.oat["compliance"], equal_nan=True)


# --------------------------------------------------------------------------- outputs, CLI
def test_written_outputs_and_page(both: sens.SensitivityResult, tmp_path: Path) -> None:
    page = sens.write_result(both, tmp_path)
    oat = pd.read_csv(tmp_path / "sensitivity_oat.csv")
    assert len(oat) == len(both.oat)
    assert (tmp_path / "sensitivity_tornado.png").stat().st_size > 1000
    text = page.read_text(encoding="utf-8")
    assert "Which assumptions matter" in text and RESPOND_MEAN in text
    skipped = pd.read_csv(tmp_path / "sensitivity_skipped.csv")
    assert "types.village.households" in set(skipped["path"])


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test app."""

    register(app)
    return app


def test_cli_runs_and_ranks(tmp_path: Path) -> None:
    raw = small_raw()
    raw["run"]["horizon_days"] = 2
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(_app(), ["sensitivity", str(path), "-o", str(out), "-n", "2",
                                      "--method", "oat", "--stages", "respond,joint",
                                      "-j", "1", "--horizon-days", "1.5"])
    assert res.exit_code == 0, res.output
    assert "Which assumptions matter" in res.output
    oat = pd.read_csv(out / "sensitivity_oat.csv")
    assert set(oat["stage"]) == {"respond", "joint"}
    settings = yaml.safe_load((out / "sensitivity.json").read_text())
    assert settings["horizon_days"] == 1.5
    assert not (out / "sensitivity_morris.csv").exists()
    # a later Morris-only analysis in the same folder leaves no one-at-a-time table behind
    res = CliRunner().invoke(_app(), ["sensitivity", str(path), "-o", str(out), "-n", "2",
                                      "--method", "morris", "--trajectories", "2",
                                      "--stages", "respond", "-j", "1", "--horizon-days", "1"])
    assert res.exit_code == 0, res.output
    assert not (out / "sensitivity_oat.csv").exists()
    assert set(pd.read_csv(out / "sensitivity_morris.csv")["stage"]) == {"respond"}


@pytest.mark.parametrize(("args", "message"), [
    (["--stages", "respond,lunch"], "--stages: unknown lunch"),
    (["--method", "sobol"], "--method: 'sobol' is not one of"),
])
def test_cli_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(small_raw()), encoding="utf-8")
    res = CliRunner().invoke(_app(), ["sensitivity", str(path), "-o", str(tmp_path / "o"),
                                      *args])
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output


def test_cli_bad_scenario(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ncommunities: []\n", encoding="utf-8")
    res = CliRunner().invoke(_app(), ["sensitivity", str(path), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert str(path) in res.output and "Traceback" not in res.output
