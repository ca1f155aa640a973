"""Audit a real log: the 2341 compliance of what really happened.

The log's requests are turned into the simulator's request records (minutes since the
start of the observation window for created, responded, on site and finished; category,
channel, community, hour, weekday), and compliance is computed by the same code as a
simulated run: :func:`sim.sla.outcomes` through :class:`sim.results.ExperimentResult`,
with the same calendars and the same censoring rule -- a request still open at the end
of the window counts as missed once its deadline has passed, and as *unknown* (left out
of the share) while its deadline is still ahead.  The log is one "replication".

Only stages the log has timestamps for are measured (``respond`` needs a first-response
column, ``onsite`` an on-site column, ``finish`` the close time; ``plan`` needs to know
which requests are complex, which no log says): the others are reported as not in the
log, never as missed.  A category needs site work when at least one of its requests has
an on-site time.  A log's own due dates are audited as a rule of their own (``due
date``: closed no later than due).  Logs that record when a request reached the
community apart from when it was registered (12345: 派单时间 after 受理时间) are audited
on both clocks.

Intervals: with one log there are no replications to compare, so each share gets a
Wilson score interval that treats its requests as independent trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import yaml
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scipy import stats

from sim.calibrate.logs import CleanLog, LogError
from sim.config import WEEKDAYS, BusinessHours, Scenario, SlaRule, scenario_from_dict
from sim.results import COMPLIANCE_COLUMNS, ExperimentResult
from sim.stages import JOINT, STAGE_TABLE
from sim.timeaxis import WeekAxis

__all__ = ["AUDIT_BREAKDOWNS", "CLOCKS", "STAGE_SOURCES", "Audit", "AuditRules", "audit",
           "audit_log", "due_outcomes", "headline", "load_rules", "wilson"]

STAGE_SOURCES: Final[dict[str, str]] = {"respond": "first_response", "onsite": "onsite",
                                        "finish": "closed"}
"""Log column each stage is measured from; a stage not listed (``plan``) never is."""
CLOCKS: Final[dict[str, str]] = {
    "created": "from when the request was registered (created)",
    "dispatched": "from when it reached the community (dispatched)",
}
AUDIT_BREAKDOWNS: Final[tuple[str | None, ...]] = (None, "category", "channel", "community",
                                                   "hour", "weekday")
"""Breakdowns of the audit's ``compliance.csv`` (``community`` is the log's area)."""
DUE_RULE: Final = "due date"
LEVEL: Final = 0.95


class AuditRules(BaseModel):
    """A rules file (``--sla RULES.yaml``): SLA rules and the business-hours calendar."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sla: list[SlaRule] = Field(default_factory=lambda: [SlaRule()], min_length=1)
    business_hours: BusinessHours = Field(default_factory=BusinessHours)


