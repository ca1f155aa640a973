"""Staffing sweeps: grids of frozen scenarios, paired replications, checkpoint/resume.

Every grid point is a new scenario built by :func:`sim.levers.apply`; every point runs
the same replication indices with the same seed, so differences between points are
paired (common random numbers).  A replication is reduced to a small table of compliance
per community type and stage as soon as it finishes (:func:`replication_summary`); the
full request records are not kept.

With an ``outdir``, each point is written to ``points/pNNNNN.parquet`` atomically the
moment its last replication finishes, and ``--resume`` skips the points already there:
killing a sweep at any moment and resuming gives the same final tables as an
uninterrupted run, because a replication's result depends only on (scenario, seed,
index).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.config import Scenario, ScenarioError, resolved_dict
from sim.executors import Executor, make_executor
from sim.io import atomic_write_frame, atomic_write_text
from sim.levers import apply, grid
from sim.results import ExperimentResult, summarise_shares
from sim.rundir import check_resumable, claim_kind, clean_temporary, lock_outdir
from sim.staffing import scenario_weekly_cost


def lever_aliases(paths: Sequence[str]) -> dict[str, str]:
    """Short, unambiguous column names for lever paths: path -> alias.

    The alias is the shortest tail of the path (at least two parts when the path has
    them, without ``staff``, ``shifts`` and a final ``headcount``) that no other path
    shares, so ``staff.technicians.shifts.day.headcount`` becomes ``technicians.day`` and
    ``run.horizon_days`` stays ``run.horizon_days``.
    """
    def parts(path: str) -> list[str]:
        t = path.split(".")
        if t[-1] == "headcount" and len(t) > 1:
            t = t[:-1]
        if t[0] == "staff" and len(t) > 2:
            t = [x for i, x in enumerate(t[1:]) if not (x == "shifts" and i > 0)]
        return t

    split = {p: parts(p) for p in paths}
    out: dict[str, str] = {}
    for p, t in split.items():
        alias = ".".join(t)
        for k in range(min(2, len(t)), len(t) + 1):
            tail = ".".join(t[-k:])
            if sum(".".join(u[-k:]) == tail for u in split.values()) == 1:
                alias = tail
                break
        out[p] = alias
    if len(set(out.values())) < len(out):  # two paths that mean the same thing
        return {p: p for p in paths}
    return out


def own_values(scenario: Scenario, levers: Mapping[str, Any]) -> dict[str, Any]:
    """The scenario's own value of each lever path."""
    from sim.levers import get_path

    data = resolved_dict(scenario)
    out = {}
    for path in levers:
        try:
            out[path] = get_path(data, path)
        except KeyError as err:
            raise ScenarioError(f"--vary {path}: {err.args[0]}") from None
    return out


def staffing_cost_per_week(scenario: Scenario) -> float:
    """Weekly cost of all staff: hourly cost x on-duty staff-hours x cost factor, summed
    over every run-time pool (a community-scope pool counts once per community)."""
    return scenario_weekly_cost(scenario)


def replication_summary(scenario: Scenario, seed: int, replication: int,
                        breakdowns: Sequence[str] = ()) -> pd.DataFrame:
    """Run one replication; return compliance per community type (and ``all``) x stage.

    Columns: ``replication, community_type, stage, compliance, requests, unknown``.  With
    ``breakdowns`` (request columns such as ``hour`` or ``category``, or
    ``community_type+hour`` for hours within each type), two more columns, ``by`` and
    ``group``, hold each breakdown's rows (``community_type`` is ``all`` unless the
    breakdown is within types); the rows above have ``by`` and ``group`` empty.
    """
    from sim.model import simulate  # here, so reading a sweep never imports the engine
    from sim.progress import simulate_with_days

    res = simulate_with_days(scenario, seed, replication, simulate)
    exp = ExperimentResult.from_results(scenario, seed, [res])
    return summary_rows(exp, replication, breakdowns)


def summary_rows(exp: ExperimentResult, replication: int,
                 breakdowns: Sequence[str] = ()) -> pd.DataFrame:
    """:func:`replication_summary` of one finished replication."""
    cols = ["replication", "community_type", "stage", "compliance", "requests", "unknown"]
    within = [b.split("+", 1)[1] for b in breakdowns if b.startswith("community_type+")]
    if within:  # a key column per breakdown within types, added before any table is read
        exp.requests = exp.requests.assign(**{
            f"_type_{b}": exp.requests["community_type"].astype(str) + "|"
            + exp.requests[b].astype(str) for b in within})
    parts = [exp.compliance(None), exp.compliance("community_type")]
    table = pd.concat(parts, ignore_index=True)
    table = table.rename(columns={"group": "community_type", "mean": "compliance"})
    table.insert(0, "replication", replication)
    if not breakdowns:
        return table[cols]
    table = table[cols].assign(by="", group="")
    frames = [table]
    for b in breakdowns:
        if b.startswith("community_type+"):
            inner = b.split("+", 1)[1]
            typed = exp.compliance(f"_type_{inner}")
            split = typed["group"].astype(str).str.split("|", n=1)
            t = pd.concat([exp.compliance(inner).assign(community_type="all"),
                           typed.assign(community_type=split.str[0], group=split.str[1])],
                          ignore_index=True)
        else:
            t = exp.compliance(b).assign(community_type="all")
        t = t.rename(columns={"mean": "compliance"})
        t.insert(0, "replication", replication)
        frames.append(t[cols].assign(by=b, group=t["group"].astype(str)))
    return pd.concat(frames, ignore_index=True)


