"""Starting from a backlog: requests already open at the start, and how they fared.

* :func:`backlog_table` draws the requests an ``initial_state`` declares: each keeps its
  original clock (created ``age`` minutes before the start, so its targets are partly
  spent), waits in its declared stage from minute 0, and has its other attributes drawn
  like a new request's from the stream ``backlog/<entry>``; :func:`with_backlog` puts
  them ahead of the new arrivals.
* :func:`initial_state_from_run` reads the requests still open at the end of an earlier
  run (``sim run --from-run DIR``).
* :func:`backlog_compliance` reports backlog requests apart from new arrivals; the stages
  they had passed before the start are not measured.

New arrivals' tables are untouched: backlog requests were created before minute 0, so
they are never among the requests measured after the warm-up.

This module draws no simulation engine in (results stay engine-free).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from numpy.typing import NDArray

from sim.arrivals import N_UNIFORMS, U_WORK, RequestTable, _attributes
from sim.config import Community, Scenario, ScenarioError
from sim.config.world import BACKLOG_STAGES, InitialState, OpenRequests
from sim.results import ExperimentResult
from sim.rng import Streams
from sim.sla import CLOCKS, outcomes, with_clock
from sim.stages import JOINT, STAGE_TABLE

__all__ = [
    "BACKLOG_BREAKDOWNS", "NEW_ARRIVAL", "BacklogView", "backlog_compliance", "backlog_line",
    "backlog_table", "initial_state_from_run", "with_backlog",
]

NEW_ARRIVAL = -1
"""``backlog_stage`` code of a request that arrived during the run."""

BACKLOG_BREAKDOWNS: tuple[str | None, ...] = (None, "backlog_stage", "community", "category")
"""Breakdowns of ``backlog_compliance.csv``."""

_STAGE_CODE = {s.name: s.engine_index for s in STAGE_TABLE if s.engine_index is not None}


def backlog_table(
    scenario: Scenario, communities: list[Community], streams: Streams
) -> RequestTable | None:
    """The open requests of ``scenario.initial_state`` (None when it declares none)."""
    entries = scenario.initial_state.open_requests
    if not entries:
        return None
    index = {c.name: i for i, c in enumerate(communities)}
    cat_names = list(scenario.categories)
    parts = [_entry(scenario, e, k, index[e.community], communities[index[e.community]],
                    cat_names, streams) for k, e in enumerate(entries)]
    table = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.argsort(table["created_min"], kind="stable")  # oldest first
    return RequestTable(**{key: v[order] for key, v in table.items()})


def _entry(
    scenario: Scenario, e: OpenRequests, k: int, ci: int, com: Community,
    cat_names: list[str], streams: Streams,
) -> dict[str, NDArray[np.generic]]:
    n = e.count
    u = streams.get(f"backlog/{k}").random((n, N_UNIFORMS))
    only = com.model_copy(update={"category_mix": {e.category: 1.0}})
    t = np.full(n, -e.age)
    out = _attributes(scenario, only, ci, cat_names, t, u, -1, np.arange(n, dtype=np.intp))
    complex_ = True if e.stage == "plan" else e.complex
    if complex_ is not None:
        cat = scenario.categories[e.category]
        out["complex"] = np.full(n, complex_)
        if cat.onsite_by:  # the site visit is an assessment for a complex request
            assert cat.work_time is not None and cat.assess is not None
            dist = cat.assess if complex_ else cat.work_time
            out["work_dur"] = dist.ppf(u[:, U_WORK])
    out["raised_min"] = t  # transferred before the run: both clocks start at creation
    out["created_min"] = t.copy()
    out["backlog_stage"] = np.full(n, _STAGE_CODE[e.stage], dtype=np.int8)
    return out


def with_backlog(req: RequestTable, backlog: RequestTable | None) -> RequestTable:
    """``backlog`` ahead of the new arrivals ``req``, as one table."""
    if backlog is None:
        return req
    return RequestTable(**{name: np.concatenate([getattr(backlog, name), getattr(req, name)])
                           for name in RequestTable.__dataclass_fields__})


# --------------------------------------------------------------------------- from a run
@dataclass(frozen=True)
class CarriedOver:
    """What :func:`initial_state_from_run` carried over, and what it left."""

    state: InitialState
    carried: int
    in_hand: int


def _waiting_stage(row: pd.Series, onsite: dict[str, bool]) -> str | None:
    if np.isnan(row["responded_min"]):
        return "respond"
    if onsite[str(row["category"])] and np.isnan(row["onsite_min"]):
        return "onsite"
    if bool(row["complex"]) and np.isnan(row["plan_min"]):
        return "plan"
    return None


def initial_state_from_run(
    rundir: Path, scenario: Scenario, replication: int = 0
) -> CarriedOver:
    """The requests still open at the end of replication ``replication`` of the run in
    ``rundir``, as an initial state for ``scenario``.

    A request is carried over waiting in the first staff stage it has not reached
    (respond, on site, plan), aged ``horizon - created_min``.  Requests in the hands of
    staff or an outside party at the end (every staff stage reached, not finished) and
    tickets still in transit are not carried; :attr:`CarriedOver.in_hand` counts them.

    Raises
    ------
    ScenarioError
        One line naming the file and the problem: unreadable, or a community or category
        the scenario does not have.
    """
    parquet = rundir / "requests.parquet"
    resolved = rundir / "scenario.resolved.yaml"
    try:
        req = pd.read_parquet(parquet)
        old = yaml.safe_load(resolved.read_text(encoding="utf-8"))
        horizon = float(old["run"]["horizon_days"]) * 1440.0
    except Exception as e:  # a missing or damaged run folder: one line, no traceback
        raise ScenarioError(f"--from-run {rundir}: not a finished run folder "
                            f"({type(e).__name__}: {e})") from None
    reps = sorted(int(r) for r in req["replication"].unique())
    if replication not in reps:
        raise ScenarioError(f"--from-run {rundir}: no replication {replication} (it has "
                            f"{', '.join(map(str, reps)) or 'none'})")
    req = req[(req["replication"] == replication) & req["finished_min"].isna()]
    if "in_transit" in req:
        req = req[~req["in_transit"].astype(bool)]
    names = {c.name for c in scenario.expanded_communities()}
    for column, known in (("community", names), ("category", set(scenario.categories))):
        unknown = sorted(set(req[column].astype(str)) - known)
        if unknown:
            raise ScenarioError(f"{parquet}: {column} {unknown[0]!r} of the open requests is "
                                f"not in scenario {scenario.name!r}; the runs must share "
                                f"{column} names")
    onsite = {k: bool(c.onsite_by) for k, c in scenario.categories.items()}
    groups: dict[tuple[str, str, str, bool, float], int] = {}
    in_hand = 0
    for _, row in req.iterrows():
        stage = _waiting_stage(row, onsite)
        if stage is None:
            in_hand += 1
            continue
        age = horizon - float(row["created_min"])
        key = (str(row["community"]), str(row["category"]), stage, bool(row["complex"]), age)
        groups[key] = groups.get(key, 0) + 1
    entries = [OpenRequests(community=c, category=k, stage=s, complex=cx, age_min=a, count=n)
               for (c, k, s, cx, a), n in groups.items()]
    return CarriedOver(InitialState(open_requests=entries), sum(groups.values()), in_hand)


# --------------------------------------------------------------------------- reporting
def _masked(requests: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Outcomes with the stages passed before the start set to not applicable."""
    entry = requests["backlog_stage"].astype(object).to_numpy()
    order = {name: i for i, name in enumerate(BACKLOG_STAGES)}
    rank = np.array([order.get(str(s), 0) for s in entry])
    out = table.copy()
    for i, name in enumerate(BACKLOG_STAGES):
        before = rank > i
        out.loc[before, name] = np.nan
        out.loc[before, f"{name}_unknown"] = False
    stages = [s.name for s in STAGE_TABLE]
    met = out[stages].to_numpy(dtype=float)
    unknown = out[[f"{s}_unknown" for s in stages]].to_numpy(dtype=bool)
    applicable = ~np.isnan(met) | unknown
    missed = (met == 0.0).any(axis=1)
    anyunk = unknown.any(axis=1)
    joint = np.where(missed, 0.0, np.where(anyunk, np.nan, 1.0))
    out[JOINT] = np.where(applicable.any(axis=1), joint, np.nan)
    out[f"{JOINT}_unknown"] = applicable.any(axis=1) & ~missed & anyunk
    return out