def load_rules(path: str | Path) -> AuditRules:
    """Read ``sla:`` (a list of rules, as in a scenario) and ``business_hours:`` from YAML."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LogError(f"{p}: rules file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise LogError(f"{p}: cannot read the rules file ({err})") from None
    except yaml.YAMLError as err:
        raise LogError(f"{p}: (YAML) {str(err).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise LogError(f"{p}: expected keys sla and business_hours, found "
                       f"{'nothing' if data is None else type(data).__name__}")
    try:
        return AuditRules.model_validate(data)
    except ValidationError as err:
        e = err.errors()[0]
        where = ".".join(str(x) for x in e["loc"]) or "(top level)"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        raise LogError(f"{p}: {where}: {msg}") from None


@dataclass
class Audit:
    """Compliance of one log on one clock.

    Attributes
    ----------
    clock:
        ``created`` or ``dispatched`` (see :data:`CLOCKS`).
    experiment:
        The log as a one-replication :class:`ExperimentResult`: its ``requests`` are in
        the simulator's record layout and its scenario carries the rules and calendar.
    measured, not_in_log:
        Stages measured, and stages the log has no timestamps for.
    excluded:
        Requests left out because the clock never started for them (not dispatched).
    due:
        Per-request outcomes of the log's own due dates (``None``: no due column).
    """

    clock: str
    experiment: ExperimentResult
    measured: tuple[str, ...]
    not_in_log: tuple[str, ...]
    excluded: int
    due: pd.DataFrame | None

    def compliance_tables(self,
                          breakdowns: tuple[str | None, ...] = AUDIT_BREAKDOWNS) -> pd.DataFrame:
        """``compliance.csv`` rows (as ``sim run`` writes them) plus a ``clock`` column.

        Intervals are Wilson score intervals over the decided requests.
        """
        exp = self.experiment
        parts = [exp.compliance(by, r.name) for r in exp.scenario.sla for by in breakdowns]
        if self.due is not None:
            parts += [_due_table(exp.requests, self.due, by) for by in breakdowns]
        table = pd.concat(parts, ignore_index=True)
        low, high = wilson(table["mean"].to_numpy(float), table["requests"].to_numpy(float))
        table["ci_low"], table["ci_high"] = low, high
        table["halfwidth"] = (high - low) / 2
        table["clock"] = self.clock
        return table.reset_index(drop=True)

    def percentiles(self) -> pd.DataFrame:
        """Stage-time percentiles (minutes), overall and by category, with ``clock``."""
        exp = self.experiment
        table = pd.concat([exp.stage_percentiles(None), exp.stage_percentiles("category")],
                          ignore_index=True)
        table = table[table["stage"].isin(self.measured)].reset_index(drop=True)
        table["clock"] = self.clock
        return table


def wilson(p: NDArray[np.float64], n: NDArray[np.float64],
           level: float = LEVEL) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Wilson score interval of shares ``p`` out of ``n`` independent trials."""
    z = float(stats.norm.ppf(0.5 + level / 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        z2n = z**2 / n
        centre = (p + z2n / 2) / (1 + z2n)
        hw = z / (1 + z2n) * np.sqrt(p * (1 - p) / n + z2n / (4 * n))
    ok = n > 0
    low = np.where(ok, np.clip(centre - hw, 0.0, p), np.nan)
    high = np.where(ok, np.clip(centre + hw, p, 1.0), np.nan)
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def due_outcomes(log: CleanLog) -> pd.DataFrame | None:
    """Per request: ``due`` 1 met (closed <= due), 0 missed (closed late, or still open
    with the due date passed by the end of the window), NaN no due date or unknown
    (open, due after the window); ``due_unknown`` marks the latter."""
    if "due" not in log.mapping.columns.mapped():
        return None
    r = log.requests
    has_due = r["due"].notna().to_numpy()
    closed = r["closed"].notna().to_numpy()
    on_time = (r["closed"] <= r["due"]).fillna(False).to_numpy()
    overdue = (r["due"] <= log.end).fillna(False).to_numpy()
    met = np.full(len(r), np.nan)
    met[has_due & closed] = on_time[has_due & closed].astype(float)
    met[has_due & ~closed & overdue] = 0.0
    unknown = has_due & ~closed & ~overdue
    return pd.DataFrame({"due": met, "due_unknown": unknown}, index=r.index)


def _due_table(requests: pd.DataFrame, due: pd.DataFrame, by: str | None) -> pd.DataFrame:
    met = due["due"].reindex(requests.index)
    unknown = due["due_unknown"].reindex(requests.index).fillna(False).astype(bool)
    group = requests[by].astype(str) if by else pd.Series("all", index=requests.index)
    d = pd.DataFrame({"group": group, "met": met, "unknown": unknown})
    g = d.groupby("group", sort=True)
    out = pd.DataFrame({"mean": g["met"].mean(), "requests": g["met"].count(),
                        "unknown": g["unknown"].sum().astype(np.int64)}).reset_index()
    out = out[out["requests"] > 0]
    out = out.assign(rule=DUE_RULE, stage="due", by=by or "all", clock="", halfwidth=np.nan,
                     ci_low=np.nan, ci_high=np.nan, replications=1)
    return out[list(COMPLIANCE_COLUMNS)]


def _measurable(log: CleanLog) -> tuple[str, ...]:
    have = log.mapping.columns.mapped()
    return tuple(s for s, col in STAGE_SOURCES.items() if col in have)


def _context(log: CleanLog, rules: AuditRules, origin: pd.Timestamp, horizon_min: float,
             measured: tuple[str, ...], site_categories: set[str]) -> Scenario:
    """A scenario that carries the rules, calendar and window for the SLA arithmetic.

    Only ``run``, ``sla``, ``business_hours`` and each category's site work are read by
    the compliance code; the community and staff entries are there because a scenario
    must have them, and are not a model of the log.
    """
    cats = sorted(str(c) for c in log.requests["category"].unique())
    fixed = {"dist": "fixed", "value_min": 1.0}
    categories = {c: {"respond_time": fixed, "complex_prob": 0.0,
                      "onsite_by": ["technician"] if c in site_categories else [],
                      "work_time": fixed} for c in cats}
    sla = [r.model_copy(update={s.sla_field: None for s in STAGE_TABLE
                                if s.name not in measured}) for r in rules.sla]
    data = {
        "name": f"audit of {Path(log.source).name}",
        "description": "Context of an audit of a real log (rules, calendar, window); "
                       "not a model of it.",
        "run": {"horizon_days": max(horizon_min, 1.0) / 1440.0, "warmup_days": 0.0,
                "replications": 1, "start_weekday": WEEKDAYS[origin.day_of_week],
                "start_hour": origin.hour},
        "sla": [r.model_dump() for r in sla],
        "business_hours": rules.business_hours.model_dump(),
        "categories": categories,
        "communities": [{"name": "log", "type": "custom", "households": 0,
                         "requests_per_household_per_day": 0.0, "hour_profile": [1.0] * 24,
                         "weekday_profile": [1.0] * 7, "channel_mix": {"phone": 1.0},
                         "category_mix": {cats[0]: 1.0}, "travel_time": fixed}],
        "staff": [{"name": kind, "kind": kind, "shifts": [{"start_hour": 0, "end_hour": 24,
                                                           "headcount": 1}]}
                  for kind in ("service_desk", "technician")],
    }
    return scenario_from_dict(data, f"<audit of {log.source}>")


def _minutes(t: pd.Series, origin: pd.Timestamp) -> NDArray[np.float64]:
    return np.asarray((t - origin).dt.total_seconds().to_numpy(dtype=float) / 60.0)


def audit(log: CleanLog, rules: AuditRules | None = None, clock: str = "created") -> Audit:
    """Compliance of the log's requests under ``rules`` (default: the 2341 rule, 24 h).

    ``clock`` ``dispatched`` counts targets from when a request reached the community
    (logs with a ``dispatched`` column; requests never dispatched are left out).
    """
    rules = rules or AuditRules()
    if clock not in CLOCKS:
        raise ValueError(f"unknown clock {clock!r}")
    r = log.requests
    if clock == "dispatched":
        if log.dispatched is None:
            raise LogError(f"{log.source}: the log has no dispatched column to count from")
        start = log.dispatched
    else:
        start = r["created"]
    keep = start.notna().to_numpy()
    r, start = r[keep], start[keep]
    origin = pd.Timestamp(start.min()).floor("h")
    horizon = float((log.end - origin).total_seconds() / 60.0)
    measured = _measurable(log)
    with_site = set(r.loc[r["onsite"].notna(), "category"]) if "onsite" in measured else set()
    scenario = _context(log, rules, origin, horizon, measured, with_site)
    created_min = _minutes(start, origin)
    axis = WeekAxis.from_run(scenario.run)
    stage_min = {s.column: (_minutes(r[STAGE_SOURCES[s.name]], origin)
                            if s.name in measured else np.full(len(r), np.nan))
                 for s in STAGE_TABLE}
    requests = pd.DataFrame({
        "replication": np.zeros(len(r), dtype=np.int32),
        # categoricals, as in simulated records: breakdowns group on their codes
        **{col: r[src].astype("category").array
           for col, src in (("community", "area"), ("category", "category"),
                            ("category_raw", "category_raw"), ("channel", "channel"))},
        "complex": np.zeros(len(r), dtype=bool),
        "raised_min": _minutes(r["created"], origin), "created_min": created_min,
        **stage_min,
        "hour": axis.hour_of_day(created_min).astype(np.int8),
        "weekday": pd.Categorical.from_codes(axis.weekday(created_min),
                                             categories=pd.Index(list(WEEKDAYS))),
    }, index=r.index)
    empty = pd.DataFrame({"replication": pd.Series(dtype=np.int32)})
    exp = ExperimentResult(scenario, 0, requests, empty, empty.copy(), empty.copy())
    not_in_log = tuple(s.name for s in STAGE_TABLE if s.name not in measured)
    due = due_outcomes(log) if clock == "created" else None
    return Audit(clock, exp, measured, not_in_log, int((~keep).sum()),
                 None if due is None else due[keep])


def audit_log(log: CleanLog, rules: AuditRules | None = None) -> list[Audit]:
    """:func:`audit` on every clock the log has: created, and dispatched where recorded."""
    clocks = ["created"] + (["dispatched"] if log.dispatched is not None else [])
    return [audit(log, rules, c) for c in clocks]


def headline(audits: list[Audit]) -> pd.DataFrame:
    """Overall share met per clock, rule and stage (``joint`` last), for printing."""
    rows: list[dict[str, Any]] = []
    for a in audits:
        t = a.compliance_tables((None,))
        for rec in t.to_dict("records"):
            rows.append({k: rec[k] for k in ("clock", "rule", "stage", "mean", "ci_low",
                                              "ci_high", "requests", "unknown")})
    out = pd.DataFrame(rows)
    if not out.empty:
        out["_o"] = out["stage"].map(lambda s: 99 if s == JOINT else 0)
        out = out.sort_values(["clock", "rule", "_o"], kind="stable").drop(columns="_o")
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- outputs
def write_audit(outdir: Path, log: CleanLog, audits: list[Audit],
                manifest: dict[str, Any]) -> list[Path]:
    """Write ``compliance.csv``, ``percentiles.csv``, ``requests.parquet`` (the log as
    request records), ``dropped.csv``, ``manifest.json`` and ``audit.html``."""
    import json

    from sim.io import atomic_write_frame, atomic_write_text

    compliance = pd.concat([a.compliance_tables() for a in audits], ignore_index=True)
    files: dict[str, pd.DataFrame] = {
        "compliance.csv": compliance,
        "percentiles.csv": pd.concat([a.percentiles() for a in audits], ignore_index=True),
        "requests.parquet": pd.concat(
            [a.experiment.requests.assign(clock=a.clock) for a in audits]
        ).rename_axis("row").reset_index(),
        "dropped.csv": log.dropped,
    }
    written = []
    for name, df in files.items():
        atomic_write_frame(outdir / name, df)
        written.append(outdir / name)
    atomic_write_text(outdir / "manifest.json",
                      json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    written.append(outdir / "manifest.json")
    from sim.calibrate.audit_report import render_audit

    atomic_write_text(outdir / "audit.html", render_audit(log, audits, compliance))
    written.append(outdir / "audit.html")
    return written


def manifest_for(log: CleanLog, audits: list[Audit], mapping_name: str) -> dict[str, Any]:
    """What the audit read and how: source, mapping, window, cleaning, clocks, stages."""
    from sim import __version__
    from sim.calibrate.logs import cleaning_summary

    summary = cleaning_summary(log)
    return {
        "sim_version": __version__, "log": log.source, "mapping": mapping_name,
        "mapping_note": log.mapping.note, "timezone": log.mapping.timezone,
        "stored_clock": log.mapping.stored_clock, "shift_hours": log.mapping.shift_hours,
        "date_formats": log.formats or {},
        "window": {"start": str(log.start), "end": str(log.end)},
        "cleaning": dict(zip(summary["what"], summary["rows"].astype(int).tolist(),
                             strict=True)),
        "clocks": {a.clock: CLOCKS[a.clock] for a in audits},
        "excluded_not_dispatched": {a.clock: a.excluded for a in audits},
        "stages_measured": list(audits[0].measured),
        "stages_not_in_log": list(audits[0].not_in_log),
        "rules": [r.model_dump() for r in audits[0].experiment.scenario.sla],
        "censoring": "open at the window's end: missed once the deadline passed, else "
                     "unknown (left out of the share)",
    }
