"""sim allocate: the split that gives a unit its own staff, greedy vs exhaustive
enumeration on a small case, the significance guard, removal, and the command."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml
from typer.testing import CliRunner

from sim.allocate import (
    AllocationProblem,
    allocate,
    exhaustive,
    find_units,
    replication_table,
)
from sim.cli import app
from sim.config import scenario_from_dict

runner = CliRunner()


def _three(horizon: float = 14,
           base: str = "quanxueli_requests_only") -> dict:  # type: ignore[type-arg]
    """Three estates, each with its own technicians; one is busy, one hardly."""
    data = yaml.safe_load(Path(f"scenarios/{base}.yaml").read_text())
    data["run"].update(horizon_days=horizon, warmup_days=1, replications=4, seed=5)
    data["communities"] = [
        {"name": "busy", "type": "old_estate", "street": "east", "households": 3000},
        {"name": "mid", "type": "new_estate", "street": "west", "households": 2500},
        {"name": "quiet", "type": "smart", "street": "west", "households": 800},
    ]
    for pool in data["staff"]:
        if pool["name"] == "technicians":
            pool["shifts"][0]["headcount"] = 1
    return data


def test_a_split_without_change_keeps_other_work_draws() -> None:
    """A pool copy draws interruptions and absence from its original's streams."""
    sc = scenario_from_dict(_three(5, base="quanxueli"), "<t>")
    assert all(p.has_other_work for p in sc.staff)
    units, shift = find_units(sc, "technician", "community")
    p = AllocationProblem(sc, "technician", "community", shift, units, "worst_type")
    pd.testing.assert_frame_equal(replication_table(sc, 1, 0),
                                  replication_table(p.scenario_for((("mid", 0),)), 1, 0))


def test_a_split_without_change_changes_nothing() -> None:
    sc = scenario_from_dict(_three(5), "<t>")
    units, shift = find_units(sc, "technician", "community")
    assert set(units) == {"busy", "mid", "quiet"} and shift == "day"
    p = AllocationProblem(sc, "technician", "community", shift, units, "worst_type")
    a = replication_table(sc, 1, 0)
    b = replication_table(p.scenario_for((("mid", 0),)), 1, 0)
    pd.testing.assert_frame_equal(a, b)
    c = replication_table(p.scenario_for((("busy", 2),)), 1, 0)
    busy = c[(c["level"] == "community") & (c["group"] == "busy")]["compliance"].iloc[0]
    before = a[(a["level"] == "community") & (a["group"] == "busy")]["compliance"].iloc[0]
    assert busy > before  # two more technicians there help there


def test_greedy_matches_exhaustive_enumeration() -> None:
    sc = scenario_from_dict(_three(), "<t>")
    res = allocate(sc, 2, over="community", objective="zone_wide", replications=4,
                   jobs=1, confidence=0.8)
    units, shift = find_units(sc, "technician", "community")
    p = AllocationProblem(sc, "technician", "community", shift, units, "zone_wide")
    table = exhaustive(p, 2, 4, sc.run.seed, jobs=1)
    assert len(table) == 6  # multisets of size 2 over 3 units
    best = table.iloc[0]
    assert res.placed == 2, res.notes
    assert res.final == best["allocation"], table
    # every step's objective is the mean the exhaustive table gives that allocation
    got = table.set_index(table["allocation"].map(str))["objective"]
    assert abs(res.steps["objective"].iloc[-1] - got[str(res.final)]) < 1e-12


def test_guard_stops_when_no_gain_is_significant() -> None:
    data = _three()
    for pool in data["staff"]:
        if pool["name"] == "technicians":
            pool["shifts"][0]["headcount"] = 6  # ample: one more changes nothing
    sc = scenario_from_dict(data, "<t>")
    res = allocate(sc, 2, over="community", replications=4, jobs=1)
    assert res.placed == 0
    assert "left unplaced" in res.notes[0]
    assert res.confirmation["gain"].iloc[0] == 0


def test_remove_takes_people_from_where_they_are_missed_least() -> None:
    data = _three()
    for pool in data["staff"]:
        if pool["name"] == "technicians":
            pool["shifts"][0]["headcount"] = 2
    sc = scenario_from_dict(data, "<t>")
    res = allocate(sc, 1, over="community", remove=True, objective="requests_weighted",
                   replications=4, jobs=1)
    assert dict(res.final) in ({"quiet": -1}, {"mid": -1})  # never the busy estate first
    cands = res.candidates.set_index("unit")
    assert cands.loc["busy", "gain"] < cands.loc["quiet", "gain"]


def test_command_writes_steps_map_and_refuses_bad_input(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_three(7)))
    out = tmp_path / "a"
    res = runner.invoke(app, ["allocate", str(path), "--add", "1", "--over", "street",
                              "-o", str(out), "-n", "3", "-j", "1"])
    assert res.exit_code == 2 and "no street-scope pool of kind technician" in res.output
    res = runner.invoke(app, ["allocate", str(path), "--add", "1", "-o", str(out), "-n", "3",
                              "-j", "1"])
    assert res.exit_code == 0, res.output
    assert (out / "allocation_map.png").stat().st_size > 10_000
    units = pd.read_csv(out / "allocation_units.csv")
    assert set(units["community"]) == {"busy", "mid", "quiet"}
    assert (out / ".sim-kind").read_text().strip() == "allocate"
    # the shareable page reads the folder's own tables
    rep = runner.invoke(app, ["report", str(out)])
    assert rep.exit_code == 0, rep.output
    page = (out / "report.html").read_text(encoding="utf-8")
    steps = pd.read_csv(out / "allocation_steps.csv")
    confirm = pd.read_csv(out / "allocation_confirm.csv").iloc[0]
    assert str(confirm["allocation"]) in page
    for _, r in steps.iterrows():
        assert f"{r['unit']} {int(r['change']):+d}" in page
        assert f"{100 * r['gain']:+.2f} [" in page
    assert f"{confirm['cost_before']:,.0f} → {confirm['cost_after']:,.0f}" in page
    assert page.count("data:image/png;base64,") == 1  # the saved map, embedded
    again = runner.invoke(app, ["allocate", str(path), "--add", "1", "-o", str(out)])
    assert again.exit_code == 2 and "--resume" in again.output
    both = runner.invoke(app, ["allocate", str(path), "--add", "1", "--remove", "1", "-o",
                               str(tmp_path / "b")])
    assert both.exit_code == 2 and "exactly one" in both.output


def test_same_answer_on_one_core_or_two() -> None:
    sc = scenario_from_dict(_three(3), "<t>")
    one = allocate(sc, 1, over="community", objective="zone_wide", replications=2, jobs=1)
    two = allocate(sc, 1, over="community", objective="zone_wide", replications=2, jobs=2)
    pd.testing.assert_frame_equal(one.candidates, two.candidates)
    pd.testing.assert_frame_equal(one.confirmation, two.confirmation)
