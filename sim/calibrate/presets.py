"""Preset figures from a cleaned log: the numbers ``sim/presets/sources.yaml`` names.

The community-type presets borrow the Baltimore 311 sample's hour-of-day and weekday
curves and one close-time spread as stand-ins.  Each figure here is a function of the
log's path, read and cleaned by :func:`sim.calibrate.logs.read_log` through the built-in
``baltimore311`` mapping -- the same rows, clock and cleaning as
``sim calibrate LOG --format baltimore311`` -- so the sources file can name the call that
reproduces each number:

* :func:`hour_profile`, :func:`weekday_profile`: relative weights (mean 1.0, 2 decimals)
  of the local creation hour and weekday, i.e. 24 x / 7 x fit.csv's
  ``hour_share/(all)/*`` and ``weekday_share/(all)/*`` without the pseudo-count;
* :func:`weekday_profile_halfway_to_flat`: the weekday weights moved halfway to 1.0;
* :func:`close_time_cv`: the coefficient of variation of close-minus-created time of the
  closed requests of one raw category (open ones excluded).

:func:`channel_mix` and :func:`duration_table` summarise the same rows for a reader
(``scripts/calibrate_from_311.py`` prints them).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from sim.calibrate.logs import read_log
from sim.calibrate.mapping import builtin_mapping
from sim.calibrate.profiles import relative_weights

__all__ = ["FIELD_CATEGORIES", "FORMAT", "channel_mix", "close_time_cv", "close_time_hours",
           "duration_table", "hour_profile", "requests", "weekday_profile",
           "weekday_profile_halfway_to_flat"]

FORMAT: Final = "baltimore311"
"""The built-in mapping the preset figures are read through."""
FIELD_CATEGORIES: Final = (
    "TRS-Parking Complaint",
    "TRS-48 Hour Parking Complaint",
    "TRT-Traffic Signal Repairs",
    "BGE-StLight(s) Out",
    "WW-Water Leak (Exterior)",
    "WW-Water No Water",
    "TRM-Pothole Repair",
)
"""Raw Baltimore categories whose closure needs someone on site (:func:`duration_table`)."""


@cache
def requests(path: Path) -> pd.DataFrame:
    """The cleaned requests of the log at ``path`` (``CleanLog.requests``), read once."""
    return read_log(path, builtin_mapping(FORMAT)).requests


def hour_profile(path: Path) -> list[float]:
    """Hour-of-day weights (local time, mean 1.0, 2 decimals) of the kept requests."""
    return relative_weights(requests(path)["created"].dt.hour, 24)


def weekday_profile(path: Path) -> list[float]:
    """Monday..Sunday weights (mean 1.0, 2 decimals) of the kept requests."""
    return relative_weights(requests(path)["created"].dt.day_of_week, 7)


def weekday_profile_halfway_to_flat(path: Path) -> list[float]:
    """:func:`weekday_profile` moved halfway towards a flat week (every weight 1.0)."""
    return [round((w + 1.0) / 2.0, 3) for w in weekday_profile(path)]


def close_time_hours(path: Path) -> pd.Series:
    """Close minus created, hours, per kept request (NaN where still open)."""
    req = requests(path)
    hours: pd.Series = (req["closed"] - req["created"]).dt.total_seconds() / 3600.0
    return hours


def close_time_cv(path: Path, category: str) -> float:
    """Coefficient of variation (2 decimals) of the close time of one raw category's
    closed requests."""
    mask = requests(path)["category_raw"] == category
    done = close_time_hours(path)[mask].dropna()
    if done.empty:
        raise ValueError(f"{path}: no closed request of category {category!r}")
    return round(float(done.std() / done.mean()), 2)


def channel_mix(path: Path) -> pd.Series:
    """Shares of the scenario channels the mapping gives (unmapped ones as ``other``)."""
    shares: pd.Series = requests(path)["channel"].value_counts(normalize=True)
    return shares


def duration_table(path: Path, min_rows: int = 100) -> pd.DataFrame:
    """Close-time statistics (hours) per :data:`FIELD_CATEGORIES` entry with at least
    ``min_rows`` kept requests; open requests count as not closed in ``closed_4h/24h``."""
    req, hours = requests(path), close_time_hours(path)
    rows = []
    for cat in FIELD_CATEGORIES:
        dur = hours[req["category_raw"] == cat]
        if len(dur) < min_rows:
            continue
        done = dur.dropna()
        rows.append({
            "category": cat, "n": len(dur), "open": int(dur.isna().sum()),
            "median_h": done.median(), "mean_h": done.mean(),
            "cv": done.std() / done.mean(),
            "closed_4h": float(np.mean(dur.fillna(np.inf) <= 4)),
            "closed_24h": float(np.mean(dur.fillna(np.inf) <= 24)),
        })
    columns = ["category", "n", "open", "median_h", "mean_h", "cv", "closed_4h",
               "closed_24h"]
    return pd.DataFrame(rows, columns=columns).set_index("category").round(2)
