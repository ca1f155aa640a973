"""Self-contained HTML reports of sweep, optimiser, comparison, allocation and roster
folders.

``sim report DIR`` reads the folder's kind (:func:`sim.rundir.folder_kind`) and writes
``DIR/report.html`` from the tables the command saved there: a sweep's tidy and paired
tables, an optimiser's ``frontier.csv`` and ``optimize_result.json``, a comparison's
``compare.csv`` and ``compare.json``, an allocation's ``allocation_*.csv`` and map, a
roster's ``roster*.csv``, ``roster.json`` and figure.  Same page style as the run report
(:mod:`sim.html_report`); never imports simpy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from sim.html_report import (
    CSS,
    REPORT_NAME,
    ReportError,
    esc,
    figure_html,
    image_html,
    table_html,
)
from sim.stages import JOINT, OUTCOME_LABELS, OUTCOMES

if TYPE_CHECKING:
    from sim.optimiser import OptimizeResult
    from sim.sweeps import SweepResult


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReportError(f"{path}: cannot read it ({e})") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: not a JSON object")
    return data


def _frame(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except FileNotFoundError:
        raise ReportError(f"{path}: missing; the command that writes it did not finish "
                          "(rerun it with --resume)") from None
    except (OSError, ValueError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ReportError(f"{path}: cannot read it ({msg})") from None


def _page(title: str, body: list[str]) -> str:
    return ('<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body><main>\n"
            f"<h1>{esc(title)}</h1>\n" + "\n".join(b for b in body if b)
            + "\n</main></body>\n</html>\n")


def _facts(items: dict[str, str]) -> str:
    return '<dl class="facts">' + "".join(
        f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items.items()) + "</dl>"


def _stage(stage: str) -> str:
    zh, en = OUTCOME_LABELS.get(stage, ("", stage))
    return esc(f"{zh} {en}".strip())


def _pts(d: float, hw: float) -> str:
    from sim.paired import fmt_difference

    return esc(fmt_difference(d, hw))


# ------------------------------------------------------------------------------ sweeps
def load_sweep(outdir: Path) -> SweepResult:
    """The :class:`sim.sweeps.SweepResult` saved in a sweep folder."""
    from sim.sweeps import SweepResult

    header = _json(outdir / "sweep.json")
    levers = list(header.get("levers", {}))
    tidy = _frame(outdir / "sweep_tidy.parquet")
    base_tidy = None
    if "baseline_point" in header:
        f = outdir / "points" / f"p{int(header['baseline_point']):05d}.parquet"
        base_tidy = _frame(f) if f.exists() else None
    return SweepResult(levers, tidy, 0, dict(header.get("baseline", {})), base_tidy)


def sweep_page(outdir: Path) -> str:
    from sim.figures import compliance_vs_headcount, joint_heatmap

    header = _json(outdir / "sweep.json")
    res = load_sweep(outdir)
    aliases = res.aliases
    s = res.summary
    joint = s[(s["community_type"] == "all") & (s["stage"] == JOINT)]
    rows = [[*(esc(r[k]) for k in res.levers), f"{r['weekly_cost']:,.0f}",
             f"{100 * r['mean']:.1f}%", f"[{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]",
             str(r["replications"])] for _, r in joint.iterrows()]
    body = [_facts({
        "scenario": str(header.get("scenario_name", "")),
        "levers": "; ".join(f"{a} = {p}: {', '.join(map(str, header['levers'][p]))}"
                            for p, a in aliases.items()),
        "points": str(header.get("points", len(joint))),
        "replications per point": str(header.get("replications", "")),
        "seed": str(header.get("seed", "")),
        "baseline": ", ".join(f"{aliases.get(k, k)}={v}" for k, v in res.baseline.items()),
        "sim version": str(header.get("sim_version", "")),
    }), "<h2>Joint 2341 compliance per point (all community types)</h2>",
        "<p>Mean across replications and 95% confidence interval (Wilson score interval on "
        "the effective sample size).</p>",
        table_html([*(esc(aliases[k]) for k in res.levers), "weekly cost", "joint",
                    "95% CI", "replications"], rows, range(len(res.levers) + 4))]
    paired = res.paired
    if len(paired):
        names = list(aliases.values())
        stages = [st for st in OUTCOMES if st in set(paired["stage"])]
        prow = []
        for _, d in paired.groupby(["point", "community_type"], sort=False):
            cells = {str(st): _pts(float(dv), float(hw)) for st, dv, hw in zip(
                d["stage"], d["difference"], d["halfwidth"], strict=True)}
            first = d.iloc[0]
            prow.append([*(esc(first[n]) for n in names), esc(first["community_type"]),
                         *(cells.get(st, "n/a") for st in stages)])
        body += ["<h2>Difference from the baseline, paired</h2>",
                 "<p>Every point runs the same replications (same seeds) as the baseline, so "
                 "each replication gives a paired difference; shown is the mean difference "
                 "in percentage points ± the half-width of its 95% t interval across "
                 "replications. The unpaired interval, in <code>sweep_paired.csv</code>, is "
                 "wider wherever the points share their noise.</p>",
                 table_html([*map(esc, names), "community type", *map(_stage, stages)],
                            prow, range(len(names) + 1, len(names) + 1 + len(stages)))]
    figs = [figure_html(compliance_vs_headcount(res, res.levers[0]), "compliance vs headcount",
                        f"Joint compliance against {aliases[res.levers[0]]}, a line and 95% "
                        "band per community type.")]
    if len(res.levers) >= 2:
        figs.append(figure_html(joint_heatmap(res, res.levers[0], res.levers[1]),
                                "heatmap", "Joint compliance over the first two levers."))
    body += ["<h2>Figures</h2>", *figs]
    return _page(f"{header.get('scenario_name', 'sweep')}: staffing sweep", body)


# --------------------------------------------------------------------------- optimiser
@dataclass
class _Chosen:
    values: tuple[int, ...]
    cost: float


@dataclass
class _SavedSearch:
    """What :func:`sim.figures.optimiser_frontier` reads, from a folder."""

    levers: list[str]
    table: pd.DataFrame
    best: _Chosen | None
    confirmed: bool
    first_choice: tuple[int, ...] | None = None

    def frontier(self) -> pd.DataFrame:
        return self.table.copy()


def optimize_page(outdir: Path) -> str:
    from sim.figures import optimiser_frontier
    from sim.sweeps import lever_aliases

    result = _json(outdir / "optimize_result.json")
    frontier = _frame(outdir / "frontier.csv")
    levers = list(result.get("levers", []))
    aliases = lever_aliases(levers)
    best = result.get("best")
    chosen = None
    if best:
        chosen = _Chosen(tuple(int(best["levers"][k]) for k in levers), float(best["weekly_cost"]))
        text = ", ".join(f"{aliases[k]}={v}" for k, v in best["levers"].items())
        outcome = (f"Cheapest staffing: {text}, weekly cost {best['weekly_cost']:,.0f}; "
                   + ("confirmed" if result.get("confirmed") else "NOT confirmed")
                   + " with fresh replications. Binding: "
                   + f"{best.get('binding')} (margin {100 * (best.get('binding_margin') or 0):+.1f}"
                   " pts).")
    else:
        outcome = "No staffing within the lever ranges meets the targets."
    failure = "".join(f"<li>{esc(line)}</li>" for line in result.get("failure", []))
    rows = [[*(esc(r[k]) for k in levers), f"{r['weekly_cost']:,.0f}",
             "yes" if r["feasible"] else "no", esc(r.get("binding", "")),
             f"{100 * r['worst_margin']:+.1f}", "*" if r["pareto"] else ""]
            for _, r in frontier.iterrows()]
    targets = ", ".join(f"{k} ≥ {100 * v:.0f}%" for k, v in result.get("targets", {}).items())
    saved = _SavedSearch(levers, frontier, chosen, bool(result.get("confirmed")))
    fig = optimiser_frontier(cast("OptimizeResult", saved))
    body = [_facts({"targets": targets, "levers": "; ".join(f"{a} = {p}" for p, a in
                                                             aliases.items()),
                    "replications run": str(result.get("replications_run", ""))}),
            f'<p class="note">{esc(outcome)}</p>',
            ("<h2>Targets no staffing in range meets</h2><ul>" + failure + "</ul>")
            if failure else "",
            "<h2>Every point explored</h2>",
            "<p><em>binding</em>: the community type and stage whose one-sided lower "
            "confidence bound is closest to (or furthest below) its target, with the hours "
            "of the day where it falls short when that is only part of the day; "
            "<em>margin</em>: that bound minus the target, percentage points.</p>",
            table_html([*(esc(aliases[k]) for k in levers), "weekly cost", "feasible",
                        "binding", "margin (pts)", "Pareto"], rows,
                       [*range(len(levers) + 1), len(levers) + 3]),
            "<h2>Figure</h2>", figure_html(fig, "frontier", "Weekly cost against the worst "
                                           "margin of every point explored.")]
    return _page("Cheapest staffing meeting the 2341 targets", body)


# --------------------------------------------------------------------------- comparison
def compare_page(outdir: Path) -> str:
    from sim.figures.comparison import comparison_by_group

    meta = _json(outdir / "compare.json")
    table = _frame(outdir / "compare.csv")
    by = str(meta.get("by", "community_type"))
    if by not in table.columns:
        raise ReportError(f"{outdir / 'compare.csv'}: no column {by!r}")
    stages = [st for st in OUTCOMES if st in set(table["stage"])]
    rows = []
    for group, d in table.groupby(by, sort=False):
        cells = {str(r["stage"]): f"{100 * r['base']:.0f}% → {100 * r['alternative']:.0f}%, "
                 + _pts(float(r["difference"]), float(r["halfwidth"])) for _, r in d.iterrows()}
        rows.append([esc(group), *(cells.get(st, "n/a") for st in stages)])
    first = table.iloc[0]
    title = f"{meta.get('alternative_name', '')} vs {meta.get('base_name', '')}"
    body = [_facts({"base": str(meta.get("base", "")),
                    "alternative": str(meta.get("alternative", "")),
                    "by": by, "replications": str(meta.get("replications", "")),
                    "weekly staff cost": f"base {first['base_cost']:,.0f}, alternative "
                                         f"{first['alternative_cost']:,.0f}",
                    "sim version": str(meta.get("sim_version", ""))}),
            "<h2>Compliance, base → alternative, and the paired difference</h2>",
            "<p>Both scenarios run the same replications with the same seeds; the difference "
            "(percentage points) is the mean of the per-replication differences ± the "
            "half-width of its 95% t interval.</p>",
            table_html([esc(by), *map(_stage, stages)], rows, range(1, len(stages) + 1)),
            "<h2>Figure</h2>",
            figure_html(comparison_by_group(table, by), "differences",
                        f"Paired difference (alternative − base) by {by}, with 95% "
                        "intervals.")]
    return _page(f"{title}: paired comparison by {by}", body)


# --------------------------------------------------------------------------- allocation
def _png(path: Path, alt: str, caption: str) -> str:
    """The figure the command saved, embedded; a note if it is missing."""
    try:
        return image_html(path.read_bytes(), alt, caption)
    except OSError:
        return f'<p class="note">{esc(path.name)} is missing: the command did not finish.</p>'


def _pct(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{100 * x:.1f}%"


def allocate_page(outdir: Path) -> str:
    steps = _frame(outdir / "allocation_steps.csv")
    confirm = _frame(outdir / "allocation_confirm.csv")
    units = _frame(outdir / "allocation_units.csv")
    if confirm.empty:
        raise ReportError(f"{outdir / 'allocation_confirm.csv'}: no confirmation row")
    c = confirm.iloc[0]
    gain = f"{100 * c['gain']:+.2f} pts [{100 * c['ci_low']:+.2f}, {100 * c['ci_high']:+.2f}]"
    body = [_facts({"final allocation": str(c["allocation"]) or "no change",
                    "objective": f"{_pct(c['objective_before'])} → "
                                 f"{_pct(c['objective_after'])}",
                    "confirmed gain": f"{gain}, {int(c['replications'])} fresh replications "
                                      f"(seed {int(c['seed'])})",
                    "weekly staff cost": f"{c['cost_before']:,.0f} → {c['cost_after']:,.0f}"}),
            "<h2>Steps</h2>",
            "<p>Each step takes the unit whose change gives the largest paired gain in the "
            "objective; it is taken only when that gain is significant.  <em>ties</em>: "
            "units whose gain could not be told apart from it.</p>",
            table_html(["step", "unit", "gain (pts) [CI]", "significant", "objective",
                        "weekly cost", "ties"],
                       [[str(r["step"]), esc(f"{r['unit']} {int(r['change']):+d}"),
                         f"{100 * r['gain']:+.2f} [{100 * r['ci_low']:+.2f}, "
                         f"{100 * r['ci_high']:+.2f}]", "yes" if r["significant"] else "no",
                         _pct(r["objective"]), f"{r['weekly_cost']:,.0f}",
                         esc(r["ties"]) if isinstance(r["ties"], str) else "-"]
                        for _, r in steps.iterrows()], [0, 2, 4, 5])]
    moved = units[units["change"] != 0]
    if not moved.empty:
        body += ["<h2>Communities that change</h2>",
                 "<p>Joint compliance (all four stages met) before and after, on the "
                 "confirming replications.</p>",
                 table_html(["community", "street", "type", "change", "before", "after"],
                            [[esc(r["community"]), esc(r["street"]),
                              esc(r["community_type"]), f"{int(r['change']):+d}",
                              _pct(r["before"]), _pct(r["after"])]
                             for _, r in moved.iterrows()], [3, 4, 5])]
    body += ["<h2>Figure</h2>", _png(outdir / "allocation_map.png", "allocation map",
                                    "Where the staff go, and joint compliance before and "
                                    "after, per unit.")]
    return _page("Where the staff go: greedy allocation", body)


# ------------------------------------------------------------------------------- roster
def roster_page(outdir: Path) -> str:
    meta = _json(outdir / "roster.json")
    if "feasible" not in meta:
        raise ReportError(f"{outdir / 'roster.json'}: no result; the roster did not finish")
    shifts = _frame(outdir / "roster.csv")
    bounds = _frame(outdir / "roster_bounds.csv")
    targets = dict(meta.get("targets", {}))
    if meta["feasible"] and meta.get("confirmed"):
        verdict = "meets every target on fresh seeds, and again on a second set"
    elif meta["feasible"]:
        verdict = "met every target on fresh seeds but NOT again on a second set"
    else:
        verdict = "does NOT meet every target"
    uniform = meta.get("uniform")
    facts = {"pool": str(meta.get("pool", "")),
             "targets": ", ".join(f"{k} ≥ {100 * v:.0f}%" for k, v in targets.items()),
             "verdict": f"the roster {verdict}",
             "weekly cost": f"pool {meta.get('pool_cost', 0):,.0f}; all staff "
                            f"{meta.get('total_cost', 0):,.0f}",
             "best uniform staffing": ("none within the ranges met the targets"
                                       if uniform is None else
                                       f"{uniform['staffing']}: all staff "
                                       f"{uniform['total_cost']:,.0f} a week"),
             "replications": str(meta.get("replications", ""))}
    shift_rows = [[esc(r["pattern"]), esc(r["day"]), f"{int(r['start_hour']):02d}:00",
                   f"{int(r['end_hour']):02d}:00",
                   "-" if pd.isna(r["break_after_hour"]) else f"{int(r['break_after_hour'])} h",
                   str(r["headcount"]), "yes" if str(r["on_call"]) == "True" else "",
                   f"{r['weekly_cost']:,.0f}"] for _, r in shifts.iterrows()]
    bound_rows = [[esc(r["community_type"]), _stage(str(r["stage"])), _pct(r["target"]),
                   _pct(r["lcb"]), f"{100 * r['margin']:+.1f}"]
                  for _, r in bounds.iterrows()]
    body = [_facts(facts),
            *(f'<p class="note">{esc(n)}</p>' for n in meta.get("notes", [])),
            "<h2>Shifts</h2>",
            table_html(["pattern", "day", "start", "end", "break after", "people", "on call",
                        "weekly cost"], shift_rows, [5, 7]),
            "<h2>Verification</h2>",
            f"<p>One-sided {100 * float(meta.get('confidence', 0.95)):.0f}% lower confidence "
            "bound of each targeted stage per community type on fresh seeds; "
            "<em>margin</em>: bound minus target, percentage points.</p>",
            table_html(["community type", "stage", "target", "lower bound", "margin (pts)"],
                       bound_rows, [2, 3, 4]),
            "<h2>Figure</h2>",
            _png(outdir / "roster.png", "roster coverage", "Requirement and staff scheduled "
                 "per hour, and compliance of the first target by hour of day.")]
    return _page(f"Roster of {meta.get('pool', '')}: {meta.get('scenario', '')}", body)


PAGES = {"sweep": sweep_page, "optimize": optimize_page, "compare": compare_page,
         "allocate": allocate_page, "roster": roster_page}
"""Folder kind -> page writer."""


def write_research_report(outdir: str | Path, kind: str) -> Path:
    """Write ``OUTDIR/report.html`` for a ``sweep``, ``optimize``, ``compare``,
    ``allocate`` or ``roster`` folder."""
    from sim.io import atomic_write_text

    outdir = Path(outdir)
    if kind not in PAGES:
        raise ReportError(f"{outdir}: holds `sim {kind}` output, which has no report")
    path = outdir / REPORT_NAME
    atomic_write_text(path, PAGES[kind](outdir))
    return path
