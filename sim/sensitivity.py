"""Which assumptions matter: one-at-a-time (tornado) and Morris screening of every number
sourced as an ``assumption`` in ``sim/presets/sources.yaml``.

An assumption is a number of a preset (``types.village.travel_time.mean_min``,
``categories.lift_fault.complex_prob``) or a schema default
(``schema.StaffPool.borrow_after_min``) with a plausible range ``[low, high]``
(:func:`sim.sources.assumption_ranges`).  For a given scenario each becomes a
:class:`Factor`: the places of the scenario the number reaches.  A preset number reaches
every community of its type (or every category of that name) that does not set the field
itself; a schema default reaches every object that leaves the field unset.  Assumptions
that reach nothing (a type absent from the scenario, a category no community uses, a field
the scenario sets, a range of zero width) are listed as skipped, with the reason.

Changing a factor changes the resolved scenario at those places, then the whole scenario is
validated again.  Two kinds of number need a rule:

* a share of a mix (``channel_mix``, ``category_mix``) is set exactly and the shares not
  being changed are rescaled so the mix still sums to 1 (when every share of a mix is
  changed at once, as in a Morris point, they are normalised together);
* an hour or weekday profile (a list) is one factor: the size of its deviation from flat,
  ``1`` as shipped, ``0`` flat, and at most the largest value (up to 2) that keeps every
  weight inside the source's range.

Every model run uses the same replication seeds (common random numbers), so a difference
between two settings is paired replication by replication, and an assumption that cannot
reach any request has an effect of exactly zero.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel

from sim import sources
from sim.config import Scenario, ScenarioError, resolved_dict, scenario_from_dict
from sim.executors import Executor, make_executor
from sim.io import atomic_write_frame, atomic_write_text
from sim.results import t_halfwidth
from sim.sensitivity_report import MORRIS_FILE, OAT_FILE, ranking, write_page
from sim.stages import OUTCOMES
from sim.sweeps import Point, run_points

Loc = tuple[str | int, ...]
Method = Literal["oat", "morris", "both"]
MIX_FIELDS = frozenset({"channel_mix", "category_mix"})
PROFILE_FIELDS = frozenset({"hour_profile", "weekday_profile"})
MAX_PROFILE_SCALE = 2.0
MORRIS_LEVELS = 4
ALL = "all"


@dataclass(frozen=True)
class Factor:
    """One assumption as it reaches a scenario.

    ``value`` is its shipped value, ``low``/``high`` its range, ``targets`` the places of
    the resolved scenario (paths into :func:`sim.config.resolved_dict`) it sets.  For a
    profile, ``value`` is 1 and the range is of the deviation-from-flat scale.
    """

    path: str
    value: float
    low: float
    high: float
    targets: tuple[Loc, ...]
    kind: Literal["number", "share", "profile"] = "number"


@dataclass(frozen=True)
class Skipped:
    """An assumption that does not reach the scenario, and why."""

    path: str
    reason: str


@dataclass
class Settings:
    """What a sensitivity analysis ran with (written to ``sensitivity.json``)."""

    scenario: str
    seed: int
    replications: int
    horizon_days: float
    warmup_days: float
    method: Method
    trajectories: int
    stages: list[str]
    factors: int
    skipped: int
    model_runs: int = 0
    morris_left_out: list[str] = field(default_factory=list)
    """Outcomes (``type/stage``) with no requests at some Morris point: no elementary
    effects for them."""


@dataclass
class SensitivityResult:
    """Tables of a sensitivity analysis; empty frames for a method not run."""

    settings: Settings
    factors: list[Factor]
    skipped: list[Skipped]
    oat: pd.DataFrame = field(default_factory=pd.DataFrame)
    morris: pd.DataFrame = field(default_factory=pd.DataFrame)

    def ranking(self, top: int = 5) -> pd.DataFrame:
        """The ``top`` assumptions per stage (overall compliance), by each method."""
        return ranking(self.oat, self.morris, top)


# --------------------------------------------------------------------------- factors
def _get(data: Any, loc: Loc) -> Any:
    for part in loc:
        data = data[part]
    return data


def _has(data: Any, loc: Loc) -> bool:
    try:
        _get(data, loc)
    except (KeyError, IndexError, TypeError):
        return False
    return True


def _instances(obj: Any, name: str, loc: Loc = ()) -> list[tuple[Loc, BaseModel]]:
    """Every pydantic object of class ``name`` inside ``obj``, with its location."""
    out: list[tuple[Loc, BaseModel]] = []
    if isinstance(obj, BaseModel):
        if type(obj).__name__ == name:
            out.append((loc, obj))
        for f in type(obj).model_fields:
            out += _instances(getattr(obj, f), name, (*loc, f))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out += _instances(v, name, (*loc, str(k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _instances(v, name, (*loc, i))
    return out


def used_categories(resolved: Mapping[str, Any]) -> set[str]:
    """Categories some community of the scenario can raise (listed in its mix)."""
    return {k for c in resolved["communities"] for k in c["category_mix"]}


def _targets(path: str, raw: Mapping[str, Any], scenario: Scenario,
             resolved: Mapping[str, Any]) -> tuple[list[Loc], str]:
    """Where the number ``path`` reaches the scenario; else the reason it does not."""
    head, *rest = path.split(".")
    used = used_categories(resolved)
    if head == "types":
        ctype, fld, *sub = rest
        raw_comms = raw.get("communities") or []
        of_type = [i for i, c in enumerate(raw_comms)
                   if isinstance(c, dict) and c.get("type") == ctype]
        if not of_type:
            return [], f"no community of type {ctype}"
        locs: list[Loc] = [("communities", i, fld, *sub)
                           for i in of_type if fld not in raw_comms[i]]
        if not locs:
            return [], f"every {ctype} community sets {fld}"
        return [loc for loc in locs if _has(resolved, loc)], f"{fld} not in the scenario"
    if head == "categories":
        cat, fld, *sub = rest
        if cat not in used:
            return [], f"category {cat} is not used"
        given = (raw.get("categories") or {}).get(cat)
        if isinstance(given, dict) and fld in given:
            return [], f"the scenario sets categories.{cat}.{fld}"
        loc: Loc = ("categories", cat, fld, *sub)
        return ([loc] if _has(resolved, loc) else []), f"{fld} not in the scenario"
    if head == "schema":
        model, fld, *sub = rest
        locs = []
        for where, obj in _instances(scenario, model):
            if model == "Scenario":
                given = raw.get(fld)
                if given is not None and (not sub or not isinstance(given, dict)
                                          or sub[0] in given):
                    continue
            elif fld in obj.model_fields_set:
                continue
            if where[:1] == ("categories",) and where[1] not in used:
                continue
            target = (*where, fld, *sub)
            if _has(resolved, target):
                locs.append(target)
        return locs, f"no {model} in the scenario leaves {fld} at its default"
    if head == "other_work":
        kind, fld, *sub = rest
        raw_staff = raw.get("staff") or []
        takers = [i for i, p in enumerate(raw_staff) if isinstance(p, dict)
                  and p.get("kind") == kind and p.get("other_work") == "kind_preset"]
        if not takers:
            return [], f"no {kind} pool takes its kind's other-work preset"
        if fld == "blocks" and sub[-1:] in (["start_hour"], ["end_hour"]):
            # overlapping ranges: varied one by one, some combinations would end a block
            # before it starts, so a block's hours stay as shipped (its people vary)
            return [], "a block's hours are held fixed (start and end ranges overlap)"
        at = [int(x) if x.isdigit() else x for x in sub]  # blocks.0.people: a list index
        locs = [("staff", i, fld, *at) for i in takers if fld not in raw_staff[i]]
        if not locs:
            return [], f"every {kind} pool taking the preset sets {fld}"
        return [loc for loc in locs if _has(resolved, loc)], f"{fld} not in the scenario"
    if head in ("interventions", "meetings"):  # presets named by entries' `preset:`
        preset, fld, *sub = rest
        entries = raw.get(head) or []
        named = [i for i, e in enumerate(entries)
                 if isinstance(e, dict) and e.get("preset") == preset and fld not in e]
        if not named:
            return [], f"no {head} entry takes {fld} from preset {preset}"
        locs = [(head, i, fld, *sub) for i in named]
        return [loc for loc in locs if _has(resolved, loc)], f"{fld} not in the scenario"
    return [], "not a preset or schema number"


def _profile_range(base: Sequence[float], low: float, high: float) -> float:
    """Largest deviation scale (<= 2) keeping every weight of ``base`` in [low, high]."""
    m = float(np.mean(base))
    scale = MAX_PROFILE_SCALE
    for p in base:
        d = p - m
        if d > 0:
            scale = min(scale, (high - m) / d)
        elif d < 0:
            scale = min(scale, (m - low) / -d)
    return max(scale, 1.0)


def scenario_factors(
    scenario: Scenario, raw: Mapping[str, Any],
    ranges: Mapping[str, tuple[sources.Number, sources.Pair]] | None = None,
) -> tuple[list[Factor], list[Skipped]]:
    """The assumptions that reach ``scenario`` (``raw``: its YAML data) and those that
    do not.  ``ranges`` defaults to every assumption of the packaged sources."""
    if ranges is None:
        ranges = sources.assumption_ranges(
            sources.load_sources(),
            {**sources.preset_numbers(), **sources.schema_numbers(Scenario)})
    resolved = resolved_dict(scenario)
    factors: list[Factor] = []
    skipped: list[Skipped] = []
    for path, (value, (low, high)) in ranges.items():
        locs, why = _targets(path, raw, scenario, resolved)
        if not locs:
            skipped.append(Skipped(path, why))
            continue
        if isinstance(value, tuple):
            bases = [_get(resolved, loc) for loc in locs]
            top = min(_profile_range(b, low, high) for b in bases)
            factors.append(Factor(path, 1.0, 0.0, top, tuple(locs), "profile"))
            continue
        if high <= low:
            skipped.append(Skipped(path, f"range [{low:g}, {high:g}] has no width"))
            continue
        kind: Literal["number", "share"] = (
            "share" if len(locs[0]) >= 2 and locs[0][-2] in MIX_FIELDS else "number")
        # the value the scenario holds (it is the assumption's unless a test passes others)
        factor = Factor(path, float(_get(resolved, locs[0])), low, high, tuple(locs), kind)
        problem = _invalid_end(resolved, factor)
        if problem:
            skipped.append(Skipped(path, problem))
        else:
            factors.append(factor)
    return factors, skipped


def _invalid_end(resolved: Mapping[str, Any], factor: Factor) -> str:
    """Why the scenario is invalid with ``factor`` at an end of its range ("" if it is not):
    such an assumption cannot be varied over its range without changing others too."""
    for x in (factor.low, factor.high):
        try:
            patched(resolved, [factor], [x])
        except ScenarioError as e:
            msg = str(e).splitlines()[0].removeprefix("<sensitivity>: ")
            return f"the scenario is invalid at {x:g}: {msg}"
    return ""


# --------------------------------------------------------------------------- applying
def _set_number(data: Any, loc: Loc, x: float) -> None:
    parent = _get(data, loc[:-1])
    old = parent[loc[-1]]
    parent[loc[-1]] = round(x) if isinstance(old, int) and not isinstance(old, bool) else x


def patched_dict(resolved: Mapping[str, Any], factors: Sequence[Factor],
                 values: Sequence[float]) -> dict[str, Any]:
    """The resolved scenario with each factor set to its value (see the module notes)."""
    data = copy.deepcopy(dict(resolved))
    changed: dict[Loc, dict[str, float]] = {}
    for f, x in zip(factors, values, strict=True):
        for loc in f.targets:
            if f.kind == "profile":
                base = np.asarray(_get(resolved, loc), dtype=float)
                m = float(base.mean())
                _get(data, loc[:-1])[loc[-1]] = [float(v) for v in m + x * (base - m)]
            elif f.kind == "share":
                if x != _get(resolved, loc):
                    changed.setdefault(loc[:-1], {})[str(loc[-1])] = float(x)
            else:
                _set_number(data, loc, x)
    for mix_loc, new in changed.items():
        mix = _get(data, mix_loc)
        rest = [k for k in mix if k not in new]
        left = 1.0 - sum(new.values())
        old_rest = sum(mix[k] for k in rest)
        if rest and old_rest > 0 and left >= 0:
            mix.update(new)
            for k in rest:
                mix[k] = mix[k] * left / old_rest
        else:  # every share changed, or the changed ones alone exceed 1: normalise all
            mix.update(new)
            total = sum(mix.values())
            for k in mix:
                mix[k] = mix[k] / total
    return data


def patched(resolved: Mapping[str, Any], factors: Sequence[Factor],
            values: Sequence[float]) -> Scenario:
    """A new scenario with each factor set to its value."""
    return scenario_from_dict(patched_dict(resolved, factors, values), "<sensitivity>")


# --------------------------------------------------------------------------- running
def _outcomes(point: Point, stages: Sequence[str]) -> pd.DataFrame:
    """Compliance of one point: rows replication, columns (community_type, stage)."""
    tidy = pd.concat([point.results[r] for r in sorted(point.results)], ignore_index=True)
    tidy = tidy[tidy["stage"].isin(stages)]
    wide = tidy.pivot_table(index="replication", columns=["community_type", "stage"],
                            values="compliance", dropna=False, aggfunc="first")
    return wide.sort_index(axis=1)


def _run(scenarios: Sequence[Scenario], seed: int, replications: int, executor: Executor,
         progress: Callable[[int, int], None] | None) -> list[Point]:
    points = [Point(i, {}, s) for i, s in enumerate(scenarios)]
    total = len(points) * replications
    done = [0]

    def tick(_p: Point, _r: int) -> None:
        done[0] += 1
        if progress:
            progress(done[0], total)

    run_points(points, seed, replications, executor, on_replication=tick)
    return points


def oat_table(factors: Sequence[Factor], base: pd.DataFrame,
              sides: Mapping[tuple[int, str], pd.DataFrame], level: float = 0.95
              ) -> pd.DataFrame:
    """Paired differences (setting minus base) per factor x side x community type x stage.

    ``sides[(j, "low"|"high")]`` is the per-replication compliance at that setting, laid
    out as ``base`` (rows replications, columns (community_type, stage)).
    """
    rows: list[dict[str, Any]] = []
    for j, f in enumerate(factors):
        for side in ("low", "high"):
            y = sides[(j, side)].reindex(columns=base.columns)
            diff = (y - base).to_numpy(dtype=float)
            n = np.sum(~np.isnan(diff), axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(n > 0, np.nansum(diff, axis=0) / np.maximum(n, 1), np.nan)
                sd = np.array([np.nanstd(diff[:, c], ddof=1) if n[c] > 1 else np.nan
                               for c in range(diff.shape[1])])
            hw = t_halfwidth(np.where(n > 1, sd, np.nan), n, level)
            for c, col in enumerate(base.columns):
                ctype, stage = str(col[0]), str(col[1])
                rows.append({
                    "assumption": f.path, "kind": f.kind, "side": side,
                    "setting": f.low if side == "low" else f.high, "value": f.value,
                    "low": f.low, "high": f.high, "community_type": ctype, "stage": stage,
                    "base_compliance": float(np.nanmean(base.iloc[:, c]))
                    if base.iloc[:, c].notna().any() else np.nan,
                    "compliance": float(np.nanmean(y.iloc[:, c]))
                    if y.iloc[:, c].notna().any() else np.nan,
                    "effect": float(mean[c]), "ci_low": float(mean[c] - hw[c]),
                    "ci_high": float(mean[c] + hw[c]), "replications": int(n[c]),
                })
    return pd.DataFrame(rows)


def morris_table(factors: Sequence[Factor], x: np.ndarray, y: pd.DataFrame, seed: int,
                 resamples: int = 1000, level: float = 0.95) -> pd.DataFrame:
    """Morris mu, mu* (with its bootstrap CI half-width) and sigma per factor x outcome.

    ``x`` is the SALib sample, ``y`` the mean compliance of each of its rows (columns
    (community_type, stage)).  An outcome with no requests at some point is left out.
    """
    from SALib.analyze import morris as morris_analyze

    problem = _problem(factors)
    rows: list[dict[str, Any]] = []
    for col in y.columns:
        out = y[col].to_numpy(dtype=float)
        if np.isnan(out).any():
            continue
        si = morris_analyze.analyze(problem, x, out, num_resamples=resamples,
                                    conf_level=level, num_levels=MORRIS_LEVELS, seed=seed)
        for j, f in enumerate(factors):
            rows.append({
                "assumption": f.path, "kind": f.kind, "low": f.low, "high": f.high,
                "community_type": col[0], "stage": col[1],
                "mu": float(si["mu"][j]), "mu_star": float(si["mu_star"][j]),
                "mu_star_conf": float(si["mu_star_conf"][j]), "sigma": float(si["sigma"][j]),
            })
    return pd.DataFrame(rows)


def oat_design(factors: Sequence[Factor]
               ) -> tuple[list[list[float]], dict[tuple[int, str], int]]:
    """The settings of a one-at-a-time analysis: the shipped values first, then each
    factor at its low and high end; and which setting is ``(factor index, side)``.  A
    side equal to the shipped value is the first setting itself (its effect is exactly 0).
    """
    values = [f.value for f in factors]
    runs: list[list[float]] = [values]
    where: dict[tuple[int, str], int] = {}
    for j, f in enumerate(factors):
        for side, x in (("low", f.low), ("high", f.high)):
            if x == f.value:
                where[(j, side)] = 0
                continue
            where[(j, side)] = len(runs)
            runs.append([*values[:j], x, *values[j + 1:]])
    return runs, where


def _problem(factors: Sequence[Factor]) -> dict[str, Any]:
    return {"num_vars": len(factors), "names": [f.path for f in factors],
            "bounds": [[f.low, f.high] for f in factors]}


def morris_sample(factors: Sequence[Factor], trajectories: int, seed: int) -> np.ndarray:
    """SALib's Morris design: ``trajectories`` x (k + 1) rows, 4 levels, uniform ranges."""
    from SALib.sample import morris as morris_sample_mod

    x = morris_sample_mod.sample(_problem(factors), trajectories, num_levels=MORRIS_LEVELS,
                                 seed=seed)
    return np.asarray(x, dtype=float)


