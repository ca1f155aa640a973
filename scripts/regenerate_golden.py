"""Rewrite tests/golden/<scenario>.csv from the current code.

Run it only when a change to the model is meant to change the numbers, and say in the
commit message which numbers moved and why::

    python scripts/regenerate_golden.py            # every shipped scenario
    python scripts/regenerate_golden.py quanxueli  # only these (file stems)

Deterministic: fixed seeds (each scenario's own), a short horizon, no parallelism.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from golden_tables import golden_path, golden_table, scenario_files, write


def main(argv: list[str]) -> int:
    files = scenario_files()
    if argv:
        files = [f for f in files if f.stem in set(argv)]
        missing = set(argv) - {f.stem for f in files}
        if missing:
            print(f"error: no scenario named {sorted(missing)} in scenarios/", file=sys.stderr)
            return 2
    for f in files:
        out = golden_path(f)
        write(golden_table(f), out)
        print(f"wrote {out.relative_to(out.parent.parent.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
