#!/usr/bin/env bash
# Mutation testing of the engine core (sim/sla.py, lifecycle.py, staff.py, arrivals.py)
# with mutmut 3; configuration in pyproject.toml [tool.mutmut].  Outside the regular suite.
#
#   scripts/mutation_test.sh            # fresh run (deletes mutants/), then the summary
#   scripts/mutation_test.sh --resume   # continue an interrupted run
#   JOBS=4 scripts/mutation_test.sh     # parallel children (default: number of CPUs)
#
# Afterwards: `mutmut results` lists survivors, `mutmut show <name>` shows one mutant's
# diff.  Kill rate = killed / (killed + survived - equivalent), where the equivalent
# survivors are those judged to change no behaviour (see README, Validation).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${JOBS:-$(nproc)}"
if [[ "${1:-}" != "--resume" ]]; then
  rm -rf mutants
fi
# the regular suite must pass first: a failing test would "kill" every mutant
python -m pytest -q -x -p no:cacheprovider tests/test_lifecycle.py tests/test_sla.py \
  tests/test_paths.py tests/test_contract.py tests/test_golden.py tests/test_arrivals.py \
  tests/test_preemption.py tests/test_outcomes.py tests/test_shifts.py
mutmut run --max-children "$jobs" || true
python - <<'PY'
"""Summarise mutmut's per-mutant results as counts and a kill rate."""
import collections
import subprocess

out = subprocess.run(["mutmut", "results", "--all", "true"], capture_output=True, text=True)
counts: collections.Counter[str] = collections.Counter()
for line in out.stdout.splitlines():
    if ":" in line:
        counts[line.rsplit(":", 1)[1].strip()] += 1
total = sum(counts.values())
killed = counts.get("killed", 0) + counts.get("timeout", 0)
print("mutants:", dict(counts), "total", total)
decided = killed + counts.get("survived", 0)
if decided:
    print(f"killed (incl. timeouts) {killed} of {decided} run: {100 * killed / decided:.1f}% "
          "before removing equivalent survivors")
PY
