"""Reduced scenarios against queueing theory (Erlang C, Little's law).

Each comparison asks whether the exact value lies inside the simulated confidence
interval across independent replications.  Nine intervals are checked at once, so each
uses the Bonferroni level 1 - 0.05/9: the family of checks holds with 95% confidence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.experiment import replicate, summarise
from sim.queueing import erlang_c, mmc_mean_in_system, mmc_mean_wait, mmc_wait_cdf
from sim.validation import mmc_scenario

CASES = [  # servers, utilisation, mean service (min)
    (1, 0.5, 10.0),
    (3, 0.8, 10.0),
    (5, 0.9, 6.0),
]
N_CHECKS = 3 * len(CASES)
LEVEL = 1 - 0.05 / N_CHECKS


def _run(servers: int, rho: float, mean_service: float, days: float = 40, reps: int = 10):  # type: ignore[no-untyped-def]
    lam_per_hour = rho * servers / mean_service * 60.0
    sc = mmc_scenario(lam_per_hour, mean_service, servers, horizon_days=days, seed=7,
                      replications=reps)
    return sc, replicate(sc)


def _ci(values: pd.Series, reps: pd.Series) -> tuple[float, float]:
    per_rep = pd.DataFrame({"replication": reps.to_numpy(), "v": values.to_numpy(dtype=float)})
    per_rep = per_rep.groupby("replication", as_index=False)["v"].mean()
    per_rep["k"] = 0
    s = summarise(per_rep, ["k"], "v", LEVEL).iloc[0]
    return float(s["ci_low"]), float(s["ci_high"])


@pytest.mark.parametrize(("servers", "rho", "mean_service"), CASES)
def test_mmc_waiting_time_matches_erlang_c(servers: int, rho: float, mean_service: float) -> None:
    _, exp = _run(servers, rho, mean_service)
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
    simulated = {
        "P(wait)": _ci((wait > 1e-9).astype(float), reps),
        "mean wait": _ci(wait, reps),
        "P(wait <= mean service)": _ci((wait <= mean_service).astype(float), reps),
    }
    for name, value in exact.items():
        lo, hi = simulated[name]
        assert lo <= value <= hi, f"{name}: exact {value:.4f} outside [{lo:.4f}, {hi:.4f}]"
        assert hi - lo < 0.4 * value + 0.05, f"{name}: CI too wide to mean much"


def test_littles_law_monitor_equals_records_and_theory() -> None:
    servers, rho, mean_service = 3, 0.8, 10.0
    sc, exp = _run(servers, rho, mean_service, days=30, reps=8)
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
    s = summarise(pd.DataFrame(per_rep), ["k"], "L", 0.95).iloc[0]
    lam = rho * servers / mean_service
    exact_l = mmc_mean_in_system(servers, lam, mean_service)
    assert s["ci_low"] <= exact_l <= s["ci_high"]
