"""Output folders shared safely: an exclusive lock, the writer's version, temporary debris.

* :func:`lock_outdir` holds an advisory ``flock`` on ``OUTDIR/.lock`` for the life of a
  run, so a second ``sim run``/``sweep``/``optimize`` into the same folder refuses instead
  of mixing its tables with the first one's.  The kernel drops the lock when the holder
  dies, so a killed run never blocks a later one.
* :func:`check_version` refuses to resume a folder written by another package version
  (results could differ, and the resumed tables would mix both).
* :func:`claim_kind` marks a folder with the kind of output it holds (``run``,
  ``sweep``, ``optimize``, ``calibrate``, ``audit``, ``sensitivity``, ``allocate``,
  ``roster``) and refuses to write
  one kind of output into a folder that holds another, whose files would otherwise be
  overwritten or mixed.
* :func:`clean_temporary` removes what an atomic write leaves behind when it is killed
  (``.NAME.<random>.tmp`` files and ``.tmp-<random>`` folders); only call it while holding the lock.

This module imports nothing heavy, so worker processes can use it cheaply.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = ".lock"
KIND_NAME = ".sim-kind"
KIND_SIGNS: dict[str, tuple[str, ...]] = {
    # files or folders only that kind writes: recognises folders written before markers
    "run": ("replications", "scenario.resolved.yaml"),
    "sweep": ("points", "sweep.json"),
    "optimize": ("evaluations", "frontier.csv"),
    "calibrate": ("fit.csv", "fit_report.html"),
    "audit": ("audit.html", "dropped.csv"),
    "sensitivity": ("sensitivity.json", "sensitivity_oat.csv", "sensitivity_morris.csv"),
    "allocate": ("allocate.json", "allocation_steps.csv"),
    "roster": ("roster.json", "roster.csv"),
    "compare": ("compare.json",),
}
"""Output kinds, each with names that mark a folder as holding that kind."""
_held: list[int] = []  # lock descriptors held by this process (workers close their copy)


class OutdirError(Exception):
    """The output folder cannot be used: locked, another version, unwritable."""


def held_lock_fds() -> list[int]:
    """Descriptors of the locks this process holds (a forked worker closes its copies)."""
    return list(_held)


@contextlib.contextmanager
def lock_outdir(outdir: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``outdir`` (created if missing) while the block runs.

    Raises
    ------
    OutdirError
        When another live process holds it.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    path = outdir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            raise
        who = f" (pid {holder})" if holder.isdigit() else ""
        raise OutdirError(f"{outdir}: in use by another sim run{who}; wait for it to "
                          "finish or choose another output folder") from None
    try:
        # the pid is only for the message above; a failure to record it is harmless
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _held.append(fd)
        yield
    finally:
        if fd in _held:
            _held.remove(fd)
        os.close(fd)  # releases the lock


def check_resumable(outdir: Path, manifest: str, key: str, resume: bool, version: str,
                    what: str, changed: str) -> bool:
    """Whether ``outdir`` already holds this piece of work (its ``manifest`` file, with
    the same ``key``), so that it can be resumed; False when it holds none yet.

    Raises
    ------
    FileExistsError
        When it holds work and ``resume`` was not asked for.
    ValueError
        When it holds different work (``what``, e.g. "sweep"; ``changed`` lists what may
        differ).
    OutdirError
        When the work was written by another package version.
    """
    path = outdir / manifest
    if not path.exists():
        return False
    article = "an" if what[:1] in "aeiou" else "a"
    if not resume:
        raise FileExistsError(f"{outdir}: already holds {article} {what}; use --resume or "
                              "another -o")
    old = json.loads(path.read_text())
    if old.get("key") != key:
        raise ValueError(f"{outdir}: holds a different {what} ({changed} changed); use "
                         "another -o")
    check_version(outdir, old.get("sim_version"), version)
    return True


def folder_kind(outdir: Path) -> str | None:
    """The kind of sim output ``outdir`` holds: its marker, else recognised files."""
    marker = outdir / KIND_NAME
    with contextlib.suppress(OSError, UnicodeDecodeError):
        kind = marker.read_text(encoding="utf-8").strip()
        if kind:
            return kind
    for kind, signs in KIND_SIGNS.items():
        if any((outdir / name).exists() for name in signs):
            return kind
    return None


def claim_kind(outdir: Path, kind: str) -> None:
    """Mark ``outdir`` (created if missing) as holding ``kind`` output.

    Raises
    ------
    OutdirError
        When it already holds another kind of sim output.
    """
    if kind not in KIND_SIGNS:
        raise ValueError(f"unknown output kind {kind!r}")
    outdir.mkdir(parents=True, exist_ok=True)
    held = folder_kind(outdir)
    if held is not None and held != kind:
        raise OutdirError(f"{outdir}: holds the output of `sim {held}`; `sim {kind}` would "
                          "overwrite or mix its files; choose another output folder")
    if held is None:
        (outdir / KIND_NAME).write_text(kind + "\n", encoding="utf-8")


def clean_temporary(outdir: Path, depth: int = 2) -> list[Path]:
    """Remove temporary files and folders left by killed atomic writes; return them.

    Looks in ``outdir`` and its subfolders down to ``depth`` levels (where runs, sweeps
    and the optimiser write), never further, so an output folder placed over other
    files cannot reach them.
    """
    removed: list[Path] = []
    folders = [outdir] if outdir.is_dir() else []
    for _ in range(depth + 1):
        below: list[Path] = []
        for folder in folders:
            for p in sorted(folder.iterdir()):
                if p.name.startswith(".") and p.name.endswith(".tmp") and p.is_file():
                    p.unlink(missing_ok=True)
                    removed.append(p)
                elif p.name.startswith(".tmp-") and p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                    removed.append(p)
                elif p.is_dir() and not p.is_symlink():
                    below.append(p)
        folders = below
    return removed


def check_version(outdir: Path, written_by: str | None, current: str) -> None:
    """Refuse to resume ``outdir`` when it was written by another package version."""
    if written_by is not None and written_by != current:
        raise OutdirError(
            f"{outdir}: written by sim {written_by}, this is sim {current}; results could "
            f"differ, so it cannot be resumed — start again in a new output folder "
            f"(or resume with sim {written_by})")


__all__ = ["OutdirError", "check_version", "clean_temporary", "held_lock_fds", "lock_outdir"]
