"""A lean event core on SimPy's own clock and queue.

The request engine schedules three to four timed callbacks per request.  As SimPy
``Timeout`` events, each one builds an :class:`~simpy.events.Event` (delay check,
callback list, a call to ``Environment.schedule``) and is processed through a call to
``Environment.step``; over a zone-year that is a quarter of the run.  Here:

* :func:`call_in` puts a bare :class:`Call` in SimPy's event queue with exactly the key a
  ``Timeout`` would get, ``(now + delay, NORMAL, next id)``, so events run in the order
  SimPy would run them, and SimPy processes and timeouts keep working beside them;
* :class:`Environment` is ``simpy.Environment`` with the loop of ``run(until=<time>)``
  written out (no method call per event); everything else is SimPy's;
* :meth:`Environment.feed` keeps one chain of calls outside the queue -- the request
  arrivals, one per request, each scheduling the next: the next call of the chain is
  held beside the queue with the key it would have had in it, and the loop runs it when
  that key comes first, so the order is unchanged and the arrivals cost no queue entry.

Both read SimPy's ``_now``, ``_queue`` and ``_eid`` (stable since SimPy 3);
``tests/test_kernel.py`` checks the order against SimPy's own events.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.core import StopSimulation
from simpy.events import NORMAL, URGENT, Event

__all__ = ["Call", "Environment", "call_at", "call_in"]


class Call:
    """A callback due at a moment: the event SimPy's loop sees.

    The callback is called with the :class:`Call` itself; its ``_value`` is the value
    given to :func:`call_in` (as with ``Timeout(env, delay, value)``).  It holds the
    callback alone, not a list: :class:`Environment` calls ``fn`` directly, and
    ``callbacks`` gives SimPy's own ``step`` the list it expects.
    """

    __slots__ = ("_value", "fn")
    _ok = True  # never fails (read by SimPy's own ``step``)

    def __init__(self, fn: Callable[[Any], None], value: Any) -> None:
        self.fn = fn
        self._value = value

    @property
    def callbacks(self) -> list[Callable[[Any], None]]:
        return [self.fn]

    @callbacks.setter
    def callbacks(self, value: list[Callable[[Any], None]] | None) -> None:
        if value:  # SimPy sets None once it has the list: nothing to keep
            self.fn = value[0]


def call_in(
    env: simpy.Environment, delay: float, fn: Callable[[Any], None], value: Any = None
) -> Call:
    """Call ``fn(call)`` ``delay`` minutes from now, where a ``Timeout(env, delay, value)``
    with ``fn`` as its callback would have run.

    Raises
    ------
    ValueError
        If ``delay`` is negative (as ``Timeout`` does).
    """
    if delay < 0:
        raise ValueError(f"negative delay {delay}")
    call = Call(fn, value)
    queue: list[Any] = env._queue
    heappush(queue, (env._now + delay, NORMAL, next(env._eid), call))
    return call


def call_at(env: simpy.Environment, at: float, fn: Callable[[Any], None],
            value: Any = None) -> Call:
    """Call ``fn(call)`` at simulated time ``at`` (not before now), as :func:`call_in`."""
    if at < env._now:
        raise ValueError(f"time {at} is in the past")
    call = Call(fn, value)
    queue: list[Any] = env._queue
    heappush(queue, (at, NORMAL, next(env._eid), call))
    return call


class Environment(simpy.Environment):
    """``simpy.Environment`` whose ``run(until=<time>)`` processes events in a tight loop.

    Same events in the same order, the same stop rule (an urgent event at ``until``,
    so events due at ``until`` itself do not run) and the same failure handling as
    SimPy's ``run``; ``run()`` and ``run(until=<event>)`` are SimPy's (its ``step`` and
    ``peek`` see the feed too).
    """

    def __init__(self, initial_time: float = 0) -> None:
        super().__init__(initial_time)
        self._feed_at = math.inf  # the feed's next call: time, queue id, callback
        self._feed_eid = 0
        self._feed_fn: Callable[[Any], None] | None = None

    def feed(self, at: float, fn: Callable[[Any], None]) -> None:
        """Call ``fn(None)`` at simulated time ``at`` (not before now), in the place a
        :func:`call_at` made now would have in the event order, without queueing it.

        The feed holds one call: a call made from the feed's own callback may set the
        next one (a chain, as the request arrivals are); setting another while one is
        pending is an error.
        """
        if at < self._now:
            raise ValueError(f"time {at} is in the past")
        if self._feed_fn is not None:
            raise RuntimeError("the feed already holds a pending call")
        self._feed_at = at
        self._feed_eid = next(self._eid)
        self._feed_fn = fn

    def _feed_first(self) -> bool:
        """Whether the feed's call comes before the head of the queue."""
        at = self._feed_at
        if not self._queue:
            return self._feed_fn is not None
        head = self._queue[0]
        return at < head[0] or (at == head[0] and head[1] == NORMAL
                                and self._feed_eid < head[2])

    def _run_feed(self) -> None:
        fn = self._feed_fn
        assert fn is not None
        self._now = self._feed_at
        self._feed_at = math.inf
        self._feed_fn = None
        fn(None)

    def peek(self) -> float:
        return min(self._feed_at, super().peek())

    def step(self) -> None:
        if self._feed_fn is not None and self._feed_first():
            self._run_feed()
        else:
            super().step()

    def run(self, until: float | Event | None = None) -> Any:
        if until is None or isinstance(until, Event):
            return super().run(until)
        at = float(until)
        if at <= self._now:
            raise ValueError(f"until ({at}) must be greater than the current simulation time")
        stop = Event(self)
        stop._ok = True
        stop._value = None
        self.schedule(stop, URGENT, at - self._now)
        queue: list[Any] = self._queue
        try:
            while True:
                if not queue:  # pragma: no cover - the stop event is always queued
                    raise RuntimeError("no scheduled events left before until")
                head = queue[0]
                feed_at = self._feed_at
                if feed_at < head[0] or (feed_at == head[0] and head[1] == NORMAL
                                         and self._feed_eid < head[2]):
                    # the feed's call comes first (by SimPy's key): self._run_feed()
                    fn = self._feed_fn
                    self._now = feed_at
                    self._feed_at = math.inf
                    self._feed_fn = None
                    fn(None)  # type: ignore[misc]  # set whenever _feed_at is finite
                    continue
                self._now, _, _, event = heappop(queue)
                if event.__class__ is Call:  # the engine's events: one callback, never fail
                    event.fn(event)
                    continue
                if event is stop:
                    stop.callbacks = None
                    return None
                callbacks, event.callbacks = event.callbacks, None
                for callback in callbacks:
                    callback(event)
                if not event._ok and not hasattr(event, "_defused"):
                    exc = type(event._value)(*event._value.args)
                    exc.__cause__ = event._value
                    raise exc
        except StopSimulation as e:  # a process ended the run early (env.exit-style)
            return e.args[0]
