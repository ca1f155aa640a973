"""One replication of the Jinan High-tech Zone scenario: wall time, throughput, memory.

Runs ``sim.simulate`` once on ``scenarios/jinan_hightech_zone.yaml`` (214 communities,
about one million requests per simulated year) and prints the number of requests, wall
seconds, requests per second and the process's peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``; the figure before the run is printed too,
so the cost of the imports can be told apart).

``--days D`` shortens the horizon for a quick check (the warm-up is cut to fit).

Run from the repository root::

    python benchmarks/bench_zone_year.py              # the full year (about a minute)
    python benchmarks/bench_zone_year.py --days 28    # quick check
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from sim import simulate
from sim.config import RunConfig, Scenario, load_scenario

DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "jinan_hightech_zone.yaml"


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024.0 if sys.platform != "darwin" else kib / 2**20


def with_horizon(scenario: Scenario, days: float) -> Scenario:
    """The same scenario over ``days`` simulated days (warm-up shortened if it would not fit)."""
    fields = scenario.run.model_dump()
    fields["horizon_days"] = days
    fields["warmup_days"] = min(scenario.run.warmup_days, days / 2)
    return scenario.model_copy(update={"run": RunConfig.model_validate(fields)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    parser.add_argument("--days", type=float, default=None,
                        help="simulated days (default: the scenario's horizon)")
    parser.add_argument("--replication", type=int, default=0, help="replication index")
    args = parser.parse_args()

    scenario = load_scenario(args.scenario)
    if args.days is not None:
        scenario = with_horizon(scenario, args.days)
    n_communities = sum(c.count for c in scenario.communities)
    print(f"{scenario.name}: {n_communities} communities, {scenario.run.horizon_days:g} days, "
          f"replication {args.replication}, seed {scenario.run.seed}")
    before = peak_rss_mb()

    t0 = time.perf_counter()
    result = simulate(scenario, replication=args.replication)
    seconds = time.perf_counter() - t0

    n = len(result.requests)
    print(f"requests        {n:,}")
    print(f"pools           {len(result.pools):,}")
    print(f"wall seconds    {seconds:.1f}")
    print(f"requests/s      {n / seconds:,.0f}  ({1e6 * seconds / n:.1f} µs per request)")
    print(f"peak RSS        {peak_rss_mb():,.0f} MB  (before the run: {before:,.0f} MB)")
    frame_mb = result.requests.memory_usage(deep=True).sum() / 2**20
    print(f"requests frame  {frame_mb:,.0f} MB")


if __name__ == "__main__":
    main()
