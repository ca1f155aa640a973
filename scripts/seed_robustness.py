"""Run every statistical test (``-m statistical``) over many seeds; report failure rates.

Each test is sized to fail for fewer than 1% of seeds when the model is right.  This
runs the marked tests once per seed (``SIM_TEST_SEED``) and prints, per test, how many
seeds failed::

    python scripts/seed_robustness.py                 # seeds 1..20
    python scripts/seed_robustness.py --seeds 20 --first 100 --jobs 2

A failure rate well above 1% means a test's tolerance is sized wrongly (or the model is
wrong); look at the failing seeds' messages with ``SIM_TEST_SEED=<seed> pytest -m
statistical``.  Exit code 1 when any test failed for any seed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_seed(seed: int, jobs: int, junit: Path) -> dict[str, bool]:
    """Test id -> passed, for one seed."""
    cmd = [sys.executable, "-m", "pytest", "-m", "statistical", "-q", "-p", "no:cacheprovider",
           f"--junitxml={junit}", "tests"]
    if jobs > 1:
        cmd += ["-n", str(jobs)]
    env = dict(os.environ, SIM_TEST_SEED=str(seed))
    subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, check=False)
    out: dict[str, bool] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.find("skipped") is not None:
            continue
        name = f"{case.get('classname')}::{case.get('name')}"
        out[name] = case.find("failure") is None and case.find("error") is None
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20, help="how many seeds (default 20)")
    ap.add_argument("--first", type=int, default=1, help="first seed (default 1)")
    ap.add_argument("--jobs", type=int, default=1, help="pytest-xdist workers")
    args = ap.parse_args()
    failed: dict[str, list[int]] = defaultdict(list)
    runs: dict[str, int] = defaultdict(int)
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.first, args.first + args.seeds):
            res = run_seed(seed, args.jobs, Path(tmp) / f"s{seed}.xml")
            for name, ok in res.items():
                runs[name] += 1
                if not ok:
                    failed[name].append(seed)
            print(f"seed {seed}: {sum(not ok for ok in res.values())} of {len(res)} failed",
                  flush=True)
    if not runs:
        print("error: no statistical tests ran", file=sys.stderr)
        return 2
    width = max(len(n) for n in runs)
    print(f"\n{'test':<{width}}  failed/seeds  failing seeds")
    for name in sorted(runs):
        f = failed.get(name, [])
        print(f"{name:<{width}}  {len(f):>6}/{runs[name]:<5}  {f if f else ''}")
    total_f = sum(len(v) for v in failed.values())
    total = sum(runs.values())
    print(f"\noverall: {total_f} failures in {total} test runs ({100 * total_f / total:.2f}%)")
    return 1 if total_f else 0


if __name__ == "__main__":
    raise SystemExit(main())
