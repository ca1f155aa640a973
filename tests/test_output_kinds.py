"""One kind of output per folder: a command refuses a folder holding another command's
output instead of overwriting or mixing its files."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.rundir import KIND_NAME, OutdirError, claim_kind, folder_kind

ROOT = Path(__file__).resolve().parents[1]


def test_claim_marks_an_empty_folder_and_accepts_the_same_kind_again(tmp_path: Path) -> None:
    out = tmp_path / "new"
    claim_kind(out, "sweep")
    assert (out / KIND_NAME).read_text(encoding="utf-8").strip() == "sweep"
    claim_kind(out, "sweep")  # resuming the same kind is fine
    assert folder_kind(out) == "sweep"


@pytest.mark.parametrize(("held", "sign"), [
    ("run", "replications"), ("sweep", "points"), ("calibrate", "fit.csv"),
    ("audit", "audit.html"), ("sensitivity", "sensitivity.json"),
])
def test_a_folder_written_before_markers_is_recognised_by_its_files(
    tmp_path: Path, held: str, sign: str
) -> None:
    (tmp_path / sign).mkdir() if "." not in sign else (tmp_path / sign).write_text("x")
    assert folder_kind(tmp_path) == held
    other = "audit" if held != "audit" else "run"
    with pytest.raises(OutdirError, match=f"holds the output of `sim {held}`"):
        claim_kind(tmp_path, other)
    assert not (tmp_path / KIND_NAME).exists()


def test_unknown_kind_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        claim_kind(tmp_path, "nonsense")


@pytest.mark.parametrize("command", [
    ["run", str(ROOT / "scenarios" / "mmc_validation.yaml"), "-n", "2"],
    ["sweep", str(ROOT / "scenarios" / "mmc_validation.yaml"), "--vary",
     "staff.servers.always=5", "-n", "2", "--jobs", "1"],
])
def test_commands_refuse_a_folder_holding_another_kind(tmp_path: Path,
                                                       command: list[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    held = "audit"
    (out / KIND_NAME).write_text(held + "\n", encoding="utf-8")
    (out / "compliance.csv").write_text("the audit's table\n", encoding="utf-8")
    result = CliRunner().invoke(app, [*command, "-o", str(out)])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "holds the output of `sim audit`" in lines[0]
    assert (out / "compliance.csv").read_text(encoding="utf-8") == "the audit's table\n"
