"""Command line: ``sim run``, ``sim report``, ``sim validate``, ``sim schema``.

The research commands (``sim sweep``, ``sim optimize``, ``sim compare``) live in
:mod:`sim.cli_research` and are registered here; what both share (consoles, one-line
errors, output folders, progress bars, exit codes) is in :mod:`sim.cli_common`.

Thin by design: it parses arguments, calls the public API and prints.  Errors in input
files and in usage are reported as one ``error:`` line (exit code 2), never as a
traceback or a boxed panel.
"""

from __future__ import annotations

import json
import signal
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from sim.cli_audit import register as register_audit
from sim.cli_calibrate import register as register_calibrate
from sim.cli_common import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    Dask,
    Settings,
    bar,
    err,
    fail,
    load,
    out,
    output_folder,
    say,
    show_warning,
    writing,
)
from sim.cli_decide import register as register_decide
from sim.cli_research import register_research
from sim.cli_sensitivity import register as register_sensitivity
from sim.config import Scenario
from sim.executors import on_sigint

if TYPE_CHECKING:
    from sim.experiment import ExperimentResult
    from sim.records import SimulationResult

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Simulate community service requests under the 2341 rule "
    "(respond 20 min, on site 30 min, finish 4 h, plan 1 day).",
)
_fail = fail  # the name the report and summary helpers below use
_load = load


def _version(value: bool) -> None:
    if value:
        from sim import __version__

        out.print(f"sim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="print the version and exit")] = False,
) -> None:
    """Options that apply to every command."""


