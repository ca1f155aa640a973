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
if [[ -z "${VIRTUAL_ENV:-}" && -f .venv/bin/activate ]]; then
  . .venv/bin/activate  # the project's venv, with the test extra (mutmut) installed
fi
jobs="${JOBS:-$(nproc)}"
if [[ "${1:-}" != "--resume" ]]; then
  rm -rf mutants
fi
# the regular suite must pass first: a failing test would "kill" every mutant
python -m pytest -q -x -p no:cacheprovider tests/test_lifecycle.py tests/test_sla.py \
  tests/test_paths.py tests/test_contract.py tests/test_golden.py tests/test_arrivals.py \
  tests/test_preemption.py tests/test_outcomes.py tests/test_shifts.py \
  tests/test_engine_parts.py tests/test_clocks.py tests/test_2341_readings.py \
  tests/test_edges.py
mutmut run --max-children "$jobs" || true
python - <<'PY'
"""Summarise mutmut's results: counts per status and the kill rate.

Kill rate = killed (timeouts included) / (all mutants - equivalent survivors), where the
equivalent survivors are the survivors listed in scripts/mutation_equivalents.txt.
"""
import collections
import pathlib
import subprocess

out = subprocess.run(["mutmut", "results", "--all", "true"], capture_output=True, text=True)
status = {}
for line in out.stdout.splitlines():
    if ": " in line:
        name, st = line.strip().rsplit(": ", 1)
        status[name] = st
counts = collections.Counter(status.values())
equivalent = {  # one name a line, then its reason after "#"
    ln.split("#", 1)[0].strip()
    for ln in pathlib.Path("scripts/mutation_equivalents.txt").read_text().splitlines()
    if ln.split("#", 1)[0].strip()
}
killed = counts["killed"] + counts["timeout"]
alive = [n for n, st in status.items() if st in ("survived", "no tests")]
eq = [n for n in alive if n in equivalent]
rest = sorted(set(alive) - set(eq))
print("mutants:", dict(counts), "total", len(status))
if counts["not checked"]:
    print(f"warning: {counts['not checked']} mutants not checked (run interrupted?)")
denominator = len(status) - len(eq) - counts["not checked"]
print(f"equivalent survivors (scripts/mutation_equivalents.txt): {len(eq)}")
print(f"kill rate: {killed} / {denominator} = {100 * killed / max(denominator, 1):.1f}%")
print("surviving mutants not known to be equivalent (inspect with `mutmut show NAME`):")
for n in rest:
    print("   ", n)
PY
