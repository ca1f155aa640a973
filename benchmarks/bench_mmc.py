"""M/M/c throughput: the package's full pipeline against a bare idiomatic SimPy model.

Both sides run in this one process, alternating, on the same number of arrivals:

(a) ``sim.simulate`` on :func:`sim.validation.mmc_scenario` -- arrival generation, the
    callback-driven request engine, and building the per-request records DataFrame;
(b) a textbook SimPy M/M/c: a ``simpy.Resource(capacity=c)``, one generator process per
    customer (``with res.request() as r: yield r; yield env.timeout(service)``), waits
    appended to a list; interarrival and service times drawn up front with numpy.

The bare model takes the arrival count the package produced (a Poisson count over the
horizon), so both serve the same number of customers.  Each side is timed ``--repeats``
times; the script prints the median requests/s of each, the ratio package/bare (above 1:
the package is faster), and both mean waits against Erlang C as a sanity check.

Run from the repository root::

    python benchmarks/bench_mmc.py --arrivals 200000 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import simpy

from sim import simulate
from sim.queueing import erlang_c, mmc_mean_wait
from sim.validation import mmc_scenario

SERVERS = 5
MEAN_SERVICE_MIN = 10.0
UTILISATION = 0.85
WARMUP_SHARE = 0.1  # waits are averaged over customers after the first 10%


@dataclass
class Timing:
    """One timed run of one side."""

    arrivals: int
    seconds: float
    mean_wait_min: float

    @property
    def per_second(self) -> float:
        return self.arrivals / self.seconds


def _mean_after_warmup(waits: np.ndarray) -> float:
    start = int(len(waits) * WARMUP_SHARE)
    return float(np.nanmean(waits[start:]))


def run_package(arrival_rate_per_hour: float, horizon_days: float, seed: int) -> Timing:
    """The package's whole pipeline for one replication, records DataFrame included."""
    scenario = mmc_scenario(
        arrival_rate_per_hour, MEAN_SERVICE_MIN, SERVERS, horizon_days, seed=seed,
        replications=1,
    )
    t0 = time.perf_counter()
    result = simulate(scenario)
    seconds = time.perf_counter() - t0
    req = result.requests
    waits = (req["responded_min"] - req["created_min"]).to_numpy()
    return Timing(len(req), seconds, _mean_after_warmup(waits))


def run_bare(
    arrivals: int, arrival_rate_per_min: float, servers: int, mean_service_min: float,
    seed: int,
) -> Timing:
    """Idiomatic SimPy M/M/c with one process per customer, to the last departure."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / arrival_rate_per_min, arrivals).tolist()
    services = rng.exponential(mean_service_min, arrivals).tolist()
    env = simpy.Environment()
    desk = simpy.Resource(env, capacity=servers)
    waits: list[float] = []

    def customer(service: float) -> Generator[simpy.Event, object, None]:
        arrived = env.now
        with desk.request() as req:
            yield req
            waits.append(env.now - arrived)
            yield env.timeout(service)

    def source() -> Generator[simpy.Event, object, None]:
        for gap, service in zip(gaps, services, strict=True):
            yield env.timeout(gap)
            env.process(customer(service))

    env.process(source())
    env.run()
    seconds = time.perf_counter() - t0
    return Timing(arrivals, seconds, _mean_after_warmup(np.array(waits)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arrivals", type=int, default=200_000,
                        help="target number of arrivals (default 200000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rate_per_min = UTILISATION * SERVERS / MEAN_SERVICE_MIN
    rate_per_hour = rate_per_min * 60.0
    horizon_days = args.arrivals / (rate_per_min * 1440.0)
    print(f"M/M/{SERVERS}: lambda {rate_per_hour:.2f}/h, mean service {MEAN_SERVICE_MIN:g} min, "
          f"utilisation {UTILISATION:g}, horizon {horizon_days:.1f} days, "
          f"~{args.arrivals:,} arrivals, {args.repeats} repeats, alternating")

    # untimed warm-up of both sides (imports, first-use caches)
    warm_days = 1000 / (rate_per_min * 1440.0)
    run_bare(run_package(rate_per_hour, warm_days, args.seed).arrivals, rate_per_min, SERVERS,
             MEAN_SERVICE_MIN, args.seed)

    package: list[Timing] = []
    bare: list[Timing] = []
    for k in range(args.repeats):
        pkg = run_package(rate_per_hour, horizon_days, args.seed + k)
        package.append(pkg)
        bare.append(run_bare(pkg.arrivals, rate_per_min, SERVERS, MEAN_SERVICE_MIN,
                             args.seed + k))
        print(f"  repeat {k + 1}: package {pkg.per_second:>9,.0f} req/s ({pkg.seconds:.2f} s, "
              f"{pkg.arrivals:,} arrivals)   bare {bare[-1].per_second:>9,.0f} req/s "
              f"({bare[-1].seconds:.2f} s)")

    pkg_rate = statistics.median(t.per_second for t in package)
    bare_rate = statistics.median(t.per_second for t in bare)
    print(f"median requests/s: package {pkg_rate:,.0f}, bare SimPy {bare_rate:,.0f}, "
          f"ratio package/bare {pkg_rate / bare_rate:.2f}")

    a = rate_per_min * MEAN_SERVICE_MIN
    theory = mmc_mean_wait(SERVERS, rate_per_min, MEAN_SERVICE_MIN)
    print(f"mean wait (min, after the first {WARMUP_SHARE:.0%} of arrivals, mean over repeats): "
          f"package {statistics.fmean(t.mean_wait_min for t in package):.3f}, "
          f"bare {statistics.fmean(t.mean_wait_min for t in bare):.3f}, "
          f"Erlang C {theory:.3f} (P(wait) {erlang_c(SERVERS, a):.3f})")


if __name__ == "__main__":
    main()
