"""Same scenario + seed gives identical outputs, on one core or many; another seed differs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.experiment import replicate

ROOT = Path(__file__).resolve().parents[1]
QUANXUELI = ROOT / "scenarios" / "quanxueli.yaml"


@pytest.fixture(scope="module")
def scenario() -> sim.Scenario:
    sc = sim.load_scenario(QUANXUELI)
    return sc.model_copy(update={"run": sc.run.model_copy(update={"horizon_days": 7})})


def test_same_seed_gives_identical_frames(scenario: sim.Scenario) -> None:
    a = sim.simulate(scenario, seed=5)
    b = sim.simulate(scenario, seed=5)
    pd.testing.assert_frame_equal(a.requests, b.requests)
    pd.testing.assert_frame_equal(a.load, b.load)


def test_another_seed_or_replication_differs(scenario: sim.Scenario) -> None:
    a = sim.simulate(scenario, seed=5).requests
    b = sim.simulate(scenario, seed=6).requests
    c = sim.simulate(scenario, seed=5, replication=1).requests
    for other in (b, c):
        assert len(a) != len(other) or not a["created_min"].equals(other["created_min"])


def test_parallel_replications_equal_serial(scenario: sim.Scenario) -> None:
    one = replicate(scenario, replications=4, jobs=1)
    two = replicate(scenario, replications=4, jobs=2)
    pd.testing.assert_frame_equal(one.requests, two.requests)
    pd.testing.assert_frame_equal(one.compliance_tables(), two.compliance_tables())


def _cli_run(outdir: Path, jobs: int) -> None:
    subprocess.run(
        [sys.executable, "-m", "sim", "run", str(QUANXUELI), "-o", str(outdir),
         "--replications", "3", "--jobs", str(jobs)],
        check=True, capture_output=True, text=True,
    )


def test_cli_twice_and_with_two_jobs_gives_identical_files(tmp_path: Path) -> None:
    runs = [tmp_path / "a", tmp_path / "b", tmp_path / "c"]
    _cli_run(runs[0], 1)
    _cli_run(runs[1], 1)
    _cli_run(runs[2], 2)
    names = ["requests.parquet", "compliance.csv", "utilisation.csv", "percentiles.csv",
             "pools.csv", "scenario.resolved.yaml", "manifest.json"]
    for name in names:
        ref = (runs[0] / name).read_bytes()
        for other in runs[1:]:
            assert (other / name).read_bytes() == ref, name


def test_resolved_scenario_reruns_to_the_same_records(tmp_path: Path) -> None:
    _cli_run(tmp_path / "a", 1)
    again = sim.load_scenario(tmp_path / "a" / "scenario.resolved.yaml")
    first = pd.read_parquet(tmp_path / "a" / "requests.parquet")
    rerun = replicate(again)
    pd.testing.assert_frame_equal(first, rerun.requests, check_categorical=False)
