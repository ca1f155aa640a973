"""Run directories: atomic writes, per-replication parts, final tables.

A run directory holds, as soon as each replication finishes,
``replications/rep-NNNN/{requests,pools,load,backlog}.parquet`` (written to a temporary
folder and renamed, so a part is either complete or absent), and at the end the combined
outputs listed in the README.  An interrupted run therefore keeps every replication it
finished, and the final tables can be rebuilt from the parts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim.backlog import backlog_compliance
from sim.config import Scenario, resolved_dict
from sim.results import ExperimentResult, SimulationResult

PART_FRAMES = ("requests", "pools", "load", "backlog")


def _named(e: OSError, path: Path) -> OSError:
    """``e`` naming ``path`` and its plain reason (pyarrow's messages carry neither)."""
    if e.errno is None:
        return e
    return type(e)(e.errno, os.strerror(e.errno), str(path))


class PartError(Exception):
    """A saved part of a run cannot be read (truncated or corrupt)."""


@contextlib.contextmanager
def _replacing(tmp: str, path: Path) -> Iterator[None]:
    """Around writing ``tmp`` and moving it to ``path``: on failure remove ``tmp`` and
    name ``path`` in the error."""
    try:
        yield
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise _named(e, path) from e
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with _replacing(tmp, path):
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_frame(path: Path, df: pd.DataFrame) -> None:
    """Write a DataFrame as Parquet (``.parquet``) or CSV (anything else), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        if path.suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False, float_format="%.6g")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise _named(e, path) from e
        raise


def resolved_yaml(scenario: Scenario, seed: int, replications: int, source: str) -> str:
    """The scenario with defaults filled in, seed and replications set: rerunnable as is."""
    from sim import __version__

    data = resolved_dict(scenario)
    data["run"]["seed"] = seed
    data["run"]["replications"] = replications
    header = (
        f"# Resolved scenario written by sim {__version__} from {source}.\n"
        f"# Every default is filled in; `sim run` on this file reproduces the run.\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def save_replication(outdir: Path, result: SimulationResult) -> None:
    """Persist one replication's frames as a complete part (atomic directory rename)."""
    parts = outdir / "replications"
    parts.mkdir(parents=True, exist_ok=True)
    final = parts / f"rep-{result.replication:04d}"
    tmp = Path(tempfile.mkdtemp(dir=parts, prefix=".tmp-"))
    try:
        for name in PART_FRAMES:
            getattr(result, name).to_parquet(tmp / f"{name}.parquet", index=False)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError):
            raise _named(e, final) from e
        raise
    finally:
        _release_arrow_memory()


