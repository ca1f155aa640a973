"""The analyst notebooks run top to bottom (tiny horizon) and are committed without outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_the_notebooks_are_there() -> None:
    assert {p.name for p in PATHS} >= {"01_quickstart.ipynb", "02_community_types.ipynb"}


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    assert all(c.outputs == [] and c.execution_count is None for c in code), (
        f"{path.name} has outputs: clear them before committing")
    first = code[0].source
    assert "HORIZON_DAYS" in first and "REPLICATIONS" in first and "SIM_NOTEBOOK_FAST" in first


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_runs_top_to_bottom(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIM_NOTEBOOK_FAST", "1")  # the kernel inherits the environment
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    images = sum("image/png" in o.get("data", {}) for c in code for o in c.outputs)
    assert images >= 4, "the figures did not display"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors
    # the notebooks import only the public API
    imports = {line.split()[1] for c in code for line in c.source.splitlines()
               if line.startswith(("import sim", "from sim"))}
    assert imports <= {"sim", "sim.experiment"}, imports
