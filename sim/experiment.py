"""Replications: run them (in parallel processes or not) and combine their results.

Replication ``i`` of a scenario always uses the streams of index ``i`` (see
:mod:`sim.rng`), so results do not depend on how many processes run them or in which
order they finish.  The result tables and their confidence intervals live in the
simpy-free :mod:`sim.results` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sim.config import Scenario
from sim.progress import simulate_reporting
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
    dask: str | None = None,
) -> list[SimulationResult]:
    """Run the given replication indices on the executor for ``jobs`` / ``dask``.

    The executors are those of sweeps (:mod:`sim.executors`): this process, a local
    process pool, or a Dask cluster.  ``on_result`` is called in the parent process as
    each replication finishes (in completion order), so a caller can save work before
    the whole batch is done.  The returned list is in replication order whatever the
    completion order.
    """
    from sim.executors import make_executor

    reps = list(replications)
    done: dict[int, SimulationResult] = {}
    executor = make_executor(max(1, min(jobs, len(reps))), dask)
    try:
        handles = {executor.submit(simulate_reporting, scenario, seed, r): r for r in reps}
        for _, res in executor.as_completed(set(handles)):
            done[res.replication] = res
            if on_result:
                on_result(res)
    finally:
        executor.close()
    return [done[r] for r in reps]


def replicate(
    scenario: Scenario,
    replications: int | None = None,
    seed: int | None = None,
    jobs: int = 1,
    on_result: Callable[[SimulationResult], None] | None = None,
    dask: str | None = None,
) -> ExperimentResult:
    """Run ``replications`` independent replications (default: the scenario's).

    Results are identical for any ``jobs``: replication ``i`` always uses the streams of
    index ``i``.
    """
    n = scenario.run.replications if replications is None else replications
    seed = scenario.run.seed if seed is None else seed
    results = run_replications(scenario, range(n), seed, jobs, on_result, dask)
    return ExperimentResult.from_results(scenario, seed, results)
