"""Broken scenario files give one short message naming the file, the field and the problem.

Every fixture in ``tests/data/bad`` is a small, realistic variation of a valid scenario
with one thing wrong.  The real CLI runs as a subprocess, so what is checked is exactly
what a user sees: exit code 2, no traceback, the file path, the field path and a word
about the problem, in at most a few lines.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BAD = Path(__file__).resolve().parent / "data" / "bad"
SCENARIOS = ROOT / "scenarios"

# file, field path expected in the message, problem keyword expected in it, most lines
CASES: list[tuple[str, str, str, int]] = [
    # missing or mistyped values
    ("missing_headcount.yaml", "staff[0].shifts[1].headcount", "required", 1),
    ("missing_pool_kind.yaml", "staff[1].kind", "required", 1),
    ("missing_community_type.yaml", "communities[0].type", "required", 1),
    ("households_string.yaml", "communities[0].households", "integer", 1),
    ("horizon_string.yaml", "run.horizon_days", "number", 1),
    ("negative_headcount.yaml", "staff[1].shifts[1].headcount", "greater than or equal to 0", 1),
    ("bad_weekday.yaml", "staff[2].shifts[1].days[1]", "sunday", 1),
    # shares, profiles, hours, run length
    ("category_mix_sum.yaml", "communities[0].category_mix", "sum to 1", 1),
    ("channel_mix_sum.yaml", "communities[0].channel_mix", "sum to 1", 1),
    ("hour_profile_23.yaml", "communities[0].hour_profile", "24", 1),
    ("shift_start_25.yaml", "staff[1].shifts[0].start_hour", "less than 24", 1),
    ("shift_end_0.yaml", "staff[0].shifts[1].end_hour", "greater than 0", 1),
    ("warmup_ge_horizon.yaml", "run.warmup_days", "shorter than horizon_days", 1),
    # names that do not resolve
    ("unknown_community_type.yaml", "communities[1].type", "old_housing_estate", 1),
    ("unknown_category.yaml", "communities[0].category_mix", "garbage_sorting", 1),
    ("pool_unknown_community.yaml", "staff[2].communities", "Yajuyan", 1),
    ("sla_unknown_category.yaml", "sla[1].categories", "unknown categories", 1),
    ("duplicate_community.yaml", "communities", "duplicate", 1),
    ("no_technicians.yaml", "categories.home_repair.onsite_by", "technician", 1),
    # distributions
    ("unknown_dist.yaml", "communities[0].travel_time", "weibull", 1),
    ("lognormal_negative_cv.yaml", "categories.lift_fault.work_time.cv", "greater than 0", 1),
    # typos: reported once, as the typo, not also as a missing field
    ("typo_top_level_staf.yaml", "staf", "did you mean 'staff'", 1),
    ("typo_headcont.yaml", "staff[1].shifts[0].headcont", "did you mean 'headcount'", 1),
    ("typo_optional_field.yaml", "staff[0].hourly_cst", "unknown field", 1),
    # not a scenario mapping at all
    ("yaml_syntax.yaml", "line 10", "expected ',' or '}'", 1),
    ("python_tag.yaml", "line 2", "python/object/apply", 1),
    ("empty.yaml", "(top level)", "empty", 1),
    ("top_level_list.yaml", "(top level)", "list, not a mapping", 1),
    ("not_utf8_gbk.yaml", "line 3", "UTF-8", 1),
    ("does_not_exist.yaml", "", "not found", 1),
    # a custom community has no preset, so each missing field is its own problem
    ("custom_type_incomplete.yaml", "communities[0].travel_time", "required", 5),
]


def sim(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run the real CLI the way a user would."""
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "sim", *map(str, args)],
        cwd=cwd, env=env, capture_output=True, text=True, encoding="utf-8",
        errors="replace", timeout=120, check=False,
    )


def assert_reported(
    proc: subprocess.CompletedProcess[str], path: Path, field: str, keyword: str, lines: int
) -> None:
    """The failure is exit code 2 with a short, traceback-free message naming the field."""
    report = f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.returncode == 2, report
    assert "Traceback" not in proc.stdout + proc.stderr, report
    assert str(path) in proc.stderr, report
    assert field in proc.stderr, report
    assert keyword.lower() in proc.stderr.lower(), report
    got = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert 1 <= len(got) <= lines, report
    # every line is "FILE: where: problem", so no line is a wrapped fragment of another
    assert all(str(path) in ln for ln in got), report


