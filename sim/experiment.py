"""Replications: run them (in parallel processes or not) and combine their results.

Replication ``i`` of a scenario always uses the streams of index ``i`` (see
:mod:`sim.rng`), so results do not depend on how many processes run them or in which
order they finish.  The result tables and their confidence intervals live in the
simpy-free :mod:`sim.results` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, overload

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
from sim.summary import ExperimentSummary, ReplicationSummary, summarise_result

__all__ = [
    "DEFAULT_BREAKDOWNS", "ExperimentResult", "ExperimentSummary", "ReplicationSummary",
    "SimulationResult", "proportion_interval", "replicate", "run_replications",
    "simulate_summary", "summarise", "t_halfwidth",
]


def simulate_summary(
    scenario: Scenario, seed: int, replication: int,
    breakdowns: Sequence[str | None] = DEFAULT_BREAKDOWNS,
) -> ReplicationSummary:
    """Run one replication and return only its summary (see :mod:`sim.summary`): what
    a worker sends back when the caller needs compliance and load tables alone."""
    from sim.model import simulate  # here: importing this module never loads the engine

    return summarise_result(simulate(scenario, seed, replication), breakdowns)


def run_replications(
    scenario: Scenario,
    replications: Iterable[int],
    seed: int,
    jobs: int = 1,
    on_result: Callable[[Any], None] | None = None,
    dask: str | None = None,
    summary_only: bool = False,
    breakdowns: Sequence[str | None] = DEFAULT_BREAKDOWNS,
) -> list[Any]:
    """Run the given replication indices on the executor for ``jobs`` / ``dask``.

    The executors are those of sweeps (:mod:`sim.executors`): this process, a local
    process pool, or a Dask cluster.  ``on_result`` is called in the parent process as
    each replication finishes (in completion order), so a caller can save work before
    the whole batch is done.  The returned list is in replication order whatever the
    completion order: :class:`SimulationResult` objects, or with ``summary_only``
    :class:`ReplicationSummary` objects (made in the workers, for ``breakdowns``).
    """
    from sim.executors import make_executor

    reps = list(replications)
    done: dict[int, Any] = {}
    executor = make_executor(max(1, min(jobs, len(reps))), dask)
    try:
        if summary_only:
            handles = {executor.submit(simulate_summary, scenario, seed, r, tuple(breakdowns)): r
                       for r in reps}
        else:
            handles = {executor.submit(simulate_reporting, scenario, seed, r): r
                       for r in reps}
        for _, res in executor.as_completed(set(handles)):
            done[res.replication] = res
            if on_result:
                on_result(res)
    finally:
        executor.close()
    return [done[r] for r in reps]


@overload
def replicate(
    scenario: Scenario, replications: int | None = ..., seed: int | None = ...,
    jobs: int = ..., on_result: Callable[[Any], None] | None = ..., dask: str | None = ...,
    summary_only: Literal[False] = ...,
    breakdowns: Sequence[str | None] = ...,
) -> ExperimentResult: ...


@overload
def replicate(
    scenario: Scenario, replications: int | None = ..., seed: int | None = ...,
    jobs: int = ..., on_result: Callable[[Any], None] | None = ..., dask: str | None = ...,
    *, summary_only: Literal[True],
    breakdowns: Sequence[str | None] = ...,
) -> ExperimentSummary: ...


def replicate(
    scenario: Scenario,
    replications: int | None = None,
    seed: int | None = None,
    jobs: int = 1,
    on_result: Callable[[Any], None] | None = None,
    dask: str | None = None,
    summary_only: bool = False,
    breakdowns: Sequence[str | None] = DEFAULT_BREAKDOWNS,
) -> ExperimentResult | ExperimentSummary:
    """Run ``replications`` independent replications (default: the scenario's).

    Results are identical for any ``jobs``: replication ``i`` always uses the streams of
    index ``i``.  With ``summary_only`` the workers send back summaries instead of
    request frames, and the result is an :class:`ExperimentSummary` whose compliance
    (for ``breakdowns``) and utilisation tables equal the full result's.
    """
    n = scenario.run.replications if replications is None else replications
    seed = scenario.run.seed if seed is None else seed
    results = run_replications(scenario, range(n), seed, jobs, on_result, dask,
                               summary_only, breakdowns)
    if summary_only:
        return ExperimentSummary(scenario, seed, results)
    return ExperimentResult.from_results(scenario, seed, results)
