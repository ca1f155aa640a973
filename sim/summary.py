"""Results that travel cheaply: a replication reduced to the counts its tables need.

A replication's request frame is about a hundred bytes a request; a sweep, an optimiser
or a sensitivity screen only reads compliance per breakdown and staff load.  A
:class:`ReplicationSummary` holds exactly that -- per SLA rule, clock and breakdown, the
met / decided / unknown counts per group, plus the pool and load frames (one row per
pool and hour) -- so a worker returns kilobytes instead of the whole frame.
:class:`ExperimentSummary` stacks summaries and gives the same ``compliance``,
``compliance_tables`` and ``utilisation`` tables as :class:`~sim.results.
ExperimentResult` would on the full frames, value for value (the same counts go through
the same code).  Never imports simpy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sim.results import (
    DEFAULT_BREAKDOWNS,
    ExperimentResult,
    SimulationResult,
    StageCounts,
    compliance_table,
    find_rule,
    utilisation_table,
)
from sim.sla import CLOCKS, with_clock
from sim.stages import OUTCOMES

if TYPE_CHECKING:
    from sim.config import Scenario, SlaRule

__all__ = ["ExperimentSummary", "ReplicationSummary", "summarise_result"]

_Key = tuple[str | None, str, str]  # (breakdown, rule name, clock)
_Triple = tuple[NDArray[Any], NDArray[Any], NDArray[Any]]  # met, decided, unknown


@dataclass
class ReplicationSummary:
    """One replication, reduced: compliance counts per (breakdown, rule, clock), and the
    pool and load frames.  ``counts[key] = (groups, {outcome: (met, decided, unknown)})``
    with one value per group."""

    replication: int
    counts: dict[_Key, tuple[list[object], dict[str, _Triple]]]
    pools: pd.DataFrame
    load: pd.DataFrame


def _keys(scenario: Scenario, breakdowns: Iterable[str | None]) -> list[_Key]:
    """Every (breakdown, rule, clock) that ``compliance_tables`` reads, in its order."""
    return [(by, r.name, c) for r in scenario.sla
            for c in sorted(CLOCKS, key=lambda c: c != r.clock_from) for by in breakdowns]


def summarise_result(
    result: SimulationResult, breakdowns: Iterable[str | None] = DEFAULT_BREAKDOWNS
) -> ReplicationSummary:
    """Reduce one replication to the counts behind its compliance tables (every rule,
    both clocks, each of ``breakdowns``) and its pool and load frames."""
    exp = ExperimentResult.from_results(result.scenario, result.seed, [result])
    counts = {}
    for by, rule, clock in _keys(result.scenario, breakdowns):
        groups, per_stage = exp.compliance_counts(by, rule, clock)
        counts[(by, rule, clock)] = (list(groups), {
            s: (c.met.sum(axis=0), c.decided.sum(axis=0), c.unknown.sum(axis=0))
            for s, c in per_stage.items()})
    return ReplicationSummary(result.replication, counts, result.pools, result.load)


@dataclass
class ExperimentSummary:
    """Summaries of the replications of one scenario: the compliance and utilisation
    tables of :class:`~sim.results.ExperimentResult`, without the request frames.

    Only the breakdowns the summaries were made with are available.
    """

    scenario: Scenario
    seed: int
    summaries: list[ReplicationSummary]
    pools: pd.DataFrame = field(init=False)
    load: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        if not self.summaries:
            raise ValueError("no replications to combine")
        self.summaries = sorted(self.summaries, key=lambda s: s.replication)
        self.pools = pd.concat([s.pools for s in self.summaries], ignore_index=True)
        self.load = pd.concat([s.load for s in self.summaries], ignore_index=True)

    @property
    def replications(self) -> int:
        return len(self.summaries)

    def rule(self, name: str | None = None) -> SlaRule:
        """The SLA rule called ``name`` (default: the scenario's first rule)."""
        return find_rule(self.scenario, name)

    def compliance(
        self, by: str | None = None, rule: str | None = None, level: float = 0.95,
        clock: str | None = None,
    ) -> pd.DataFrame:
        """As :meth:`sim.results.ExperimentResult.compliance`."""
        rule_obj = with_clock(self.rule(rule), clock)
        key = (by, rule_obj.name, rule_obj.clock_from)
        if key not in self.summaries[0].counts:
            raise KeyError(f"the summaries hold no breakdown {by!r} for rule "
                           f"{rule_obj.name!r} on the {rule_obj.clock_from} clock")
        parts = [s.counts[key] for s in self.summaries]
        groups = parts[0][0]
        if any(p[0] != groups for p in parts):  # values seen differ: their sorted union
            groups = sorted({g for p in parts for g in p[0]})  # type: ignore[type-var]
        # a replication with nothing measured adds a row of zeros, which changes no
        # share, count or interval (the full path has no row for it)
        rows = parts
        counts = {}
        for stage in OUTCOMES:
            arrays = []
            for i in range(3):
                a = np.zeros((len(rows), len(groups)),
                             dtype=np.int64 if i == 1 else np.float64)
                for r, (g, per_stage) in enumerate(rows):
                    at = [groups.index(x) for x in g]
                    a[r, at] = per_stage[stage][i]
                arrays.append(a)
            counts[stage] = StageCounts(*arrays)
        return compliance_table(groups, counts, rule_obj.name, rule_obj.clock_from, by,
                                level)

    def compliance_tables(
        self, breakdowns: Sequence[str | None] = DEFAULT_BREAKDOWNS
    ) -> pd.DataFrame:
        """As :meth:`sim.results.ExperimentResult.compliance_tables`."""
        return pd.concat([self.compliance(by, rule, clock=clock)
                          for by, rule, clock in _keys(self.scenario, breakdowns)],
                         ignore_index=True)

    def utilisation(self, level: float = 0.95) -> pd.DataFrame:
        """As :meth:`sim.results.ExperimentResult.utilisation`."""
        return utilisation_table(self.load, level)
