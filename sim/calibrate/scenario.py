"""The calibrated scenario: fitted numbers in the scenario schema, each with its source.

Mapping from the log to the schema (the README's "Your own data" section says the same):

* **communities** -- one per area (the largest ``--top-areas`` and ``other``), type
  ``custom``.  A log has no household counts, so ``households: 1`` and
  ``requests_per_household_per_day`` is the area's whole daily rate (requests per day
  over the window); replace both with the real households and rate per household when
  known -- only their product matters to arrivals.
* **hour_profile / weekday_profile** -- the area's shares shrunk towards the pooled
  profile, as weights averaging 1.  The model's hour-of-week intensity is their product
  (factorised); ``fit_report.html`` gives the chi-square test of that assumption.
* **category_mix / channel_mix** -- the area's shares, shrunk likewise; requests through
  channels the schema does not know (``other``) are left out of the channel mix.
* **work_time** -- the chosen censored fit of closed minus on site when the log records
  arrival on site, else of closed minus created.  The latter also contains the wait for
  a response, the desk time, the wait for a technician and travel: it bounds field work
  from above, and ``--check`` shows how far the simulated finish times exceed the log.
* **travel_time** -- the fit of on site minus first response (pooled) when the log has
  both, else ``fixed 0`` (travel is inside the fitted work time).
* **respond_time** (desk handling) is not in a log: preset value, or 5 min exponential
  for a category with no preset (an assumption).  ``complex_prob`` is 0: a log does
  not mark which requests needed a plan; their longer closures are in the fitted time.
* **staff** -- not in a log: copied from ``--staff FILE.yaml`` or a template to edit.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.calibrate.fit import POOLED, CalibrationFit, StageFit
from sim.calibrate.profiles import Shares
from sim.config import category_presets

DEFAULT_RESPOND_MIN = 5.0
DEFAULT_RESPOND: dict[str, object] = {"dist": "exponential", "mean_min": DEFAULT_RESPOND_MIN}
"""Desk handling time of a category with no preset (assumption: not in a log)."""
TEMPLATE_UTILISATION = 0.8
"""The staff template carries the fitted load at about this utilisation."""


class StaffFileError(Exception):
    """The ``--staff`` file is not a list of staff pools."""


def _flow(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _round_shares(s: Shares, digits: int = 6) -> dict[str, float]:
    d = {k: round(v, digits) for k, v in s.as_dict().items() if v > 0}
    top = max(d, key=lambda k: d[k])
    d[top] = round(d[top] + 1.0 - sum(d.values()), digits)
    return d


def _weights(s: Shares) -> list[float]:
    return [round(w, 4) for w in s.weights()]


def work_fit(fit: CalibrationFit, category: str) -> tuple[StageFit | None, str]:
    """The fit standing for ``work_time`` of ``category`` and the quantity it is."""
    stage = "work" if "work" in fit.stages else "finish"
    for cat in (category, POOLED):
        f = fit.durations.get((cat, stage))
        if f is not None:
            return f, f"{cat}/{stage}"
    return None, ""


def _category_block(fit: CalibrationFit, name: str, source: str) -> list[str]:
    presets = category_presets()
    f, quantity = work_fit(fit, name)
    lines = [f"  {_flow(name)}:"]
    if name not in presets:
        lines += [f"    label_en: {_flow(name)}",
                  f"    respond_time: {_flow(DEFAULT_RESPOND)}"
                  "  # assumption: desk handling time is not in a log",
                  '    respond_by: ["service_desk"]', '    onsite_by: ["technician"]']
    lines.append("    complex_prob: 0.0  # a log does not mark requests that needed a plan")
    if f is None:
        lines.append(f"    work_time: {_flow({'dist': 'fixed', 'value_min': 60.0})}"
                     "  # assumption: too few closed requests to fit")
    else:
        b = f.best
        lines.append(f"    work_time: {_flow(b.distribution())}  # data: {source}, "
                     f"duration/{quantity}/{b.family} (n={b.n}, censored={b.n - b.events})")
    return lines


def _community_block(fit: CalibrationFit, area: str, source: str, travel: str) -> list[str]:
    rate = next(r for r in fit.rates if r.area == area)
    chans = _round_shares(fit.area_channels[area]) if area in fit.area_channels else (
        _round_shares(fit.pooled_channels))
    return [
        f"  - name: {_flow(area)}",
        "    type: custom",
        "    street: street-1",
        "    households: 1  # the log has no household counts: the rate below is the "
        "area's whole rate",
        f"    requests_per_household_per_day: {rate.per_day:.6g}  # data: {source}, "
        f"rate/{area} (requests per day, n={rate.count} over {rate.days:.1f} days)",
        f"    hour_profile: {_flow(_weights(fit.area_hours[area]))}  # data: {source}, "
        f"hour_share/{area}",
        f"    weekday_profile: {_flow(_weights(fit.area_weekdays[area]))}  # data: {source}, "
        f"weekday_share/{area}",
        f"    channel_mix: {_flow(chans)}  # data: {source}, channel_share/{area}",
        f"    category_mix: {_flow(_round_shares(fit.area_categories[area]))}  # data: "
        f"{source}, category_share/{area}",
        f"    travel_time: {travel}",
    ]


def load_staff(path: Path) -> list[dict[str, Any]]:
    """Staff pools from a YAML file holding a list of pools (or ``staff: [...]``)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise StaffFileError(f"{path}: cannot read the staff file ({err})") from None
    if isinstance(data, dict) and "staff" in data:
        data = data["staff"]
    if not isinstance(data, list) or not all(isinstance(p, dict) for p in data):
        raise StaffFileError(f"{path}: (top level): expected a list of staff pools")
    return data


