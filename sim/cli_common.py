"""What every ``sim`` command shares: consoles, one-line errors, loading, progress, folders.

User text (scenario names, paths, values) is always printed literally: both consoles have
markup off, and the few styled words go through :class:`rich.text.Text`, so a scenario
named ``[/bold]`` cannot crash a command and ``[link=...]`` never becomes a hyperlink.

Exit codes: 0 success; 1 ``sim optimize`` found no (confirmed) staffing; 2 bad input, bad
usage or an output folder that cannot be used (locked, another run, another version);
3 an output could not be written (read-only folder, disk full: finished work is kept, so
rerun with ``--resume`` once fixed); 130 interrupted.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from sim.config import Scenario, ScenarioError, load_scenario
from sim.rundir import OutdirError, claim_kind, clean_temporary, lock_outdir

EXIT_USAGE = 2
EXIT_WRITE = 3
EXIT_INTERRUPTED = 130

# wide enough for the summary table when output goes to a file or pipe
out = Console(width=None if sys.stdout.isatty() else 160, markup=False, emoji=False,
              highlight=False)
err = Console(stderr=True, markup=False, emoji=False, highlight=False)

JOBS_HELP = "local worker processes (default: one per core); results do not depend on it"
DASK_HELP = "run on Dask: 'local' starts a LocalCluster, or give a scheduler tcp://HOST:PORT"
Jobs = Annotated[int | None, typer.Option("--jobs", "-j", min=1, help=JOBS_HELP)]
Dask = Annotated[str | None, typer.Option("--dask", help=DASK_HELP)]
Seed = Annotated[int | None, typer.Option("--seed", min=0, help="default: the scenario's")]
Settings = Annotated[list[str] | None, typer.Option(
    "--set", help="PATH=VALUE: change one scenario value (repeatable), e.g. "
    "staff.technicians.day=3 or run.horizon_days=7")]
Replications = Annotated[int, typer.Option("--replications", "-n", min=2)]
Confidence = Annotated[float, typer.Option(min=0.5, max=0.999)]
HorizonDays = Annotated[float | None, typer.Option(
    help="simulate this many days instead of the scenario's horizon")]


def say(label: str, message: str, style: str = "yellow") -> None:
    """``label: message`` on stderr, the label styled and the message literal."""
    err.print(Text.assemble((f"{label}:", style), " ", message), soft_wrap=True)


def show_warning(message: Warning | str, category: type[Warning], filename: str,
                 lineno: int, file: Any = None, line: str | None = None) -> None:
    """``warnings.showwarning`` for the command line: ``warning: message``, one line."""
    say("warning", " ".join(str(message).split()))


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print ``error: message`` (literal; each line of a multi-line message is its own
    ``error:`` line) and return the exit to raise."""
    for line in message.splitlines() or [""]:
        say("error", line, "bold red")
    return typer.Exit(code)


def load(path: Path, settings: list[str] | None = None) -> Scenario:
    """Load a scenario (with each ``--set PATH=VALUE`` of ``settings`` applied) or exit 2
    with a one-line message."""
    try:
        sc = load_scenario(path)
    except ScenarioError as e:
        raise fail(str(e)) from None
    return with_settings(sc, settings or [])


def with_settings(sc: Scenario, specs: list[str]) -> Scenario:
    """``sc`` with each ``--set PATH=VALUE`` applied (lever paths, :mod:`sim.levers`)."""
    if not specs:
        return sc
    from sim.levers import apply, parse_setting

    updates: dict[str, object] = {}
    for spec in specs:
        try:
            path, value = parse_setting(spec)
        except ValueError as e:
            raise fail(f"--set {e}") from None
        updates[path] = value
    try:
        return apply(sc, updates, "--set")
    except ScenarioError as e:
        raise fail(" ".join(str(e).split())) from None


_WRITE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT,
                 errno.EFBIG, errno.EIO, errno.ENOTDIR, errno.EISDIR, errno.EEXIST}


def write_failure(e: OSError, where: Path, resumable: bool) -> typer.Exit:
    """One line for an output that could not be written; exit code 3."""
    what = e.strerror or str(e)
    name = e.filename if e.filename else where
    hint = ("finished work is kept; fix it and rerun with --resume" if resumable
            else "fix it and rerun")
    return fail(f"cannot write {name}: {what}; {hint}", EXIT_WRITE)


@contextlib.contextmanager
def writing(where: Path, resumable: bool = False) -> Iterator[None]:
    """Turn an operating-system write error inside the block into one ``error:`` line."""
    try:
        yield
    except OSError as e:
        if e.errno not in _WRITE_ERRNOS:  # not a write failure (or one raised by us)
            raise
        raise write_failure(e, where, resumable) from None


@contextlib.contextmanager
def output_folder(outdir: Path, resumable: bool = True, kind: str = "run") -> Iterator[None]:
    """Lock ``outdir`` for the block, check it holds no other kind of output, and clear
    what killed runs left; one-line errors."""
    with writing(outdir, resumable), contextlib.ExitStack() as stack:
        try:
            stack.enter_context(lock_outdir(outdir))
            claim_kind(outdir, kind)
        except OutdirError as e:
            raise fail(str(e)) from None
        clean_temporary(outdir)
        yield


def claim_folder(outdir: Path, kind: str) -> None:
    """:func:`sim.rundir.claim_kind` for commands without a lock; one-line errors."""
    try:
        claim_kind(outdir, kind)
    except OutdirError as e:
        raise fail(str(e)) from None
    except OSError as e:
        raise fail(f"{outdir}: cannot use the output folder ({e.strerror or e})") from None


def bar(*, transient: bool = False) -> Progress:
    """A progress bar on stderr; task descriptions are shown literally."""
    return Progress(TextColumn("{task.description}", markup=False, style="bold"), BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=err,
                    transient=transient,
                    disable=not err.is_terminal and "CI" in os.environ)


@contextlib.contextmanager
def progress(what: tuple[str, ...], days_per_replication: int | None = None
             ) -> Iterator[Callable[[str, int, int], None]]:
    """``update(kind, done, total)`` for a bar per kind, drawn once work starts.

    With ``days_per_replication``, one more bar counts the simulated days of the
    replications (reported from inside them, :mod:`sim.progress`); its total follows the
    ``replications`` total, and its ETA is the one to read.
    """
    from sim.progress import day_channel

    p = bar()
    tasks: dict[str, Any] = {}
    lock = threading.Lock()  # the days arrive on another thread
    planned = [0]
    kinds = (*what, DAYS) if days_per_replication else what

    def update(kind: str, done: int, total: int | None) -> None:
        with lock:
            if not tasks:  # start drawing only once work starts (errors come first)
                p.start()
                tasks.update({k: p.add_task(k, total=None) for k in kinds})
            if kind == "replications" and days_per_replication:
                planned[0] = total or 0
            p.update(tasks[kind], completed=done, total=total)

    def days(done: int) -> None:
        assert days_per_replication is not None
        update(DAYS, done, max(done, planned[0] * days_per_replication) if planned[0]
               else None)

    try:
        with day_channel(days) if days_per_replication else contextlib.nullcontext():
            yield update
    finally:
        if tasks:
            p.stop()


DAYS = "simulated days"
"""The progress bar counting simulated days inside replications."""
