"""Where replications run: in this process, a local process pool, or a Dask cluster.

Every executor takes independent tasks (a scenario, a seed, a replication index) and
yields results as they complete.  Results never depend on the executor: a replication's
random streams depend only on its seed and index.

* :class:`SerialExecutor` -- in this process (``jobs=1``);
* :class:`PoolExecutor` -- a local :class:`concurrent.futures.ProcessPoolExecutor`;
* :class:`DaskExecutor` -- a Dask ``LocalCluster`` (``"local"``) or an existing scheduler
  (``"tcp://host:port"``), so a sweep that outgrows one machine runs unchanged; warm
  workers, scenarios sent once, short tasks batched.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol

from sim.rundir import held_lock_fds

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_interrupted = threading.Event()


def on_sigint(signum: int, frame: object) -> None:
    """SIGINT handler for the command line: raise ``KeyboardInterrupt`` now, and again
    when the next task finishes in case the first one was swallowed (a C extension that
    checks for signals and clears the error can lose it, and the run would go on)."""
    _interrupted.set()
    raise KeyboardInterrupt


def _check_interrupt() -> None:
    if _interrupted.is_set():
        _interrupted.clear()
        raise KeyboardInterrupt


class Executor(Protocol):
    """Runs tasks; ``submit`` returns a handle, ``as_completed`` yields finished handles."""

    workers: int

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def as_completed(self, handles: set[Any]) -> Iterator[tuple[Any, Any]]:
        """Yield ``(handle, result)`` as handles finish (each handle once)."""
        ...

    def close(self) -> None: ...


class _Task:
    """A task of :class:`SerialExecutor`, run when its result is first asked for."""

    __slots__ = ("args", "fn", "order", "ran", "result")

    def __init__(self, order: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.order, self.fn, self.args = order, fn, args
        self.result: Any = None
        self.ran = False


class SerialExecutor:
    """Runs tasks in this process, one at a time, in submission order.

    A task runs when :meth:`as_completed` reaches it, so a caller saves each result
    before the next task starts (an interrupted run keeps what it finished).
    """

    workers = 1

    def __init__(self) -> None:
        self._count = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> _Task:
        self._count += 1
        return _Task(self._count, fn, args)

    def as_completed(self, handles: set[Any]) -> Iterator[tuple[Any, Any]]:
        for h in sorted(handles, key=lambda t: t.order):
            if not h.ran:
                h.result, h.ran = h.fn(*h.args), True
            _check_interrupt()
            yield h, h.result

    def close(self) -> None:
        pass


def _die_with_parent(parent: int) -> None:
    """Worker initializer: exit when the parent process dies; leave Ctrl-C to it.

    On Linux the kernel sends SIGKILL when the parent dies (``PR_SET_PDEATHSIG``; strictly,
    when the parent thread that forked the worker ends, and a pool lives and dies within
    one call in one thread); elsewhere, and as a fallback, a daemon thread polls
    ``os.getppid()``.  Without this a
    killed ``sim`` leaves its workers computing for minutes, holding its pipes.
    """
    for fd in held_lock_fds():  # the parent's output-folder lock is the parent's alone
        with contextlib.suppress(OSError):
            os.close(fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above ran
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="sim-parent-watch", daemon=True).start()


class PoolExecutor:
    """A local pool of worker processes."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        # Forked workers inherit the parent's heap; freezing it keeps their garbage
        # collector from touching (and so copying) every inherited page.
        gc.collect()
        gc.freeze()
        self._pool = ProcessPoolExecutor(max_workers=workers, initializer=_die_with_parent,
                                         initargs=(os.getpid(),))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        return self._pool.submit(fn, *args)

    def as_completed(self, handles: set[Any]) -> Iterator[tuple[Any, Any]]:
        pending = set(handles)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                _check_interrupt()
                yield f, f.result()

    def close(self) -> None:
        """Cancel tasks not yet started, let running ones end, and wait for the pool.

        Waiting matters: a pool left shutting down in the background is torn down with
        the interpreter, and its manager thread can then print "Exception ignored ...
        Bad file descriptor" as it touches pipes already closed.  Running tasks are not
        killed: a worker killed while sending its result leaves a half-written message
        that the pool waits on for ever.  After Ctrl-C the wait is at most one task.
        """
        self._pool.shutdown(wait=True, cancel_futures=True)
        gc.unfreeze()


