"""Broken scenario files give one short message naming the file, the field and the problem.

Every fixture in ``tests/data/bad`` is a small, realistic variation of a valid scenario
with one thing wrong.  The real CLI runs as a subprocess, so what is checked is exactly
what a user sees: exit code 2, no traceback, the file path, the field path and a word
about the problem, in at most a few lines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

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
    # NaN and infinity, in the schema's own fields and in distributions
    ("nan_rate.yaml", "communities[0].requests_per_household_per_day", "finite", 1),
    ("inf_horizon.yaml", "run.horizon_days", "finite", 1),
    ("inf_distribution.yaml", "communities[0].travel_time.mean_min", "finite", 1),
    # hostile YAML: refused before any object is built
    ("duplicate_key.yaml", "line 6", "duplicate key 'horizon_days' (first given at line 4)", 1),
    ("alias_bomb.yaml", "(YAML)", "aliases are expanded", 1),
    ("deep_nesting.yaml", "line 2", "nested more than", 1),
    # stamped names, and sizes far beyond any study
    ("stamped_collision.yaml", "communities[0].count", "Yajuyuan-2", 1),
    ("huge_demand.yaml", "communities[0].demand_multiplier", "less than or equal to 1000", 1),
    ("huge_count.yaml", "communities[0].count", "less than or equal to 20000", 1),
    ("huge_requests.yaml", "communities", "about 1.8e+08 requests per replication", 1),
    ("huge_horizon.yaml", "run.horizon_days", "less than or equal to 3660", 1),
    # dated runs and events
    ("weekday_contradicts_date.yaml", "run.start_weekday", "contradicts start_date", 1),
    ("event_start_needs_date.yaml", "events[0].start", "needs run.start_date", 1),
    ("event_unknown_pool.yaml", "events[0].pool", "unknown staff pool 'technician'", 1),
    ("calendar_unknown_preset.yaml", "calendars[0].preset", "cn_2025", 1),
    ("huge_surge.yaml", "events[0]", "requests per replication", 1),
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
    args: list[str | Path] = (["run", path, "-o", tmp_path / "out"] if command == "run"
                              else ["validate", path])
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


# ------------------------------------------------------------------- files that are not files
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_device_is_refused_not_read(device: str) -> None:
    assert_reported(sim("validate", device), Path(device), "", "not a regular file", 1)


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    from sim.config.limits import MAX_FILE_BYTES

    path = tmp_path / "big.yaml"
    path.write_bytes(b"# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    assert_reported(sim("validate", path), path, "", f"at most {MAX_FILE_BYTES} bytes", 1)


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_bytes(b"name: x\n" + bytes(range(256)))
    assert_reported(sim("validate", path), path, "line 2", "binary file", 1)


def test_many_problems_are_counted_not_all_listed(tmp_path: Path) -> None:
    from sim.config.errors import MAX_PROBLEMS

    path = tmp_path / "scenario.yaml"
    path.write_text("communities:\n" + "  - {name: 1, type: x}\n" * 100, encoding="utf-8")
    assert_reported(sim("validate", path), path, "", "and 181 more problems",
                    MAX_PROBLEMS + 1)


# ------------------------------------------------------------------- in-process checks
def _quanxueli() -> dict[str, object]:
    import yaml

    data = yaml.safe_load((SCENARIOS / "quanxueli.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _problem_of(data: dict[str, object]) -> str:
    from sim.config import ScenarioError, scenario_from_dict

    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, "<test>")
    return str(info.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("where", [
    ("run", "horizon_days"), ("run", "warmup_days"), ("sla", 0, "respond_min"),
    ("business_hours", "start_hour"), ("communities", 0, "demand_multiplier"),
    ("communities", 0, "hour_profile", 3), ("communities", 0, "channel_mix", "phone"),
    ("communities", 0, "travel_time", "mean_min"), ("staff", 0, "hourly_cost"),
    ("staff", 0, "shifts", 0, "cost_factor"), ("staff", 0, "shifts", 0, "callout_min"),
])
def test_non_finite_numbers_are_refused(where: tuple[object, ...], value: float) -> None:
    import copy

    data: Any = copy.deepcopy(_quanxueli())
    data.setdefault("sla", [{}])
    com = data["communities"][0]
    com.setdefault("hour_profile", [1.0] * 24)
    com.setdefault("channel_mix", {"phone": 1.0})
    com["travel_time"] = {"dist": "lognormal", "mean_min": 5, "cv": 0.5}
    node = data
    for key in where[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
    node[where[-1]] = value
    message = _problem_of(data)
    assert "finite" in message or f"(got {value})" in message, message
    assert len(message.splitlines()) == 1, message


def test_legitimate_empty_scenarios_validate() -> None:
    """No households, nobody on duty and no demand are scenarios, not errors."""
    from sim.config import scenario_from_dict

    data = _quanxueli()
    for com in data["communities"]:  # type: ignore[attr-defined]
        com["households"] = 0
        com["demand_multiplier"] = 0
    for pool in data["staff"]:  # type: ignore[attr-defined]
        for shift in pool["shifts"]:
            shift["headcount"] = 0
    sc = scenario_from_dict(data)
    assert all(c.requests_per_day == 0 for c in sc.communities)


def test_arrival_streams_are_estimated_before_stamping() -> None:
    from sim.config.limits import MAX_ARRIVAL_STREAMS

    data = _quanxueli()
    com = data["communities"][0]  # type: ignore[index]
    com.update(count=200, demand_multiplier=501, households=1)
    message = _problem_of(data)
    assert "100200 arrival streams" in message and str(MAX_ARRIVAL_STREAMS) in message


def test_pool_hours_are_estimated() -> None:
    data = _quanxueli()
    data["communities"][0].update(count=10000, households=0)  # type: ignore[index]
    data["run"] = {"horizon_days": 3000}
    message = _problem_of(data)
    assert "pool-hours" in message and "run.horizon_days" in message, message


def test_a_collision_of_two_stamped_entries_is_found() -> None:
    data = _quanxueli()
    first = data["communities"][0]  # type: ignore[index]
    data["communities"] = [{**first, "name": "a", "count": 12},  # a-1 .. a-12
                           {**first, "name": "a-1", "count": 2}]  # a-1-1, a-1-2: no clash
    from sim.config import scenario_from_dict

    assert len(list(scenario_from_dict(data).expanded_communities())) == 14
    data["communities"][1] = {**first, "name": "a", "count": 1}  # type: ignore[index]
    assert "duplicate names" in _problem_of(data)
    data["communities"][1] = {**first, "name": "a-12"}  # type: ignore[index]
    assert "a-12" in _problem_of(data)


# ------------------------------------------------------------------- lever grids
@pytest.mark.parametrize(("text", "size"), [
    ("0..1e12", "1e+12"), ("0..1000000000000", "1e+12"), ("1..100001", "1e+05"),
])
def test_lever_range_size_is_refused_before_building(text: str, size: str) -> None:
    from sim.levers import parse_values

    with pytest.raises(ValueError, match=rf"holds {re.escape(size)} values; the limit"):
        parse_values(text)


@pytest.mark.parametrize("text", ["0..inf", "nan..1", "0..1e400", "0..1:0"])
def test_lever_range_must_be_finite_and_increasing(text: str) -> None:
    from sim.levers import parse_values

    with pytest.raises(ValueError, match=re.escape(text)):
        parse_values(text)


def test_lever_grid_size_is_refused_before_building() -> None:
    from sim.config.limits import MAX_GRID_POINTS
    from sim.levers import grid

    with pytest.raises(ValueError, match=r"1000 x 1000 = 1e\+06 grid points"):
        grid({"a": range(1000), "b": range(1000)})
    assert len(grid({"a": range(10), "b": range(MAX_GRID_POINTS // 10)})) == MAX_GRID_POINTS


def test_sweep_with_huge_range_is_one_line(tmp_path: Path) -> None:
    path = SCENARIOS / "quanxueli.yaml"
    proc = sim("sweep", path, "--vary", "staff.technicians.day=0..1000000000000",
               "-o", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "holds 1e+12 values" in proc.stderr


# ------------------------------------------------------------------- JSON Schema
def _json_schema() -> dict[str, object]:
    import json

    proc = sim("schema")
    assert proc.returncode == 0, proc.stderr
    schema = json.loads(proc.stdout)
    assert isinstance(schema, dict)
    return schema


def _as_editors_read(text: str) -> object:
    """YAML as an editor's schema check sees it: dates (2026-02-09) stay strings."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    return yaml.load(text, Loader=Loader)


