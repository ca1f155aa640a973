"""The command line's own behaviour: usage errors, ``--version``, user text shown literally."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import sim
from sim.config import resolved_dict

ROOT = Path(__file__).resolve().parents[1]
QUANXUELI = ROOT / "scenarios" / "quanxueli.yaml"
BOX = "╭│╰─"  # rich panel borders


def sim_cli(*args: object, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *map(str, args)], capture_output=True,
                          text=True, timeout=300, env=env)


@pytest.mark.parametrize(("args", "words"), [
    (["run", QUANXUELI, "-o", "x", "--jobs", "0"], ["--jobs", "greater than or equal to 1"]),
    (["run", QUANXUELI], ["Missing option", "--outdir"]),
    (["run", QUANXUELI, "-o", "x", "--nope"], ["No such option", "--nope"]),
    (["run", QUANXUELI, "-o", "x", "-n", "many"], ["--replications", "integer"]),
    (["bogus"], ["No such command", "bogus"]),
    (["sweep", QUANXUELI, "--vary", "run.seed=1,2", "-o", "x", "-n", "1"],
     ["--replications", "greater than or equal to 2"]),
    (["optimize", QUANXUELI, "--target", "onsite=0.9", "--levers",
      "staff.technicians.day=1..3", "--confidence", "2"], ["--confidence"]),
    (["compare", QUANXUELI], ["Missing argument", "alternative"]),
    (["validate"], ["Missing argument", "scenario"]),
])
def test_usage_error_is_one_line_exit_2(args: list[object], words: list[str],
                                        tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "sim", *map(str, args)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert not any(c in proc.stderr for c in BOX), proc.stderr
    for w in words:
        assert w in lines[0], lines[0]
    assert proc.stdout == ""
    assert not (tmp_path / "x").exists()


def test_version() -> None:
    proc = sim_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"sim {sim.__version__}"


def test_help_still_works() -> None:
    proc = sim_cli("run", "--help")
    assert proc.returncode == 0 and "--resume" in proc.stdout and "--dask" in proc.stdout


NAME = "[/bold] [link=http://x]evil[/link] [red]"


@pytest.fixture(scope="module")
def marked_up(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scenario named with markup, in a folder whose name is markup too."""
    sc = sim.load_scenario(QUANXUELI)
    sc = sc.model_copy(update={"name": NAME,
                               "run": sc.run.model_copy(update={"horizon_days": 3})})
    folder = tmp_path_factory.mktemp("sc") / "[link=http:__x]d"
    folder.mkdir()
    path = folder / "[bold]s.yaml"
    path.write_text(yaml.safe_dump(resolved_dict(sc), allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("terminal", [False, True], ids=["pipe", "terminal"])
def test_user_text_is_printed_literally(marked_up: Path, tmp_path: Path,
                                        terminal: bool) -> None:
    env = {**os.environ, "FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"} if terminal else None
    checked = sim_cli("validate", marked_up, env=env)
    assert checked.returncode == 0, checked.stderr
    assert str(marked_up) in checked.stdout
    out = tmp_path / "[i]out"
    ran = sim_cli("run", marked_up, "-o", out, "-n", "2", "-j", "1", env=env)
    assert ran.returncode == 0, ran.stderr
    assert "Traceback" not in ran.stderr
    assert NAME in ran.stdout and f"{out}/" in ran.stdout
    assert "\x1b]8;" not in ran.stdout + ran.stderr + checked.stdout  # no hyperlink escape
    missing = sim_cli("validate", marked_up.parent / "[/bold]none.yaml", env=env)
    assert missing.returncode == 2 and "[/bold]none.yaml" in missing.stderr


def test_user_text_in_research_commands_is_literal(marked_up: Path, tmp_path: Path) -> None:
    out = tmp_path / "[red]sweep"
    swept = sim_cli("sweep", marked_up, "--vary", "staff.technicians.day=1,2", "-n", "2",
                    "-j", "1", "-o", out)
    assert swept.returncode == 0, swept.stderr
    assert f"{out}/" in swept.stdout
    compared = sim_cli("compare", marked_up, marked_up, "-n", "2", "-j", "1")
    assert compared.returncode == 0, compared.stderr
    assert "[bold]s.yaml vs [bold]s.yaml" in compared.stdout


def test_a_narrow_terminal_wraps_the_summary_table_without_losing_digits(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    from sim.cli import main
    from sim.cli_common import out

    old = out.width
    out.width = 80  # an 80-column terminal
    try:
        with pytest.raises(SystemExit) as done:
            main(["run", "scenarios/six_types.yaml", "-o", str(tmp_path / "r"), "-n", "2",
                  "--set", "run.horizon_days=3", "--set", "run.warmup_days=1"])
    finally:
        out.width = old
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "…" not in text
    table = pd.read_csv(tmp_path / "r" / "compliance.csv")
    rows = table[(table["by"] == "community_type") & (table["clock"] == "community")
                 & table["mean"].notna()]
    cells = " ".join(text.split())
    for _, r in rows.iterrows():  # every interval's upper bound is printed whole
        assert f"{100 * r['ci_high']:.1f}]" in cells
