"""Command line for decisions: ``sim allocate`` (where the next staff go) and
``sim roster`` (which shifts cover the week).

Registered on the main ``sim`` app by :mod:`sim.cli` (:func:`register`); thin wrappers
over :func:`sim.allocate.allocate` and :func:`sim.roster.roster`.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich.table import Table

from sim.cli_common import (
    EXIT_INTERRUPTED,
    Confidence,
    Dask,
    HorizonDays,
    Jobs,
    Replications,
    Seed,
    Settings,
    fail,
    load,
    out,
    say,
    writing,
)
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
    replications: Replications = 10,
    confidence: Confidence = 0.95,
    horizon_days: HorizonDays = None,
    seed: Seed = None,
    jobs: Jobs = None,
    dask: Dask = None,
    resume: Annotated[bool, typer.Option(
        help="continue an interrupted allocation in OUTDIR, reusing its evaluations")] = False,
    set_: Settings = None,
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
    sc = _horizon(load(scenario, set_), horizon_days)
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
    conf = res.confirmation.iloc[0]
    out.print(f"confirmed on fresh seeds (seed {conf['seed']}): {conf['allocation']}: "
              f"objective {100 * conf['objective_before']:.2f}% -> "
              f"{100 * conf['objective_after']:.2f}%, gain {_pts(conf['gain'])} pts "
              f"[{_pts(conf['ci_low'])}, {_pts(conf['ci_high'])}]; weekly cost "
              f"{conf['cost_before']:,.0f} -> {conf['cost_after']:,.0f}")
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


def roster_cmd(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    pool: Annotated[str, typer.Option(help="the staff pool to roster (one run-time pool)")],
    target: Annotated[str, typer.Option(
        help="STAGE=SHARE,... the compliance targets, e.g. onsite=0.9")],
    outdir: Annotated[Path, typer.Option("-o", "--outdir", help="output folder")],
    patterns: Annotated[Path | None, typer.Option(
        help="YAML file of allowed shift patterns (default: the pool's own shifts at any "
             "start hour; on-call ones at their own)")] = None,
    delay_prob: Annotated[float, typer.Option(
        min=0.001, max=0.9, help="first delay probability of the staffing algorithm")] = 0.2,
    rounds: Annotated[int, typer.Option(
        min=1, max=20, help="delay probabilities to try (doubling, halving, bisecting)")
    ] = 6,
    iterations: Annotated[int, typer.Option(
        min=1, max=50, help="most iterations of the staffing algorithm per round")] = 8,
    trim: Annotated[int, typer.Option(
        min=0, max=100, help="then take out up to this many shift lines while the "
        "targets are still met (0: keep the covering roster)")] = 0,
    daily: Annotated[bool, typer.Option(
        help="one requirement per hour of day (the days' samples pooled) instead of per "
             "hour of the week")] = False,
    compare: Annotated[bool, typer.Option(
        help="also run the optimiser over the pool's shift headcounts (0..2x+2 each)")]
    = True,
    replications: Replications = 10,
    confidence: Confidence = 0.95,
    horizon_days: HorizonDays = None,
    seed: Seed = None,
    jobs: Jobs = None,
    set_: Settings = None,
) -> None:
    """An hour-by-hour roster: requirement by the iterative staffing algorithm, cheapest
    covering shifts (integer program), a verifying simulation, and the cost of the best
    uniform staffing from the optimiser."""
    import json

    from sim.cli_research import _parse_targets
    from sim.executors import make_executor
    from sim.figures.decide import roster_coverage
    from sim.io import atomic_write_frame, atomic_write_text
    from sim.roster import load_patterns, roster, staff_per_hour

    sc = _horizon(load(scenario, set_), horizon_days)
    targets = _parse_targets(target)
    try:
        pats = load_patterns(patterns) if patterns is not None else None
        with writing(outdir), contextlib.ExitStack() as stack:
            from sim import __version__
            from sim.rundir import check_version, claim_kind, clean_temporary, lock_outdir

            stack.enter_context(lock_outdir(outdir))
            claim_kind(outdir, "roster")
            clean_temporary(outdir)
            manifest = outdir / "roster.json"
            if manifest.exists():
                check_version(outdir, json.loads(manifest.read_text()).get("sim_version"),
                              __version__)
            atomic_write_text(manifest, json.dumps({"sim_version": __version__}) + "\n")
            ex = make_executor(jobs)
            stack.callback(ex.close)
            res = roster(sc, pool, targets, pats, delay_prob, replications, confidence,
                         seed, ex, iterations, rounds, trim, daily,
                         lambda m: say("roster", m, "cyan"))
            uniform = None
            if compare:
                uniform = _uniform(sc, pool, targets, confidence, replications, seed, jobs)
            hours = res.hours.copy()
            if uniform is not None and uniform[1] is not None:
                hours["uniform"] = staff_per_hour(next(p for p in uniform[1].staff
                                                       if p.name == pool))
            atomic_write_frame(outdir / "roster.csv", res.shifts)
            atomic_write_frame(outdir / "roster_hours.csv", hours)
            atomic_write_frame(outdir / "roster_compliance_by_hour.csv",
                               res.hourly_compliance)
            atomic_write_frame(outdir / "roster_bounds.csv", res.bounds)
            atomic_write_frame(outdir / "roster_rounds.csv", pd.DataFrame(res.rounds))
            if res.trimmed:
                atomic_write_frame(outdir / "roster_trim.csv", pd.DataFrame(res.trimmed))
            stage = next(iter(targets))
            hc = res.hourly_compliance[res.hourly_compliance["stage"] == stage]
            fig = roster_coverage(hours, hc.assign(target=targets[stage]),
                                  f"{sc.name}: roster of {pool} ({stage} by hour of day)")
            fig.savefig(outdir / "roster.png", dpi=110)
            # the manifest, with the verdict, for `sim report`
            atomic_write_text(manifest, json.dumps({
                "sim_version": __version__, "scenario": sc.name, "pool": pool,
                "targets": targets, "confidence": confidence, "replications": replications,
                "feasible": res.feasible, "confirmed": res.confirmed,
                "pool_cost": res.pool_cost, "total_cost": res.total_cost,
                "notes": res.notes,
                "uniform": None if uniform is None or uniform[1] is None else {
                    "total_cost": uniform[0], "staffing": str(uniform[2])},
            }, indent=2) + "\n")
    except (ScenarioError, FileExistsError, ValueError, OutdirError) as err:
        raise fail(str(err)) from None
    except KeyboardInterrupt:
        raise fail("interrupted", EXIT_INTERRUPTED) from None
    table = Table(title=f"roster of {pool}: {len(res.shifts)} shifts, weekly cost "
                        f"{res.pool_cost:,.0f}")
    for c in ("pattern", "day", "start", "end", "break after", "people", "on call", "cost"):
        table.add_column(c, justify="right")
    for _, r in res.shifts.iterrows():
        brk = r["break_after_hour"]
        table.add_row(str(r["pattern"]), str(r["day"]), f"{r['start_hour']:02d}:00",
                      f"{r['end_hour']:02d}:00", "-" if pd.isna(brk) else f"{int(brk)} h",
                      str(r["headcount"]), "yes" if r["on_call"] else "",
                      f"{r['weekly_cost']:,.0f}")
    out.print(table)
    for note in res.notes:
        out.print(note)
    worst = res.bounds.iloc[int(res.bounds["margin"].to_numpy().argmin())]
    margin = (f"worst margin {100 * worst['margin']:+.1f} pts, {worst['stage']}, "
              f"{worst['community_type']}")
    if res.feasible and res.confirmed:
        verdict = f"meets every target on fresh seeds ({margin}) and again on a second set"
    elif res.rounds and any(r["feasible"] for r in res.rounds):
        verdict = (f"met every target on fresh seeds ({margin}) but NOT again on a second "
                   "set: no roster is confirmed")
    else:
        verdict = f"does NOT meet every target ({margin})"
    out.print(f"the roster {verdict}; all staff {res.total_cost:,.0f} a week")
    if compare:
        if uniform is None or uniform[1] is None:
            out.print("best uniform staffing: none within the ranges met the targets")
        elif not (res.feasible and res.confirmed):
            out.print(f"best uniform staffing (optimiser): {uniform[2]} — all staff "
                      f"{uniform[0]:,.0f} a week; the roster does not meet the targets")
        else:
            cheaper = "cheaper" if res.total_cost < uniform[0] else "NOT cheaper"
            out.print(f"best uniform staffing (optimiser): {uniform[2]} — all staff "
                      f"{uniform[0]:,.0f} a week; the roster is {cheaper} "
                      f"({res.total_cost - uniform[0]:+,.0f})")
    out.print(f"tables and roster.png in {outdir}/")


def _uniform(sc: Scenario, pool: str, targets: dict[str, float], confidence: float,
             replications: int, seed: int | None, jobs: int | None
             ) -> tuple[float, Scenario | None, str]:
    """The optimiser's cheapest confirmed staffing over the pool's shift headcounts."""
    from sim.levers import apply
    from sim.optimiser import optimize

    spec = next(p for p in sc.staff if p.name == pool)
    levers = {f"staff.{pool}.{s.name}": list(range(0, 2 * s.headcount + 3))
              for s in spec.shifts}
    res = optimize(sc, levers, targets, confidence, replications, seed, jobs,
                   progress=lambda m: say("optimize", m, "cyan"))
    if res.best is None or not res.confirmed:
        return float("inf"), None, ""
    values = dict(zip(res.levers, res.best.values, strict=True))
    text = ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in values.items())
    return res.best.cost, apply(sc, values, "--levers"), text


def register(app: typer.Typer) -> None:
    """Add ``allocate`` and ``roster`` to the ``sim`` app."""
    app.command("allocate")(allocate_cmd)
    app.command("roster")(roster_cmd)
