"""Paired differences of compliance between staffing points (common random numbers).

Every point of a sweep runs the same replication indices with the same seed, so the
arrivals and service times of replication ``r`` are the same at every point; the
difference ``point - baseline`` within one replication removes that shared noise.  The
mean difference gets a Student-t interval across replications (paired), shown beside
the interval an unpaired (Welch) comparison of the two means would give.

Pure table arithmetic: never imports simpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

KEYS = ("community_type", "stage")


def _main(tidy: pd.DataFrame) -> pd.DataFrame:
    return tidy[tidy["by"] == ""] if "by" in tidy.columns else tidy


def paired_differences(tidy: pd.DataFrame, baseline: pd.DataFrame, keys: Sequence[str],
                       level: float = 0.95,
                       groups: Sequence[str] = KEYS) -> pd.DataFrame:
    """Mean difference (point - baseline) per ``keys`` x ``groups`` with paired and
    unpaired confidence intervals.

    Parameters
    ----------
    tidy:
        Per-replication compliance of the points (columns ``replication``, ``keys``,
        ``groups``, ``compliance``).
    baseline:
        The same for the baseline point (its ``keys`` columns are ignored).
    groups:
        Columns that identify a compliance share within a point (default community type
        and stage).

    Returns
    -------
    DataFrame
        ``keys, groups, compliance, baseline, difference, ci_low, ci_high, halfwidth,
        unpaired_halfwidth, replications`` (shares, not percentage points); only
        replications both sides decided are paired.
    """
    on = ["replication", *groups]
    base = _main(baseline)[[*on, "compliance"]].rename(columns={"compliance": "baseline"})
    m = _main(tidy)[[*keys, *on, "compliance"]].merge(base, on=on).dropna(
        subset=["compliance", "baseline"])
    m["difference"] = m["compliance"] - m["baseline"]
    g = m.groupby([*keys, *groups], observed=True, sort=False)
    out = g.agg(compliance=("compliance", "mean"), baseline=("baseline", "mean"),
                difference=("difference", "mean"), sd=("difference", "std"),
                sd_point=("compliance", "std"), sd_base=("baseline", "std"),
                replications=("difference", "count")).reset_index()
    n = out["replications"].to_numpy(dtype=float)
    q = stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        hw = np.where(n > 1, q * out["sd"].fillna(0).to_numpy() / np.sqrt(n), np.nan)
        v1 = out["sd_point"].fillna(0).to_numpy() ** 2 / n
        v2 = out["sd_base"].fillna(0).to_numpy() ** 2 / n
        df = np.where(v1 + v2 > 0, (v1 + v2) ** 2 / ((v1 ** 2 + v2 ** 2) / np.maximum(n - 1, 1)
                                                     + 1e-300), 2 * n - 2)
        q2 = stats.t.ppf(0.5 + level / 2, np.maximum(df, 1))
        unpaired = np.where(n > 1, q2 * np.sqrt(v1 + v2), np.nan)
    out["halfwidth"] = hw
    out["ci_low"] = out["difference"] - hw
    out["ci_high"] = out["difference"] + hw
    out["unpaired_halfwidth"] = unpaired
    cols = [*keys, *groups, "compliance", "baseline", "difference", "ci_low", "ci_high",
            "halfwidth", "unpaired_halfwidth", "replications"]
    return out[cols]


def fmt_difference(diff: float, hw: float) -> str:
    """``+1.7 ± 0.3`` in percentage points; ``n/a`` when nothing was paired."""
    if pd.isna(diff):
        return "n/a"
    if pd.isna(hw):
        return f"{100 * diff:+.1f}"
    return f"{100 * diff:+.1f} ± {100 * hw:.1f}"


__all__ = ["fmt_difference", "paired_differences"]
