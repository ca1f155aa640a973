"""Reading and cleaning a large work-order log: time and peak memory.

Generates a synthetic log of ``--rows`` requests (CSV, Baltimore-style columns and
``MM/DD/YYYY hh:mm:ss AM`` timestamps; about 2% open, 0.5% staff-raised, 0.3% exact
duplicates, 0.2% closed at creation, 0.1% closed over a year later) in a temporary
folder, then reads and cleans it with :func:`sim.calibrate.logs.read_log` in a fresh
child process, so the peak resident memory reported is that of reading alone.  With
``--audit`` the child also audits it (:func:`sim.calibrate.audit.audit_log`).

Run from the repository root::

    python benchmarks/bench_calibrate_read.py                 # 1,000,000 rows
    python benchmarks/bench_calibrate_read.py --rows 100000 --infer --audit

The target for a whole ``sim calibrate`` of 1,000,000 rows is 30 s and 2 GB on one core;
reading and cleaning should take a small part of that.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

FORMAT = "%m/%d/%Y %I:%M:%S %p"
MAPPING = {
    "columns": {"created": "CreatedDate", "closed": "CloseDate", "category": "SRType",
                "channel": "MethodReceived", "area": "Neighborhood"},
    "staff_raised": ["Internal"],
    "channels": {"Phone": "phone", "API": "mini_program"},
}


def generate(path: Path, rows: int, seed: int = 1) -> None:
    """Write a synthetic log of ``rows`` requests to ``path`` (CSV)."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-01-01")
    created = start + pd.to_timedelta(np.sort(rng.uniform(0, 365 * 86400, rows)).round(),
                                      unit="s")
    took = rng.lognormal(np.log(3 * 3600), 1.2, rows).round()
    took[rng.random(rows) < 0.002] = 0.0
    took[rng.random(rows) < 0.001] = 400 * 86400.0
    closed = pd.Series(created + pd.to_timedelta(took, unit="s"))
    closed = closed.mask(rng.random(rows) < 0.02)
    channels = np.array(["Phone", "API", "Mail", "Internal"])
    frame = pd.DataFrame({
        "SRRecordID": np.arange(rows),
        "SRType": np.char.add("TYPE-", rng.integers(0, 40, rows).astype(str)),
        "MethodReceived": channels[rng.choice(4, rows, p=[0.6, 0.35, 0.045, 0.005])],
        "CreatedDate": pd.Series(created).dt.strftime(FORMAT),
        "CloseDate": closed.dt.strftime(FORMAT).fillna(""),
        "Neighborhood": np.char.add("Area ", rng.integers(0, 250, rows).astype(str)),
        "Agency": "Transportation",
    })
    dup = rng.random(rows) < 0.003
    dup[0] = False
    frame.iloc[np.flatnonzero(dup)] = frame.iloc[np.flatnonzero(dup) - 1].to_numpy()
    frame.to_csv(path, index=False)


def child(path: Path, infer: bool, audit: bool) -> None:
    """Read (and audit) the log; print timings as JSON."""
    from sim.calibrate.logs import cleaning_summary, mapping_from_dict, read_log

    mapping = mapping_from_dict({**MAPPING, "datetime_format": None if infer else FORMAT})
    t0 = time.perf_counter()
    log = read_log(path, mapping)
    t1 = time.perf_counter()
    out = {"read_clean_s": t1 - t0, "kept": len(log.requests),
           "summary": dict(zip(cleaning_summary(log)["what"],
                               cleaning_summary(log)["rows"].astype(int).tolist(),
                               strict=True))}
    if audit:
        from sim.calibrate.audit import audit_log

        audits = audit_log(log)
        audits[0].compliance_tables()
        audits[0].percentiles()
        out["audit_s"] = time.perf_counter() - t1
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--infer", action="store_true", help="infer the date format")
    parser.add_argument("--audit", action="store_true", help="also audit the log")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.infer, args.audit)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.csv"
        t0 = time.perf_counter()
        generate(path, args.rows)
        print(f"generated {args.rows:,} rows ({path.stat().st_size / 2**20:.0f} MiB) in "
              f"{time.perf_counter() - t0:.1f} s")
        cmd = [sys.executable, __file__, "--child", str(path)]
        cmd += ["--infer"] if args.infer else []
        cmd += ["--audit"] if args.audit else []
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result = json.loads(res.stdout)
    print(f"read + clean: {result['read_clean_s']:.1f} s "
          f"({'inferred' if args.infer else 'explicit'} date format)")
    if "audit_s" in result:
        print(f"audit: {result['audit_s']:.1f} s")
    print(f"peak resident memory of the reading process: {peak_mib:,.0f} MiB")
    for what, n in result["summary"].items():
        print(f"  {what:<28} {n:>10,}")


if __name__ == "__main__":
    main()
