"""Paired sweeps: differences from a baseline point with paired CIs; short lever names."""

from __future__ import annotations

import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.config import scenario_from_dict
from sim.paired import paired_differences
from sim.sweeps import lever_aliases
from tests.decide_scenarios import night_disputes, night_disputes_dict

TECH = "staff.tech.day"


def test_aliases_are_short_and_unambiguous() -> None:
    assert lever_aliases(["staff.technicians.shifts.day.headcount", "staff.desk.day",
                          "run.horizon_days"]) == {
        "staff.technicians.shifts.day.headcount": "technicians.day",
        "staff.desk.day": "desk.day", "run.horizon_days": "run.horizon_days"}
    # two spellings of one lever cannot share a name: full paths are kept
    both = ["staff.tech.day", "staff.tech.shifts.day.headcount"]
    assert lever_aliases(both) == {p: p for p in both}


@pytest.fixture(scope="module")
def repairs() -> sim.SweepResult:
    """Repairs only, two technicians busy ~70% of the time: a third raises on-site
    compliance, and the arrival surges both points share make the paired interval
    narrower than comparing the two means."""
    d = night_disputes_dict(dispute_share=0.0)
    d["communities"][0]["requests_per_household_per_day"] = 0.6
    d["staff"][1]["shifts"][0]["headcount"] = 2
    return sim.sweep(scenario_from_dict(d), {TECH: [2, 3]}, replications=6, jobs=1)


def test_paired_difference_has_the_right_sign_and_a_narrower_interval(
        repairs: sim.SweepResult) -> None:
    assert repairs.baseline == {TECH: 2}  # the scenario's own value
    p = repairs.paired
    row = p[(p["tech.day"] == 3) & (p["community_type"] == "all") & (p["stage"] == "onsite")]
    assert len(row) == 1
    r = row.iloc[0]
    assert r["ci_low"] > 0  # a second technician helps, and the paired CI says so
    assert 0 < r["halfwidth"] < r["unpaired_halfwidth"]
    s = repairs.summary
    means = s[(s["community_type"] == "all") & (s["stage"] == "onsite")].set_index(TECH)["mean"]
    assert r["difference"] == pytest.approx(means[3] - means[2])
    # the baseline point itself differs by exactly zero
    zero = p[(p["tech.day"] == 2) & (p["stage"] == "onsite")]
    assert (zero["difference"] == 0).all()


def test_paired_interval_is_the_t_interval_of_differences() -> None:
    tidy = pd.DataFrame({"point": 1, "replication": [0, 1, 2], "community_type": "all",
                         "stage": "onsite", "compliance": [0.6, 0.8, 0.7]})
    base = tidy.assign(point=0, compliance=[0.5, 0.7, 0.7])
    out = paired_differences(tidy, base, ["point"]).iloc[0]
    assert out["difference"] == pytest.approx(0.2 / 3)
    # differences 0.1, 0.1, 0.0: sd 0.0577, t(0.975, 2) = 4.303
    assert out["halfwidth"] == pytest.approx(4.302653 * 0.0577350 / 3 ** 0.5, rel=1e-5)


def test_baseline_outside_the_grid_is_run_but_not_a_point() -> None:
    res = sim.sweep(night_disputes(dispute_share=0.0, horizon_days=2), {TECH: [2, 3]},
                    replications=3, jobs=1)
    assert res.baseline == {TECH: 1}
    assert sorted(res.tidy[TECH].unique()) == [2, 3]
    p = res.paired
    assert sorted(p["tech.day"].unique()) == [2, 3]
    assert (p[p["stage"] == "onsite"]["difference"] >= 0).all()


def test_cli_baseline_must_be_a_lever(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import yaml

    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(night_disputes_dict()))
    with pytest.raises(SystemExit) as e:
        main(["sweep", str(f), "--vary", f"{TECH}=1,2", "--baseline", "staff.desk.all=1",
              "-o", str(tmp_path / "o")])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --baseline staff.desk.all: not one of the --vary levers "
                   "(staff.tech.day)"]
