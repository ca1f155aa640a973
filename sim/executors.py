"""Where replications run: in this process, a local process pool, or a Dask cluster.

Every executor takes independent tasks (a scenario, a seed, a replication index) and
yields results as they complete.  Results never depend on the executor: a replication's
random streams depend only on its seed and index.

* :class:`SerialExecutor` -- in this process (``jobs=1``);
* :class:`PoolExecutor` -- a local :class:`concurrent.futures.ProcessPoolExecutor`;
* :class:`DaskExecutor` -- a Dask ``LocalCluster`` (``"local"``) or an existing scheduler
  (``"tcp://host:port"``), so a sweep that outgrows one machine runs unchanged.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol


class Executor(Protocol):
    """Runs tasks; ``submit`` returns a handle, ``as_completed`` yields finished handles."""

    workers: int

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def as_completed(self, handles: set[Any]) -> Iterator[tuple[Any, Any]]:
        """Yield ``(handle, result)`` as handles finish (each handle once)."""
        ...

    def close(self) -> None: ...


class _Done:
    __slots__ = ("result",)

    def __init__(self, result: Any) -> None:
        self.result = result


class SerialExecutor:
    """Runs each task when it is submitted, in this process."""

    workers = 1

    def submit(self, fn: Callable[..., Any], *args: Any) -> _Done:
        return _Done(fn(*args))

    def as_completed(self, handles: set[Any]) -> Iterator[tuple[Any, Any]]:
        for h in list(handles):
            yield h, h.result

    def close(self) -> None:
        pass


class PoolExecutor:
    """A local pool of worker processes."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        # Forked workers inherit the parent's heap; freezing it keeps their garbage
        # collector from touching (and so copying) every inherited page.
        gc.collect()
        gc.freeze()
        self._pool = ProcessPoolExecutor(max_workers=workers)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        return self._pool.submit(fn, *args)

    def as_completed(self, handles: set[Any]) -> Iterator[tuple[Any, Any]]:
        pending = set(handles)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                yield f, f.result()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        gc.unfreeze()


class DaskExecutor:
    """A Dask cluster: ``address="local"`` starts a ``LocalCluster`` on loopback."""

    def __init__(self, address: str, workers: int) -> None:
        from distributed import Client, LocalCluster

        self._cluster = None
        if address == "local":
            self._cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=None,
            )
            self._client = Client(self._cluster)
        else:
            self._client = Client(address)
        info = self._client.scheduler_info()
        self.workers = max(1, sum(w.get("nthreads", 1) for w in info["workers"].values()))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self._client.submit(fn, *args, pure=False)

    def as_completed(self, handles: set[Any]) -> Iterator[tuple[Any, Any]]:
        from distributed import as_completed

        for fut in as_completed(list(handles)):
            yield fut, fut.result()

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(jobs: int | None = None, dask: str | None = None) -> Executor:
    """The executor for ``--jobs`` / ``--dask`` (default: one process per core)."""
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if dask:
        return DaskExecutor(dask, workers)
    if workers <= 1:
        return SerialExecutor()
    return PoolExecutor(workers)