def _release_arrow_memory() -> None:
    """Hand the memory Arrow took to write Parquet (about a copy of the frame) back to
    the system: its allocator keeps freed pages for itself, where the tables computed
    next (NumPy's allocations) cannot use them."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def finished_replications(outdir: Path) -> list[int]:
    """Indices of the replications whose parts are complete in ``outdir``."""
    parts = outdir / "replications"
    if not parts.is_dir():
        return []
    return sorted(int(p.name[4:]) for p in parts.glob("rep-*") if p.is_dir())


def verify_replications(outdir: Path) -> list[tuple[Path, str]]:
    """Remove replication parts that cannot be read, so a resumed run redoes them.

    Checks every part file's Parquet footer (a truncated file has none).  Returns the
    unreadable files with the reason.
    """
    import pyarrow.parquet as pq

    broken: list[tuple[Path, str]] = []
    for r in finished_replications(outdir):
        folder = outdir / "replications" / f"rep-{r:04d}"
        for name in PART_FRAMES:
            part = folder / f"{name}.parquet"
            try:
                pq.read_metadata(part)
            except Exception as e:  # pyarrow raises OSError or ArrowInvalid variants
                broken.append((part, _reason(e)))
                shutil.rmtree(folder)
                break
    return broken


def _reason(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def run_version(outdir: Path) -> str | None:
    """The package version that wrote the run in ``outdir`` (``None`` if unknown)."""
    manifest = outdir / "manifest.json"
    if manifest.exists():
        try:
            version = json.loads(manifest.read_text(encoding="utf-8")).get("sim_version")
        except (ValueError, AttributeError):
            version = None
        if isinstance(version, str):
            return version
    resolved = outdir / "scenario.resolved.yaml"
    if resolved.exists():
        first = resolved.read_text(encoding="utf-8").split("\n", 1)[0]
        prefix = "# Resolved scenario written by sim "
        if first.startswith(prefix):
            return first[len(prefix):].split(" ", 1)[0]
    return None


def load_replications(outdir: Path, scenario: Scenario, seed: int) -> ExperimentResult:
    """Rebuild an :class:`ExperimentResult` from the parts saved in ``outdir``.

    Raises
    ------
    FileNotFoundError
        When no replication has finished.
    PartError
        When a part cannot be read (the message names it and says what to do).
    """
    reps = finished_replications(outdir)
    if not reps:
        raise FileNotFoundError(f"{outdir}: no finished replications")
    frames: dict[str, list[pd.DataFrame]] = {name: [] for name in PART_FRAMES}
    for r in reps:
        for name in PART_FRAMES:
            part = outdir / "replications" / f"rep-{r:04d}" / f"{name}.parquet"
            try:
                frames[name].append(pd.read_parquet(part))
            except Exception as e:  # pyarrow raises OSError or ArrowInvalid variants
                raise PartError(f"{part}: unreadable ({_reason(e)}); delete "
                                f"{part.parent} and rerun with --resume to recompute it"
                                ) from None
    combined = {n: pd.concat(frames[n], ignore_index=True) for n in PART_FRAMES}
    return ExperimentResult(
        scenario, seed, combined["requests"], combined["pools"], combined["load"],
        combined["backlog"],
    )


def _single_part(outdir: Path, exp: ExperimentResult) -> Path | None:
    """The saved ``requests.parquet`` part when it holds exactly ``exp.requests`` (one
    replication, saved by :func:`save_replication` from the same frame), else None."""
    import pyarrow.parquet as pq

    reps = finished_replications(outdir)
    req = exp.requests
    if len(reps) != 1 or not len(req) or exp.replications != 1:
        return None
    part = outdir / "replications" / f"rep-{reps[0]:04d}" / "requests.parquet"
    if int(req["replication"].iloc[0]) != reps[0]:
        return None
    try:
        if pq.read_metadata(part).num_rows != len(req):
            return None
    except Exception:  # unreadable: write the table instead
        return None
    return part


def _link_or_copy(source: Path, path: Path) -> None:
    """Make ``path`` a hard link to ``source`` (a copy where links are not supported),
    atomically."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.unlink(tmp)
    with _replacing(tmp, path):
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
        os.replace(tmp, path)


def write_outputs(outdir: Path, exp: ExperimentResult, manifest: dict[str, Any]) -> list[Path]:
    """Write the combined tables of a run; returns the files written.

    Each table is computed, written and dropped in turn.  A run of one replication
    links ``requests.parquet`` to the replication's saved part (the same frame, the same
    bytes) instead of writing it a second time.
    """
    def percentiles() -> pd.DataFrame:
        overall = exp.stage_percentiles(None).assign(by="all")
        return pd.concat([overall, exp.stage_percentiles("community_type")],
                         ignore_index=True)

    tables: dict[str, Callable[[], pd.DataFrame]] = {
        "requests.parquet": lambda: exp.requests,
        "compliance.csv": exp.compliance_tables,
        "percentiles.csv": percentiles,
        "utilisation.csv": exp.utilisation,
        "pools.csv": lambda: exp.pools,
        "backlog.parquet": lambda: exp.backlog,
    }
    if exp.scenario.initial_state.total:  # open requests at the start, reported apart
        tables["backlog_compliance.csv"] = lambda: backlog_compliance(exp)
    written = []
    for name, make in tables.items():
        part = _single_part(outdir, exp) if name == "requests.parquet" else None
        if part is not None:
            _link_or_copy(part, outdir / name)
        else:
            atomic_write_frame(outdir / name, make())
        written.append(outdir / name)
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    atomic_write_text(outdir / "manifest.json", text)
    written.append(outdir / "manifest.json")
    return written
