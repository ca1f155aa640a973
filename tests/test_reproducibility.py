"""Same scenario + seed gives identical outputs, on one core or many; another seed differs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from helpers import interruptible

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


def test_replications_on_dask_equal_serial(scenario: sim.Scenario) -> None:
    """``sim run --dask`` goes through the same executors as sweeps."""
    pytest.importorskip("distributed")
    one = replicate(scenario, replications=3, jobs=1)
    dask = replicate(scenario, replications=3, jobs=2, dask="local")
    pd.testing.assert_frame_equal(one.requests, dask.requests)


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


def test_interrupted_run_keeps_finished_replications(tmp_path: Path) -> None:
    import json
    import signal
    import time

    out = tmp_path / "run"
    proc = interruptible(
        [sys.executable, "-m", "sim", "run", str(QUANXUELI), "-o", str(out),
         "--replications", "200"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(list((out / "replications").glob("rep-*"))) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    finished = len(list((out / "replications").glob("rep-*")))
    assert 2 <= finished < 200
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["replications_finished"] == finished
    kept = pd.read_parquet(out / "requests.parquet")
    assert kept["replication"].nunique() == finished
    assert f"{finished} of 200 replications finished" in stderr.replace("\n", " ")


def test_resume_finishes_an_interrupted_run_with_identical_tables(tmp_path: Path) -> None:
    import shutil

    full, part = tmp_path / "full", tmp_path / "part"
    _cli_run(full, 1)
    _cli_run(part, 1)
    # pretend the run was cut after one replication: drop the others and the tables
    for rep in sorted((part / "replications").iterdir())[1:]:
        shutil.rmtree(rep)
    for f in ("requests.parquet", "compliance.csv"):
        (part / f).unlink()
    again = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(QUANXUELI), "-o", str(part),
         "--replications", "3", "--resume"], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    for name in ("requests.parquet", "compliance.csv", "utilisation.csv"):
        assert (part / name).read_bytes() == (full / name).read_bytes(), name
    refused = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(QUANXUELI), "-o", str(part),
         "--replications", "4", "--resume"], capture_output=True, text=True)
    assert refused.returncode == 2 and "different scenario" in refused.stderr
