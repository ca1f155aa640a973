"""Command line: ``sim run``, ``sim report``, ``sim validate``, ``sim schema``.

The research commands (``sim sweep``, ``sim optimize``, ``sim compare``) live in
:mod:`sim.cli_research` and are registered on the same app.

Thin by design: it parses arguments, calls the public API and prints.  Errors in input
files are reported as one message naming the file, the field and the problem (exit code
2), never as a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sim.config import Scenario, ScenarioError, load_scenario

if TYPE_CHECKING:
    from sim.experiment import ExperimentResult
    from sim.records import SimulationResult

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Simulate community service requests under the 2341 rule "
    "(respond 20 min, on site 30 min, finish 4 h, plan 1 day).",
)
# wide enough for the summary table when output goes to a file or pipe
out = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    # the message is plain text: escape it, or "[draft]" in a path would vanish as markup
    for line in message.splitlines() or [""]:
        err.print(f"[bold red]error:[/] {escape(line)}", markup=True, highlight=False,
                  soft_wrap=True)
    return typer.Exit(code)


def _load(path: Path) -> Scenario:
    try:
        return load_scenario(path)
    except ScenarioError as e:
        raise _fail(str(e)) from None


@app.command()
def validate(scenario: Annotated[Path, typer.Argument(help="scenario YAML file")]) -> None:
    """Check a scenario file without running it."""
    sc = _load(scenario)
    n = sum(c.count for c in sc.communities)
    out.print(
        f"{escape(str(scenario))}: ok — {n} communities, {len(sc.staff)} staff pools, "
        f"{len(sc.used_categories())} categories, {len(sc.sla)} SLA rule(s)"
    )


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editor autocompletion)."""
    from sim.config import scenario_json_schema

    sys.stdout.write(json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n")


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
    by: Annotated[
        str, typer.Option(help="breakdown shown in the terminal summary")
    ] = "community_type",
    report: Annotated[bool, typer.Option("--report", help="also write OUTDIR/report.html "
                                         "(one self-contained page; see `sim report`)")] = False,
    resume: Annotated[bool, typer.Option(
        "--resume", help="finish an interrupted run in OUTDIR: run only missing replications"
    )] = False,
) -> None:
    """Run replications of a scenario and write the results to OUTDIR."""
    from sim import __version__
    from sim.experiment import ExperimentResult, run_replications
    from sim.io import (
        atomic_write_text,
        finished_replications,
        load_replications,
        resolved_yaml,
        save_replication,
        write_outputs,
    )

    sc = _load(scenario)
    n = sc.run.replications if replications is None else replications
    s = sc.run.seed if seed is None else seed
    if by not in ("community_type", "community", "category", "channel", "priority", "hour",
                  "weekday", "street"):
        raise _fail(f"--by: unknown breakdown {by!r}")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _fail(f"{outdir}: cannot create the output folder ({e.strerror})") from None
    resolved = resolved_yaml(sc, s, n, str(scenario))
    done: list[int] = []
    if (outdir / "replications").exists():
        if not resume:
            raise _fail(f"{outdir}: already holds a run; use --resume to finish it, or "
                        "choose another --outdir")
        old = outdir / "scenario.resolved.yaml"
        if not old.exists() or _data_lines(old.read_text(encoding="utf-8")) != _data_lines(
            resolved
        ):
            raise _fail(f"{outdir}: holds a run of a different scenario, seed or number of "
                        "replications; choose another --outdir")
        done = [r for r in finished_replications(outdir) if r < n]
    atomic_write_text(outdir / "scenario.resolved.yaml", resolved)
    todo = [r for r in range(n) if r not in done]
    manifest = {"sim_version": __version__, "scenario": str(scenario), "seed": s,
                "replications_requested": n, "jobs_do_not_change_results": True}

    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=err,
                        transient=False, disable=not err.is_terminal and "CI" in os.environ)
    interrupted = False
    with progress:
        task = progress.add_task(f"{escape(sc.name)}: replications", total=n, completed=len(done))

        def saved(res: SimulationResult) -> None:
            save_replication(outdir, res)
            progress.advance(task)

        try:
            results = run_replications(sc, todo, s, jobs, on_result=saved)
            exp = (load_replications(outdir, sc, s) if done
                   else ExperimentResult.from_results(sc, s, results))
        except KeyboardInterrupt:
            interrupted = True
    if interrupted:
        try:
            exp = load_replications(outdir, sc, s)
        except FileNotFoundError:
            raise _fail("interrupted before any replication finished; nothing to keep",
                        130) from None
        err.print(f"[yellow]interrupted:[/] {exp.replications} of {n} replications finished; "
                  f"tables below and in {outdir} cover those only (--resume finishes the run)")
    manifest["replications_finished"] = exp.replications
    write_outputs(outdir, exp, manifest)
    _print_summary(exp, by, outdir)
    if report:
        _write_report(outdir)
    if interrupted:
        raise typer.Exit(130)


def _data_lines(text: str) -> list[str]:
    """A resolved scenario without its comment header (which names the source file)."""
    return [ln for ln in text.splitlines() if not ln.startswith("#")]


@app.command("report")
def report_cmd(
    outdir: Annotated[Path, typer.Argument(help="a run directory written by `sim run`")],
) -> None:
    """Write OUTDIR/report.html: one self-contained page (tables and figures) to share."""
    _write_report(outdir)


def _write_report(outdir: Path) -> None:
    from sim.html_report import ReportError, write_report

    try:
        path = write_report(outdir)
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
        table = Table(title=f"{escape(title)} ({SHARE_NOTE}, {exp.replications} replications)")
        table.add_column(by, no_wrap=True)
        for c in wide.columns:
            table.add_column(c, justify="right", no_wrap=True)
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
    util = exp.utilisation()
    util = util[util["hour"] == "all"].groupby("kind")[["utilisation", "queue_length"]].mean()
    parts = [f"{k} " + ("off duty" if pd.isna(r.utilisation) else
                        f"{100 * r.utilisation:.0f}% busy") for k, r in util.iterrows()]
    out.print("Staff load (mean over pools): " + (", ".join(parts) or "no staff"))
    out.print(f"Outputs in {escape(str(outdir))}/")


def _register_research() -> None:
    from sim.cli_research import register

    register(app)


_register_research()


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
