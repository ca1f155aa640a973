"""Key outputs of every shipped scenario at a fixed seed and a short horizon.

:func:`golden_table` is what ``tests/golden/<scenario>.csv`` holds; the golden test
compares it with the committed file and ``scripts/regenerate_golden.py`` rewrites them.
Rows are ``metric, group, stage, value``:

* ``compliance`` -- mean over replications, per community type (and ``all``) x outcome;
* ``requests`` -- decided outcomes per community type x outcome, summed over replications;
* ``utilisation`` -- busy over on-duty minutes after warm-up, per pool (per staff kind for
  scenarios with more than :data:`MAX_POOLS` pools), pooled over replications;
* ``weekly_cost`` -- staffing cost per week, in total and per staff kind.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import sim
from sim.config import Scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
GOLDEN = Path(__file__).resolve().parent / "golden"
HORIZON_DAYS = 7.0
WARMUP_DAYS = 1.0
REPLICATIONS = 2
MAX_POOLS = 50
COLUMNS = ["metric", "group", "stage", "value"]


def short(scenario: Scenario) -> Scenario:
    """The scenario cut to the golden horizon, warm-up and replications (seed kept)."""
    run = scenario.run.model_copy(update={
        "horizon_days": HORIZON_DAYS, "warmup_days": WARMUP_DAYS,
        "replications": REPLICATIONS})
    return scenario.model_copy(update={"run": run})


def scenario_files() -> list[Path]:
    return sorted(SCENARIOS.glob("*.yaml"))


def golden_table(path: Path) -> pd.DataFrame:
    """The golden rows of one scenario file (see the module docstring)."""
    sc = short(sim.load_scenario(path))
    exp = sim.replicate(sc)
    rows: list[tuple[str, str, str, float]] = []
    comp = pd.concat([exp.compliance(None), exp.compliance("community_type")])
    for r in comp.itertuples(index=False):
        rows.append(("compliance", str(r.group), str(r.stage), float(r.mean)))
        rows.append(("requests", str(r.group), str(r.stage), float(r.requests)))
    load = exp.load
    key = "pool" if load["pool"].nunique() <= MAX_POOLS else "kind"
    sums = load.groupby(key, observed=True)[["busy_min", "on_duty_min"]].sum()
    for name, s in sums.iterrows():
        util = s["busy_min"] / s["on_duty_min"] if s["on_duty_min"] > 0 else np.nan
        rows.append(("utilisation", str(name), "", float(util)))
    pools = exp.pools[exp.pools["replication"] == 0]
    rows.append(("weekly_cost", "all", "", float(pools["weekly_cost"].sum())))
    for kind, cost in pools.groupby("kind", observed=True)["weekly_cost"].sum().items():
        rows.append(("weekly_cost", str(kind), "", float(cost)))
    return pd.DataFrame(rows, columns=COLUMNS)


def golden_path(path: Path) -> Path:
    return GOLDEN / f"{path.stem}.csv"


def write(table: pd.DataFrame, path: Path) -> None:
    """Write with round-trip precision, so reading back gives the same floats."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, float_format="%.17g", lineterminator="\n")


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"metric": str, "group": str, "stage": str},
                       keep_default_na=False, na_values={"value": ["", "nan", "NaN"]})
