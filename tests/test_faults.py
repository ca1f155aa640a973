"""Faults and data integrity, with the real command line in subprocesses.

Write failures (disk full, read-only folder), workers orphaned by a killed parent, two
runs into one folder, optimiser checkpoints and resume, runs written by another version,
corrupt parts and temporary debris left by a kill.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from helpers import interruptible

import sim
from sim.config import resolved_dict

ROOT = Path(__file__).resolve().parents[1]
# staff who do only requests: the optimiser targets below are reachable in the ranges
QUANXUELI = ROOT / "scenarios" / "quanxueli_requests_only.yaml"  # 28 days: ~0.04 s a rep
EXIT_WRITE = 3

# Runs the command line with os.replace (the last step of every atomic write) failing
# with "no space left" after SIM_FAIL_AFTER successful calls: a disk filling up mid-run.
FULL_DISK = """
import errno, os, sys
budget = int(os.environ["SIM_FAIL_AFTER"])
real = os.replace
def replace(src, dst, **kw):
    global budget
    if budget <= 0:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
    budget -= 1
    return real(src, dst, **kw)
os.replace = replace
from sim.cli import main
main(sys.argv[1:])
"""


def sim_cli(*args: object, timeout: float = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env)


def sim_full_disk(after: int, *args: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SIM_FAIL_AFTER": str(after)}
    return subprocess.run([sys.executable, "-c", FULL_DISK, *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env)


def one_error_line(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """The process failed with ``code`` and said why in one ``error:`` line."""
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def temporary_debris(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if p.name.endswith(".tmp")
            or p.name.startswith(".tmp-")]


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Quanxueli over 7 days: fast enough for many small runs."""
    sc = sim.load_scenario(QUANXUELI)
    sc = sc.model_copy(update={"run": sc.run.model_copy(update={"horizon_days": 7})})
    path = tmp_path_factory.mktemp("sc") / "week.yaml"
    path.write_text(yaml.safe_dump(resolved_dict(sc), allow_unicode=True), encoding="utf-8")
    return path


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A size-limited tmpfs at ``where`` (skips the test where mounting is not allowed)."""
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                              str(where)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def assert_same_tables(a: Path, b: Path, names: tuple[str, ...]) -> None:
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


RUN_TABLES = ("requests.parquet", "compliance.csv", "utilisation.csv", "percentiles.csv")


# ---------------------------------------------------------------- write failures
def test_disk_full_run_keeps_finished_work_and_resumes(week: Path, tmp_path: Path) -> None:
    """A real full disk (a small tmpfs): one line, exit 3, parts kept; then resume."""
    ref = tmp_path / "ref"
    assert sim_cli("run", week, "-o", ref, "-n", "4").returncode == 0
    pages = sum(-(-f.stat().st_size // 4096) + 1
                for f in (ref / "replications" / "rep-0000").iterdir())
    size_k = 4 * (pages * 5 // 2 + 16)  # room for about two and a half replications
    with small_tmpfs(tmp_path / "small", f"{size_k}k") as disk:
        out = disk / "run"
        proc = sim_cli("run", week, "-o", out, "-n", "4")
        one_error_line(proc, EXIT_WRITE, "No space left on device", "--resume")
        kept = sorted(p.name for p in (out / "replications").glob("rep-*"))
        assert kept, "finished replications were not kept"
        assert temporary_debris(out) == []
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        again = sim_cli("run", week, "-o", out, "-n", "4", "--resume")
        assert again.returncode == 0, again.stderr
        assert_same_tables(out, ref, RUN_TABLES)


@pytest.mark.parametrize(("command", "after"), [("run", 2), ("sweep", 2), ("optimize", 3),
                                                ("compare", 0), ("report", 0)])
def test_write_failure_is_one_line_in_every_command(week: Path, tmp_path: Path,
                                                    command: str, after: int) -> None:
    out = tmp_path / "out"
    args: list[object]
    if command == "run":
        args = ["run", week, "-o", out, "-n", "4"]
    elif command == "sweep":
        args = ["sweep", week, "--vary", "staff.technicians.day=1..3", "-n", "2", "-j", "1",
                "-o", out]
    elif command == "optimize":
        args = ["optimize", week, "--target", "onsite=0.5", "--levers",
                "staff.technicians.day=1..4", "-n", "2", "-j", "1", "-o", out]
    elif command == "compare":
        args = ["compare", week, week, "-n", "2", "-j", "1", "-o", out / "cmp.csv"]
    else:
        assert sim_cli("run", week, "-o", out, "-n", "2").returncode == 0
        args = ["report", out]
    line = one_error_line(sim_full_disk(after, *args), EXIT_WRITE, "No space left on device")
    assert str(out) in line
    if out.exists():
        assert temporary_debris(out) == []
    if command in ("run", "sweep", "optimize"):  # resumable: finished work is kept
        assert "--resume" in line
        kept = [p for p in out.rglob("*.parquet")]
        assert kept, "nothing kept"
        again = sim_cli(*args, "--resume")
        assert again.returncode in (0, 1), again.stderr  # optimize: 1 = not confirmed
        assert "Traceback" not in again.stderr


def test_unwritable_output_folder_is_one_line(week: Path, tmp_path: Path) -> None:
    """A read-only folder; as root (where permissions do not stop writes) a read-only
    tmpfs, or else a file standing where the folder should be."""
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        target, reason = ro / "run", "Permission denied"
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs",
                                  str(ro)], capture_output=True)
        if mounted.returncode == 0:
            target, reason = ro / "run", "Read-only file system"
        else:
            blocker = tmp_path / "blocker"
            blocker.write_text("a file, not a folder\n")
            target, reason = blocker / "run", "Not a directory"
    try:
        for args in (["run", week, "-o", target, "-n", "2"],
                     ["sweep", week, "--vary", "staff.technicians.day=1,2", "-n", "2",
                      "-j", "1", "-o", target]):
            one_error_line(sim_cli(*args), EXIT_WRITE, reason)
    finally:
        subprocess.run(["umount", "-l", str(ro)], capture_output=True)
        ro.chmod(0o700)


# ---------------------------------------------------------------- orphaned workers
def _children(pid: int) -> set[int]:
    kids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                kids.add(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has exited; only its entry remains


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("command", ["run", "sweep"])
def test_workers_exit_when_the_parent_is_killed(command: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    if command == "run":
        args: list[object] = ["run", QUANXUELI, "-o", out, "-n", "2000", "--jobs", "2"]
    else:
        args = ["sweep", QUANXUELI, "--vary", "staff.technicians.day=1..8", "-n", "200",
                "--jobs", "2", "-o", out]
    proc = interruptible([sys.executable, "-m", "sim", *map(str, args)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and len(workers) < 2:
        workers = _children(proc.pid)
        time.sleep(0.1)
    time.sleep(1.0)  # let the workers start their first tasks
    assert proc.poll() is None and len(workers) >= 2, "no workers seen"
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)], "workers outlived their parent"


def test_ctrl_c_with_workers_ends_cleanly(tmp_path: Path) -> None:
    """Ctrl-C during ``--jobs 2``: finished replications kept, exit 130, no hang."""
    for attempt in range(3):
        out = tmp_path / f"run{attempt}"
        proc = interruptible([sys.executable, "-m", "sim", "run", str(QUANXUELI), "-o",
                                 str(out), "-n", "3000", "--jobs", "2"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for(out / "replications", proc, "rep-*", 2 + 10 * attempt)
        proc.send_signal(signal.SIGINT)
        try:
            _, stderr = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("sim run hung after Ctrl-C") from None
        assert proc.returncode == 130, stderr
        assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
        kept = len(list((out / "replications").glob("rep-*")))
        assert f"{kept} of 3000 replications finished" in stderr.replace("\n", " ")


# ---------------------------------------------------------------- one run per folder
def _wait_for(path: Path, proc: subprocess.Popen[str], pattern: str, n: int = 1) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(path.glob(pattern))) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"{pattern} never appeared in {path}")


def test_second_run_into_a_busy_folder_refuses(week: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = interruptible([sys.executable, "-m", "sim", "run", str(QUANXUELI), "-o",
                              str(out), "-n", "3000"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, text=True)
    try:
        _wait_for(out / "replications", first, "rep-*")
        for args in (["run", QUANXUELI, "-o", out, "-n", "3000", "--resume"],
                     ["run", week, "-o", out, "-n", "2", "--seed", "9"],
                     ["sweep", week, "--vary", "staff.technicians.day=1,2", "-n", "2",
                      "-j", "1", "-o", out],
                     ["optimize", week, "--target", "onsite=0.5", "--levers",
                      "staff.technicians.day=1..3", "-n", "2", "-j", "1", "-o", out]):
            line = one_error_line(sim_cli(*args), 2, "in use by another sim run")
            assert f"pid {first.pid}" in line
        assert first.poll() is None
    finally:
        first.kill()
        first.wait()
    # the kernel released the dead run's lock: a resumed run takes the folder at once
    kept = len(list((out / "replications").glob("rep-*")))
    again = interruptible([sys.executable, "-m", "sim", "run", str(QUANXUELI), "-o",
                              str(out), "-n", "3000", "--resume"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(out / "replications", again, "rep-*", kept + 1)
        assert (out / ".lock").read_text().strip() == str(again.pid)
    finally:
        again.kill()
        _, stderr = again.communicate()
    assert "in use" not in stderr


def test_stale_lock_from_a_killed_sweep_does_not_block(week: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["sweep", str(QUANXUELI), "--vary", "staff.technicians.day=1..6", "-n", "40",
            "-j", "1", "-o", str(out)]
    proc = interruptible([sys.executable, "-m", "sim", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True)
    _wait_for(out / "points", proc, "p*.parquet")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (out / ".lock").exists()
    short = [a.replace("1..6", "1,2") if "1..6" in a else a for a in args]
    mixed = sim_cli(*short, "--resume")
    one_error_line(mixed, 2, "different sweep")  # refused for its content, not the lock


# ---------------------------------------------------------------- optimiser checkpoints
OPT_ARGS = ["--target", "onsite=0.75,finish=0.9,respond=0.9", "--levers",
            "staff.technicians.day=1..5", "--levers", "staff.technicians.evening=0..3",
            "-n", "20", "-j", "1"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory
                  ) -> tuple[subprocess.CompletedProcess[str], Path]:
    full = tmp_path_factory.mktemp("opt") / "full"
    ref = sim_cli("optimize", QUANXUELI, *OPT_ARGS, "-o", full)
    assert ref.returncode in (0, 1), ref.stderr
    return ref, full


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_interrupted_optimize_resumes_to_the_same_answer(
        tmp_path: Path, sig: int,
        uninterrupted: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    ref, full = uninterrupted
    out = tmp_path / "cut"
    proc = interruptible([sys.executable, "-m", "sim", "optimize", str(QUANXUELI),
                             *OPT_ARGS, "-o", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for(out / "evaluations", proc, "*/*.parquet", 2)
    assert proc.poll() is None, "optimize finished before it could be interrupted"
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "Traceback" not in stderr, stderr
        assert "--resume" in stderr
    saved = {p: p.stat().st_mtime_ns for p in (out / "evaluations").glob("*/*.parquet")}
    assert len(saved) >= 2 and not (out / "frontier.csv").exists()
    refused = sim_cli("optimize", QUANXUELI, *OPT_ARGS, "-o", out)
    one_error_line(refused, 2, "--resume")
    again = sim_cli("optimize", QUANXUELI, *OPT_ARGS, "-o", out, "--resume")
    assert again.returncode == ref.returncode, again.stderr
    assert again.stdout == ref.stdout
    # the saved evaluations were read back, not simulated and written again
    assert {p: p.stat().st_mtime_ns for p in saved} == saved
    assert (out / "frontier.csv").read_bytes() == (full / "frontier.csv").read_bytes()


def test_optimize_with_two_jobs_exits_cleanly(week: Path) -> None:
    """No "Exception ignored ... Bad file descriptor" from a pool torn down at exit."""
    for _ in range(3):
        proc = sim_cli("optimize", week, "--target", "onsite=0.6,finish=0.8", "--levers",
                       "staff.technicians.day=1..5", "--levers",
                       "staff.technicians.evening=0..3", "-n", "3", "-j", "2")
        assert proc.returncode in (0, 1), proc.stderr
        assert "Exception ignored" not in proc.stderr and "Traceback" not in proc.stderr


# ---------------------------------------------------------------- resume integrity
def _pretend_version(path: Path, key: str = "sim_version") -> None:
    data = json.loads(path.read_text())
    data[key] = "0.0.1"
    path.write_text(json.dumps(data))


def test_resume_refuses_a_folder_from_another_version(week: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert sim_cli("run", week, "-o", run, "-n", "2").returncode == 0
    _pretend_version(run / "manifest.json")
    one_error_line(sim_cli("run", week, "-o", run, "-n", "2", "--resume"), 2,
                   "written by sim 0.0.1", f"this is sim {sim.__version__}")
    sweep_args = ["sweep", week, "--vary", "staff.technicians.day=1,2", "-n", "2", "-j",
                  "1", "-o", tmp_path / "sweep"]
    assert sim_cli(*sweep_args).returncode == 0
    _pretend_version(tmp_path / "sweep" / "sweep.json")
    one_error_line(sim_cli(*sweep_args, "--resume"), 2, "written by sim 0.0.1")
    opt_args = ["optimize", week, "--target", "onsite=0.5", "--levers",
                "staff.technicians.day=1..3", "-n", "2", "-j", "1", "-o", tmp_path / "opt"]
    assert sim_cli(*opt_args).returncode in (0, 1)
    _pretend_version(tmp_path / "opt" / "optimize.json")
    one_error_line(sim_cli(*opt_args, "--resume"), 2, "written by sim 0.0.1")


def test_resume_refuses_an_interrupted_run_from_another_version(week: Path,
                                                                tmp_path: Path) -> None:
    """A killed run has no manifest yet: the resolved scenario's header names the version."""
    run = tmp_path / "run"
    assert sim_cli("run", week, "-o", run, "-n", "2").returncode == 0
    (run / "manifest.json").unlink()
    resolved = run / "scenario.resolved.yaml"
    text = resolved.read_text(encoding="utf-8")
    resolved.write_text(text.replace(f"by sim {sim.__version__} ", "by sim 0.0.1 ", 1),
                        encoding="utf-8")
    one_error_line(sim_cli("run", week, "-o", run, "-n", "2", "--resume"), 2,
                   "written by sim 0.0.1")