def main_rows(tidy: pd.DataFrame) -> pd.DataFrame:
    """The rows per community type (and ``all``) x stage, without breakdown rows."""
    return tidy[tidy["by"] == ""] if "by" in tidy.columns else tidy


def aggregate(tidy: pd.DataFrame, keys: Sequence[str], level: float = 0.95) -> pd.DataFrame:
    """Mean and CI across replications of ``compliance`` per ``keys`` + type + stage.

    The interval is the one run tables use for shares (:func:`sim.results.
    proportion_interval`: Wilson on the effective sample size, always within [0, 1]);
    ``halfwidth`` is half its width.
    """
    k = [*keys, "community_type", "stage"]
    tidy = main_rows(tidy)
    out = summarise_shares(tidy, k, "compliance", "requests", level)
    counts = tidy.groupby(k, observed=True)[["requests", "unknown"]].sum().reset_index()
    return out.merge(counts, on=k, how="left")


def max_halfwidth(tidy: pd.DataFrame, level: float = 0.95) -> float:
    """Largest CI half-width over every community type x stage of one point."""
    agg = aggregate(tidy, [], level)
    hw = agg["halfwidth"].to_numpy(dtype=float)
    if len(hw) == 0 or np.isnan(hw).any():
        return math.inf
    return float(hw.max())


@dataclass
class Point:
    """One grid point: its lever values, scenario and replications run so far."""

    index: int
    levers: dict[str, Any]
    scenario: Scenario
    results: dict[int, pd.DataFrame] = field(default_factory=dict)
    pending: set[int] = field(default_factory=set)

    @property
    def name(self) -> str:
        return f"p{self.index:05d}"

    def tidy(self) -> pd.DataFrame:
        frames = [self.results[r] for r in sorted(self.results)]
        df = pd.concat(frames, ignore_index=True)
        for j, (k, v) in enumerate(self.levers.items()):
            df.insert(j, k, v)
        df.insert(0, "point", self.index)
        df["weekly_cost"] = staffing_cost_per_week(self.scenario)
        return df


@dataclass
class SweepResult:
    """The tidy table (point x replication x community type x stage) and its summary."""

    levers: list[str]
    tidy: pd.DataFrame
    replications_run: int
    baseline: dict[str, Any] = field(default_factory=dict)
    """Lever values of the point every other point is compared with."""
    baseline_tidy: pd.DataFrame | None = None
    """The baseline's per-replication table (a grid point's, or its own run)."""

    @property
    def aliases(self) -> dict[str, str]:
        """Lever path -> short column name (:func:`lever_aliases`)."""
        return lever_aliases(self.levers)

    @property
    def paired(self) -> pd.DataFrame:
        """Difference from the baseline per point x community type x stage, with the
        paired 95% CI and, for contrast, the unpaired one's half-width; lever columns
        under their aliases."""
        from sim.paired import paired_differences

        if self.baseline_tidy is None:
            return pd.DataFrame()
        keys = ["point", *self.levers, "weekly_cost"]
        out = paired_differences(self.tidy, self.baseline_tidy, keys)
        out = out.sort_values(["point", "community_type"], kind="stable")
        return out.rename(columns=self.aliases).reset_index(drop=True)

    @property
    def per_replication(self) -> pd.DataFrame:
        """One row per point x replication; a column per ``<community type>/<stage>``."""
        keys = ["point", *self.levers, "weekly_cost", "replication"]
        t = self.tidy.assign(col=self.tidy["community_type"].astype(str) + "/" + self.tidy[
            "stage"].astype(str))
        wide = t.pivot_table(index=keys, columns="col", values="compliance", sort=False)
        wide.columns.name = None
        return wide.reset_index()

    @property
    def summary(self) -> pd.DataFrame:
        """Mean and 95% CI per point x community type x stage, with lever values."""
        keys = ["point", *self.levers, "weekly_cost"]
        return aggregate(self.tidy, keys).sort_values(keys).reset_index(drop=True)


