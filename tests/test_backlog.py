"""Starting from a backlog: exact clocks of hand-made open requests, reporting apart from
new arrivals, common random numbers, and carrying open requests over from a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sim
from sim.backlog import backlog_compliance, backlog_table, initial_state_from_run, with_backlog
from sim.cli import app
from sim.config import ScenarioError
from sim.experiment import ExperimentResult
from sim.rng import Streams
from sim.sla import outcomes
from tests.helpers import run, table, tiny, tiny_dict


def _open(*entries: dict[str, Any], **changes: Any) -> sim.Scenario:
    rows = [{"community": "c1", "category": "job", **e} for e in entries]
    return tiny(initial_state={"open_requests": rows}, **changes)


def _run_backlog(sc: sim.Scenario, created: list[float] | None = None) -> pd.DataFrame:
    """Backlog of ``sc`` plus hand-made new arrivals at ``created``, run once."""
    coms = list(sc.expanded_communities())
    new = table(sc, created or [], category="job")
    req = with_backlog(new, backlog_table(sc, coms, Streams(1, 0)))
    return run(sc, req).requests


# --------------------------------------------------------------------------- exact timing
@pytest.mark.parametrize(("age", "met"), [(10.0, 1.0), (10.5, 0.0)])
def test_respond_target_counts_from_the_original_arrival(age: float, met: float) -> None:
    # one desk person, 10-minute desk work: the older request (30 min) is taken at 0, the
    # second at 10; aged 10 it is then 20 min old (meets 20 min), aged 10.5 it misses
    sc = _open({"age_min": 30}, {"age_min": age})
    req = _run_backlog(sc)
    assert req["created_min"].tolist() == [-30.0, -age]
    assert req["responded_min"].tolist() == [0.0, 10.0]
    out = outcomes(req, sc.sla[0], sc)
    assert out["respond"].tolist() == [0.0, met]  # 30 min old at 0: already missed


def test_a_request_aged_15_minutes_waiting_for_a_response() -> None:
    sc = _open({"age_min": 15})
    req = _run_backlog(sc)
    row = req.iloc[0]
    assert row["responded_min"] == 0.0 and row["onsite_min"] == 15.0  # desk 10, travel 5
    out = outcomes(req, sc.sla[0], sc).iloc[0]
    assert out["respond"] == 1.0  # 15 <= 20
    assert out["onsite"] == 1.0  # 30 <= 30 exactly
    assert out["finish"] == 1.0  # 15 + 10 + 5 + 60 = 90 min


@pytest.mark.parametrize(("age_hour", "met"), [(0.25, 1.0), (26 / 60, 0.0)])
def test_a_request_waiting_on_site_has_its_age_counted(age_hour: float, met: float) -> None:
    # waiting for a technician: on site 5 min after the start (travel), 20 or 31 min old
    sc = _open({"stage": "onsite", "age_hour": age_hour})
    req = _run_backlog(sc)
    assert np.isnan(req["responded_min"].iloc[0])  # responded before the run
    assert req["onsite_min"].iloc[0] == 5.0
    exp = ExperimentResult(sc, 1, req.assign(replication=0), pd.DataFrame(), pd.DataFrame(),
                           pd.DataFrame())
    table_ = backlog_compliance(exp)
    head = table_[(table_["by"] == "all") & (table_["clock"] == "community")]
    stages = dict(zip(head["stage"], head["mean"], strict=True))
    assert stages["onsite"] == met
    assert "respond" not in stages  # passed before the start: not measured


def test_a_request_waiting_for_a_plan_is_planned_from_the_start() -> None:
    sc = _open({"stage": "plan", "age_hour": 23})
    req = _run_backlog(sc)
    row = req.iloc[0]
    assert bool(row["complex"]) and row["plan_min"] == 120.0  # cadre free: 120-min plan
    assert outcomes(req, sc.sla[0], sc)["plan"].iloc[0] == 0.0  # 25 h > 1 day


def test_backlog_goes_first_and_new_arrivals_queue_behind_it() -> None:
    sc = _open({"age_min": 5})
    req = _run_backlog(sc, created=[1.0])
    assert req["backlog"].tolist() == [True, False]
    assert req["backlog_stage"].astype(object).tolist()[0] == "respond"
    assert pd.isna(req["backlog_stage"].iloc[1])
    assert req["responded_min"].tolist() == [0.0, 10.0]


# --------------------------------------------------------------------------- reporting
def test_backlog_is_reported_apart_and_summary_counts_new_arrivals_only() -> None:
    base = tiny()
    with_bl = _open({"age_min": 60, "count": 3})
    a, b = sim.replicate(base), sim.replicate(with_bl)
    assert b.requests["backlog"].sum() == 3 and not a.requests["backlog"].any()
    assert len(b.measured) == len(a.measured)  # the same new arrivals are measured
    assert b.compliance()["requests"].tolist() == a.compliance()["requests"].tolist()
    bl = backlog_compliance(b)
    resp = bl[(bl["by"] == "all") & (bl["stage"] == "respond") & (bl["clock"] == "community")]
    assert resp["requests"].tolist() == [3] and resp["mean"].tolist() == [0.0]
    assert backlog_compliance(a).empty


def test_new_arrivals_keep_their_draws_with_a_backlog() -> None:
    a = sim.simulate(tiny(), seed=5).requests
    b = sim.simulate(_open({"age_min": 30, "count": 4}), seed=5).requests
    b_new = b[~b["backlog"]].reset_index(drop=True)
    pd.testing.assert_series_equal(a["raised_min"], b_new["raised_min"])
    pd.testing.assert_series_equal(a["stream_index"], b_new["stream_index"])


def test_bad_backlog_entries_get_one_line_each() -> None:
    for entry, words in [
        ({"community": "nowhere", "age_min": 5}, "initial_state.open_requests[0].community"),
        ({"category": "nothing", "age_min": 5}, "unknown category"),
        ({"age_min": 5, "age_hour": 1}, "exactly one of age_min and age_hour"),
        ({"age_min": 0}, "age_min"),
        ({"stage": "plan", "complex": False, "age_min": 5}, "plan stage are complex"),
    ]:
        data = tiny_dict(initial_state={"open_requests": [
            {"community": "c1", "category": "job", **entry}]})
        with pytest.raises(ScenarioError, match=words.replace("[", r"\[").replace("]", r"\]")):
            sim.config.scenario_from_dict(data, "<test>")
    data = tiny_dict(initial_state={"open_requests": [  # a preset closed at the desk
        {"community": "c1", "category": "consultation", "stage": "onsite", "age_min": 5}]})
    with pytest.raises(ScenarioError, match="has no on-site stage"):
        sim.config.scenario_from_dict(data, "<test>")


# --------------------------------------------------------------------------- from a run
def _busy_scenario(tmp_path: Path) -> Path:
    """One desk, one technician and far too many requests: plenty open at the end."""
    import yaml

    data = tiny_dict()
    data["communities"][0]["requests_per_household_per_day"] = 3.0
    data["run"]["horizon_days"] = 0.5
    path = tmp_path / "busy.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _first_run(tmp_path: Path, replications: int) -> tuple[Path, Path, pd.DataFrame]:
    """The busy scenario's file, a finished run of it, and its requests."""
    src = _busy_scenario(tmp_path)
    first = tmp_path / "first"
    res = CliRunner().invoke(app, ["run", str(src), "-o", str(first), "-n",
                                   str(replications)])
    assert res.exit_code == 0, res.output
    return src, first, pd.read_parquet(first / "requests.parquet")


