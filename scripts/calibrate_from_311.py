"""Derive calibration figures for the simulator from a real 311 service-request log.

Reads the Baltimore 311 sample in place (its licence is unknown, so it is never copied into
this repository) and prints, for residents' requests only (``MethodReceived != "Internal"``):

1. the hour-of-day profile of local creation time (24 weights averaging 1.0);
2. the day-of-week profile, Monday..Sunday (7 weights averaging 1.0);
3. the channel mix (shares of ``MethodReceived``);
4. close-minus-created durations for field-work-like categories with enough rows.

``CreatedDate`` appears to be stored 5 h (EST) / 4 h (EDT) behind local time
(see ``shared/data/README.md``); it is shifted forward using US Eastern DST rules, with the
DST flag taken from the stored time, so a few hours around each changeover may be off by 1 h.
Durations need no shift. Rows without ``CloseDate`` are censored: excluded from the
median/mean/CV and counted as not closed in the within-4 h/24 h shares.

Usage::

    python scripts/calibrate_from_311.py [PATH] [--yaml] [--min-rows N]

The figures the presets use are also functions of the log's path (:func:`hour_profile`,
:func:`weekday_profile`, :func:`weekday_profile_halfway_to_flat`, :func:`close_time_cv`),
so ``sim/presets/sources.yaml`` can name the call that reproduces each number.  The
weights are computed by :func:`sim.calibrate.profiles.relative_weights`.  For a whole
calibrated scenario from this or any other log (rates, profiles with intervals, censored
duration fits, a check against the log) use ``sim calibrate LOG --format baltimore311``.
"""

import argparse
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibrate.profiles import relative_weights

__all__ = ["close_time_cv", "hour_profile", "relative_weights", "weekday_profile",
           "weekday_profile_halfway_to_flat"]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = REPO_ROOT.parent / "shared" / "data" / "baltimore311" / "311_sample.csv"
DATE_FORMAT = "%m/%d/%Y %I:%M:%S %p"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TOP_CHANNELS = 3
TOP_TYPES = 15
# Categories whose closure needs someone on site; kept only if they reach --min-rows.
FIELD_TYPES = (
    "TRS-Parking Complaint",
    "TRS-48 Hour Parking Complaint",
    "TRT-Traffic Signal Repairs",
    "BGE-StLight(s) Out",
    "WW-Water Leak (Exterior)",
    "WW-Water No Water",
    "TRM-Pothole Repair",
)


def load_residents(path: Path) -> pd.DataFrame:
    """Read the log, drop staff-raised rows, add local creation time and duration in hours."""
    cols = ["SRType", "MethodReceived", "CreatedDate", "CloseDate", "SRStatus"]
    df = pd.read_csv(path, usecols=cols)
    df = df[df["MethodReceived"] != "Internal"].copy()
    stored = pd.to_datetime(df["CreatedDate"], format=DATE_FORMAT)
    closed = pd.to_datetime(df["CloseDate"], format=DATE_FORMAT)
    df["created_local"] = stored + eastern_offset(stored)
    df["duration_h"] = (closed - stored).dt.total_seconds() / 3600.0
    return df


def eastern_offset(stored: pd.Series) -> pd.Series:
    """Hours behind local time: 5 h under EST, 4 h under EDT (US rules via tz database)."""
    aware = stored.dt.tz_localize("America/New_York", ambiguous=True, nonexistent="shift_forward")
    offset: pd.Series = aware.dt.tz_convert("UTC").dt.tz_localize(None) - stored
    return offset


@cache
def residents(path: Path = DEFAULT_PATH) -> pd.DataFrame:
    """:func:`load_residents`, read once per path."""
    return load_residents(path)


def hour_profile(path: Path = DEFAULT_PATH) -> list[float]:
    """Hour-of-day weights (local time, mean 1.0, 2 decimals) of residents' requests."""
    return relative_weights(residents(path)["created_local"].dt.hour, 24)


def weekday_profile(path: Path = DEFAULT_PATH) -> list[float]:
    """Monday..Sunday weights (mean 1.0, 2 decimals) of residents' requests."""
    return relative_weights(residents(path)["created_local"].dt.day_of_week, 7)


