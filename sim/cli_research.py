"""Command line for staffing research: ``sim sweep``, ``sim optimize``, ``sim compare``.

Registered on the main ``sim`` app by :mod:`sim.cli` (:func:`register_research`); the
parts every command shares live in :mod:`sim.cli_common`.  Thin wrappers over
:func:`sim.sweeps.sweep`, :func:`sim.optimiser.optimize` and
:func:`sim.comparison.compare`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from sim.cli_common import (
    EXIT_INTERRUPTED,
    Confidence,
    Dask,
    Jobs,
    Replications,
    Seed,
    Settings,
    fail,
    load,
    out,
    progress,
    say,
    writing,
)
from sim.config import ScenarioError
from sim.rundir import OutdirError
from sim.stages import OUTCOMES

if TYPE_CHECKING:
    import pandas as pd

    from sim.optimiser import OptimizeResult
    from sim.sweeps import SweepResult


def _parse_levers(specs: list[str], option: str) -> dict[str, list[Any]]:
    from sim.levers import parse_vary

    levers: dict[str, list[Any]] = {}
    for spec in specs:
        try:
            path, values = parse_vary(spec)
        except ValueError as err:
            raise fail(f"{option} {err}") from None
        levers[path] = values
    return levers


def sweep_cmd(
    scenario: Annotated[Path, typer.Argument(help="base scenario YAML file")],
    vary: Annotated[list[str], typer.Option(
        "--vary", help="PATH=VALUES, e.g. staff.technicians.day=1..6 or run.seed=1,2")],
    outdir: Annotated[Path, typer.Option("-o", "--outdir", help="output folder")],
    replications: Replications = 10,
    seed: Seed = None,
    jobs: Jobs = None,
    dask: Dask = None,
    resume: Annotated[bool, typer.Option(help="skip points already finished in OUTDIR")] = False,
    target_halfwidth: Annotated[float | None, typer.Option(
        help="add replications until every 95% CI half-width is at most this")] = None,
    max_replications: Annotated[int, typer.Option(min=2)] = 100,
    baseline: Annotated[list[str] | None, typer.Option(
        "--baseline", help="PATH=VALUE: the point differences are taken from (repeatable); "
        "default the scenario's own values")] = None,
    set_: Settings = None,
) -> None:
    """Run a staffing grid with common random numbers; every point is saved as it ends.

    Prints joint compliance per point and the paired difference of every point from a
    baseline per community type and stage (same seeds per replication, so the
    differences are paired and their intervals narrow)."""
    from sim.levers import parse_setting
    from sim.progress import days_per_replication
    from sim.sweeps import sweep

    sc = load(scenario, set_)
    levers = _parse_levers(vary, "--vary")
    base: dict[str, Any] = {}
    for spec in baseline or []:
        try:
            path, value = parse_setting(spec)
        except ValueError as e:
            raise fail(f"--baseline {e}") from None
        if path not in levers:
            raise fail(f"--baseline {path}: not one of the --vary levers "
                       f"({', '.join(levers)})")
        base[path] = value
    try:
        with writing(outdir, resumable=True), progress(
                ("points", "replications"), days_per_replication(sc)) as update:
            res = sweep(sc, levers, replications, seed, jobs, dask, outdir, resume,
                        target_halfwidth, max_replications, update, base or None)
    except (ScenarioError, FileExistsError, ValueError, OutdirError) as err:
        raise fail(str(err)) from None
    except KeyboardInterrupt:
        raise _interrupted(outdir, "points") from None
    s = res.summary
    s = s[(s["community_type"] == "all") & (s["stage"] == "joint")]
    table = Table(title="joint 2341 compliance per point (all community types)")
    for c in [*res.aliases.values(), "weekly cost", "joint", "95% CI", "reps"]:
        table.add_column(c, justify="right")
    for _, r in s.iterrows():
        table.add_row(*[str(r[k]) for k in res.levers], f"{r['weekly_cost']:.0f}",
                      f"{100 * r['mean']:.1f}%",
                      f"[{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]",
                      str(r["replications"]))
    out.print(table)
    out.print(paired_table(res))
    legend = "; ".join(f"{a} = {p}" for p, a in res.aliases.items() if a != p)
    if legend:
        out.print(f"levers: {legend}")
    out.print(f"{res.replications_run} replications run; tables in {outdir}/ "
              "(sweep_tidy.*, sweep_summary.*, sweep_paired.*)")


def paired_table(res: SweepResult) -> Table:
    """Paired differences from the baseline: a row per point x community type, a column
    per stage (percentage points ± paired 95% CI half-width)."""
    from sim.paired import fmt_difference

    p = res.paired
    names = list(res.aliases.values())
    base = ", ".join(f"{res.aliases[k]}={v}" for k, v in res.baseline.items())
    table = Table(title=f"difference from the baseline ({base}), percentage points ± paired "
                        "95% CI")
    stages = [st for st in OUTCOMES if st in set(p["stage"])] if len(p) else []
    for c in [*names, "community type", *stages]:
        table.add_column(c, justify="right")
    if not len(p):
        return table
    for _, d in p.groupby(["point", "community_type"], sort=False):
        first = d.iloc[0]
        cells = {str(st): fmt_difference(float(diff), float(hw)) for st, diff, hw in zip(
            d["stage"], d["difference"], d["halfwidth"], strict=True)}
        table.add_row(*[str(first[n]) for n in names], str(first["community_type"]),
                      *[cells.get(st, "n/a") for st in stages])
    return table


def _parse_targets(text: str) -> dict[str, float]:
    names = ", ".join(OUTCOMES)
    targets = {}
    for part in text.split(","):
        stage, sep, value = part.partition("=")
        stage = stage.strip()
        if not sep or stage not in OUTCOMES:
            raise fail(f"--target {part!r}: expected STAGE=SHARE with STAGE one of {names}")
        try:
            share = float(value)
        except ValueError:
            raise fail(f"--target {part!r}: {value!r} is not a number") from None
        if not 0 < share <= 1:
            raise fail(f"--target {part!r}: a share must be in (0, 1]")
        targets[stage] = share
    return targets


def _interrupted(outdir: Path | None, what: str) -> typer.Exit:
    kept = (f"; finished {what} are kept in {outdir} (--resume continues)" if outdir
            else "")
    return fail(f"interrupted{kept}", EXIT_INTERRUPTED)


def optimize_cmd(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    target: Annotated[str, typer.Option(
        help="STAGE=SHARE,..., e.g. respond=0.95,onsite=0.95,finish=0.90,plan=0.95")],
    levers: Annotated[list[str], typer.Option(
        "--levers", help="shift headcount and range, e.g. staff.technicians.day=1..8")],
    confidence: Confidence = 0.95,
    replications: Replications = 10,
    overall: Annotated[bool, typer.Option(
        help="targets for all communities together instead of each community type")] = False,
    seed: Seed = None,
    jobs: Jobs = None,
    dask: Dask = None,
    outdir: Annotated[Path | None, typer.Option(
        "-o", "--outdir", help="save every evaluation here as it ends, and frontier.csv")
    ] = None,
    resume: Annotated[bool, typer.Option(
        help="continue an interrupted search in OUTDIR, reusing its evaluations")] = False,
    set_: Settings = None,
) -> None:
    """Find the cheapest staffing whose lower confidence bounds meet the targets."""
    from sim.optimiser import optimize
    from sim.progress import days_per_replication

    sc = load(scenario, set_)
    targets = _parse_targets(target)
    ranges = _parse_levers(levers, "--levers")
    for path, vals in ranges.items():
        if not all(isinstance(v, int) and v >= 0 for v in vals):
            raise fail(f"--levers {path}: headcounts must be whole numbers >= 0")
    if resume and outdir is None:
        raise fail("--resume needs the -o/--outdir of the interrupted search")
    try:
        with writing(outdir or Path("."), resumable=outdir is not None), progress(
                (), days_per_replication(sc)):
            res = optimize(sc, ranges, targets, confidence, replications, seed, jobs, dask,
                           by_type=not overall, progress=lambda m: say("optimize", m, "cyan"),
                           outdir=outdir, resume=resume)
    except (ScenarioError, FileExistsError, ValueError, OutdirError) as err:
        raise fail(str(err)) from None
    except KeyboardInterrupt:
        raise _interrupted(outdir, "evaluations") from None
    _print_frontier(res)
    if res.best is None:
        for line in res.failure:
            out.print(f"not met: {line}")
        raise fail("no staffing within the lever ranges meets the targets", 1)
    chosen = ", ".join(f"{k}={v}" for k, v in zip(res.levers, res.best.values, strict=True))
    status = "confirmed" if res.confirmed else "NOT confirmed"
    out.print(f"cheapest staffing: {chosen} — weekly cost {res.best.cost:.0f}; "
              f"{status} with {replications} fresh replications")
    if res.best.binding is not None:
        b = res.best.binding
        out.print(f"binding: {b.text()} (margin {100 * b.margin:+.1f} pts)")
    if not res.confirmed:
        raise typer.Exit(1)


def _print_frontier(res: OptimizeResult) -> None:
    frontier = res.frontier() if res.evaluations else None
    table = Table(title=f"explored staffing ({res.replications_run} replications)")
    from sim.sweeps import lever_aliases

    names = lever_aliases(res.levers)
    for c in [*names.values(), "weekly cost", "feasible", "binding", "margin", "pareto"]:
        table.add_column(c, justify="left" if c == "binding" else "right")
    for _, r in (frontier.iterrows() if frontier is not None else iter([])):
        table.add_row(*[str(r[k]) for k in res.levers], f"{r['weekly_cost']:.0f}",
                      "yes" if r["feasible"] else "no", str(r["binding"]),
                      f"{100 * r['worst_margin']:+.1f} pts", "*" if r["pareto"] else "")
    out.print(table)


def compare_cmd(
    base: Annotated[Path, typer.Argument(help="base scenario")],
    alternative: Annotated[Path, typer.Argument(help="alternative scenario")],
    replications: Annotated[int | None, typer.Option("--replications", "-n", min=2)] = None,
    seed: Seed = None,
    jobs: Jobs = None,
    dask: Dask = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="CSV file")] = None,
    by: Annotated[str, typer.Option(
        "--by", help="break down by community_type, hour, category, channel, community, "
        "street, weekday or priority")] = "community_type",
    outdir: Annotated[Path | None, typer.Option(
        "--outdir", help="also write compare.csv and compare.json here, for `sim report`")
    ] = None,
    set_: Settings = None,
) -> None:
    """Paired difference in compliance (ALTERNATIVE - BASE) under common random numbers."""
    from sim.comparison import BREAKDOWNS, ComparisonError, check_comparable, compare, describe
    from sim.io import atomic_write_frame
    from sim.progress import days_per_replication

    a, b = load(base, set_), load(alternative, set_)
    n = replications if replications is not None else a.run.replications
    try:
        check_comparable(a, b)  # refuse before any bar is drawn
        if by not in BREAKDOWNS:
            raise ComparisonError(f"--by: unknown breakdown {by!r} (one of "
                                  f"{', '.join(BREAKDOWNS)})")
        with progress(("replications",), days_per_replication(a)) as update:
            update("replications", 0, 2 * n)
            table_df = compare(a, b, replications, seed, jobs, dask, by=by,
                               on_replication=lambda k: update("replications", k, 2 * n))
    except ComparisonError as e:
        raise fail(str(e)) from None
    if by == "community_type":
        table = Table(title=f"{alternative.name} vs {base.name}: compliance difference, "
                            "paired 95% CI (percentage points)")
        for c in ("community type", "stage", "base", "alternative", "difference"):
            table.add_column(c, justify="right")
        for _, r in table_df.iterrows():
            table.add_row(r["community_type"], r["stage"], f"{100 * r['base']:.1f}%",
                          f"{100 * r['alternative']:.1f}%", describe(r).split(" ", 1)[1])
    else:
        table = by_table(table_df, by, f"{alternative.name} vs {base.name}")
    out.print(table)
    cost = table_df.iloc[0]
    out.print(f"weekly staff cost: base {cost['base_cost']:.0f}, alternative "
              f"{cost['alternative_cost']:.0f}")
    if output is not None:
        with writing(output):
            atomic_write_frame(output, table_df)
    if outdir is not None:
        from sim.comparison import save_comparison

        with writing(outdir):
            try:
                save_comparison(outdir, table_df, by, str(base), str(alternative),
                                a.name, b.name)
            except OutdirError as e:
                raise fail(str(e)) from None
        out.print(f"Outputs in {outdir}/")


def by_table(df: pd.DataFrame, by: str, title: str) -> Table:
    """A row per group: base and alternative share and paired difference of each stage."""
    from sim.paired import fmt_difference

    stages = [st for st in OUTCOMES if st in set(df["stage"])]
    table = Table(title=f"{title} by {by}: base → alternative, difference ± paired 95% CI "
                        "(percentage points)")
    table.add_column(by, justify="right")
    for st in stages:
        table.add_column(st, justify="right")
    for group, d in df.groupby(by, sort=False):
        cells = {str(r["stage"]): f"{100 * r['base']:.0f}→{100 * r['alternative']:.0f}% "
                 f"{fmt_difference(r['difference'], r['halfwidth'])}"
                 for _, r in d.iterrows()}
        table.add_row(str(group), *[cells.get(st, "n/a") for st in stages])
    return table


def register_research(app: typer.Typer) -> None:
    """Add the research commands to the ``sim`` app."""
    app.command("sweep")(sweep_cmd)
    app.command("optimize")(optimize_cmd)
    app.command("compare")(compare_cmd)
