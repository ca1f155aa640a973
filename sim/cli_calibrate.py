"""``sim calibrate``: a scenario from a work-order log, and (``--check``) the model
against the log.  Thin: reads the log through :mod:`sim.calibrate.logs`, delegates the
fitting and writing to :func:`sim.calibrate.scenario.write_calibration`."""

from __future__ import annotations

import importlib
import shlex
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from sim.cli_common import claim_folder

err = Console(stderr=True)
out = Console()


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False,
              soft_wrap=True)
    return typer.Exit(code)


def _read(log: Path, map_file: Path | None, fmt: str | None) -> Any:
    """The cleaned log (``CleanLog``), or a one-line error."""
    if (map_file is None) == (fmt is None):
        raise _fail("give exactly one of --map MAP.yaml or --format NAME")
    logs = importlib.import_module("sim.calibrate.logs")
    try:
        mapping = logs.load_mapping(map_file) if map_file else logs.builtin_mapping(fmt)
        return logs.read_log(log, mapping)
    except logs.LogError as e:
        raise _fail(str(e)) from None


def calibrate(
    log: Annotated[Path, typer.Argument(help="work-order log: CSV, Excel or Parquet")],
    outdir: Annotated[Path, typer.Option("-o", "--outdir", help="folder for the results")],
    map_file: Annotated[Path | None, typer.Option("--map", help="column mapping YAML")] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", help="built-in mapping: baltimore311 or 12345")] = None,
    staff: Annotated[Path | None, typer.Option(
        help="YAML list of staff pools for the scenario (default: a template to edit)")] = None,
    check: Annotated[bool, typer.Option(
        "--check", help="simulate the scenario and compare it with the log")] = False,
    top_areas: Annotated[int | None, typer.Option(
        min=1, help="keep the K largest areas as communities, pool the rest as 'other'")] = None,
    top_categories: Annotated[int | None, typer.Option(
        min=1, help="keep the K largest categories, pool the rest as 'other'")] = 12,
    replications: Annotated[int | None, typer.Option(
        min=1, help="replications for --check (default: the scenario's)")] = None,
) -> None:
    """Fit a runnable scenario to a log: OUTDIR/scenario.yaml, fit.csv, fit_report.html.

    Exits 1 when --check finds a difference outside its tolerance, 2 on bad input.
    """
    from sim.calibrate.scenario import StaffFileError, write_calibration
    from sim.config import ScenarioError

    clean = _read(log, map_file, fmt)
    args = [str(log), *(["--map", str(map_file)] if map_file else ["--format", str(fmt)]),
            "-o", str(outdir)]
    for flag, value in (("--staff", staff), ("--top-areas", top_areas),
                        ("--top-categories", top_categories),
                        ("--replications", replications)):
        if value is not None:
            args += [flag, str(value)]
    command = "sim calibrate " + shlex.join(args + (["--check"] if check else []))
    if clean.requests.empty:
        raise _fail(f"{log}: no requests left to fit after cleaning")
    claim_folder(outdir, "calibrate")
    try:
        res = write_calibration(
            clean.requests, clean.start, clean.end, outdir, source=str(log),
            command=command, dropped=clean.dropped, staff=staff, check=check,
            top_areas=top_areas, top_categories=top_categories, replications=replications)
    except (StaffFileError, ScenarioError) as e:
        raise _fail(str(e)) from None
    except OSError as e:
        raise _fail(f"{outdir}: cannot write the results ({e.strerror or e})") from None
    out.print(f"wrote {res.scenario_path}, {res.fit_path}, {res.report_path}"
              + (f", {res.check_path}" if res.check_path else ""), highlight=False)
    if res.check is not None:
        n = len(res.check)
        out.print(f"check: {n - res.failed} of {n} quantities within tolerance",
                  highlight=False)
        if res.failed:
            bad = res.check[~res.check["passed"]]
            for r in bad.itertuples():
                out.print(f"  outside tolerance: {r.section} {r.item}: log {r.observed:.4g} "
                          f"[{r.obs_low:.4g}, {r.obs_high:.4g}], model {r.simulated:.4g} "
                          f"[{r.sim_low:.4g}, {r.sim_high:.4g}]", highlight=False)
            raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``sim calibrate`` to ``app``."""
    app.command("calibrate")(calibrate)
