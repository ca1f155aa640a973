"""Print the README's desk-headcount sweep: does the respond target bind?

    python scripts/desk_sweep.py                 # every scenario below
    python scripts/desk_sweep.py quanxueli       # one of them

For each shipped scenario, the desk pool's ``day`` shift headcount is swept over 1, 2, 3
(common random numbers: the same replication seeds at every point) for 28 days with one
warm-up day and 10 replications, each scenario with its own seed.  A row gives respond
compliance over all requests, mean ± 95 % CI half-width, and the desk's share of rostered
time on requests and on other work at that point.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

import sim
from sim.config import scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ["quanxueli", "quanxueli_requests_only", "six_types", "jinan_hightech_zone"]
HEADCOUNTS = [1, 2, 3]


def rows(name: str) -> list[str]:
    """Table rows of one scenario: one per desk day headcount."""
    raw: dict[str, Any] = yaml.safe_load(
        (ROOT / "scenarios" / f"{name}.yaml").read_text(encoding="utf-8"))
    raw["run"] = {**raw["run"], "horizon_days": 28, "warmup_days": 1, "replications": 10}
    out = []
    for n in HEADCOUNTS:
        for pool in raw["staff"]:
            if pool["name"] == "desk":
                next(s for s in pool["shifts"] if s["name"] == "day")["headcount"] = n
        exp = sim.replicate(scenario_from_dict(raw, f"{name}.yaml"))
        c = exp.compliance(None)
        r = c[c["stage"] == "respond"].iloc[0]
        u = exp.utilisation()
        desk = u[(u["kind"] == "service_desk") & (u["hour"] == "all")]
        other = float(desk["other_work"].mean()) if "other_work" in desk else 0.0
        out.append(f"| {name} | {n} | {100 * r['mean']:.1f} ± {100 * r['halfwidth']:.1f} "
                   f"| {100 * float(desk['utilisation'].mean()):.0f} % | {100 * other:.0f} % |")
    return out


def main(argv: list[str]) -> int:
    print("| scenario | desk day headcount | respond, % | desk on requests "
          "| desk on other work |")
    print("|---|---|---|---|---|")
    for name in argv or SCENARIOS:
        for line in rows(name):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