def run_points(
    points: list[Point],
    seed: int,
    replications: int,
    executor: Executor,
    target_halfwidth: float | None = None,
    max_replications: int = 100,
    on_point: Callable[[Point], None] | None = None,
    on_replication: Callable[[Point, int], None] | None = None,
    breakdowns: Sequence[str] = (),
) -> None:
    """Run replications of every point until done (or precise enough), in parallel.

    Replications ``0..replications-1`` of every point are submitted first.  With a
    ``target_halfwidth``, a point whose widest CI is still wider gets more replications
    (estimated from the 1/sqrt(n) law, at most ``max_replications`` in all).
    ``breakdowns`` go to :func:`replication_summary`.
    """
    handles: dict[Any, tuple[Point, int]] = {}

    def submit(p: Point, reps: range) -> None:
        for r in reps:
            p.pending.add(r)
            extra = (tuple(breakdowns),) if breakdowns else ()
            h = executor.submit(replication_summary, p.scenario, seed, r, *extra)
            handles[h] = (p, r)

    for p in points:
        submit(p, range(replications))
    while handles:
        for h, result in executor.as_completed(set(handles)):
            p, r = handles.pop(h)
            p.pending.discard(r)
            p.results[r] = result
            if on_replication:
                on_replication(p, r)
            if p.pending:
                continue
            if target_halfwidth is not None and len(p.results) < max_replications:
                n = len(p.results)
                hw = max_halfwidth(p.tidy())
                if hw > target_halfwidth:
                    want = n * (hw / target_halfwidth) ** 2 if math.isfinite(hw) else 2 * n
                    more = int(min(max_replications, max(n + 2, math.ceil(want)))) - n
                    submit(p, range(n, n + more))
                    break  # new handles: wait on the enlarged set
            if on_point:
                on_point(p)


