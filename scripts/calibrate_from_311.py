"""Print the preset figures derived from the Baltimore 311 sample (read in place).

A thin command-line view of :mod:`sim.calibrate.presets`, which reads the log with
``sim.calibrate.logs.read_log`` through the built-in ``baltimore311`` mapping (staff-raised,
duplicate, zero- and absurd-duration rows dropped; timestamps moved from their stored
clock, 5 h (EST) / 4 h (EDT) behind, to local time).  Prints the hour-of-day and weekday
weights (mean 1.0), the channel mix and close-time statistics of field-work categories;
``--yaml`` prints the preset fragment instead.  For a whole calibrated scenario (rates,
profiles with intervals, censored duration fits, a check against the log) use
``sim calibrate LOG --format baltimore311``.

Usage::

    python scripts/calibrate_from_311.py [PATH] [--yaml] [--min-rows N]
"""

import argparse
from pathlib import Path

import pandas as pd

from sim.calibrate import presets

DEFAULT_PATH = (Path(__file__).resolve().parent.parent.parent / "shared" / "data"
                / "baltimore311" / "311_sample.csv")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def print_text(path: Path, min_rows: int) -> None:
    """Human-readable report."""
    req = presets.requests(path)
    hours, days = presets.hour_profile(path), presets.weekday_profile(path)
    print(f"Requests kept: {len(req)} (read and cleaned as --format {presets.FORMAT})")
    print(f"Created (local): {req['created'].min()} .. {req['created'].max()}\n")
    print("Hour-of-day weights (local, mean 1.0):")
    for start in (0, 8, 16):
        print("  " + "  ".join(f"{h:02d}h {hours[h]:.2f}" for h in range(start, start + 8)))
    print("\nDay-of-week weights (mean 1.0):")
    print("  " + "  ".join(f"{d}:{w:.2f}" for d, w in zip(WEEKDAYS, days, strict=True)))
    print("\nChannel mix:")
    for name, share in presets.channel_mix(path).items():
        print(f"  {name:<20} {share:6.1%}")
    print("\nTop 15 categories:")
    print(req["category_raw"].value_counts().head(15).to_string())
    print(f"\nClose minus created, hours (field-work categories with >= {min_rows} rows):")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(presets.duration_table(path, min_rows).to_string())
    print(f"\nOpen requests (censored): {int(req['open'].sum())}")


def print_yaml(path: Path) -> None:
    """YAML fragment for a preset file."""
    hours, days = presets.hour_profile(path), presets.weekday_profile(path)
    print(f"# Baltimore 311 sample, {len(presets.requests(path))} requests kept "
          f"(--format {presets.FORMAT} cleaning),")
    print("# local time; weights average 1.0. From sim.calibrate.presets")
    print(f"hour_profile: [{', '.join(f'{w:.2f}' for w in hours)}]")
    print(f"weekday_profile: [{', '.join(f'{w:.2f}' for w in days)}]  # Mon..Sun")


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH, help="311 CSV")
    parser.add_argument("--yaml", action="store_true", help="print a YAML fragment instead")
    parser.add_argument("--min-rows", type=int, default=100, help="minimum rows per category")
    args = parser.parse_args(argv)
    if args.yaml:
        print_yaml(args.path)
    else:
        print_text(args.path, args.min_rows)


if __name__ == "__main__":
    main()