def _run_batch(tasks: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list[Any]:
    """Run several tasks in one Dask task (fewer round trips for short tasks)."""
    return [fn(*args) for fn, args in tasks]


def _warm_up() -> None:
    """Import the simulator on a worker before the first task arrives."""
    for module in ("sim.experiment", "sim.sweeps"):
        importlib.import_module(module)


class _DaskTask:
    """A task of :class:`DaskExecutor`: queued, then sent in a batch."""

    __slots__ = ("args", "fn", "future", "has_result", "result")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn, self.args = fn, args
        self.future: Any = None
        self.result: Any = None
        self.has_result = False


class DaskExecutor:
    """A Dask cluster: ``address="local"`` starts a ``LocalCluster`` on loopback.

    Built for many short tasks: workers import the simulator once when the executor
    connects (warm); each scenario is sent to every worker once (``scatter``) and tasks
    refer to it; tasks waiting when results are first asked for go out in batches, a
    few per worker (``batch``: tasks per Dask task, default chosen from the queue).
    Results are those of the tasks, whatever the batching.
    """

    def __init__(self, address: str, workers: int, batch: int | None = None) -> None:
        # distributed ships no type hints: its calls are confined to this class
        from distributed import Client, LocalCluster

        self._cluster: Any = None
        if address == "local":
            self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=workers, threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=None,
                # its warnings (e.g. a worker slow to exit at close on a busy machine)
                # are not the run's; errors still show
                silence_logs=logging.ERROR,
            )
            self._client: Any = Client(self._cluster)  # type: ignore[no-untyped-call]
        else:
            self._client = Client(address)  # type: ignore[no-untyped-call]
        info: dict[str, Any] = self._client.scheduler_info()
        self.workers = max(1, sum(w.get("nthreads", 1) for w in info["workers"].values()))
        self._client.run(_warm_up)
        self.batch = batch
        self._queue: list[_DaskTask] = []
        self._scattered: dict[int, tuple[object, Any]] = {}
        self._batches: dict[Any, list[_DaskTask]] = {}  # Dask key -> its tasks

    def _remote(self, arg: Any) -> Any:
        """A scenario is sent to the workers once; tasks carry a reference to it."""
        from sim.config import Scenario

        if not isinstance(arg, Scenario):
            return arg
        if id(arg) not in self._scattered:  # the object is kept, so its id stays its own
            fut = self._client.scatter(arg, broadcast=True, hash=False)
            self._scattered[id(arg)] = (arg, fut)
        return self._scattered[id(arg)][1]

    def submit(self, fn: Callable[..., Any], *args: Any) -> _DaskTask:
        task = _DaskTask(fn, args)
        self._queue.append(task)
        return task

    def _dispatch(self) -> None:
        queue, self._queue = self._queue, []
        if not queue:
            return
        size = self.batch or max(1, min(8, len(queue) // (2 * self.workers)))
        for i in range(0, len(queue), size):
            group = queue[i:i + size]
            payload = [(t.fn, tuple(self._remote(a) for a in t.args)) for t in group]
            fut = self._client.submit(_run_batch, payload, pure=False)
            self._batches[fut.key] = group
            for t in group:
                t.future = fut

    def as_completed(self, handles: set[Any]) -> Iterator[tuple[Any, Any]]:
        from distributed import as_completed

        self._dispatch()
        ready = [h for h in handles if h.has_result]
        for h in ready:
            yield h, h.result
        by_future: dict[Any, list[_DaskTask]] = {}
        for h in handles:
            if not h.has_result:
                by_future.setdefault(h.future, []).append(h)
        for fut in as_completed(list(by_future)):  # type: ignore[no-untyped-call]
            _check_interrupt()
            # every task of the batch gets its result, asked for now or later
            for t, r in zip(self._batches.pop(fut.key), fut.result(), strict=True):
                t.result, t.has_result, t.future = r, True, None
            for h in by_future[fut]:
                yield h, h.result

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(jobs: int | None = None, dask: str | None = None) -> Executor:
    """The executor for ``--jobs`` / ``--dask`` (default: one process per core)."""
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    _interrupted.clear()  # an interrupt already handled does not stop new work
    if dask:
        return DaskExecutor(dask, workers)
    if workers <= 1:
        return SerialExecutor()
    return PoolExecutor(workers)
