"""Calibration throughput: fit a million-request cleaned log and write every output.

Builds the cleaned request table (the frame ``CleanLog.requests`` holds) directly -- a
year of arrivals with an hour and weekday profile, 20 areas, 30 categories, 4 channels,
lognormal and exponential close times, requests still open at the end -- then times
:func:`sim.calibrate.fit.fit_log` (rates, profiles with shrinkage, the hour x weekday
test, censored fits of every category) and writing ``scenario.yaml``, ``fit.csv`` and
``fit_report.html`` (no ``--check``).  Prints the seconds of each step and the peak
resident memory of the process.  Reading the log is the other half of ``sim calibrate``
and is not timed here.

Run from the repository root::

    python benchmarks/bench_calibrate_fit.py --rows 1000000
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibrate.fit import fit_log, fit_table
from sim.calibrate.report import write_fit_report
from sim.calibrate.scenario import scenario_yaml

HOURS = np.array([0.2] * 6 + [0.6, 1.0, 1.6, 2.0, 2.0, 1.8, 1.4, 1.6, 1.8, 1.7, 1.5, 1.2,
                              1.0, 0.9, 0.8, 0.6, 0.4, 0.3])
DAYS = np.array([1.2, 1.1, 1.1, 1.0, 1.0, 0.8, 0.8])


def synthetic_requests(rows: int, seed: int = 1) -> tuple[pd.DataFrame, pd.Timestamp,
                                                           pd.Timestamp]:
    """A cleaned log's request table with ``rows`` requests over 364 days."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    weeks = 52
    cell = np.outer(DAYS, HOURS).ravel()
    cells = rng.choice(168, rows, p=cell / cell.sum())
    minute = (rng.integers(0, weeks, rows) * 7 * 1440 + cells * 60
              + rng.uniform(0, 60, rows))
    created = start + pd.to_timedelta(minute, unit="min")
    cat = rng.choice(30, rows, p=np.arange(30, 0, -1) / np.arange(30, 0, -1).sum())
    mean = 60.0 * (1 + cat % 7)
    dur = np.where(cat % 2 == 0, rng.lognormal(np.log(mean) - 0.5, 1.0),
                   rng.exponential(mean))
    end = start + pd.Timedelta(weeks=weeks)
    closed = pd.Series(created + pd.to_timedelta(dur, unit="min"))
    closed = closed.where(closed <= end)
    nat = pd.Series(pd.NaT, index=closed.index, dtype="datetime64[ns]")
    cats = np.array([f"type-{k:02d}" for k in range(30)])
    df = pd.DataFrame({
        "created": pd.Series(created), "closed": closed, "first_response": nat,
        "onsite": nat, "due": nat, "category": cats[cat], "category_raw": cats[cat],
        "channel": rng.choice(np.array(["phone", "walk_in", "mini_program", "other"]), rows),
        "area": np.array([f"area-{k:02d}" for k in range(20)])[rng.integers(0, 20, rows)],
    })
    df["open"] = df["closed"].isna()
    return df, start, end


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    df, start, end = synthetic_requests(args.rows)
    t1 = time.perf_counter()
    fit = fit_log(df, start, end, top_categories=12)
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        (out / "scenario.yaml").write_text(scenario_yaml(fit, "bench", "bench.csv", None, None))
        fit_table(fit).to_csv(out / "fit.csv", index=False)
        t3 = time.perf_counter()
        write_fit_report(out, fit, "bench.csv", "bench")
        t4 = time.perf_counter()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024   # ru_maxrss: bytes on macOS, KiB on Linux
    print(f"rows: {args.rows:,}  open: {int(df['open'].sum()):,}")
    print(f"build log frame:        {t1 - t0:6.2f} s (not part of calibration)")
    print(f"fit (rates, profiles, mixes, {len(fit.durations)} censored duration fits): "
          f"{t2 - t1:6.2f} s")
    print(f"scenario.yaml + fit.csv: {t3 - t2:6.2f} s")
    print(f"fit_report.html:        {t4 - t3:6.2f} s")
    print(f"calibration total:      {t4 - t1:6.2f} s")
    print(f"peak resident memory:   {peak_kib * scale / 1e6:6.0f} MB")


if __name__ == "__main__":
    main()
