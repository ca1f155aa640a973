"""Reduced scenarios against queueing theory (Erlang C, Little's law).

Each comparison asks whether the exact value lies inside a confidence interval built from
independent replications: one mean per replication, so the autocorrelation between
customers of one replication is inside each observation and the t interval across
replications is valid.  Each test may fail by chance with probability at most
:data:`ALPHA` (0.2 %): a test with ``k`` comparisons uses the Bonferroni level
``1 - ALPHA / k`` for each.  The system starts empty, so the first :data:`WARMUP_DAYS`
are discarded (the M/M/c queues here relax in hours).

The seed comes from ``SIM_TEST_SEED`` (see ``scripts/seed_robustness.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.config import Scenario, scenario_from_dict
from sim.experiment import ExperimentResult, replicate, summarise
from sim.queueing import erlang_c, mmc_mean_in_system, mmc_mean_wait, mmc_wait_cdf
from sim.validation import mmc_dict

pytestmark = pytest.mark.statistical

CASES = [  # servers, utilisation, mean service (min)
    (1, 0.5, 10.0),
    (3, 0.8, 10.0),
    (5, 0.9, 6.0),
]
ALPHA = 0.002
REPS = 20
DAYS = 20.0
WARMUP_DAYS = 2.0


def _run(servers: int, rho: float, mean_service: float, seed: int, days: float = DAYS,
         reps: int = REPS) -> tuple[Scenario, ExperimentResult]:
    lam_per_hour = rho * servers / mean_service * 60.0
    sc = scenario_from_dict(mmc_dict(lam_per_hour, mean_service, servers, horizon_days=days,
                                     seed=seed, replications=reps, warmup_days=WARMUP_DAYS))
    return sc, replicate(sc)


def _ci(values: pd.Series, reps: pd.Series, level: float) -> tuple[float, float]:
    """CI of the mean across replications of the per-replication means of ``values``."""
    rows = pd.DataFrame({"replication": reps.to_numpy(), "v": values.to_numpy(dtype=float)})
    per_rep = rows.groupby("replication", as_index=False)["v"].mean().assign(k=0)
    s = summarise(per_rep, ["k"], "v", level).iloc[0]
    assert s["replications"] == REPS
    return float(s["ci_low"]), float(s["ci_high"])


@pytest.mark.parametrize(("servers", "rho", "mean_service"), CASES)
def test_mmc_waiting_time_matches_erlang_c(
    servers: int, rho: float, mean_service: float, stat_seed: int
) -> None:
    _, exp = _run(servers, rho, mean_service, stat_seed)
    req = exp.measured
    wait = req["responded_min"] - req["created_min"]
    assert wait.notna().mean() > 0.999  # almost nothing censored at the horizon
    ok = wait.notna()
    wait, reps = wait[ok], req.loc[ok, "replication"]
    lam = rho * servers / mean_service  # per minute
    exact = {
        "P(wait)": erlang_c(servers, lam * mean_service),
        "mean wait": mmc_mean_wait(servers, lam, mean_service),
        "P(wait <= mean service)": mmc_wait_cdf(mean_service, servers, lam, mean_service),
    }
    level = 1 - ALPHA / len(exact)
    simulated = {
        "P(wait)": _ci((wait > 1e-9).astype(float), reps, level),
        "mean wait": _ci(wait, reps, level),
        "P(wait <= mean service)": _ci((wait <= mean_service).astype(float), reps, level),
    }
    for name, value in exact.items():
        lo, hi = simulated[name]
        assert lo <= value <= hi, f"{name}: exact {value:.4f} outside [{lo:.4f}, {hi:.4f}]"
        # power: the half-width is under 25% of the value, so a 25% error would show
        assert hi - lo < 0.5 * value, f"{name}: CI [{lo:.4f}, {hi:.4f}] too wide to mean much"


def test_littles_law_monitor_equals_records_and_theory(stat_seed: int) -> None:
    servers, rho, mean_service = 3, 0.8, 10.0
    sc, exp = _run(servers, rho, mean_service, stat_seed, days=15)
    w0, horizon = sc.run.warmup_min, sc.run.horizon_min
    req = exp.requests
    load = exp.load
    per_rep = []
    for r, g in req.groupby("replication"):
        start = g["created_min"].to_numpy()
        end = g["finished_min"].fillna(horizon).to_numpy()
        # sample-path identity: area under "number in system" = sum of overlaps
        overlap = np.clip(np.minimum(end, horizon) - np.maximum(start, w0), 0, None).sum()
        lr = load[load["replication"] == r]
        area = (lr["busy_min"] + lr["queue_min"]).sum()
        assert area == pytest.approx(overlap, rel=1e-9)
        per_rep.append({"replication": r, "L": area / (horizon - w0), "k": 0})
    s = summarise(pd.DataFrame(per_rep), ["k"], "L", 1 - ALPHA).iloc[0]
    lam = rho * servers / mean_service
    exact_l = mmc_mean_in_system(servers, lam, mean_service)
    assert s["ci_low"] <= exact_l <= s["ci_high"]
    assert s["ci_high"] - s["ci_low"] < 0.5 * exact_l
