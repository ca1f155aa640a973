"""Sweeps, checkpoint/resume, replication control, optimiser, paired comparison, Dask."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import sim
from sim.config import ScenarioError, resolved_dict
from sim.levers import apply, parse_values, parse_vary
from sim.optimiser import grid_search
from sim.sweeps import max_halfwidth

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small() -> sim.Scenario:
    sc = sim.load_scenario(ROOT / "scenarios" / "quanxueli.yaml")
    return sc.model_copy(update={"run": sc.run.model_copy(update={"horizon_days": 7})})


@pytest.fixture(scope="module")
def small_file(small: sim.Scenario, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sc") / "small.yaml"
    path.write_text(yaml.safe_dump(resolved_dict(small), allow_unicode=True))
    return path


# ---------------------------------------------------------------- levers
def test_lever_values_and_paths(small: sim.Scenario) -> None:
    assert parse_values("1..4") == [1, 2, 3, 4]
    assert parse_values("1..9:4") == [1, 5, 9]
    assert parse_values("0.5..1.5:0.5") == [0.5, 1.0, 1.5]
    assert parse_values("2,5,7") == [2, 5, 7]
    assert parse_vary("staff.technicians.day=1..2") == ("staff.technicians.day", [1, 2])
    with pytest.raises(ValueError, match="PATH=VALUES"):
        parse_vary("staff.technicians.day")
    with pytest.raises(ValueError, match="low <= high"):
        parse_values("5..1")
    # shortcut: pool.shift -> headcount; kind names a pool when only one has it
    a = apply(small, {"staff.technicians.day": 5, "staff.service_desk.night": 3})
    assert a.staff[1].shifts[0].headcount == 5
    assert a.staff[0].shifts[1].headcount == 3
    assert small.staff[1].shifts[0].headcount == 3  # the base is never modified
    b = apply(small, {"communities.Quanxueli.demand_multiplier": 2.0})
    assert b.communities[0].demand_multiplier == 2.0


@pytest.mark.parametrize(("path", "value", "message"), [
    ("staff.plumbers.day", 1, "no entry named 'plumbers'"),
    ("staff.technicians.dawn", 1, "no entry named 'dawn'"),
    ("run.horizon_dayz", 1, "no field 'horizon_dayz'"),
    ("staff.technicians.day", -1, "greater than or equal to 0"),
    ("staff.technicians", 1, "names a whole section"),
])
def test_bad_lever_is_reported_like_a_bad_scenario(small: sim.Scenario, path: str,
                                                   value: int, message: str) -> None:
    with pytest.raises(ScenarioError, match=message) as err:
        apply(small, {path: value})
    assert path.split(".")[0] in str(err.value)


# ---------------------------------------------------------------- sweeps
def test_sweep_is_paired_and_monotone(small: sim.Scenario) -> None:
    res = sim.sweep(small, {"staff.technicians.day": [1, 2, 3]}, replications=3, jobs=1)
    tidy = res.tidy
    assert set(tidy["point"]) == {0, 1, 2}
    assert len(tidy) == 3 * 3 * 2 * 5  # points x replications x (all, new_estate) x stages
    onsite = tidy[(tidy["stage"] == "onsite") & (tidy["community_type"] == "all")]
    wide = onsite.pivot(index="replication", columns="staff.technicians.day",
                        values="compliance")
    # common random numbers: per replication, more technicians never lowers on-site share
    assert (wide[2] >= wide[1]).all() and (wide[3] >= wide[2]).all()
    # respond stage does not involve technicians: identical across points, replication by
    # replication (same arrival and desk draws)
    resp = tidy[(tidy["stage"] == "respond") & (tidy["community_type"] == "all")]
    assert resp.groupby("replication")["compliance"].nunique().eq(1).all()
    wide = res.per_replication
    assert len(wide) == 3 * 3 and wide["all/joint"].between(0, 1).all()
    assert (wide["all/onsite"].to_numpy() == onsite.sort_values(["point", "replication"])[
        "compliance"].to_numpy()).all()
    summary = res.summary
    assert {"mean", "ci_low", "ci_high", "halfwidth", "weekly_cost"} <= set(summary.columns)
    costs = summary.groupby("staff.technicians.day")["weekly_cost"].first()
    assert costs.is_monotonic_increasing and costs.iloc[1] - costs.iloc[0] == pytest.approx(
        10 * 7 * 40)  # one more 10-hour day technician at 40/h for 7 days


def test_target_halfwidth_adds_replications_until_precise(small: sim.Scenario) -> None:
    res = sim.sweep(small, {"staff.technicians.day": [2]}, replications=3,
                    target_halfwidth=0.08, max_replications=40, jobs=1)
    n = res.tidy["replication"].nunique()
    assert n > 3
    assert max_halfwidth(res.tidy) <= 0.08 or n == 40


def _sweep_cmd(path: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sim", "sweep", str(path), "--vary",
            "staff.technicians.day=1..6", "--vary", "staff.desk.day=1,2", "-n", "3",
            "-o", str(out), "--jobs", "1", *extra]


def test_sigkill_then_resume_gives_the_same_tables(small_file: Path, tmp_path: Path) -> None:
    full = tmp_path / "full"
    subprocess.run(_sweep_cmd(small_file, full), check=True, capture_output=True)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_sweep_cmd(small_file, killed), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(list((killed / "points").glob("p*.parquet"))) >= 1:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "sweep finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = sorted(p.name for p in (killed / "points").glob("p*.parquet"))
    assert 1 <= len(finished) < 12  # killed part-way: some points done, not all
    assert not (killed / "sweep_summary.csv").exists()
    again = subprocess.run(_sweep_cmd(small_file, killed, "--resume"), capture_output=True,
                           text=True)
    assert again.returncode == 0, again.stderr
    # the resumed run only ran the missing points
    assert "replications run" in again.stdout
    for name in ("sweep_tidy.parquet", "sweep_summary.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(full / name),
                                      pd.read_parquet(killed / name))
    assert (full / "sweep_summary.csv").read_bytes() == (killed / "sweep_summary.csv").read_bytes()


def test_sweep_refuses_to_mix_runs(small_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    subprocess.run(_sweep_cmd(small_file, out), check=True, capture_output=True)
    again = subprocess.run(_sweep_cmd(small_file, out), capture_output=True, text=True)
    assert again.returncode == 2 and "--resume" in again.stderr
    other = [a.replace("1..6", "1..5") for a in _sweep_cmd(small_file, out, "--resume")]
    mixed = subprocess.run(other, capture_output=True, text=True)
    assert mixed.returncode == 2 and "different sweep" in mixed.stderr
    assert "Traceback" not in again.stderr + mixed.stderr


def test_dask_local_cluster_gives_identical_results(small: sim.Scenario) -> None:
    pytest.importorskip("distributed")
    levers = {"staff.technicians.day": [1, 3]}
    pool = sim.sweep(small, levers, replications=3, jobs=2)
    dask = sim.sweep(small, levers, replications=3, jobs=2, dask="local")
    pd.testing.assert_frame_equal(pool.tidy, dask.tidy)


# ---------------------------------------------------------------- optimiser
def test_optimiser_finds_the_grid_answer_with_fewer_replications(small: sim.Scenario) -> None:
    levers = {"staff.technicians.day": list(range(1, 6)),
              "staff.technicians.evening": list(range(0, 4))}
    targets = {"onsite": 0.6, "finish": 0.8}
    opt = sim.optimize(small, levers, targets, replications=4, jobs=1)
    grid = grid_search(small, levers, targets, replications=4, jobs=1)
    assert grid.best is not None and opt.first_choice is not None
    assert opt.first_choice == grid.best.values
    assert opt.replications_run < grid.replications_run
    # the chosen point's lower bounds meet every target, per community type
    assert opt.best is not None and (opt.best.table["margin"] >= 0).all()
    frontier = opt.frontier()
    assert frontier["pareto"].any() and len(frontier) == len(opt.evaluations)


def test_optimiser_says_when_nothing_in_range_works(small: sim.Scenario) -> None:
    res = sim.optimize(small, {"staff.technicians.day": [1]}, {"onsite": 0.999},
                       replications=3, jobs=1)
    assert res.best is None and not res.confirmed


# ---------------------------------------------------------------- paired comparison
def test_compare_with_itself_is_exactly_zero(small: sim.Scenario) -> None:
    table = sim.compare(small, small, replications=3, jobs=1)
    assert np.allclose(table["difference"], 0.0) and np.allclose(table["halfwidth"], 0.0)


def test_paired_interval_is_narrower_than_unpaired(small: sim.Scenario) -> None:
    alt = apply(small, {"staff.technicians.evening": 2})
    table = sim.compare(small, alt, replications=8, jobs=1)
    row = table[(table["community_type"] == "all") & (table["stage"] == "onsite")].iloc[0]
    assert row["difference"] > 0 and row["ci_low"] > 0
    # unpaired: the two means' own half-widths combined
    a = sim.replicate(small, 8).compliance()
    b = sim.replicate(alt, 8).compliance()

    def hw(t: pd.DataFrame) -> float:
        return float(t.loc[t["stage"] == "onsite", "halfwidth"].iloc[0])

    assert row["halfwidth"] < np.hypot(hw(a), hw(b))


def test_compare_cli_prints_paired_differences(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sim", "compare", str(ROOT / "scenarios" / "quanxueli.yaml"),
         str(ROOT / "scenarios" / "quanxueli_night_tech.yaml"), "-n", "3", "-j", "1",
         "-o", str(tmp_path / "cmp.csv")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "pts [" in out.stdout
    table = pd.read_csv(tmp_path / "cmp.csv")
    assert set(table["stage"]) == {"respond", "onsite", "finish", "plan", "joint"}


def test_sweep_summary_intervals_stay_within_zero_and_one() -> None:
    """Sweep tables use the run tables' share interval: never below 0 % or above 100 %,
    even with two very different replications (where a t interval spans [-5 %, 152 %])."""
    import pandas as pd

    from sim.sweeps import aggregate

    tidy = pd.DataFrame({
        "point": [0, 0, 0, 0],
        "replication": [0, 1, 0, 1],
        "community_type": ["all"] * 4,
        "stage": ["onsite", "onsite", "respond", "respond"],
        "compliance": [0.9, 0.2, 1.0, 1.0],
        "requests": [40, 40, 50, 50],
        "unknown": [0, 0, 0, 0],
    })
    agg = aggregate(tidy, ["point"]).set_index("stage")
    assert (agg["ci_low"] >= 0).all() and (agg["ci_high"] <= 1).all()
    assert (agg["ci_low"] <= agg["mean"]).all() and (agg["mean"] <= agg["ci_high"]).all()
    assert agg.loc["onsite", "ci_low"] < 0.55 < agg.loc["onsite", "ci_high"]
    assert agg.loc["respond", "ci_high"] == 1.0 and agg.loc["respond", "ci_low"] < 1.0
    assert (agg["halfwidth"] == (agg["ci_high"] - agg["ci_low"]) / 2).all()
