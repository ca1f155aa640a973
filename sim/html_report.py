"""One self-contained HTML page per run, for planners to read and to email.

:func:`write_report` reads a run directory written by ``sim run`` (the resolved
scenario, the per-replication parts and the manifest) and writes ``report.html`` beside
them: inline CSS, every figure embedded as a base64 PNG, no scripts and no external
references, so the file opens the same anywhere, offline, as an e-mail attachment.
"""

from __future__ import annotations

import base64
import html
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.config import (
    Scenario,
    ScenarioError,
    Shift,
    category_presets,
    community_presets,
    load_scenario,
)
from sim.figures.style import KIND_LABELS
from sim.staffing import scenario_weekly_cost
from sim.stages import OUTCOME_LABELS, STAGE_TABLE, STAGES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sim.results import ExperimentResult

REPORT_NAME = "report.html"
FIGURE_CAPTIONS = {
    "compliance_by_type": "Share of requests meeting each target, by community type. Bars are "
    "means across replications, whiskers the 95% confidence interval.",
    "stage_cdf": "How long each stage took: the share of requests done within a given time "
    "(log scale). The dashed line is the target; the circle is where each curve crosses it. "
    "Curves end below 100% when requests were still waiting at the end of the run.",
    "compliance_by_hour": "Compliance by the hour the request arrived, with the number of "
    "requests per hour: few requests at night give wide bands.",
    "compliance_by_category": "Share meeting each target by request category.",
    "utilisation": "Share of the rostered staff busy, per staff pool and hour of day. Grey: "
    "off duty (nobody rostered at that hour), even if someone finished a job late. Below, "
    "when the run records it: the share on other work (meetings, patrols, interruptions; "
    "idle is what requests and other work leave) and overtime, the staff-minutes worked "
    "after a shift ended.",
    "backlog": "Requests waiting for each kind of staff over the simulated time (mean over "
    "replications). Growth from week to week means the staffing cannot keep up.",
    "compliance_by_day": "Dated runs: the share meeting each target by the day the request "
    "arrived (mean over replications). Grey: public holidays; coloured bands: event windows "
    "(a surge's after-tail lighter).",
}
CSS = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei","PingFang SC",
"Source Han Sans SC","Helvetica Neue",Arial,sans-serif;margin:0;color:#222;background:#fff;
line-height:1.45}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;margin-top:1.8em;
border-bottom:2px solid #e3e3e3;padding-bottom:.2em}h3{font-size:1.05em;margin-top:1.3em}
.lead{color:#555;margin:.2em 0 1em}
table{border-collapse:collapse;margin:.6em 0 1em;font-size:.92em}
th,td{border:1px solid #ddd;padding:4px 9px;text-align:left;vertical-align:top}
th{background:#f2f4f7}td.num{text-align:right;font-variant-numeric:tabular-nums;
white-space:nowrap}tr:nth-child(even) td{background:#fafbfc}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:2px 18px;margin:.6em 0}
dl.facts dt{color:#555}dl.facts dd{margin:0}
figure{margin:1.2em 0 2em}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#444;font-size:.92em;margin-top:.3em}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:6px 12px;margin:1em 0}
footer{color:#777;font-size:.85em;margin-top:3em}
"""


class ReportError(Exception):
    """The directory cannot be reported on; the message is one line for the user."""


# --------------------------------------------------------------------------- loading
def load_run(outdir: Path) -> tuple[ExperimentResult, dict[str, Any]]:
    """The experiment and manifest saved in a run directory (see :mod:`sim.io`)."""
    from sim.io import finished_replications, load_replications

    if not outdir.exists():
        raise ReportError(f"{outdir}: no such directory")
    if not outdir.is_dir():
        raise ReportError(f"{outdir}: not a directory")
    resolved = outdir / "scenario.resolved.yaml"
    if not resolved.is_file() or not finished_replications(outdir):
        raise ReportError(f"{outdir}: not a run directory (no scenario.resolved.yaml and "
                          "finished replications); write one with `sim run SCENARIO -o DIR`")
    try:
        scenario = load_scenario(resolved)
    except ScenarioError as e:
        raise ReportError("; ".join(str(e).splitlines())) from None
    manifest: dict[str, Any] = {}
    mpath = outdir / "manifest.json"
    if mpath.is_file():
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ReportError(f"{mpath}: unreadable manifest ({e})") from None
    seed = int(manifest.get("seed", scenario.run.seed))
    try:
        exp = load_replications(outdir, scenario, seed)
    except (OSError, ValueError) as e:  # pyarrow's errors derive from these
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ReportError(f"{outdir}: cannot read the replication parts ({msg})") from None
    return exp, manifest


def write_report(outdir: str | Path) -> Path:
    """Write ``OUTDIR/report.html`` for the run in ``outdir`` and return its path.

    Raises
    ------
    ReportError
        ``outdir`` is missing or not a run directory, or its files cannot be read.
    """
    from sim.io import atomic_write_text

    outdir = Path(outdir)
    exp, manifest = load_run(outdir)
    path = outdir / REPORT_NAME
    atomic_write_text(path, render_report(exp, manifest))
    return path


# --------------------------------------------------------------------------- pieces
def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def both(zh: str, en: str) -> str:
    return f"{zh} {en}".strip() if zh and en else (zh or en)


def type_label(t: str) -> str:
    p = community_presets().get(t, {})
    return both(p.get("label_zh", ""), p.get("label_en", "")) or t


def kind_text(kind: str) -> str:
    """``维修人员 technician``: the staff kind in Chinese and as named in scenarios."""
    return both(KIND_LABELS.get(kind, ("", ""))[0], kind.replace("_", " "))


def stage_head(stage: str, target: float | None) -> str:
    head = esc(both(*OUTCOME_LABELS[stage]))
    return head + (f"<br><small>≤ {esc(fmt_duration(target))}</small>" if target else "")


def fmt_duration(m: float) -> str:
    """Minutes as ``35 min``, ``5.2 h`` or ``1.3 d``."""
    if pd.isna(m):
        return "n/a"
    if abs(m) < 90:
        return f"{m:.0f} min"
    if abs(m) < 2880:
        return f"{m / 60:.1f} h".replace(".0 h", " h")
    return f"{m / 1440:.1f} d".replace(".0 d", " d")


def fmt_with_ci(mean: float, hw: float) -> str:
    """``35 min ±4`` in the unit of the mean."""
    text = fmt_duration(mean)
    if pd.isna(mean) or pd.isna(hw):
        return text
    unit = 1.0 if abs(mean) < 90 else 60.0 if abs(mean) < 2880 else 1440.0
    return f"{text} ±{hw / unit:.{0 if unit == 1 else 1}f}"


def table_html(head: Sequence[str], rows: Iterable[Sequence[str]],
               num_cols: Iterable[int] = ()) -> str:
    """A table; ``head`` and cells are HTML already (escape text before)."""
    nums = set(num_cols)
    out = ["<table><thead><tr>", *(f"<th>{h}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        cells = (f'<td class="num">{c}</td>' if i in nums else f"<td>{c}</td>"
                 for i, c in enumerate(row))
        out += ["<tr>", *cells, "</tr>"]
    out.append("</tbody></table>")
    return "".join(out)


def figure_html(fig: Figure, alt: str, caption: str) -> str:
    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return image_html(buf.getvalue(), alt, caption)


def image_html(png: bytes, alt: str, caption: str) -> str:
    """A PNG image embedded in the page, with its caption."""
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{esc(alt)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def days_text(days: Sequence[str]) -> str:
    week = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    if sorted(days, key=week.index) == week:
        return "daily"
    if sorted(days, key=week.index) == week[:5]:
        return "Mon–Fri"
    return ", ".join(d.capitalize() for d in sorted(days, key=week.index))


def shift_text(s: Shift) -> str:
    hours = f"{s.start_hour:02.0f}:00–{s.end_hour:02.0f}:00"
    extra = f", on call ({s.callout_min:.0f} min call-out)" if s.on_call else ""
    return f"{s.name}: {days_text(s.days)} {hours} × {s.headcount}{extra}"


# --------------------------------------------------------------------------- sections
def _facts(exp: ExperimentResult, manifest: Mapping[str, Any]) -> str:
    sc, run = exp.scenario, exp.scenario.run
    rules = "; ".join(
        f"{r.name} ({r.calendar}): " + ", ".join(
            f"{s.label_en} ≤ {fmt_duration(getattr(r, s.sla_field))}"
            for s in STAGE_TABLE if getattr(r, s.sla_field))
        or f"{r.name} ({r.calendar}): no stage target"
        for r in sc.sla)
    requested = manifest.get("replications_requested", run.replications)
    facts = {
        "scenario": sc.name + (f" ({manifest['scenario']})" if "scenario" in manifest else ""),
        "communities": f"{sum(1 for _ in sc.expanded_communities())}",
        "simulated horizon": f"{run.horizon_days:g} days" + (
            (f", of which the first {run.warmup_days:g} days are" if run.warmup_days != 1
             else ", of which the first day is") + " warm-up (not measured)"
            if run.warmup_days else ""),
        "replications": f"{exp.replications} finished of {requested} requested",
        "seed": str(exp.seed),
        "SLA rules": rules,
        "weekly staff cost": f"{scenario_weekly_cost(sc):,.0f} (hourly cost × staff-hours on "
                             "duty × cost factor, every pool of every community)",
        "sim version": str(manifest.get("sim_version", "unknown")),
    }
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts.items())
    return f'<dl class="facts">{items}</dl>'


def _headline(exp: ExperimentResult) -> str:
    from sim.report import summary_frame

    parts = []
    for rule in exp.scenario.sla:
        wide = summary_frame(exp, "community_type", rule.name)
        targets = {s.name: getattr(rule, s.sla_field) for s in STAGE_TABLE}
        heads = ["community type", *(stage_head(s, targets.get(s)) for s in wide.columns)]
        rows = [[esc("全部 all types" if g == "all" else type_label(str(g))),
                 *(esc(v) for v in row)] for g, row in wide.iterrows()]
        if len(exp.scenario.sla) > 1:
            parts.append(f"<h3>Rule {esc(rule.name)}</h3>")
        if not any(getattr(rule, s.sla_field) is not None for s in STAGE_TABLE):
            parts.append(f'<p class="note">Rule {esc(rule.name)} sets no stage target '
                         "(every stage switched off): no compliance to report.</p>")
        elif wide.empty:
            parts.append('<p class="note">No requests measured after the warm-up: no '
                         "compliance to report.</p>")
        else:
            parts.append(table_html(heads, rows, range(1, len(heads))))
    cens = exp.censored()
    n = len(exp.measured)
    parts.append(
        f'<p class="note">{n:,} requests measured after the warm-up (all replications). '
        f"{cens['open_requests']:,} were still open at the end of the run; "
        f"{cens['unknown_outcomes']:,} of those had a deadline after the end, so their "
        "outcome is unknown and they are left out of the shares above (censored).</p>")
    clocks = exp.clock_comparison()
    if len(clocks):
        parts.append(
            "<h3>12345 hotline requests on both clocks</h3>"
            '<p class="note">Community clock: targets count from when the ticket reaches '
            "the community. Resident clock: from when the resident called, so the transfer "
            f"counts against the target ({cens['in_transit']:,} tickets were still in "
            "transit at the end of the run; on the resident clock a deadline they had "
            "already passed is a miss).</p>"
            + table_html(["stage", "community clock", "resident clock"],
                         [[esc(str(s)), f"{100 * c:.1f}%", f"{100 * r:.1f}%"]
                          for s, c, r in zip(clocks["stage"], clocks["community"].astype(float),
                                             clocks["resident"].astype(float), strict=True)],
                         (1, 2)))
    return "".join(parts)


def _findings(exp: ExperimentResult) -> str:
    from sim.findings import findings

    return f'<p class="note">{esc(" ".join(findings(exp)))}</p>'


def _worst(exp: ExperimentResult) -> str:
    from sim.findings import worst_communities
    from sim.report import fmt_share

    w = worst_communities(exp, 10)
    rows = [[esc(r["community"]), esc(type_label(str(r["community_type"]))), esc(r["street"]),
             esc(fmt_share(r["mean"], r["ci_low"], r["ci_high"])), f"{int(r['requests']):,}"]
            for _, r in w.iterrows()]
    return table_html(["community", "type", "street", "all met [95% CI]",
                       "requests decided"], rows, (3, 4))


def _communities(sc: Scenario) -> str:
    groups: dict[str, list[Any]] = defaultdict(list)
    for c in sc.expanded_communities():
        groups[c.type].append(c)
    rows = []
    for t, cs in groups.items():
        names = ", ".join(c.name for c in cs[:5]) + (f", … ({len(cs) - 5} more)"
                                                      if len(cs) > 5 else "")
        rows.append([esc(type_label(t)), f"{len(cs)}", f"{sum(c.households for c in cs):,}",
                     f"{sum(c.firms for c in cs):,}",
                     f"{sum(c.requests_per_day for c in cs):,.1f}", esc(names)])
    return table_html(["community type", "communities", "households", "firms",
                       "requests per day (mean)", "names"], rows, (1, 2, 3, 4))


def _staff(exp: ExperimentResult) -> str:
    pools = exp.pools
    first = pools[pools["replication"] == pools["replication"].min()]
    per_spec = first.groupby("spec", observed=True).agg(
        n=("pool", "count"), cost=("weekly_cost", "mean"))
    rows = []
    for p in exp.scenario.staff:
        n, cost = (per_spec.loc[p.name, "n"], per_spec.loc[p.name, "cost"]) \
            if p.name in per_spec.index else (0, float("nan"))
        hours = sum(s.headcount * s.length_hour * len(s.days) for s in p.shifts)
        serves = "all communities" if p.communities is None else ", ".join(p.communities)
        rows.append([esc(p.name), esc(kind_text(p.kind)),
                     esc(p.scope), esc(serves), f"{int(n)}",
                     "<br>".join(esc(shift_text(s)) for s in p.shifts),
                     f"{hours:,.0f}", "n/a" if pd.isna(cost) else f"{cost:,.0f}"])
    return table_html(["pool", "staff kind", "scope", "serves", "pools in the run",
                       "shifts (headcount)", "staff-hours per pool per week",
                       "weekly cost per pool"], rows, (4, 6, 7))


def _percentiles(exp: ExperimentResult) -> str:
    overall = exp.stage_percentiles(None)
    by_type = exp.stage_percentiles("community_type")
    table = pd.concat([overall, by_type], ignore_index=True)
    qs = sorted(table["quantile"].unique())
    types = ["all", *dict.fromkeys(c.type for c in exp.scenario.communities)]
    stages = list(STAGES)
    table["_order"] = [(stages.index(s), types.index(g) if g in types else len(types))
                       for s, g in zip(table["stage"], table["group"], strict=True)]
    rows = []
    for (_, group, stage), d in table.sort_values("_order").groupby(
            ["_order", "group", "stage"], sort=False):
        d = d.set_index("quantile")
        label = "全部 all types" if group == "all" else type_label(str(group))
        st = str(stage)
        rows.append([esc(label), esc(both(*OUTCOME_LABELS[st])),
                     *(esc(fmt_with_ci(d.loc[q, "mean"], d.loc[q, "halfwidth"])) for q in qs),
                     f"{int(d['reached'].iloc[0]):,}"])
    heads = ["community type", "stage", *(f"p{100 * q:g}" for q in qs), "requests reached"]
    return table_html(heads, rows, range(2, len(heads)))


def _category_names(sc: Scenario) -> str:
    presets = category_presets()
    rows = [[esc(k), esc(both(c.label_zh or presets.get(k, {}).get("label_zh", ""),
                              c.label_en or presets.get(k, {}).get("label_en", "")))]
            for k, c in sc.categories.items() if k in sc.used_categories()]
    return table_html(["category", "name"], rows)


def render_report(exp: ExperimentResult, manifest: Mapping[str, Any]) -> str:
    """The whole page as a string."""
    from sim.figures import report_figures

    sc = exp.scenario
    figures = "".join(
        figure_html(fig, name.replace("_", " "), FIGURE_CAPTIONS.get(name, ""))
        for name, fig in report_figures(exp).items())
    title = f"{sc.name}: 2341 compliance report"
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="lead">{esc(sc.description.strip())}</p>' if sc.description else "",
        _facts(exp, manifest),
        "<h2>Headline: share of requests meeting each 2341 target</h2>",
        "<p>Mean across replications and, in brackets, the 95% confidence interval "
        "(percent): a Wilson score interval on the effective sample size (the number of "
        "independent requests that would vary as much as the replications do), so it "
        "stays within 0–100% and is not symmetric near the ends. <em>all met</em>: every "
        "target that applies to the request was met. Targets count from when the request "
        "reached the community.</p>",
        _headline(exp),
        "<h2>Findings</h2>", _findings(exp),
        "<h2>The 10 communities with the lowest joint compliance</h2>",
        "<p>Share of requests meeting every target that applies (<em>all met</em>), mean "
        "across replications.</p>", _worst(exp),
        "<h2>Figures</h2>", figures,
        "<h2>Time to each stage</h2>",
        "<p>Percentiles of the time from arrival to each stage, mean ± 95% CI half-width "
        "across replications, among requests that reached the stage (finish: routine "
        "requests only).</p>",
        _percentiles(exp),
        "<h2>Scenario</h2>", "<h3>Communities by type</h3>", _communities(sc),
        "<h3>Staff pools</h3>", _staff(exp),
        "<h3>Request categories</h3>", _category_names(sc),
        f"<footer>Written by sim {esc(manifest.get('sim_version', ''))} from the run "
        "directory's scenario.resolved.yaml and replication parts; rerun the resolved "
        "scenario with <code>sim run</code> to reproduce it.</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body><main>\n"
        + "\n".join(b for b in body if b) + "\n</main></body>\n</html>\n"
    )