def sensitivity(
    scenario: Scenario,
    raw: Mapping[str, Any],
    method: Method = "both",
    replications: int = 3,
    trajectories: int = 10,
    stages: Sequence[str] = OUTCOMES,
    seed: int | None = None,
    horizon_days: float | None = None,
    jobs: int | None = None,
    dask: str | None = None,
    name: str = "",
    ranges: Mapping[str, tuple[sources.Number, sources.Pair]] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> SensitivityResult:
    """Vary every assumption reaching ``scenario`` within its range.

    Parameters
    ----------
    scenario, raw:
        The scenario and the data it was loaded from (to tell preset values from the
        scenario's own).
    method:
        ``oat`` (each assumption at its low and high, all else as shipped), ``morris``
        (elementary effects over ``trajectories`` trajectories) or ``both``.
    replications:
        Replications per model run; every run uses replication seeds ``0..n-1`` of
        ``seed`` (default: the scenario's).
    stages:
        Outcomes to report (stages and ``joint``).
    horizon_days:
        Shorter (or longer) run than the scenario's, to fit a budget.
    jobs, dask:
        Where runs go (see :func:`sim.executors.make_executor`); results do not depend on it.
    progress:
        Called as ``progress(method, done, total)`` per finished replication.
    """
    seed = scenario.run.seed if seed is None else seed
    if horizon_days is not None:
        scenario = scenario.model_copy(update={"run": scenario.run.model_copy(
            update={"horizon_days": float(horizon_days)})})
        scenario = scenario_from_dict(resolved_dict(scenario), "<sensitivity>")
    factors, skipped = scenario_factors(scenario, raw, ranges)
    resolved = resolved_dict(scenario)
    settings = Settings(name, seed, replications, scenario.run.horizon_days,
                        scenario.run.warmup_days, method, trajectories, list(stages),
                        len(factors), len(skipped))
    result = SensitivityResult(settings, factors, skipped)
    if not factors:
        return result
    executor = make_executor(jobs, dask)

    def report(kind: str) -> Callable[[int, int], None] | None:
        return (lambda d, t: progress(kind, d, t)) if progress else None

    try:
        if method in ("oat", "both"):
            runs, where = oat_design(factors)
            points = _run([patched(resolved, factors, v) for v in runs], seed, replications,
                          executor, report("oat"))
            ys = [_outcomes(p, stages) for p in points]
            result.oat = oat_table(factors, ys[0], {k: ys[i] for k, i in where.items()})
            settings.model_runs += len(runs) * replications
        if method in ("morris", "both"):
            design = morris_sample(factors, trajectories, seed)
            points = _run([patched(resolved, factors, list(row)) for row in design], seed,
                          replications, executor, report("morris"))
            means = pd.DataFrame([_outcomes(p, stages).mean(axis=0) for p in points])
            result.morris = morris_table(factors, design, means, seed)
            settings.morris_left_out = [f"{col[0]}/{col[1]}" for col in means.columns
                                        if means[col].isna().any()]
            settings.model_runs += len(design) * replications
    finally:
        executor.close()
    return result


# --------------------------------------------------------------------------- writing
def write_result(result: SensitivityResult, outdir: str | Path, top: int = 5) -> Path:
    """Write the tables, the ranking, the tornado figure and ``sensitivity.html``."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    for name, table in ((OAT_FILE, result.oat), (MORRIS_FILE, result.morris)):
        if table.empty:  # a method not run leaves no table from an earlier analysis
            (out / name).unlink(missing_ok=True)
        else:
            atomic_write_frame(out / name, table)
    atomic_write_frame(out / "sensitivity_ranking.csv", result.ranking(top))
    atomic_write_frame(out / "sensitivity_factors.csv", pd.DataFrame(
        [{**asdict(f), "targets": ";".join(".".join(map(str, t)) for t in f.targets)}
         for f in result.factors]))
    atomic_write_frame(out / "sensitivity_skipped.csv", pd.DataFrame(
        [asdict(s) for s in result.skipped], columns=["path", "reason"]))
    atomic_write_text(out / "sensitivity.json",
                      json.dumps(asdict(result.settings), indent=2) + "\n")
    return write_page(out, top)


def model_runs(factors: Sequence[Factor], method: Method, replications: int,
               trajectories: int) -> int:
    """How many replications an analysis will run (for sizing a budget)."""
    oat = len(oat_design(factors)[0])
    morris = trajectories * (len(factors) + 1)
    n = (oat if method != "morris" else 0) + (morris if method != "oat" else 0)
    return n * replications


__all__ = [
    "Factor", "SensitivityResult", "Settings", "Skipped", "model_runs", "morris_sample",
    "morris_table", "oat_design", "oat_table", "patched", "patched_dict", "scenario_factors",
    "sensitivity", "write_result",
]
