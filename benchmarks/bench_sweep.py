"""Sweep speed-up on 2 workers vs 1, and the optimiser's replications vs a grid search.

Both comparisons run side by side in one process, on the same scenario and seeds:

    python benchmarks/bench_sweep.py [--days 14] [--reps 8] [--repeats 3] [--workers 2] [--dask]

Part 1 runs the same sweep of the Jinan zone scenario (2 points) serially and on a local
process pool (and, with ``--dask``, on a Dask LocalCluster), checks the tables are
identical, and prints wall times and the speed-up; worker start-up (importing numpy,
pandas, scipy, simpy in each process) is included.  Part 2 runs ``sim.optimize`` and a
plain grid search over the same levers and prints how many replications each simulated
to reach its answer.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import pandas as pd

import sim
from sim.optimiser import grid_search
from sim.sweeps import replication_summary

ROOT = Path(__file__).resolve().parents[1]


def _scenario(days: float) -> sim.Scenario:
    # requests only: with the staff's other work, no staffing in these lever ranges
    # meets the targets, and a search that finds nothing compares nothing
    sc = sim.load_scenario(ROOT / "scenarios" / "quanxueli_requests_only.yaml")
    return sc.model_copy(update={"run": sc.run.model_copy(update={"horizon_days": days})})


def _zone(days: float) -> sim.Scenario:
    sc = sim.load_scenario(ROOT / "scenarios" / "jinan_hightech_zone.yaml")
    run = sc.run.model_copy(update={"horizon_days": days, "warmup_days": min(1.0, days / 2)})
    return sc.model_copy(update={"run": run})


def speedup(days: float, reps: int, workers: int, dask: bool, repeats: int) -> None:
    sc = _zone(days)
    levers = {"staff.technicians.evening": [1, 2]}
    tasks = reps * 2
    print(f"sweep: 2 points x {reps} replications of {days:g} days of the Jinan zone "
          f"(214 communities); {repeats} repeats, alternating")
    replication_summary(sc, 1, 0)  # untimed warm-up: lazy imports, caches
    serial_t, pool_t = [], []
    reference = None
    for k in range(repeats):
        t0 = time.perf_counter()
        serial = sim.sweep(sc, levers, replications=reps, jobs=1)
        t1 = time.perf_counter()
        pool = sim.sweep(sc, levers, replications=reps, jobs=workers)
        t2 = time.perf_counter()
        pd.testing.assert_frame_equal(serial.tidy, pool.tidy)
        reference = serial.tidy
        serial_t.append(t1 - t0)
        pool_t.append(t2 - t1)
        print(f"  repeat {k + 1}: 1 worker {t1 - t0:6.2f} s, {workers} workers {t2 - t1:6.2f} s "
              f"-> {(t1 - t0) / (t2 - t1):.2f}x")
    s_med, p_med = statistics.median(serial_t), statistics.median(pool_t)
    print(f"  median   : 1 worker {s_med:6.2f} s ({tasks / s_med:.2f} replications/s), "
          f"{workers} workers {p_med:6.2f} s ({tasks / p_med:.2f} replications/s)")
    print(f"  speed-up : {s_med / p_med:.2f}x (ratio of medians; tables identical: yes)")
    if dask:
        t3 = time.perf_counter()
        dk = sim.sweep(sc, levers, replications=reps, jobs=workers, dask="local")
        t4 = time.perf_counter()
        pd.testing.assert_frame_equal(reference, dk.tidy)
        print(f"  dask local ({workers} workers, incl. cluster start): {t4 - t3:7.2f} s  "
              f"speed-up {s_med / (t4 - t3):.2f}x (tables identical: yes)")


def optimiser_vs_grid(reps: int, workers: int) -> None:
    sc = _scenario(28)
    levers = {"staff.technicians.day": list(range(1, 7)),
              "staff.technicians.evening": list(range(0, 4)),
              "staff.cadres.office": list(range(1, 5))}
    targets = {"respond": 0.95, "onsite": 0.80, "finish": 0.85, "plan": 0.85}
    size = 6 * 4 * 4
    print(f"\noptimiser vs grid: 3 levers, {size} staffing points, {reps} replications each")
    t0 = time.perf_counter()
    opt = sim.optimize(sc, levers, targets, replications=reps, jobs=workers)
    t1 = time.perf_counter()
    grid = grid_search(sc, levers, targets, replications=reps, jobs=workers)
    t2 = time.perf_counter()
    g = grid.best.values if grid.best else None
    print(f"  analytic (Erlang C) start : {opt.start}")
    print(f"  optimiser answer          : {opt.first_choice} (after confirmation: "
          f"{opt.best.values if opt.best else None}, confirmed={opt.confirmed})")
    print(f"  grid-search answer        : {g}")
    print(f"  same answer               : {opt.first_choice == g}")
    print(f"  replications simulated    : optimiser {opt.replications_run} "
          f"(incl. {reps} confirmation) vs grid {grid.replications_run} "
          f"-> {grid.replications_run / opt.replications_run:.1f}x fewer")
    print(f"  wall time                 : optimiser {t1 - t0:.1f} s vs grid {t2 - t1:.1f} s")
    corner = sim.optimize(sc, levers, targets, replications=reps, jobs=workers,
                          start=[min(v) for v in levers.values()])
    print(f"  optimiser from the lowest corner instead of Erlang C: answer "
          f"{corner.first_choice}, {corner.replications_run} replications")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=14.0)
    ap.add_argument("--reps", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dask", action="store_true", help="also time a Dask LocalCluster")
    ap.add_argument("--skip-optimiser", action="store_true")
    args = ap.parse_args()
    speedup(args.days, args.reps, args.workers, args.dask, args.repeats)
    if not args.skip_optimiser:
        optimiser_vs_grid(6, args.workers)


if __name__ == "__main__":
    main()
