"""Side by side: this checkout against an earlier commit, alternating runs on one machine.

Exports the package of ``--baseline`` (a git revision) with ``git archive`` into a
temporary folder and runs each measurement in a fresh Python process, alternating
baseline and current, ``--repeats`` times; prints every run and the medians, and the
ratios current/baseline.  A run is one of:

* ``simulate`` -- ``sim.simulate`` on the scenario (replication 0): wall seconds, and the
  peak resident memory the run added (``ru_maxrss`` after minus before, per request;
  "before" follows an untimed one-day run, so imports done on first use are not counted);
* ``run`` -- ``sim run -n 1`` on the scenario file (``--set`` for the horizon and
  warm-up) into a temporary folder through the command line's own function (wall
  seconds and peak memory of the run only: imports excluded), and
  ``simulate`` of the same code in a fresh process right after it, so the ratio
  run/simulate is printed too.

``--scenario-rev REV`` takes the scenario file as it was at a git revision instead of the
working tree's: an older package cannot read fields added since (the shipped zone gained
``other_work`` after db94a8b), so a comparison with it runs the zone of its own time on
both sides.

Run from the repository root (git needed)::

    python benchmarks/bench_compare.py --baseline db94a8b --scenario-rev db94a8b \
        --days 365 --repeats 3                                  # requests-only zone
    python benchmarks/bench_compare.py --baseline 02690e0 --days 365 --repeats 2
    python benchmarks/bench_compare.py --baseline 02690e0 --days 28 --what run
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SCENARIO = ROOT / "scenarios" / "jinan_hightech_zone.yaml"

CHILD = r"""
import json, resource, sys, tempfile, time
from pathlib import Path
import sim
from sim.config import RunConfig, load_scenario

def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

what, path, days = sys.argv[1], sys.argv[2], float(sys.argv[3])
sc = load_scenario(path)
f = sc.run.model_dump()
f["horizon_days"] = days
f["warmup_days"] = min(sc.run.warmup_days, days / 2)
sc = sc.model_copy(update={"run": RunConfig.model_validate(f)})
out = {"package": sim.__file__}
# warm-up: one simulated day pulls in every lazy import, so "before" counts them
f1 = dict(f, horizon_days=1.0, warmup_days=0.0)
sim.simulate(sc.model_copy(update={"run": RunConfig.model_validate(f1)}))
if what == "simulate":
    before = rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    res = sim.simulate(sc)
    out["seconds"] = time.perf_counter() - t0
    out["cpu_seconds"] = time.process_time() - c0
    out["requests"] = len(res.requests)
    out["rss_added_mb"] = rss_mb() - before
else:
    import pandas as pd
    from typer.testing import CliRunner
    from sim.cli import app
    with tempfile.TemporaryDirectory() as tmp:
        # the scenario file itself, as a user runs it, with the horizon set on the line
        before = rss_mb()
        t0, c0 = time.perf_counter(), time.process_time()
        r = CliRunner().invoke(app, [
            "run", path, "-o", str(Path(tmp) / "out"), "-n", "1",
            "--set", f"run.horizon_days={sc.run.horizon_days!r}",
            "--set", f"run.warmup_days={sc.run.warmup_days!r}"])
        out["seconds"] = time.perf_counter() - t0
        out["cpu_seconds"] = time.process_time() - c0
        out["exit"] = r.exit_code
        if r.exit_code:
            raise SystemExit(f"sim run exited with {r.exit_code}: {r.output[-2000:]}")
        out["rss_added_mb"] = rss_mb() - before
        out["requests"] = len(pd.read_parquet(Path(tmp) / "out" / "requests.parquet",
                                              columns=["replication"]))
print("RESULT " + json.dumps(out))
"""


def export(rev: str, into: Path) -> None:
    """The package of ``rev`` (``sim/``) extracted under ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "sim"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)