def weekday_profile_halfway_to_flat(path: Path = DEFAULT_PATH) -> list[float]:
    """:func:`weekday_profile` moved halfway towards a flat week (every weight 1.0)."""
    return [round((w + 1.0) / 2.0, 3) for w in weekday_profile(path)]


def close_time_cv(path: Path, sr_type: str) -> float:
    """Coefficient of variation of close-minus-created time of one ``SRType`` (closed rows)."""
    done = residents(path).loc[lambda d: d["SRType"] == sr_type, "duration_h"].dropna()
    return round(float(done.std() / done.mean()), 2)


def channel_mix(channels: pd.Series) -> pd.Series:
    """Shares of the top channels, with the remainder pooled as 'other (...)'."""
    shares = channels.value_counts(normalize=True)
    top, rest = shares.iloc[:TOP_CHANNELS], shares.iloc[TOP_CHANNELS:]
    if rest.empty:
        return top
    label = "other (" + ", ".join(rest.index) + ")"
    return pd.concat([top, pd.Series({label: rest.sum()})])


def duration_table(df: pd.DataFrame, min_rows: int) -> pd.DataFrame:
    """Close-time statistics per field-work category with at least ``min_rows`` rows."""
    rows = []
    for sr_type in FIELD_TYPES:
        dur = df.loc[df["SRType"] == sr_type, "duration_h"]
        if len(dur) < min_rows:
            continue
        done = dur.dropna()
        status = df.loc[dur.index, "SRStatus"]
        rows.append(
            {
                "SRType": sr_type,
                "n": len(dur),
                "censored": int(dur.isna().sum()),
                "duplicate": int(status.str.contains("Duplicate").sum()),
                "under_1min": int((done < 1 / 60).sum()),
                "median_h": done.median(),
                "mean_h": done.mean(),
                "cv": done.std() / done.mean(),
                # Censored rows count as not closed: a lower bound if any were very recent.
                "closed_4h": float(np.mean(dur.fillna(np.inf) <= 4)),
                "closed_24h": float(np.mean(dur.fillna(np.inf) <= 24)),
            }
        )
    return pd.DataFrame(rows).set_index("SRType").round(2)


def print_text(df: pd.DataFrame, hours: list[float], days: list[float], min_rows: int) -> None:
    """Human-readable report."""
    print(f"Residents' requests: {len(df)} (Internal excluded)")
    print(f"Created (local): {df['created_local'].min()} .. {df['created_local'].max()}\n")
    print("Hour-of-day weights (local, mean 1.0):")
    for start in (0, 8, 16):
        print("  " + "  ".join(f"{h:02d}h {hours[h]:.2f}" for h in range(start, start + 8)))
    print("\nDay-of-week weights (mean 1.0):")
    print("  " + "  ".join(f"{d}:{w:.2f}" for d, w in zip(WEEKDAYS, days, strict=True)))
    print("\nChannel mix:")
    for name, share in channel_mix(df["MethodReceived"]).items():
        print(f"  {name:<40} {share:6.1%}")
    print(f"\nTop {TOP_TYPES} SRType counts:")
    print(df["SRType"].value_counts().head(TOP_TYPES).to_string())
    print(f"\nClose minus created, hours (field-work categories with >= {min_rows} rows):")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(duration_table(df, min_rows).to_string())
    print(f"\nRows without close date (censored): {int(df['duration_h'].isna().sum())}")


def print_yaml(df: pd.DataFrame, hours: list[float], days: list[float]) -> None:
    """YAML fragment for a preset file."""
    print(f"# Baltimore 311 sample, {len(df)} residents' requests (Internal excluded),")
    print("# local time; weights average 1.0. Generated by scripts/calibrate_from_311.py")
    print(f"hour_profile: [{', '.join(f'{w:.2f}' for w in hours)}]")
    print(f"weekday_profile: [{', '.join(f'{w:.2f}' for w in days)}]  # Mon..Sun")


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, compute the figures and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH, help="311 CSV")
    parser.add_argument("--yaml", action="store_true", help="print a YAML fragment instead")
    parser.add_argument("--min-rows", type=int, default=100, help="minimum rows per category")
    args = parser.parse_args(argv)
    df = residents(args.path)
    hours, days = hour_profile(args.path), weekday_profile(args.path)
    if args.yaml:
        print_yaml(df, hours, days)
    else:
        print_text(df, hours, days, args.min_rows)


if __name__ == "__main__":
    main()
