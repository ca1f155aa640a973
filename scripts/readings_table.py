"""Print the README's table of both clocks and both readings of 2341 for shipped scenarios.

    python scripts/readings_table.py                       # every scenario below
    python scripts/readings_table.py quanxueli six_types   # some of them

Each scenario runs 28 days (1 warm-up day) with 10 replications and its own seed, once
per reading of 4小时办结、1天出方案: ``at_arrival`` (the default), ``after_finish_target``
and ``after_finish_target`` with ``plan_during_outside_wait: true``.  Every run is
reported on both clocks (``community``: from when the request reaches the community;
``resident``: from the resident's call).  A cell is the mean share meeting the target,
all requests / 12345 hotline requests, in percent.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim.config import scenario_from_dict
from sim.experiment import replicate
from sim.stages import OUTCOMES

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ["quanxueli", "quanxueli_requests_only", "six_types", "jinan_hightech_zone"]
READINGS: dict[str, dict[str, Any]] = {
    "at_arrival": {"plan_track": "at_arrival"},
    "after_finish_target": {"plan_track": "after_finish_target"},
    "+ plan during wait": {"plan_track": "after_finish_target",
                           "plan_during_outside_wait": True},
}
HOTLINE = "hotline_12345"


def _pct(s: pd.Series) -> str:
    return f"{100 * float(s.iloc[0]):.1f}" if len(s) else "–"


def _cell(all_: pd.DataFrame, hot: pd.DataFrame, stage: str) -> str:
    a = all_.loc[all_["stage"] == stage, "mean"]
    h = hot.loc[(hot["stage"] == stage) & (hot["group"] == HOTLINE), "mean"]
    return f"{_pct(a)} / {_pct(h)}"


def rows(name: str) -> list[str]:
    """The table rows of one shipped scenario: readings × clocks."""
    raw: dict[str, Any] = yaml.safe_load(
        (ROOT / "scenarios" / f"{name}.yaml").read_text(encoding="utf-8"))
    raw["run"] = {**raw["run"], "horizon_days": 28, "warmup_days": 1, "replications": 10}
    out = []
    for reading, rule in READINGS.items():
        raw["sla"] = [rule]
        exp = replicate(scenario_from_dict(raw, f"{name}.yaml"))
        clocks = ["community", "resident"] if reading != "+ plan during wait" else ["community"]
        for clock in clocks:
            all_ = exp.compliance(None, clock=clock)
            hot = exp.compliance("channel", clock=clock)
            cells = " | ".join(_cell(all_, hot, s) for s in OUTCOMES)
            out.append(f"| {name} | {reading} | {clock} | {cells} |")
    return out


def main(argv: list[str]) -> int:
    names = argv or SCENARIOS
    print("| scenario | reading | clock | " + " | ".join(OUTCOMES) + " |")
    print("|---|---|---|" + "---|" * len(OUTCOMES))
    for name in names:
        for line in rows(name):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