def child(what: str, scenario: Path, days: float, path: Path) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(path))
    proc = subprocess.run([sys.executable, "-c", CHILD, what, str(scenario), str(days)],
                          env=env, capture_output=True, text=True, cwd=path)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not line:
        raise SystemExit(f"child failed ({path}):\n{proc.stderr[-2000:]}")
    result: dict[str, float] = json.loads(line[0][7:])
    if not str(result["package"]).startswith(str(path)):
        raise SystemExit(f"child imported {result['package']}, not the package under {path}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="db94a8b", help="git revision to compare with")
    parser.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    parser.add_argument("--scenario-rev", default=None,
                        help="read the scenario file as it was at this git revision")
    parser.add_argument("--days", type=float, default=365.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--what", choices=("simulate", "run"), default="simulate")
    parser.add_argument("--current-only", action="store_true",
                        help="measure this checkout alone (no baseline)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if args.scenario_rev:
            rel = args.scenario.resolve().relative_to(ROOT).as_posix()
            text = subprocess.run(["git", "show", f"{args.scenario_rev}:{rel}"], cwd=ROOT,
                                  check=True, capture_output=True, text=True).stdout
            args.scenario = Path(tmp) / "scenario" / Path(rel).name
            args.scenario.parent.mkdir()
            args.scenario.write_text(text, encoding="utf-8")
        sides = {"current": ROOT}
        if not args.current_only:
            export(args.baseline, Path(tmp))
            sides = {f"baseline {args.baseline}": Path(tmp), "current": ROOT}
        runs: dict[str, list[dict[str, float]]] = {k: [] for k in sides}
        for i in range(args.repeats):
            for name, path in sides.items():
                r = child(args.what, args.scenario.resolve(), args.days, path)
                if args.what == "run":  # simulate alone, in its own fresh process
                    alone = child("simulate", args.scenario.resolve(), args.days, path)
                    r["simulate_seconds"] = alone["seconds"]
                    r["simulate_cpu_seconds"] = alone["cpu_seconds"]
                runs[name].append(r)
                extra = (f", simulate {r['simulate_seconds']:.2f} s, run/simulate "
                         f"{r['seconds'] / r['simulate_seconds']:.2f} (CPU "
                         f"{r['cpu_seconds'] / r['simulate_cpu_seconds']:.2f})"
                         if args.what == "run" else "")
                print(f"repeat {i + 1} {name:>18}: {r['seconds']:6.2f} s "
                      f"({r['cpu_seconds']:.2f} s CPU), "
                      f"+{r['rss_added_mb']:,.0f} MB peak RSS, {r['requests']:,} requests"
                      + extra, flush=True)
        med: dict[str, dict[str, float]] = {}
        for name, rs in runs.items():
            n = rs[0]["requests"]
            med[name] = {"seconds": statistics.median(r["seconds"] for r in rs),
                         "cpu": statistics.median(r["cpu_seconds"] for r in rs),
                         "rss": statistics.median(r["rss_added_mb"] for r in rs),
                         "n": n}
            line = (f"median {name:>18}: {med[name]['seconds']:6.2f} s "
                    f"({med[name]['cpu']:.2f} s CPU), "
                    f"+{med[name]['rss']:,.0f} MB "
                    f"({med[name]['rss'] * 2**20 / n:,.0f} bytes per request)")
            if args.what == "run":
                ratio = statistics.median(r["seconds"] / r["simulate_seconds"] for r in rs)
                cpu = statistics.median(r["cpu_seconds"] / r["simulate_cpu_seconds"]
                                        for r in rs)
                line += f", run/simulate {ratio:.2f} (CPU {cpu:.2f})"
            print(line)
        if len(med) == 2:
            base, cur = med[f"baseline {args.baseline}"], med["current"]
            print(f"current/baseline: time {cur['seconds'] / base['seconds']:.2f}, "
                  f"CPU time {cur['cpu'] / base['cpu']:.2f}, "
                  f"memory {cur['rss'] / base['rss']:.2f}")


if __name__ == "__main__":
    main()