def template_staff(fit: CalibrationFit) -> list[dict[str, Any]]:
    """Round-the-clock zone pools sized to carry the fitted load of the busiest hour of
    the busiest weekday at about :data:`TEMPLATE_UTILISATION`: a starting point to
    replace with the real roster."""
    peak = max(fit.pooled_hours.weights()) * max(fit.pooled_weekdays.weights())
    per_day = sum(r.per_day for r in fit.rates) * peak
    work = 0.0
    for cat in fit.categories:
        f, _ = work_fit(fit, cat)
        share = fit.pooled_categories.as_dict().get(cat, 0.0)
        work += share * (f.best.mean_min if f else 60.0)
    desk = max(1, math.ceil(per_day * DEFAULT_RESPOND_MIN / 1440 / TEMPLATE_UTILISATION))
    tech = max(1, math.ceil(per_day * work / 1440 / TEMPLATE_UTILISATION))

    def pool(name: str, kind: str, n: int) -> dict[str, Any]:
        return {"name": name, "kind": kind, "scope": "zone",
                "shifts": [{"name": "24h", "start_hour": 0, "end_hour": 24, "headcount": n}]}

    return [pool("desk", "service_desk", desk), pool("technicians", "technician", tech)]


MAX_SIMULATED_REQUESTS = 300_000
"""Cap on requests per replication when choosing the run length (keeps --check quick)."""


MAX_LONG_DAYS = 120.0
"""Longest p90 (days) the run length follows; slower tails are cut by the horizon."""


def run_length(fit: CalibrationFit) -> tuple[float, float]:
    """Warm-up and horizon (days) for the calibrated scenario.

    The slowest fitted 90th percentile of a duration (``long``, days) sets both: the
    warm-up lasts ``max(7, long)`` days (the run starts empty; requests that take weeks
    need weeks to build up), and the measured part ``max(28, 2 long)`` days, so stage
    times up to the p90 are seen; whole weeks each, the horizon at most a year and at
    most :data:`MAX_SIMULATED_REQUESTS` requests per replication; ``long`` is capped
    at :data:`MAX_LONG_DAYS`.
    """
    p90 = [sf.best.ppf(np.array([0.9]))[0] for (cat, stage), sf in fit.durations.items()
           if stage in ("finish", "work", "respond", "onsite")]
    long = min(max(p90, default=0.0) / 1440.0, MAX_LONG_DAYS)
    warmup = 7.0 * math.ceil(max(7.0, long) / 7.0)
    measured = 7.0 * math.ceil(max(28.0, 2 * long) / 7.0)
    per_day = sum(r.per_day for r in fit.rates)
    cap = MAX_SIMULATED_REQUESTS / per_day if per_day > 0 else 366.0
    horizon = min(warmup + measured, 364.0, max(cap, warmup + 28.0))
    return warmup, float(7.0 * math.ceil(horizon / 7.0))


