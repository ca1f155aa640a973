"""Command line: ``sim audit``, the 2341 compliance of a real work-order log.

Registered on the main ``sim`` app with :func:`register`; a thin wrapper over
:func:`sim.calibrate.logs.read_log` and :func:`sim.calibrate.audit.audit_log`.  A bad
log, mapping or rules file is one ``error:`` line (exit code 2), never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from sim.cli_common import claim_folder

out = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True)

LogArg = Annotated[Path, typer.Argument(help="the log: .csv, .xlsx or .parquet")]
MapOpt = Annotated[Path | None, typer.Option("--map", "-m", help="mapping file (MAP.yaml)")]
FormatOpt = Annotated[str | None, typer.Option(
    "--format", "-f", help="built-in mapping instead of --map: baltimore311 or 12345")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False,
              soft_wrap=True)
    return typer.Exit(code)


def audit_cmd(
    log: LogArg,
    outdir: Annotated[Path, typer.Option("-o", "--outdir", help="output folder")],
    mapping: MapOpt = None,
    fmt: FormatOpt = None,
    sla: Annotated[Path | None, typer.Option(
        "--sla", help="rules file: `sla:` list and `business_hours:` (default: 2341, 24 h)"
    )] = None,
) -> None:
    """Measure the 2341 compliance of what really happened in a work-order log."""
    from sim.calibrate.audit import audit_log, headline, load_rules, manifest_for, write_audit
    from sim.calibrate.logs import (
        LogError,
        builtin_mapping,
        cleaning_summary,
        load_mapping,
        read_log,
    )

    if (mapping is None) == (fmt is None):
        raise _fail("give exactly one of --map MAP.yaml or --format NAME")
    try:
        m = load_mapping(mapping) if mapping is not None else builtin_mapping(str(fmt))
        rules = load_rules(sla) if sla is not None else None
        clean = read_log(log, m)
        audits = audit_log(clean, rules)
    except LogError as e:
        raise _fail(str(e)) from None
    claim_folder(outdir, "audit")
    manifest = manifest_for(clean, audits, str(mapping) if mapping else f"--format {fmt}")
    write_audit(outdir, clean, audits, manifest)
    summary = cleaning_summary(clean)
    out.print(f"{log}: " + "; ".join(f"{w} {n:,}" for w, n in
                                     zip(summary["what"], summary["rows"], strict=True)),
              markup=False, highlight=False)
    out.print(f"Window {clean.start} .. {clean.end}", markup=False)
    for row in headline(audits).to_dict("records"):
        ci = "" if row["ci_low"] != row["ci_low"] else \
            f" ({100 * row['ci_low']:.1f}-{100 * row['ci_high']:.1f})"
        out.print(f"  {row['clock']:<10} {row['rule']:<10} {row['stage']:<7} "
                  f"{100 * row['mean']:5.1f}%{ci}  of {row['requests']:,} decided, "
                  f"{row['unknown']:,} unknown", markup=False, highlight=False)
    if audits[0].not_in_log:
        out.print("Not in the log (not measured): " + ", ".join(audits[0].not_in_log),
                  markup=False)
    out.print(f"Outputs in {outdir}/ (audit.html, compliance.csv, percentiles.csv, "
              "dropped.csv)", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``sim audit`` to the ``sim`` app."""
    app.command("audit")(audit_cmd)
