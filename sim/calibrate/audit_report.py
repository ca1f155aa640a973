"""The audit's one-page HTML report, in the style of the run report.

Self-contained: inline CSS, tables only, no scripts and no external references.
"""

from __future__ import annotations

import pandas as pd

from sim.calibrate.audit import CLOCKS, DUE_RULE, Audit
from sim.calibrate.logs import CleanLog, cleaning_summary
from sim.html_report import CSS, esc, fmt_duration, table_html
from sim.stages import OUTCOME_LABELS, STAGE_TABLE

TOP_GROUPS = 20
"""Largest groups shown per breakdown (compliance.csv has them all)."""


def _pct(mean: float, low: float, high: float) -> str:
    if pd.isna(mean):
        return "n/a"
    ci = "" if pd.isna(low) else f" ({100 * low:.1f}–{100 * high:.1f})"
    return f"{100 * mean:.1f}%{ci}"


def _label(stage: str) -> str:
    if stage == "due":
        return "due date (the log's own)"
    zh, en = OUTCOME_LABELS.get(stage, ("", stage))
    return f"{zh} {en}".strip()


def _target(audit: Audit, rule: str, stage: str) -> str:
    for r in audit.experiment.scenario.sla:
        if r.name == rule:
            for s in STAGE_TABLE:
                if s.name == stage:
                    t = getattr(r, s.sla_field)
                    return "" if t is None else f"≤ {fmt_duration(t)} ({r.calendar})"
    return "closed ≤ due" if rule == DUE_RULE else "every measured target met"


def _headline(audit: Audit, table: pd.DataFrame) -> str:
    t = table[(table["by"] == "all") & (table["clock"] == audit.clock)]
    rows = [[esc(r["rule"]), esc(_label(str(r["stage"]))),
             esc(_target(audit, str(r["rule"]), str(r["stage"]))),
             esc(_pct(r["mean"], r["ci_low"], r["ci_high"])), f"{int(r['requests']):,}",
             f"{int(r['unknown']):,}"] for r in t.to_dict("records")]
    head = ["rule", "stage", "target", "share met (95% CI)", "decided", "unknown (open)"]
    missing = ", ".join(_label(s) for s in audit.not_in_log) or "none"
    note = (f'<p class="note">Not in the log (no timestamps, so not measured — not '
            f"counted as missed): {esc(missing)}.")
    if audit.excluded:
        note += f" {audit.excluded:,} requests never dispatched are left out on this clock."
    return table_html(head, rows, (3, 4, 5)) + note + "</p>"


def _breakdown(audit: Audit, table: pd.DataFrame, by: str) -> str:
    t = table[(table["by"] == by) & (table["clock"] == audit.clock)]
    if t.empty:
        return ""
    wide = t.pivot_table(index="group", columns=["rule", "stage"], values="mean",
                         aggfunc="first")
    size = t.groupby("group")["requests"].max()
    order = (sorted(size.index, key=int) if by == "hour"
             else list(size.sort_values(ascending=False).index[:TOP_GROUPS]))
    cols = [(str(c[0]), str(c[1])) for c in wide.columns]
    head = [esc(by), "requests", *(esc(f"{r}: {_label(s)}") for r, s in cols)]
    rows = [[esc(g), f"{int(size[g]):,}",
             *("n/a" if pd.isna(wide.loc[g, c]) else f"{100 * wide.loc[g, c]:.1f}%"
               for c in cols)] for g in order]
    more = (f"<p>Largest {TOP_GROUPS} of {len(size)}; all in compliance.csv.</p>"
            if len(size) > TOP_GROUPS and by != "hour" else "")
    return f"<h3>By {esc(by)}</h3>" + table_html(head, rows, range(1, len(head))) + more


def _percentiles(audit: Audit) -> str:
    p = audit.percentiles()
    p = p[p["by"] == "all"]
    if p.empty:
        return ""
    rows = []
    for stage, g in p.groupby("stage", sort=False):
        q = dict(zip(g["quantile"], g["mean"], strict=True))
        rows.append([esc(_label(str(stage))), *(esc(fmt_duration(q.get(x, float("nan"))))
                                                for x in (0.5, 0.9, 0.95)),
                     f"{int(g['reached'].iloc[0]):,}"])
    return table_html(["stage", "p50", "p90", "p95", "reached"], rows, (1, 2, 3, 4))


def render_audit(log: CleanLog, audits: list[Audit], table: pd.DataFrame) -> str:
    """The audit page as a string."""
    from pathlib import Path

    name = Path(log.source).name
    title = f"{name}: audit of 2341 compliance"
    summary = cleaning_summary(log)
    clean = table_html(["", "rows"], [[esc(w), f"{int(n):,}"] for w, n in
                                      zip(summary["what"], summary["rows"], strict=True)], (1,))
    body = [f"<h1>{esc(title)}</h1>",
            f'<p class="lead">What really happened in {esc(log.source)}, '
            f"{esc(log.start)} to {esc(log.end)}, measured with the simulator's SLA code: "
            "a request still open at the end of the window is missed once its deadline "
            "has passed and unknown (left out) before. Intervals treat requests as "
            "independent trials (Wilson score).</p>"]
    if log.mapping.note:
        body.append(f'<p class="note">Mapping: {esc(log.mapping.note)}</p>')
    for a in audits:
        body.append(f"<h2>Clock: {esc(CLOCKS[a.clock])}</h2>")
        body.append(_headline(a, table))
        body.append("<h3>Time to each stage</h3><p>Among requests that reached it "
                    "(wall clock).</p>" + _percentiles(a))
        body += [_breakdown(a, table, by) for by in ("category", "channel", "community",
                                                    "weekday", "hour")]
    body += ["<h2>Cleaning</h2>", clean,
             "<p>Every dropped row and its reason: dropped.csv.</p>",
             "<footer>Written by <code>sim audit</code>; tables in compliance.csv and "
             "percentiles.csv beside this page.</footer>"]
    return ('<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body><main>\n"
            + "\n".join(b for b in body if b) + "\n</main></body>\n</html>\n")
