"""The city-scale scenario: memory and time per request, extrapolated to a year.

Runs ``sim.simulate`` on ``benchmarks/city_scale.yaml`` (2,140 communities, about 10.2
million requests a year) for each horizon of ``--days``, each in a fresh process, and
prints requests, wall seconds and the peak resident memory the run added (``ru_maxrss``
after an untimed one-day run, so imports are not counted).  A straight line through
(requests, memory) and (requests, seconds) gives the cost of the whole year; run the year
itself with ``--days 365`` where the machine allows.

``--dask N`` then runs N replications of the shortest horizon on a Dask ``LocalCluster``
(or ``--address``) with summaries only, as ``sim.replicate(..., summary_only=True)``
does, and prints the compliance table.

    python benchmarks/bench_city.py --days 2 4 8
    python benchmarks/bench_city.py --days 365            # the year (needs ~6 GB, minutes)
    python benchmarks/bench_city.py --days 2 --dask 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CITY = ROOT / "benchmarks" / "city_scale.yaml"

CHILD = r"""
import json, resource, sys, time
import sim
from sim.config import RunConfig, load_scenario
sc = load_scenario(sys.argv[1])
def cut(days):
    f = sc.run.model_dump() | {"horizon_days": days, "warmup_days": min(1.0, days / 2)}
    return sc.model_copy(update={"run": RunConfig.model_validate(f)})
sim.simulate(cut(0.25))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
res = sim.simulate(cut(float(sys.argv[2])))
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps({"requests": len(res.requests), "seconds": seconds,
                              "rss_added_mb": peak - before, "rss_peak_mb": peak}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=CITY)
    parser.add_argument("--days", type=float, nargs="+", default=[2.0, 4.0, 8.0])
    parser.add_argument("--dask", type=int, default=0, help="replications on Dask")
    parser.add_argument("--address", default="local")
    args = parser.parse_args()

    rows = []
    for d in args.days:
        proc = subprocess.run([sys.executable, "-c", CHILD, str(args.scenario), str(d)],
                              capture_output=True, text=True, check=False)
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not line:
            raise SystemExit(proc.stderr[-2000:])
        r = json.loads(line[0][7:])
        rows.append((d, r))
        print(f"{d:6g} days: {r['requests']:>11,} requests, {r['seconds']:8.1f} s, "
              f"+{r['rss_added_mb']:,.0f} MB (peak {r['rss_peak_mb']:,.0f} MB), "
              f"{r['rss_added_mb'] * 2**20 / r['requests']:,.0f} bytes per request", flush=True)
    if len(rows) >= 2:
        n = np.array([r["requests"] for _, r in rows], dtype=float)
        mem = np.array([r["rss_peak_mb"] for _, r in rows])
        sec = np.array([r["seconds"] for _, r in rows])
        per_day = n[-1] / rows[-1][0]
        year = per_day * 365
        m_slope, m_icpt = np.polyfit(n, mem, 1)
        s_slope, s_icpt = np.polyfit(n, sec, 1)
        print(f"a year: about {year:,.0f} requests; peak memory about "
              f"{(m_icpt + m_slope * year) / 1024:,.1f} GB ({m_slope * 2**20:,.0f} bytes a "
              f"request on top of {m_icpt:,.0f} MB), about {(s_icpt + s_slope * year) / 60:,.0f}"
              f" min on this machine (straight lines through the runs above)")
    if args.dask:
        import sim
        from sim.config import RunConfig, load_scenario

        sc = load_scenario(args.scenario)
        f = sc.run.model_dump() | {"horizon_days": args.days[0],
                                   "warmup_days": min(1.0, args.days[0] / 2)}
        sc = sc.model_copy(update={"run": RunConfig.model_validate(f)})
        exp = sim.replicate(sc, replications=args.dask, jobs=args.dask, dask=args.address,
                            summary_only=True, breakdowns=(None,))
        print(f"{args.dask} replications of {args.days[0]:g} days on Dask ({args.address}):")
        print(exp.compliance(None)[["stage", "mean", "ci_low", "ci_high", "replications",
                                    "requests"]].to_string(index=False))


if __name__ == "__main__":
    main()
