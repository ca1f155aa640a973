"""Golden regression numbers: key outputs of every shipped scenario stay as committed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from golden_tables import COLUMNS, golden_path, golden_table, read, scenario_files

HOW_TO = (
    "If the change is intended, run `python scripts/regenerate_golden.py` and explain in "
    "the commit message which numbers moved and why."
)


def test_every_shipped_scenario_has_a_golden_file() -> None:
    stems = {f.stem for f in scenario_files()}
    assert len(stems) >= 5
    golden = {p.stem for p in golden_path(Path("x.yaml")).parent.glob("*.csv")}
    assert stems == golden, f"scenarios without golden file: {sorted(stems - golden)}, " \
        f"golden files without scenario: {sorted(golden - stems)}. {HOW_TO}"


@pytest.mark.parametrize("path", scenario_files(), ids=lambda p: p.stem)
def test_key_outputs_match_the_golden_file(path: Path) -> None:
    expected = read(golden_path(path))
    actual = golden_table(path)
    assert list(actual.columns) == COLUMNS
    keys = ["metric", "group", "stage"]
    merged = expected.merge(actual, on=keys, how="outer", suffixes=("_golden", "_now"),
                            indicator=True)
    lost = merged[merged["_merge"] != "both"]
    assert lost.empty, f"rows added or removed:\n{lost.to_string()}\n{HOW_TO}"
    a = merged["value_golden"].to_numpy(dtype=float)
    b = merged["value_now"].to_numpy(dtype=float)
    same = np.isclose(a, b, rtol=0.0, atol=1e-9) | (np.isnan(a) & np.isnan(b))
    diff = merged.loc[~same, [*keys, "value_golden", "value_now"]]
    with pd.option_context("display.max_rows", 40, "display.width", 160):
        assert diff.empty, f"{len(diff)} numbers changed:\n{diff.to_string()}\n{HOW_TO}"
