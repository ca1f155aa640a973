"""Replications: run them (in parallel processes or not) and combine their results.

Replication ``i`` of a scenario always uses the streams of index ``i`` (see
:mod:`sim.rng`), so results do not depend on how many processes run them or in which
order they finish.  The result tables and their confidence intervals live in the
simpy-free :mod:`sim.results` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed

from sim.config import Scenario
from sim.model import simulate
from sim.results import (
    DEFAULT_BREAKDOWNS,
    ExperimentResult,
    SimulationResult,
    proportion_interval,
    summarise,
    t_halfwidth,
)

__all__ = [
    "DEFAULT_BREAKDOWNS", "ExperimentResult", "SimulationResult", "proportion_interval",
    "replicate", "run_replications", "summarise", "t_halfwidth",
]


def run_replications(
    scenario: Scenario,
    replications: Iterable[int],
    seed: int,
    jobs: int = 1,
    on_result: Callable[[SimulationResult], None] | None = None,
) -> list[SimulationResult]:
    """Run the given replication indices, in parallel processes when ``jobs > 1``.

    ``on_result`` is called in the parent process as each replication finishes (in
    completion order), so a caller can save work before the whole batch is done.
    The returned list is in replication order whatever the completion order.
    """
    reps = list(replications)
    done: dict[int, SimulationResult] = {}
    if jobs <= 1 or len(reps) <= 1:
        for r in reps:
            res = simulate(scenario, seed, r)
            done[r] = res
            if on_result:
                on_result(res)
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, len(reps))) as pool:
            futures = [pool.submit(simulate, scenario, seed, r) for r in reps]
            try:
                for fut in as_completed(futures):
                    res = fut.result()
                    done[res.replication] = res
                    if on_result:
                        on_result(res)
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    return [done[r] for r in reps]


def replicate(
    scenario: Scenario,
    replications: int | None = None,
    seed: int | None = None,
    jobs: int = 1,
    on_result: Callable[[SimulationResult], None] | None = None,
) -> ExperimentResult:
    """Run ``replications`` independent replications (default: the scenario's).

    Results are identical for any ``jobs``: replication ``i`` always uses the streams of
    index ``i``.
    """
    n = scenario.run.replications if replications is None else replications
    seed = scenario.run.seed if seed is None else seed
    results = run_replications(scenario, range(n), seed, jobs, on_result)
    return ExperimentResult.from_results(scenario, seed, results)