class SweepStore:
    """A sweep's checkpoints in ``outdir``: its key, finished points and final tables.

    ``sweep.json`` names the sweep (a hash of scenario, levers, seed and replication
    settings) and the package version; ``points/pNNNNN.parquet`` holds each finished
    point.  The folder is locked while the store is open.
    """

    def __init__(self, outdir: Path, key: str, header: dict[str, Any]) -> None:
        self.outdir, self.key, self.header = outdir, key, header
        self._lock = contextlib.ExitStack()

    @staticmethod
    def key_of(base: Scenario, levers: Mapping[str, Sequence[Any]], seed: int,
               replications: int, target_halfwidth: float | None, max_reps: int,
               baseline: dict[str, Any] | None = None) -> str:
        """A short hash of everything that decides a sweep's results."""
        problem: dict[str, Any] = {
            "scenario": resolved_dict(base), "levers": {k: list(v) for k, v in levers.items()},
            "seed": seed, "replications": replications,
            "target_halfwidth": target_halfwidth, "max_replications": max_reps}
        if baseline:
            problem["baseline"] = baseline
        blob = json.dumps(problem, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def open(self, points: Sequence[Point], resume: bool) -> dict[int, pd.DataFrame]:
        """Lock the folder, check it holds this sweep (or none); return finished points."""
        from sim import __version__

        self._lock.enter_context(lock_outdir(self.outdir))
        try:
            claim_kind(self.outdir, "sweep")
            clean_temporary(self.outdir)
            done = self._finished(points, resume, __version__)
            atomic_write_text(self.outdir / "sweep.json", json.dumps(
                {"key": self.key, "sim_version": __version__, **self.header},
                indent=2, default=str) + "\n")
        except BaseException:
            self.close()
            raise
        return done

    def _finished(self, points: Sequence[Point], resume: bool,
                  version: str) -> dict[int, pd.DataFrame]:
        done: dict[int, pd.DataFrame] = {}
        if not check_resumable(self.outdir, "sweep.json", self.key, resume, version, "sweep",
                               "scenario, levers, seed or replications"):
            return done
        for p in points:
            f = self.point_file(p)
            if not f.exists():
                continue
            try:
                done[p.index] = pd.read_parquet(f)
            except Exception as e:  # pyarrow raises OSError or ArrowInvalid variants
                warnings.warn(f"{f} is unreadable ({' '.join(str(e).split())[:120]}); "
                              "running that point again", RuntimeWarning, stacklevel=2)
                f.unlink()
        return done

    def point_file(self, p: Point) -> Path:
        return self.outdir / "points" / f"{p.name}.parquet"

    def save_point(self, p: Point, tidy: pd.DataFrame) -> None:
        atomic_write_frame(self.point_file(p), tidy)

    def write_tables(self, result: SweepResult) -> None:
        """``sweep_tidy``, ``sweep_replications`` and ``sweep_summary`` (Parquet and CSV)."""
        for name, df in (("sweep_tidy", result.tidy), ("sweep_replications",
                         result.per_replication), ("sweep_summary", result.summary),
                         ("sweep_paired", result.paired)):
            atomic_write_frame(self.outdir / f"{name}.parquet", df)
            atomic_write_frame(self.outdir / f"{name}.csv", df)

    def close(self) -> None:
        self._lock.close()


@dataclass
class _Tally:
    """Counts points and replications as they finish, for the progress callback."""

    progress: Callable[[str, int, int], None] | None
    points_total: int
    points: int
    replications_planned: int
    replications: int = 0

    def start(self) -> None:
        if self.progress:
            self.progress("points", self.points, self.points_total)
            self.progress("replications", 0, self.replications_planned)

    def replication(self, p: Point, r: int) -> None:
        self.replications += 1
        if self.progress:
            self.progress("replications", self.replications,
                          max(self.replications_planned, self.replications))

    def point(self) -> None:
        self.points += 1
        if self.progress:
            self.progress("points", self.points, self.points_total)


def sweep(
    scenario: Scenario,
    levers: Mapping[str, Sequence[Any]],
    replications: int = 10,
    seed: int | None = None,
    jobs: int | None = None,
    dask: str | None = None,
    outdir: str | Path | None = None,
    resume: bool = False,
    target_halfwidth: float | None = None,
    max_replications: int = 100,
    progress: Callable[[str, int, int], None] | None = None,
    baseline: Mapping[str, Any] | None = None,
) -> SweepResult:
    """Run ``replications`` of every combination of ``levers`` (path -> values).

    Parameters
    ----------
    scenario:
        The base scenario; it is never modified.
    levers:
        Lever path -> list of values (see :mod:`sim.levers`).
    replications:
        Replications per point (the first batch when ``target_halfwidth`` is set).
    seed:
        Root seed; default the scenario's.  Every point uses the same replication seeds.
    jobs, dask:
        Local worker processes (default: one per core) or a Dask address
        (``"local"`` or ``"tcp://host:port"``).  Results do not depend on them.
    outdir, resume:
        Write each finished point at once; with ``resume``, skip points already written
        by an earlier run of the same sweep.  The folder is locked while the sweep runs
        (:class:`sim.rundir.OutdirError` if another process holds it).
    target_halfwidth, max_replications:
        Add replications per point until every compliance CI half-width is at most this.
    progress:
        Called as ``progress(kind, done, total)`` with kind ``"points"`` or
        ``"replications"``.
    baseline:
        Lever values of the point others are compared with (``.paired``); levers left
        out take the scenario's own values.  When it is not a grid point it is run as
        well (same seeds), but is not part of ``.tidy``.

    Returns
    -------
    SweepResult
        ``.tidy`` (one row per point x replication x community type x stage) and
        ``.summary`` (mean and 95% CI per point).
    """
    seed = scenario.run.seed if seed is None else seed
    points = [Point(i, c, apply(scenario, c)) for i, c in enumerate(grid(levers))]
    base_values = {**own_values(scenario, levers), **(baseline or {})}
    base = next((p for p in points if p.levers == base_values), None)
    extra = None  # the baseline's index when it is not a grid point
    if base is None:
        base = Point(len(points), base_values, apply(scenario, base_values, "--baseline"))
        extra = base.index
        points.append(base)
    store = None
    done: dict[int, pd.DataFrame] = {}
    if outdir is not None:
        store = SweepStore(Path(outdir), SweepStore.key_of(
            scenario, levers, seed, replications, target_halfwidth, max_replications,
            dict(baseline) if baseline else None),
            {"seed": seed, "replications": replications,
             "levers": {k: list(v) for k, v in levers.items()}, "points": len(points),
             "aliases": lever_aliases(list(levers)), "baseline": base_values,
             "baseline_point": base.index, "scenario_name": scenario.name})
        done = store.open(points, resume)
    try:
        todo = [p for p in points if p.index not in done]
        tally = _Tally(progress, len(points), len(done), replications * len(todo))
        tally.start()

        def on_point(p: Point) -> None:
            done[p.index] = p.tidy()
            if store is not None:
                store.save_point(p, done[p.index])
            tally.point()

        if todo:
            executor = make_executor(jobs, dask)
            try:
                run_points(todo, seed, replications, executor, target_halfwidth,
                           max_replications, on_point, tally.replication)
            finally:
                executor.close()
        tidy = pd.concat([done[i] for i in sorted(done) if i != extra], ignore_index=True)
        result = SweepResult(list(levers), tidy, tally.replications, base_values,
                             done[base.index])
        if store is not None:
            store.write_tables(result)
    finally:
        if store is not None:
            store.close()
    return result


__all__ = ["SweepResult", "SweepStore", "aggregate", "lever_aliases", "replication_summary",
           "sweep"]