def test_enough_distinct_fixtures() -> None:
    files = {p.name for p in BAD.glob("*.yaml")}
    named = {name for name, *_ in CASES}
    assert len(files) >= 18
    assert files <= named, f"fixtures without a case: {sorted(files - named)}"
    assert named - files == {"does_not_exist.yaml"}
    contents = [p.read_bytes() for p in BAD.glob("*.yaml")]
    assert len(set(contents)) == len(contents), "two fixtures are identical"


@pytest.mark.parametrize(
    ("name", "field", "keyword", "lines"), CASES, ids=[c[0].removesuffix(".yaml") for c in CASES]
)
def test_validate_reports_problem(name: str, field: str, keyword: str, lines: int) -> None:
    path = BAD / name
    assert_reported(sim("validate", path), path, field, keyword, lines)


RUN_CASES = [
    "negative_headcount.yaml",
    "warmup_ge_horizon.yaml",
    "no_technicians.yaml",
    "yaml_syntax.yaml",
    "does_not_exist.yaml",
]


@pytest.mark.parametrize("name", RUN_CASES, ids=[n.removesuffix(".yaml") for n in RUN_CASES])
def test_run_refuses_bad_file_before_writing(name: str, tmp_path: Path) -> None:
    _, field, keyword, lines = next(c for c in CASES if c[0] == name)
    path = BAD / name
    out = tmp_path / "out"
    assert_reported(sim("run", path, "-o", out, "-n", "1"), path, field, keyword, lines)
    assert not (out / "replications").exists()
    assert not out.exists() or not any(out.iterdir()), sorted(out.iterdir())


def test_run_leaves_existing_outdir_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    path = BAD / "shift_start_25.yaml"
    proc = sim("run", path, "-o", out, "-n", "1")
    assert_reported(proc, path, "staff[1].shifts[0].start_hour", "less than 24", 1)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("command", ["validate", "run"])
def test_python_tag_is_refused_not_executed(command: str, tmp_path: Path) -> None:
    path = BAD / "python_tag.yaml"
    marker = "SIM_PWNED_MARKER"
    # the payload would write the marker into the working directory
    assert f"!!python/object/apply:os.system [\"echo pwned > {marker}\"]" in path.read_text(
        encoding="utf-8"
    )
    args = ["run", path, "-o", tmp_path / "out"] if command == "run" else ["validate", path]
    proc = sim(*args, cwd=tmp_path)
    assert_reported(proc, path, "line 2", "plain YAML data only", 1)
    assert not (tmp_path / marker).exists()
    assert not (ROOT / marker).exists()
    assert not (tmp_path / "out").exists()


def test_path_with_brackets_is_printed_verbatim(tmp_path: Path) -> None:
    """The message is plain text: "[draft]" in a path is not swallowed as console markup."""
    folder = tmp_path / "[draft]"
    folder.mkdir()
    path = folder / "scenario.yaml"
    path.write_bytes((BAD / "warmup_ge_horizon.yaml").read_bytes())
    assert_reported(sim("validate", path), path, "run.warmup_days", "shorter", 1)


def test_directory_instead_of_file() -> None:
    assert_reported(sim("validate", BAD), BAD, "", "cannot read", 1)


def _shipped() -> list[object]:
    found = sorted(SCENARIOS.glob("*.yaml"))
    names = {p.name for p in found} | {"quanxueli.yaml"}
    return [
        pytest.param(SCENARIOS / n, id=n.removesuffix(".yaml"),
                     marks=[] if (SCENARIOS / n).exists()
                     else pytest.mark.skip(reason=f"scenarios/{n} is not there yet"))
        for n in sorted(names)
    ]


@pytest.mark.parametrize("path", _shipped())
def test_shipped_scenarios_validate(path: Path) -> None:
    proc = sim("validate", path)
    assert proc.returncode == 0, proc.stderr
    assert "ok" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