def scenario_yaml(fit: CalibrationFit, command: str, log_name: str,
                  staff: list[dict[str, Any]] | None, staff_source: str | None) -> str:
    """The calibrated scenario as commented YAML text."""
    source = f"{log_name}"
    stages = set(fit.stages)
    travel_fit = fit.durations.get((POOLED, "travel"))
    if travel_fit is not None:
        b = travel_fit.best
        travel = (f"{_flow(b.distribution())}  # data: {source}, duration/{POOLED}/travel/"
                  f"{b.family} (on site minus first response, an upper bound)")
    else:
        travel = (f"{_flow({'dist': 'fixed', 'value_min': 0.0})}  # travel is inside the "
                  "fitted work time (the log has no on-site time)")
    days = fit.days
    warmup, horizon = run_length(fit)
    work_from = "closed minus on site" if "work" in stages else (
        "closed minus created (an upper bound on field work: it also holds the waits, "
        "desk time and travel)")
    head = [
        f"# Calibrated from {log_name} by: {command}",
        "# Every number marked '# data:' was fitted from the log; the name after the comma",
        "# is its quantity in fit.csv (estimate, interval, n, method).  fit_report.html",
        "# shows the fits.  Arrivals: requests per day over the window "
        f"{fit.start:%Y-%m-%d %H:%M} .. {fit.end:%Y-%m-%d %H:%M} ({days:.1f} days).",
        f"# work_time: censored fit (AIC choice) of {work_from}.",
        "# Staffing is not in a log: "
        + (f"the staff section is copied from {staff_source}."
           if staff_source else "the staff section below is a TEMPLATE sized to carry "
           "the fitted load; replace it with the real roster (or rerun with --staff)."),
        f"name: {_flow('calibrated-' + Path(log_name).stem)}",
        f"description: {_flow(f'Calibrated from {log_name} ({fit.n_requests} requests)')}",
        "run:",
        f"  horizon_days: {horizon:g}  # long enough for the slowest fitted p90; "
        "see run_length in sim/calibrate/scenario.py",
        f"  warmup_days: {warmup:g}",
        "  replications: 5",
        "  seed: 20241",
        "categories:",
    ]
    for cat in fit.categories:
        head += _category_block(fit, cat, source)
    head.append("communities:")
    for area in fit.areas:
        head += _community_block(fit, area, source, travel)
    pools = staff if staff is not None else template_staff(fit)
    head.append("# staff: " + (f"from {staff_source}" if staff_source else
                               "TEMPLATE (not from the log) -- edit before use"))
    head.append(yaml.safe_dump({"staff": pools}, sort_keys=False, allow_unicode=True).rstrip())
    return "\n".join(head) + "\n"


SCENARIO_NAME = "scenario.yaml"
FIT_NAME = "fit.csv"
CHECK_NAME = "check.csv"


@dataclass
class Calibration:
    """What :func:`write_calibration` produced."""

    fit: CalibrationFit
    scenario_path: Path
    fit_path: Path
    report_path: Path
    check: pd.DataFrame | None = None
    check_path: Path | None = None

    @property
    def failed(self) -> int:
        """Compared quantities outside tolerance (0 without a check)."""
        return 0 if self.check is None else int((~self.check["passed"]).sum())


def write_calibration(
    requests: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    outdir: Path,
    *,
    source: str,
    command: str,
    dropped: pd.DataFrame | None = None,
    staff: Path | None = None,
    check: bool = False,
    top_areas: int | None = None,
    top_categories: int | None = None,
    replications: int | None = None,
) -> Calibration:
    """Fit a cleaned log and write ``scenario.yaml``, ``fit.csv`` and ``fit_report.html``
    (and, with ``check``, ``check.csv``) into ``outdir``.

    Raises
    ------
    StaffFileError, ScenarioError
        The staff file is unreadable, or the scenario it makes is invalid.
    """
    from sim.calibrate.fit import fit_log, fit_table
    from sim.calibrate.report import write_fit_report
    from sim.config import load_scenario

    fit = fit_log(requests, start, end, top_areas, top_categories)
    pools = load_staff(staff) if staff is not None else None
    outdir.mkdir(parents=True, exist_ok=True)
    sc_path = outdir / SCENARIO_NAME
    sc_path.write_text(scenario_yaml(fit, command, source, pools,
                                     str(staff) if staff is not None else None),
                       encoding="utf-8")
    scenario = load_scenario(sc_path)
    fit_path = outdir / FIT_NAME
    fit_table(fit).to_csv(fit_path, index=False, float_format="%.6g")
    out = Calibration(fit, sc_path, fit_path, outdir / "fit_report.html")
    if check:
        from sim.calibrate.check import run_check

        out.check = run_check(fit, requests, scenario, replications)
        out.check_path = outdir / CHECK_NAME
        out.check.to_csv(out.check_path, index=False, float_format="%.6g")
    out.report_path = write_fit_report(outdir, fit, source, command, dropped, out.check)
    return out
