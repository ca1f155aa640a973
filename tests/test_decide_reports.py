"""sim report on sweep, optimiser and comparison folders; run report findings; --set."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.config import load_scenario, scenario_from_dict
from sim.experiment import replicate
from sim.findings import findings, worst_communities
from sim.staffing import scenario_weekly_cost
from tests.decide_scenarios import night_disputes, night_disputes_dict


def _text(path: Path) -> str:
    s = path.read_text(encoding="utf-8")
    s = re.sub(r"<style>.*?</style>", " ", s, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", s))


def _cli(capsys, *args: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    got = capsys.readouterr()
    return int(e.value.code or 0), got.out, got.err


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    d = night_disputes_dict(horizon_days=3)
    night = night_disputes_dict(horizon_days=3)
    night["staff"][2]["shifts"].append({"name": "night", "start_hour": 18, "end_hour": 8,
                                        "headcount": 4})
    out = {"base": tmp_path / "base.yaml", "night": tmp_path / "night.yaml"}
    out["base"].write_text(yaml.safe_dump(d))
    out["night"].write_text(yaml.safe_dump(night))
    return out


def test_report_of_research_folders(tmp_path: Path, files, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = _cli(capsys, "sweep", files["base"], "--vary", "staff.tech.day=1,2",
                        "-n", "2", "-j", "1", "-o", tmp_path / "sw")
    assert code == 0, err
    code, _, _ = _cli(capsys, "optimize", files["base"], "--target", "onsite=0.8",
                      "--levers", "staff.tech.day=1..2", "-n", "3", "-j", "1",
                      "-o", tmp_path / "opt")
    assert code == 1  # no staffing in range: the night disputes
    code, _, err = _cli(capsys, "compare", files["base"], files["night"], "-n", "2", "-j",
                        "1", "--by", "category", "--outdir", tmp_path / "cmp")
    assert code == 0, err
    for name, must in [("sw", ["Difference from the baseline, paired", "tech.day = "
                               "staff.tech.day"]),
                       ("opt", ["no staff kind that handles dispute (community_cadre) is on "
                                "duty 18:00–08:00", "onsite × old_estate"]),
                       ("cmp", ["paired comparison by category", "dispute", "repair"])]:
        code, out, err = _cli(capsys, "report", tmp_path / name)
        assert code == 0, err
        page = tmp_path / name / "report.html"
        assert f"Report: {page}" in out
        html = page.read_text(encoding="utf-8")
        assert "data:image/png;base64," in html  # its figure
        for text in must:
            assert text in _text(page), (name, text)


def test_findings_follow_the_results() -> None:
    base = replicate(night_disputes(horizon_days=3), 2)
    d = night_disputes_dict(horizon_days=3)
    d["staff"][2]["shifts"].append({"name": "night", "start_hour": 18, "end_hour": 8,
                                    "headcount": 4})
    fixed = replicate(scenario_from_dict(d), 2)
    before, after = " ".join(findings(base)), " ".join(findings(fixed))
    assert before != after
    assert "The weakest stage is on site" in before
    assert "is on duty 18:00–08:00" in before and "dispute" in before
    assert "on duty" not in after  # cadres now work at night
    share = base.compliance(None)
    onsite = float(share[share["stage"] == "onsite"]["mean"].iloc[0])
    assert f"{100 * onsite:.1f}% of requests met its 30-minute target" in before


def test_run_report_has_cost_worst_communities_and_findings(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    scenario = Path(__file__).parents[1] / "scenarios" / "six_types.yaml"
    out = tmp_path / "run"
    code, _, err = _cli(capsys, "run", scenario, "-o", out, "-n", "2", "--set",
                        "run.horizon_days=3", "--report")
    assert code == 0, err
    page = _text(out / "report.html")
    sc = load_scenario(out / "scenario.resolved.yaml")
    assert sc.run.horizon_days == 3
    assert f"weekly staff cost {scenario_weekly_cost(sc):,.0f}" in page
    exp = replicate(sc, 2)
    worst = worst_communities(exp, 10)
    assert len(worst) == min(10, len(list(sc.expanded_communities())))
    assert list(worst["mean"]) == sorted(worst["mean"])
    assert worst.iloc[0]["community"] in page
    assert findings(exp)[0] in page


def test_run_set_changes_values_and_rejects_bad_ones(tmp_path: Path, files, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "r"
    code, _, err = _cli(capsys, "run", files["base"], "-o", out, "-n", "1",
                        "--set", "staff.tech.day=3", "--set", "run.horizon_days=2")
    assert code == 0, err
    sc = load_scenario(out / "scenario.resolved.yaml")
    assert sc.run.horizon_days == 2
    assert [s.headcount for p in sc.staff if p.name == "tech" for s in p.shifts] == [3]
    for spec, problem in [("staff.nope.day=1", "no entry named 'nope'"),
                          ("run.horizon_days=abc", "run.horizon_days"),
                          ("run.horizon_days", "expected PATH=VALUE"),
                          ("staff.tech=2", "names a whole section")]:
        code, _, err = _cli(capsys, "run", files["base"], "-o", tmp_path / "x", "--set", spec)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: --set "), err
        assert problem in lines[0]
    assert not (tmp_path / "x").exists()


def test_research_commands_take_set_too(tmp_path: Path, files, capsys) -> None:  # type: ignore[no-untyped-def]
    """--set reaches the scenario of sweep, optimize, compare (both sides), allocate and
    roster: a comparison made with it equals one of files edited the same way."""
    import sim
    from sim.comparison import compare

    code, _, err = _cli(capsys, "compare", files["base"], files["night"], "-n", "2", "-j",
                          "1", "--set", "run.horizon_days=2", "-o", tmp_path / "c.csv")
    assert code == 0, err
    import pandas as pd

    got = pd.read_csv(tmp_path / "c.csv")
    two = [sim.load_scenario(files[k]) for k in ("base", "night")]
    two = [s.model_copy(update={"run": s.run.model_copy(update={"horizon_days": 2.0})})
           for s in two]
    want = compare(two[0], two[1], replications=2, jobs=1)
    # the CSV holds 6 significant digits
    assert got["difference"].tolist() == pytest.approx(want["difference"].tolist(), abs=1e-5)
    assert not want["difference"].equals(
        compare(*(sim.load_scenario(files[k]) for k in ("base", "night")), replications=2,
                jobs=1)["difference"])  # the horizon mattered
    for command in (["sweep", files["base"], "--vary", "staff.tech.day=1,2", "-o",
                     tmp_path / "s"],
                    ["optimize", files["base"], "--target", "onsite=0.8", "--levers",
                     "staff.tech.day=1..2"],
                    ["compare", files["base"], files["night"]],
                    ["allocate", files["base"], "--add", "1", "-o", tmp_path / "a"],
                    ["roster", files["base"], "--pool", "tech", "--target", "onsite=0.8",
                     "-o", tmp_path / "r"]):
        code, _, err = _cli(capsys, *command, "--set", "staff.nope.day=1")
        lines = err.strip().splitlines()
        assert code == 2 and lines == [lines[0]] and "--set" in lines[0], (command, err)
        assert "no entry named 'nope'" in lines[0]