def test_from_run_carries_open_requests_with_their_ages(tmp_path: Path) -> None:
    src, first, req = _first_run(tmp_path, 1)
    sc = sim.load_scenario(src)
    still_open = req[req["finished_min"].isna() & ~req["in_transit"]]
    carried = initial_state_from_run(first, sc)
    assert carried.carried + carried.in_hand == len(still_open) > 0
    entries = carried.state.open_requests
    waiting = still_open[still_open["responded_min"].isna()]
    ages = sorted(o.age for o in entries for _ in range(o.count) if o.stage == "respond")
    assert ages == pytest.approx(sorted(720.0 - waiting["created_min"]))

    second = tmp_path / "second"
    res = CliRunner().invoke(app, ["run", str(src), "-o", str(second), "-n", "1",
                                   "--from-run", str(first)])
    assert res.exit_code == 0, res.output
    assert f"Backlog at the start: {carried.carried} requests" in " ".join(res.output.split())
    req2 = pd.read_parquet(second / "requests.parquet")
    assert int(req2["backlog"].sum()) == carried.carried
    assert (req2.loc[req2["backlog"], "created_min"] < 0).all()
    table_ = pd.read_csv(second / "backlog_compliance.csv")
    assert set(table_["by"]) == {"all", "backlog_stage", "community", "category"}
    assert not (first / "backlog_compliance.csv").exists()


def test_from_run_refuses_a_run_of_other_communities(tmp_path: Path) -> None:
    src = _busy_scenario(tmp_path)
    first = tmp_path / "first"
    assert CliRunner().invoke(app, ["run", str(src), "-o", str(first), "-n", "1"]).exit_code == 0
    import yaml

    data = tiny_dict()
    data["communities"][0]["name"] = "elsewhere"
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(data), encoding="utf-8")
    res = CliRunner().invoke(app, ["run", str(other), "-o", str(tmp_path / "x"),
                                   "--from-run", str(first)])
    assert res.exit_code == 2
    assert "community 'c1'" in res.output and "requests.parquet" in res.output
    assert "Traceback" not in res.output
    res = CliRunner().invoke(app, ["run", str(other), "-o", str(tmp_path / "y"),
                                   "--from-run", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "not a finished run folder" in res.output


def test_from_run_takes_the_replication_asked_for(tmp_path: Path) -> None:
    src, first, req = _first_run(tmp_path, 2)
    sc = sim.load_scenario(src)
    for r in (0, 1):
        carried = initial_state_from_run(first, sc, r)
        still_open = req[(req["replication"] == r) & req["finished_min"].isna()
                         & ~req["in_transit"]]
        assert carried.carried + carried.in_hand == len(still_open)
    assert (initial_state_from_run(first, sc, 0).state
            != initial_state_from_run(first, sc, 1).state)
    second = tmp_path / "second"
    res = CliRunner().invoke(app, ["run", str(src), "-o", str(second), "-n", "1",
                                   "--from-run", str(first), "--from-replication", "1"])
    assert res.exit_code == 0, res.output
    req2 = pd.read_parquet(second / "requests.parquet")
    assert int(req2["backlog"].sum()) == initial_state_from_run(first, sc, 1).carried
    for args, message in ((["--from-run", str(first), "--from-replication", "5"],
                           "no replication 5 (it has 0, 1)"),
                          (["--from-replication", "1"], "--from-replication needs --from-run")):
        bad = CliRunner().invoke(app, ["run", str(src), "-o", str(tmp_path / "z"), *args])
        assert bad.exit_code == 2 and message in bad.output and "Traceback" not in bad.output
