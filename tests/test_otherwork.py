"""Other work at staff pools: blocks, interruptions, absence, and the validation of
interruptions that pre-empt requests against preemptive-priority M/M/c results."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from sim.config import scenario_from_dict
from sim.experiment import replicate, summarise
from sim.model import simulate
from sim.queueing import preemptive_low_mean_response
from sim.validation import mmc_dict

# --------------------------------------------------------------------------- validation
PRIORITY_CASES = [  # servers, utilisation by other work, by requests, mean service (min)
    (1, 0.3, 0.4, 10.0),
    (3, 0.3, 0.45, 10.0),
]
N_CHECKS = 2 * len(PRIORITY_CASES)
LEVEL = 1 - 0.01 / N_CHECKS  # the family fails < 1% of seeds by chance


def _preemptive_dict(servers: int, rho_hi: float, rho_lo: float, mean: float,
                     days: float, reps: int) -> dict[str, Any]:
    lam_lo = rho_lo * servers / mean * 60.0  # per hour
    d = mmc_dict(lam_lo, mean, servers, horizon_days=days, seed=11, replications=reps)
    d["staff"][0]["interruptions"] = {
        "rate_per_hour": rho_hi * servers / mean * 60.0, "per": "pool",
        "duration": {"dist": "exponential", "mean_min": mean},
        "urgent_preempts": False, "preempts_requests": True,
    }
    return d


def _ci(per_rep: pd.DataFrame, value: str) -> tuple[float, float]:
    s = summarise(per_rep.assign(k=0), ["k"], value, LEVEL).iloc[0]
    return float(s["ci_low"]), float(s["ci_high"])


@pytest.mark.parametrize(("servers", "rho_hi", "rho_lo", "mean"), PRIORITY_CASES)
def test_preempting_other_work_reproduces_preemptive_priority_mmc(
    servers: int, rho_hi: float, rho_lo: float, mean: float
) -> None:
    sc = scenario_from_dict(_preemptive_dict(servers, rho_hi, rho_lo, mean, 60, 20), "<t>")
    exp = replicate(sc)
    req = exp.measured
    req = req[req["created_min"] <= sc.run.horizon_min - 1440.0]  # a day to finish
    sojourn = req["finished_min"] - req["created_min"]
    assert sojourn.notna().all()
    per_rep = (pd.DataFrame({"replication": req["replication"], "T": sojourn})
               .dropna().groupby("replication", as_index=False)["T"].mean())
    lam_hi, lam_lo = rho_hi * servers / mean, rho_lo * servers / mean  # per minute
    exact_t = preemptive_low_mean_response(servers, lam_hi, lam_lo, mean)
    if servers == 1:  # the textbook form, as a check on the closed form itself
        assert exact_t == pytest.approx(mean / ((1 - rho_hi) * (1 - rho_hi - rho_lo)))
    lo, hi = _ci(per_rep, "T")
    assert lo <= exact_t <= hi, f"mean response {exact_t:.3f} outside [{lo:.3f}, {hi:.3f}]"
    assert hi - lo < 0.3 * exact_t, "CI too wide to mean much"
    # people on other work: the high class alone is M/M/c, so its mean busy servers is rho1*c
    load = exp.load
    other = load.groupby("replication", as_index=False)[["other_min", "observed_min"]].sum()
    other["share"] = other["other_min"] / other["observed_min"]
    lo, hi = _ci(other, "share")
    assert lo <= rho_hi * servers <= hi, f"other work {rho_hi * servers} outside [{lo}, {hi}]"
