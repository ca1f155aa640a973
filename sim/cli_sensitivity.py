"""Command line: ``sim sensitivity SCENARIO`` (which assumptions matter).

A thin wrapper over :func:`sim.sensitivity.sensitivity`; register it on an app with
:func:`register`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sim.cli_common import claim_folder
from sim.config import ScenarioError, load_scenario
from sim.stages import OUTCOMES

_out = Console(width=None if sys.stdout.isatty() else 120)
_err = Console(stderr=True)

JOBS_HELP = "local worker processes (default: one per core); results do not depend on it"
DASK_HELP = "run on Dask: 'local' starts a LocalCluster, or give a scheduler tcp://HOST:PORT"


def _fail(message: str) -> typer.Exit:
    _err.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False,
               soft_wrap=True)
    return typer.Exit(2)


def _stages(spec: str) -> list[str]:
    names = [s.strip() for s in spec.split(",") if s.strip()]
    bad = [s for s in names if s not in OUTCOMES]
    if bad or not names:
        raise _fail(f"--stages: unknown {', '.join(bad) or '(none given)'}; "
                    f"choose from {', '.join(OUTCOMES)}")
    return names


def sensitivity_cmd(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    outdir: Annotated[Path, typer.Option("-o", "--outdir", help="output folder")],
    replications: Annotated[int, typer.Option(
        "--replications", "-n", min=2,
        help="replications per model run (the same seeds at every setting)")] = 3,
    method: Annotated[str, typer.Option(
        help="oat (one at a time, tornado), morris (screening) or both")] = "both",
    trajectories: Annotated[int, typer.Option(
        min=2, help="Morris trajectories (model runs: trajectories x (assumptions + 1))")] = 10,
    stages: Annotated[str, typer.Option(
        help="comma-separated outcomes to report")] = ",".join(OUTCOMES),
    horizon_days: Annotated[float | None, typer.Option(
        min=1, help="run length per model run (default: the scenario's)")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="default: the scenario's")] = None,
    top: Annotated[int, typer.Option(min=1, help="assumptions listed per stage")] = 5,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", min=1, help=JOBS_HELP)] = None,
    dask: Annotated[str | None, typer.Option("--dask", help=DASK_HELP)] = None,
) -> None:
    """Vary every assumption of the presets within its range; rank them per 2341 stage.

    Writes OUTDIR/sensitivity_oat.csv (paired effects of each assumption at the low and
    high end of its range), sensitivity_morris.csv (Morris mu*, sigma), a ranking, a
    tornado figure and sensitivity.html.
    """
    from sim.sensitivity import model_runs, scenario_factors, sensitivity, write_result

    if method not in ("oat", "morris", "both"):
        raise _fail(f"--method: {method!r} is not one of oat, morris, both")
    names = _stages(stages)
    try:
        sc = load_scenario(scenario)
    except ScenarioError as e:
        raise _fail(str(e)) from None
    raw = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    factors, skipped = scenario_factors(sc, raw)
    horizon = sc.run.horizon_days if horizon_days is None else horizon_days
    if horizon <= sc.run.warmup_days:
        raise _fail(f"--horizon-days: {horizon:g} is not longer than the warm-up "
                    f"({sc.run.warmup_days:g} days)")
    claim_folder(outdir, "sensitivity")
    runs = model_runs(factors, method, replications, trajectories)  # type: ignore[arg-type]
    _err.print(f"{len(factors)} assumptions reach {scenario} ({len(skipped)} skipped); "
               f"{runs} replications of {horizon:g} days", highlight=False)
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=_err)
    tasks: dict[str, Any] = {}

    def progress(kind: str, done: int, total: int) -> None:
        if kind not in tasks:
            if not tasks:
                bar.start()
            tasks[kind] = bar.add_task(kind, total=total)
        bar.update(tasks[kind], completed=done, total=total)

    try:
        result = sensitivity(sc, raw, method, replications,  # type: ignore[arg-type]
                             trajectories, names, seed, horizon_days, jobs, dask,
                             name=sc.name, progress=progress)
    finally:
        if tasks:
            bar.stop()
    page = write_result(result, outdir, top)
    rank = result.ranking(top)
    for m in ("oat", "morris"):
        d = rank[rank["method"] == m]
        if d.empty:
            continue
        what = ("one at a time: largest |effect| at either end of the range" if m == "oat"
                else "Morris: mu* (mean |elementary effect| over the whole range)")
        table = Table(title=f"Which assumptions matter — {what} (percentage points)")
        table.add_column("stage")
        table.add_column("rank", justify="right")
        table.add_column("assumption")
        table.add_column("pp", justify="right")
        for r in d.to_dict("records"):
            table.add_row(str(r["stage"]), str(r["rank"]), str(r["assumption"]),
                          f"{100 * float(r['score']):.1f}")
        _out.print(table)
    _out.print(f"wrote {outdir}/sensitivity_*.csv and {page} "
               f"(horizon {result.settings.horizon_days:g} days, "
               f"{result.settings.replications} replications per run, "
               f"seed {result.settings.seed})", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``sensitivity`` to ``app``."""
    app.command("sensitivity")(sensitivity_cmd)


__all__ = ["register", "sensitivity_cmd"]