@dataclass
class BacklogView(ExperimentResult):
    """An :class:`ExperimentResult` that measures the backlog requests only."""

    @property
    def measured(self) -> pd.DataFrame:
        return self.requests[self.requests["backlog"].to_numpy(dtype=bool)]

    def outcomes(self, rule: str | None = None, clock: str | None = None) -> pd.DataFrame:
        rule_obj = with_clock(self.rule(rule), clock)
        key = (rule_obj.name, rule_obj.clock_from)
        if key not in self._outcomes:
            req = self.measured
            self._outcomes[key] = _masked(req, outcomes(req, rule_obj, self.scenario))
        return self._outcomes[key]


def backlog_line(exp: ExperimentResult) -> str | None:
    """One line for the terminal summary: the backlog and its compliance under the first
    rule (None without a backlog)."""
    table = backlog_compliance(exp, (None,))
    if table.empty:
        return None
    rule = exp.scenario.sla[0]
    head = table[(table["rule"] == rule.name) & (table["clock"] == rule.clock_from)]
    shares = ", ".join(f"{s} {100 * m:.0f}%" for s, m in zip(head["stage"], head["mean"],
                                                             strict=True))
    n = int(exp.requests["backlog"].sum())
    return (f"Backlog at the start: {n} requests over {exp.replications} replications, "
            f"reported apart (backlog_compliance.csv): {shares or 'nothing decided'}.")


def backlog_compliance(
    exp: ExperimentResult, breakdowns: tuple[str | None, ...] = BACKLOG_BREAKDOWNS
) -> pd.DataFrame:
    """Compliance of the backlog requests (columns of ``compliance.csv``), for every rule
    on both clocks and the :data:`BACKLOG_BREAKDOWNS`; empty when there is no backlog."""
    if "backlog" not in exp.requests or not exp.requests["backlog"].any():
        return pd.DataFrame()
    view = BacklogView(exp.scenario, exp.seed, exp.requests, exp.pools, exp.load,
                       exp.backlog)
    return pd.concat(
        [view.compliance(by, r.name, clock=c) for r in exp.scenario.sla
         for c in sorted(CLOCKS, key=lambda c: c != r.clock_from) for by in breakdowns],
        ignore_index=True,
    )
