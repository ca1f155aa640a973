"""Speed-up and efficiency per worker count: local process pool and Dask.

Runs the same batch of replications (``--tasks`` of them, summaries only, as sweeps do)
on one process, then on the local pool and on a Dask ``LocalCluster`` (or ``--dask
ADDRESS``) for each worker count of ``--workers``, and prints wall seconds, speed-up over
one process and efficiency (speed-up / workers).  Executor start-up (forking the pool,
starting the cluster and warming its workers) is timed apart and not in the speed-up:
a sweep pays it once.  Checks that every executor gives the same compliance table.

``--sleep S`` replaces the simulations by tasks that take the scenario, sleep ``S``
seconds and return a small result: the speed-up is then measured against the ideal
(``tasks x S`` seconds on one worker), and the efficiency is that of the executor itself --
sending tasks and the scenario, scheduling, batching, bringing results back -- at any
worker count, even beyond the machine's cores (sleeping workers need no core).

Run from the repository root::

    python benchmarks/bench_scaling.py --workers 1 2              # this machine
    python benchmarks/bench_scaling.py --workers 1 2 4 8 16 --tasks 64
    python benchmarks/bench_scaling.py --dask tcp://scheduler:8786 --workers 32
    python benchmarks/bench_scaling.py --sleep 1 --workers 4 16 --tasks 64   # overhead
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import pandas as pd

from sim.config import RunConfig, load_scenario
from sim.executors import make_executor
from sim.experiment import simulate_summary
from sim.summary import ExperimentSummary

ROOT = Path(__file__).resolve().parent.parent


def sleep_task(seconds: float, scenario: Any, replication: int) -> tuple[int, str]:
    """Stands in for a replication: takes the scenario, sleeps, returns a small result."""
    time.sleep(seconds)
    return replication, scenario.name


def run_batch(executor: Any, scenario: Any, tasks: int, sleep: float = 0.0
              ) -> tuple[float, pd.DataFrame]:
    seed = scenario.run.seed
    t0 = time.perf_counter()
    if sleep > 0:
        handles = {executor.submit(sleep_task, sleep, scenario, r): r for r in range(tasks)}
    else:
        handles = {executor.submit(simulate_summary, scenario, seed, r, (None,)): r
                   for r in range(tasks)}
    results = [res for _, res in executor.as_completed(set(handles))]
    seconds = time.perf_counter() - t0
    if sleep > 0:  # every task's own result came back once
        return seconds, pd.DataFrame(sorted(results), columns=["replication", "scenario"])
    table = ExperimentSummary(scenario, seed, results).compliance(None)
    return seconds, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path,
                        default=ROOT / "scenarios" / "jinan_hightech_zone.yaml")
    parser.add_argument("--days", type=float, default=4.0,
                        help="simulated days per task (sets the task length)")
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--dask", default="local", help="'local', an address, or 'none'")
    parser.add_argument("--sleep", type=float, default=0.0,
                        help="tasks sleep this many seconds instead of simulating")
    args = parser.parse_args()

    sc = load_scenario(args.scenario)
    f = sc.run.model_dump() | {"horizon_days": args.days,
                               "warmup_days": min(sc.run.warmup_days, args.days / 2)}
    sc = sc.model_copy(update={"run": RunConfig.model_validate(f)})

    if args.sleep > 0:
        base = args.tasks * args.sleep
        reference = pd.DataFrame([(r, sc.name) for r in range(args.tasks)],
                                 columns=["replication", "scenario"])
        print(f"{args.tasks} tasks sleeping {args.sleep:g} s each: one worker would take "
              f"{base:.2f} s (the ideal, not measured)")
    else:
        serial = make_executor(1)
        base, reference = run_batch(serial, sc, args.tasks)
        serial.close()
        print(f"{sc.name}: {args.tasks} tasks of {args.days:g} days; one process "
              f"{base:.2f} s ({base / args.tasks:.2f} s a task)")
    print(f"{'executor':<10} {'workers':>7} {'start s':>8} {'run s':>8} {'speed-up':>9} "
          f"{'efficiency':>10}  tables")
    kinds = [("pool", None)] + ([] if args.dask == "none" else [("dask", args.dask)])
    for kind, address in kinds:
        for w in args.workers:
            t0 = time.perf_counter()
            ex = make_executor(w, address) if kind == "dask" else make_executor(w)
            if kind == "pool" and w > 1:  # fork the workers now, not inside the timing
                list(ex.as_completed({ex.submit(int, 0) for _ in range(w)}))
            start = time.perf_counter() - t0
            try:
                seconds, table = run_batch(ex, sc, args.tasks, args.sleep)
            finally:
                ex.close()
            same = "identical" if table.equals(reference) else "DIFFERENT"
            speed = base / seconds
            n = ex.workers
            print(f"{kind:<10} {n:>7} {start:>8.2f} {seconds:>8.2f} {speed:>8.2f}x "
                  f"{speed / n:>10.2f}  {same}", flush=True)


if __name__ == "__main__":
    main()
