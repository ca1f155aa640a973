"""Progress inside replications: simulated days, reported from worker processes.

A command that wants to show how far its replications have got opens a
:func:`day_channel` before it starts its executor.  While it is open, a replication run
through :func:`simulate_reporting` (or :func:`sim.sweeps.replication_summary`) passes
:func:`sim.model.simulate` an ``on_day`` callback that sends one message per simulated
day down a pipe; forked local workers inherit the pipe, and a thread in the command's
process adds the days up and calls the display.  The pipe has no lock: each message is
one small write, which POSIX keeps whole, so a worker stopped in the middle of sending
(Ctrl-C ends the workers) can never leave the command waiting for a lock it held.  With
no channel open (the library, Dask workers, tests) nothing is sent and ``simulate`` gets
no callback at all.

The callback only counts: it never touches the simulation, so results are the same with
and without a display (see ``tests/test_progress.py``).
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.config import Scenario
    from sim.records import SimulationResult

_channel: Any = None
"""The open channel's write end (inherited by forked workers); None when nobody listens."""


def day_callback() -> Callable[[int], None] | None:
    """An ``on_day`` callback sending each simulated day to the open channel, or None."""
    queue = _channel
    if queue is None:
        return None
    return lambda _day: queue.send(1)


def finish_days(scenario: Scenario, sent: int) -> None:
    """Send the days a replication did not tick (its last, partial day) once it ends."""
    if _channel is not None:
        rest = days_per_replication(scenario) - sent
        if rest > 0:
            _channel.send(rest)


def days_per_replication(scenario: Scenario) -> int:
    """Simulated days a replication of ``scenario`` reports (its horizon, rounded up)."""
    return max(1, math.ceil(scenario.run.horizon_days))


def simulate_with_days(scenario: Scenario, seed: int, replication: int,
                       simulate: Callable[..., SimulationResult]) -> SimulationResult:
    """``simulate(scenario, seed, replication)`` reporting its days when a channel is open."""
    tick = day_callback()
    if tick is None:
        return simulate(scenario, seed, replication)
    sent = [0]

    def on_day(day: int) -> None:
        sent[0] += 1
        tick(day)

    res = simulate(scenario, seed, replication, on_day=on_day)
    finish_days(scenario, sent[0])
    return res


def simulate_reporting(scenario: Scenario, seed: int, replication: int) -> SimulationResult:
    """:func:`sim.model.simulate`, reporting simulated days to the open channel if any."""
    from sim.model import simulate

    return simulate_with_days(scenario, seed, replication, simulate)


@contextlib.contextmanager
def day_channel(on_days: Callable[[int], None]) -> Iterator[None]:
    """Listen for simulated days while the block runs; ``on_days(total so far)``.

    Open it before the executor starts its workers (they inherit the pipe when forked).
    """
    global _channel
    if _channel is not None:  # already listening (nested commands): keep the outer one
        yield
        return
    reader, writer = multiprocessing.get_context("fork").Pipe(duplex=False)
    total = [0]

    def listen() -> None:
        while True:
            try:
                n = reader.recv()
            except (EOFError, OSError):  # closed under us: the command is ending
                return
            if n is None:
                return
            total[0] += int(n)
            on_days(total[0])

    thread = threading.Thread(target=listen, name="sim-days", daemon=True)
    thread.start()
    _channel = writer
    try:
        yield
    finally:
        _channel = None
        writer.send(None)  # one small write, no lock: cannot wait on a stopped worker
        thread.join(timeout=5)
        writer.close()
        if not thread.is_alive():
            reader.close()


__all__ = ["day_callback", "day_channel", "days_per_replication", "simulate_reporting"]