def test_schema_accepts_every_shipped_scenario() -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(_json_schema())
    found = sorted(SCENARIOS.glob("*.yaml"))
    assert len(found) >= 5
    for path in found:
        data = _as_editors_read(path.read_text(encoding="utf-8"))
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
        assert not errors, f"{path.name}: {errors[:5]}"


SCHEMA_REJECTS = [
    "missing_pool_kind", "missing_headcount", "households_string", "negative_headcount",
    "bad_weekday", "hour_profile_23", "shift_start_25", "shift_end_0",
    "unknown_community_type", "unknown_dist", "lognormal_negative_cv", "typo_top_level_staf",
    "typo_headcont", "typo_optional_field", "custom_type_incomplete", "missing_community_type",
    "huge_count", "huge_horizon", "top_level_list",
]


def test_schema_rejects_bad_files_it_can_express() -> None:
    import jsonschema
    import yaml

    validator = jsonschema.Draft202012Validator(_json_schema())
    accepted = [name for name in SCHEMA_REJECTS if validator.is_valid(
        yaml.safe_load((BAD / f"{name}.yaml").read_text(encoding="utf-8")))]
    assert not accepted


def test_schema_describes_every_field() -> None:
    schema = _json_schema()
    defs = schema["$defs"]
    assert isinstance(defs, dict)
    missing = [
        f"{name}.{field}"
        for name, d in [("Scenario", schema), *defs.items()]
        if name in ("Scenario", "RunConfig", "Community", "Shift", "StaffPool", "SlaRule",
                    "Category", "BusinessHours", "DayTarget", "CalendarSpec", "Surge",
                    "Cluster", "Outage", "StaffEvent")
        for field, spec in d["properties"].items()
        if not spec.get("description")
    ]
    assert not missing, missing
    horizon = defs["RunConfig"]["properties"]["horizon_days"]
    assert "days" in horizon["description"] and horizon["maximum"] == 3660


def test_a_misspelled_optional_field_gets_the_field_of_its_own_model() -> None:
    from sim.config import ScenarioError, scenario_from_dict
    from tests.helpers import tiny_dict

    data = tiny_dict()
    data["communities"][0]["housholds"] = data["communities"][0].pop("households", 100)
    data["staff"][0]["absense_prob"] = 0.1
    data["staff"][0]["shifts"][0]["on_holiday"] = False
    data["run"]["horizon_dayz"] = 3
    data["run"]["zzzz"] = 1  # nothing near it: no guess
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, "<t>")
    lines = str(info.value).splitlines()
    expect = {"communities[0].housholds": "'households'",
              "staff[0].absense_prob": "'absence_prob'",
              "staff[0].shifts[0].on_holiday": "'on_holidays'",
              "run.horizon_dayz": "'horizon_days'"}
    for path, meant in expect.items():
        assert [ln for ln in lines if f"{path}: unknown field (did you mean {meant}?)" in ln]
    assert any(ln.endswith("run.zzzz: unknown field") for ln in lines)
