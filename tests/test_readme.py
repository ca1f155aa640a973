"""The README's Python examples run as written.

Every ```python block of README.md is executed, in order and in one namespace, from the
repository root.  Only the simulated horizon is changed: ``sim.load_scenario`` is wrapped
so that every scenario it loads runs for at most ``HORIZON_DAYS`` days (the README says
so), which keeps the examples' replications, sweeps and optimiser quick.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import sim

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
HORIZON_DAYS = 7.0
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks() -> list[str]:
    return BLOCK.findall(README.read_text(encoding="utf-8"))


def test_the_readme_has_python_examples() -> None:
    blocks = python_blocks()
    assert blocks
    assert any("sim.load_scenario" in b for b in blocks)


def test_the_readme_python_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:
    load = sim.load_scenario

    def short(path: Any) -> sim.Scenario:
        sc = load(path)
        days = min(sc.run.horizon_days, HORIZON_DAYS)
        return sc.model_copy(update={"run": sc.run.model_copy(update={"horizon_days": days})})

    monkeypatch.setattr(sim, "load_scenario", short)
    monkeypatch.chdir(ROOT)
    namespace: dict[str, Any] = {"__name__": "__readme__"}
    for i, block in enumerate(python_blocks()):
        code = compile(block, f"README.md python block {i + 1}", "exec")
        exec(code, namespace)  # the examples are the test
    # the objects the examples describe are what they say they are
    assert isinstance(namespace["exp"], sim.ExperimentResult)
    assert namespace["exp"].scenario.run.horizon_days == HORIZON_DAYS
    assert isinstance(namespace["opt"], sim.OptimizeResult)
    assert not namespace["res"].summary.empty