@app.command()
def validate(scenario: Annotated[Path, typer.Argument(help="scenario YAML file")]) -> None:
    """Check a scenario file without running it."""
    sc = _load(scenario)
    n = sum(c.count for c in sc.communities)
    out.print(
        f"{scenario}: ok — {n} communities, {len(sc.staff)} staff pools, "
        f"{len(sc.used_categories())} categories, {len(sc.sla)} SLA rule(s)"
    )


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editor autocompletion)."""
    from sim.config import scenario_json_schema

    sys.stdout.write(json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n")


BREAKDOWNS = ("community_type", "community", "category", "channel", "priority", "hour",
              "weekday", "street")


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    outdir: Annotated[Path, typer.Option("-o", "--outdir", help="output folder")],
    replications: Annotated[int | None, typer.Option("--replications", "-n", min=1,
                                                     help="default: the scenario's")] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", min=0, help="default: the scenario's")
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1,
                                      help="parallel processes; results do not depend on it")] = 1,
    dask: Dask = None,
    by: Annotated[
        str, typer.Option(help="breakdown shown in the terminal summary")
    ] = "community_type",
    report: Annotated[bool, typer.Option("--report", help="also write OUTDIR/report.html "
                                         "(one self-contained page; see `sim report`)")] = False,
    resume: Annotated[bool, typer.Option(
        "--resume", help="finish an interrupted run in OUTDIR: run only missing replications"
    )] = False,
    from_run: Annotated[Path | None, typer.Option(
        "--from-run", help="start from the requests still open at the end of this earlier "
        "run folder instead of the scenario's initial_state")] = None,
    from_replication: Annotated[int, typer.Option(
        "--from-replication", min=0, help="with --from-run: the replication of that run "
        "whose open requests are carried over")] = 0,
    set_: Settings = None,
) -> None:
    """Run replications of a scenario and write the results to OUTDIR."""
    sc = _load(scenario, set_)
    if from_run is not None:
        sc = _start_from(sc, from_run, from_replication)
    elif from_replication:
        raise _fail("--from-replication needs --from-run")
    n = sc.run.replications if replications is None else replications
    s = sc.run.seed if seed is None else seed
    if by not in BREAKDOWNS:
        raise _fail(f"--by: unknown breakdown {by!r}")
    with output_folder(outdir):
        exp, interrupted = _run_into(outdir, sc, scenario, n, s, jobs, dask, resume)
        _print_summary(exp, by, outdir)
        if report:
            _write_report(outdir)
    if interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)


def _start_from(sc: Scenario, rundir: Path, replication: int = 0) -> Scenario:
    """``sc`` starting from the open requests at the end of replication ``replication``
    of the run in ``rundir``."""
    from sim.backlog import initial_state_from_run
    from sim.config import ScenarioError

    try:
        carried = initial_state_from_run(rundir, sc, replication)
    except ScenarioError as e:
        raise _fail(str(e)) from None
    say("backlog", f"{carried.carried} open requests carried over from {rundir} "
        f"(replication {replication}); {carried.in_hand} in the hands of staff or an "
        "outside party were not", "cyan")
    return sc.model_copy(update={"initial_state": carried.state})


def _run_into(outdir: Path, sc: Scenario, source: Path, n: int, seed: int, jobs: int,
              dask: str | None, resume: bool) -> tuple[ExperimentResult, bool]:
    """Run the missing replications into a locked ``outdir``; write the tables."""
    from sim import __version__
    from sim.experiment import ExperimentResult, run_replications
    from sim.io import atomic_write_text, resolved_yaml, save_replication, write_outputs
    from sim.progress import day_channel, days_per_replication

    resolved = resolved_yaml(sc, seed, n, str(source))
    done = _resumable(outdir, resolved, n, resume)
    atomic_write_text(outdir / "scenario.resolved.yaml", resolved)
    todo = [r for r in range(n) if r not in done]
    manifest: dict[str, object] = {
        "sim_version": __version__, "scenario": str(source), "seed": seed,
        "replications_requested": n, "jobs_do_not_change_results": True}
    interrupted = False
    with bar() as progress:
        task = progress.add_task(f"{sc.name}: replications", total=n, completed=len(done))
        days = progress.add_task("simulated days", total=len(todo) * days_per_replication(sc))

        def saved(res: SimulationResult) -> None:
            save_replication(outdir, res)
            progress.advance(task)

        try:
            with day_channel(lambda d: progress.update(days, completed=d)):
                results = run_replications(sc, todo, seed, jobs, on_result=saved, dask=dask)
            exp = (_load_parts(outdir, sc, seed) if done
                   else ExperimentResult.from_results(sc, seed, results))
        except KeyboardInterrupt:
            interrupted = True
    if interrupted:
        try:
            exp = _load_parts(outdir, sc, seed)
        except FileNotFoundError:
            raise _fail("interrupted before any replication finished; nothing to keep",
                        EXIT_INTERRUPTED) from None
        say("interrupted", f"{exp.replications} of {n} replications finished; tables below "
            f"and in {outdir} cover those only (--resume finishes the run)")
    manifest["replications_finished"] = exp.replications
    write_outputs(outdir, exp, manifest)
    return exp, interrupted


def _resumable(outdir: Path, resolved: str, n: int, resume: bool) -> list[int]:
    """Replications already finished in ``outdir`` that this run may keep."""
    from sim import __version__
    from sim.io import finished_replications, run_version, verify_replications
    from sim.rundir import OutdirError, check_version

    if not (outdir / "replications").exists():
        return []
    if not resume:
        raise _fail(f"{outdir}: already holds a run; use --resume to finish it, or "
                    "choose another --outdir")
    old = outdir / "scenario.resolved.yaml"
    if not old.exists() or _data_lines(old.read_text(encoding="utf-8")) != _data_lines(
        resolved
    ):
        raise _fail(f"{outdir}: holds a run of a different scenario, seed or number of "
                    "replications; choose another --outdir")
    try:
        check_version(outdir, run_version(outdir), __version__)
    except OutdirError as e:
        raise _fail(str(e)) from None
    for part, problem in verify_replications(outdir):
        say("warning", f"{part} is unreadable ({problem}); running that replication again")
    return [r for r in finished_replications(outdir) if r < n]


def _load_parts(outdir: Path, sc: Scenario, seed: int) -> ExperimentResult:
    """The saved replications, or one line naming the part that cannot be read."""
    from sim.io import PartError, load_replications

    try:
        return load_replications(outdir, sc, seed)
    except PartError as e:
        raise _fail(str(e)) from None


def _data_lines(text: str) -> list[str]:
    """A resolved scenario without its comment header (which names the source file)."""
    return [ln for ln in text.splitlines() if not ln.startswith("#")]


@app.command("report")
def report_cmd(
    outdir: Annotated[Path, typer.Argument(
        help="a folder written by `sim run`, `sim sweep`, `sim optimize -o`, "
        "`sim compare --outdir`, `sim allocate` or `sim roster`")],
) -> None:
    """Write OUTDIR/report.html: one self-contained page (tables and figures) to share."""
    from sim.rundir import folder_kind

    kind = folder_kind(outdir) if outdir.is_dir() else None
    with writing(outdir):
        _write_report(outdir, kind or "run")


def _write_report(outdir: Path, kind: str = "run") -> None:
    from sim.html_report import ReportError, write_report
    from sim.research_report import write_research_report

    try:
        path = write_report(outdir) if kind == "run" else write_research_report(outdir, kind)
    except ReportError as e:
        raise _fail(str(e)) from None
    out.print(f"Report: {path}")


def _print_summary(exp: ExperimentResult, by: str, outdir: Path) -> None:
    import pandas as pd

    from sim.report import SHARE_NOTE, summary_frame
    from sim.stages import STAGE_TABLE

    rule = exp.scenario.sla[0]
    wide = summary_frame(exp, by)
    n_req = len(exp.measured)
    title = f"{exp.scenario.name}: share meeting rule {rule.name!r}"
    stages = [s for s in STAGE_TABLE if getattr(rule, s.sla_field) is not None]
    if not stages:
        out.print(f"{title}: the rule sets no stage target (every stage switched off), "
                  "so there is no compliance to report.", markup=False)
    elif wide.empty:
        out.print(f"{title}: no requests measured after warm-up, so there is no "
                  "compliance to report.", markup=False)
    else:
        table = Table(title=f"{title} ({SHARE_NOTE}, {exp.replications} replications)")
        # cells wrap (a figure and its interval on two lines) rather than lose digits
        # when the terminal is narrow
        table.add_column(by, overflow="fold")
        for c in wide.columns:
            table.add_column(c, justify="right", overflow="fold")
        for group, row in wide.iterrows():
            table.add_row(str(group), *row.tolist())
        out.print(table)
    cens = exp.censored()
    out.print(f"{n_req} requests measured after warm-up; {cens['open_requests']} still open at "
              f"the horizon ({cens['unknown_outcomes']} with outcome unknown, excluded).")
    clocks = exp.clock_comparison() if stages else pd.DataFrame()
    if len(clocks):
        pairs = ", ".join(f"{s} {100 * c:.0f}% / {100 * r:.0f}%" for s, c, r in zip(
            clocks["stage"], clocks["community"].astype(float),
            clocks["resident"].astype(float), strict=True))
        out.print(f"12345 hotline requests, counted from reaching the community / from the "
                  f"resident's call: {pairs} ({cens['in_transit']} still in transit at the "
                  "horizon).", markup=False)
    from sim.backlog import backlog_line

    line = backlog_line(exp)
    if line:
        out.print(line, markup=False)
    util = exp.utilisation()
    cols = ["utilisation"] + (["other_work"] if "other_work" in util.columns else [])
    util = util[util["hour"] == "all"].groupby("kind")[cols].mean()
    parts = [f"{k} " + ("off duty" if pd.isna(r.utilisation) else
                        f"{100 * r.utilisation:.0f}% busy on requests" + (
                            f" + {100 * r.other_work:.0f}% other work"
                            if "other_work" in cols and r.other_work > 0 else ""))
             for k, r in util.iterrows()]
    out.print("Staff load (mean over pools): " + (", ".join(parts) or "no staff"))
    out.print(f"Outputs in {outdir}/")


register_research(app)
register_calibrate(app)
register_audit(app)
register_sensitivity(app)
register_decide(app)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: usage errors are one ``error:`` line with exit code 2."""
    warnings.showwarning = show_warning
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, on_sigint)
    try:
        code = app(args=argv, prog_name="sim", standalone_mode=False)
    except typer.TyperException as e:  # a usage error: bad option, value or command
        if type(e).__name__ != "NoArgsIsHelpError":  # (the help is already printed)
            message = e.format_message() if hasattr(e, "format_message") else str(e)
            say("error", " ".join(str(message).split()), "bold red")
        sys.exit(getattr(e, "exit_code", EXIT_USAGE))
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
