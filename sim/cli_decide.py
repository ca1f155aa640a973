"""Command line for decisions: ``sim allocate`` (where the next staff go) and
``sim roster`` (which shifts cover the week).

Registered on the main ``sim`` app by :mod:`sim.cli` (:func:`register`); thin wrappers
over :func:`sim.allocate.allocate` and :func:`sim.roster.roster`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from sim.cli_common import EXIT_INTERRUPTED, Dask, Jobs, Seed, fail, load, out, say, writing
from sim.config import Scenario, ScenarioError
from sim.rundir import OutdirError

if TYPE_CHECKING:
    from sim.allocate import AllocationResult


def _pts(x: float) -> str:
    return f"{100 * x:+.2f}"


def allocate_cmd(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    outdir: Annotated[Path, typer.Option("-o", "--outdir", help="output folder")],
    add: Annotated[int | None, typer.Option("--add", min=1, help="people to place")] = None,
    remove: Annotated[int | None, typer.Option(
        "--remove", min=1, help="people to take away (least harm first)")] = None,
    kind: Annotated[str, typer.Option(help="staff kind")] = "technician",
    over: Annotated[str, typer.Option(help="community or street")] = "community",
    objective: Annotated[str, typer.Option(
        help="worst_type (joint compliance of the worst-off community type), zone_wide "
             "(mean over communities) or requests_weighted (share of all requests)")
    ] = "worst_type",
    pool: Annotated[str | None, typer.Option(
        help="the pool, when several of the kind serve a unit")] = None,
    shift: Annotated[str | None, typer.Option(
        help="the shift that changes (default the pool's first shift not on call)")] = None,
    replications: Annotated[int, typer.Option("--replications", "-n", min=2)] = 10,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.999)] = 0.95,
    horizon_days: Annotated[float | None, typer.Option(
        help="simulate this many days instead of the scenario's horizon")] = None,
    seed: Seed = None,
    jobs: Jobs = None,
    dask: Dask = None,
    resume: Annotated[bool, typer.Option(
        help="continue an interrupted allocation in OUTDIR, reusing its evaluations")] = False,
) -> None:
    """Where N more (or which N fewer) staff of a kind go, greedily, under common random
    numbers; a step is taken only when its paired gain is significant."""
    from sim.allocate import OBJECTIVES, allocate
    from sim.figures.decide import allocation_map

    if (add is None) == (remove is None):
        raise fail("give exactly one of --add N or --remove N")
    if over not in ("community", "street"):
        raise fail(f"--over {over}: expected community or street")
    if objective not in OBJECTIVES:
        raise fail(f"--objective {objective}: expected one of {', '.join(OBJECTIVES)}")
    sc = _horizon(load(scenario), horizon_days)
    n = add if add is not None else remove
    assert n is not None
    try:
        with writing(outdir, resumable=True):
            res = allocate(sc, n, kind, over, remove is not None, objective,  # type: ignore[arg-type]
                           pool, shift, replications, confidence, seed, jobs, dask, outdir,
                           resume, lambda m: say("allocate", m, "cyan"))
            fig = allocation_map(res.units_table, over, f"{sc.name}: "
                                 f"{'+' if add else '-'}{n} {kind} over {over}s "
                                 f"({objective}); final: {_final(res)}")
            fig.savefig(outdir / "allocation_map.png", dpi=110)
    except (ScenarioError, FileExistsError, ValueError, OutdirError) as err:
        raise fail(str(err)) from None
    except KeyboardInterrupt:
        raise fail(f"interrupted; finished evaluations are kept in {outdir} (--resume "
                   "continues)", EXIT_INTERRUPTED) from None
    table = Table(title=f"{res.mode} {n} {kind}: steps ({objective}, paired "
                        f"{100 * confidence:.0f}% CI, percentage points; "
                        f"{res.replications_run} replications)")
    for c in ("step", over, "gain", "CI", "significant", "objective", "weekly cost", "ties"):
        table.add_column(c, justify="right")
    for _, r in res.steps.iterrows():
        table.add_row(str(r["step"]), f"{r['unit']} {int(r['change']):+d}", _pts(r["gain"]),
                      f"[{_pts(r['ci_low'])}, {_pts(r['ci_high'])}]",
                      "yes" if r["significant"] else "no", f"{100 * r['objective']:.2f}%",
                      f"{r['weekly_cost']:,.0f}", r["ties"] or "-")
    out.print(table)
    for note in res.notes:
        out.print(note)
    c = res.confirmation.iloc[0]
    out.print(f"confirmed on fresh seeds (seed {c['seed']}): {c['allocation']}: objective "
              f"{100 * c['objective_before']:.2f}% -> {100 * c['objective_after']:.2f}%, "
              f"gain {_pts(c['gain'])} pts [{_pts(c['ci_low'])}, {_pts(c['ci_high'])}]; "
              f"weekly cost {c['cost_before']:,.0f} -> {c['cost_after']:,.0f}")
    out.print(f"tables and allocation_map.png in {outdir}/")


def _final(res: AllocationResult) -> str:
    from sim.allocate import describe

    return describe(res.final)


def _horizon(sc: Scenario, days: float | None) -> Scenario:
    if days is None:
        return sc
    from sim.levers import apply

    try:
        return apply(sc, {"run.horizon_days": days,
                          "run.warmup_days": min(sc.run.warmup_days, days / 4)},
                     "--horizon-days")
    except ScenarioError as err:
        raise fail(str(err)) from None


def register(app: typer.Typer) -> None:
    """Add ``allocate`` and ``roster`` to the ``sim`` app."""
    app.command("allocate")(allocate_cmd)