def test_truncated_part_is_reported_and_run_again(week: Path, tmp_path: Path) -> None:
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert sim_cli("run", week, "-o", full, "-n", "3").returncode == 0
    assert sim_cli("run", week, "-o", cut, "-n", "3").returncode == 0
    part = cut / "replications" / "rep-0001" / "requests.parquet"
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    again = sim_cli("run", week, "-o", cut, "-n", "3", "--resume")
    assert again.returncode == 0, again.stderr
    warnings = [ln for ln in again.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and str(part) in warnings[0] and "again" in warnings[0]
    assert "Traceback" not in again.stderr
    assert_same_tables(cut, full, RUN_TABLES)


def test_truncated_sweep_point_is_reported_and_run_again(week: Path, tmp_path: Path) -> None:
    args = ["sweep", week, "--vary", "staff.technicians.day=1..3", "-n", "2", "-j", "1"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert sim_cli(*args, "-o", full).returncode == 0
    assert sim_cli(*args, "-o", cut).returncode == 0
    point = cut / "points" / "p00001.parquet"
    point.write_bytes(point.read_bytes()[:100])
    again = sim_cli(*args, "-o", cut, "--resume")
    assert again.returncode == 0, again.stderr
    warnings = [ln for ln in again.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and str(point) in warnings[0], again.stderr
    assert (cut / "sweep_summary.csv").read_bytes() == (full / "sweep_summary.csv").read_bytes()


def test_leftover_temporary_files_are_cleaned_on_resume(week: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert sim_cli("run", week, "-o", run, "-n", "2").returncode == 0
    litter = [run / ".requests.parquet.k3j2.tmp", run / "replications" / ".tmp-a8d1",
              run / "replications" / ".tmp-a8d1" / "requests.parquet"]
    litter[1].mkdir()
    litter[0].write_bytes(b"half")
    litter[2].write_bytes(b"half")
    shutil.rmtree(run / "replications" / "rep-0001")
    again = sim_cli("run", week, "-o", run, "-n", "2", "--resume")
    assert again.returncode == 0, again.stderr
    assert temporary_debris(run) == []
    sweep = tmp_path / "sweep"
    args = ["sweep", week, "--vary", "staff.technicians.day=1,2", "-n", "2", "-j", "1",
            "-o", sweep]
    assert sim_cli(*args).returncode == 0
    (sweep / "points" / ".p00001.parquet.x1.tmp").write_bytes(b"half")
    assert sim_cli(*args, "--resume").returncode == 0
    assert temporary_debris(sweep) == []


def test_cleanup_stays_in_the_folders_runs_write(tmp_path: Path) -> None:
    from sim.rundir import clean_temporary

    ours = [tmp_path / ".a.parquet.x.tmp", tmp_path / "points" / ".p1.parquet.y.tmp",
            tmp_path / "evaluations" / "s1" / ".1-2.parquet.z.tmp"]
    theirs = [tmp_path / "deep" / "er" / "still" / ".notes.tmp", tmp_path / "notes.tmp",
              tmp_path / ".hidden"]
    for f in ours + theirs:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("x")
    assert sorted(clean_temporary(tmp_path)) == sorted(ours)
    assert all(f.exists() for f in theirs) and not any(f.exists() for f in ours)
