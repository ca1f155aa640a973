"""The lean event core runs events exactly where and when SimPy would."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import simpy
from simpy.events import URGENT, Event, Timeout

from sim.kernel import Call, Environment, call_at, call_in


def _mixed(env: simpy.Environment) -> list[tuple[float, str]]:
    """Timeouts, calls and a process scheduled in an interleaved order; the log of what
    ran when."""
    log: list[tuple[float, str]] = []

    def note(name: str) -> Callable[[Any], None]:
        return lambda ev: log.append((env.now, name))

    def proc() -> simpy.events.ProcessGenerator:
        yield env.timeout(2.0)
        log.append((env.now, "process"))
        call_in(env, 0.0, note("call from process"))

    Timeout(env, 2.0).callbacks.append(note("timeout 1"))
    call_in(env, 2.0, note("call 1"))
    env.process(proc())
    Timeout(env, 2.0).callbacks.append(note("timeout 2"))
    call_in(env, 1.0, note("call early"))
    call_in(env, 5.0, note("call at until"))  # due at the stop time: never runs
    env.run(until=5.0)
    return log


def test_calls_interleave_with_simpy_events_in_simpy_order() -> None:
    plain = _mixed(simpy.Environment())
    lean = _mixed(Environment())
    assert lean == plain
    # the process's timeout is scheduled when the process starts, after "timeout 2"
    assert lean == [(1.0, "call early"), (2.0, "timeout 1"), (2.0, "call 1"),
                    (2.0, "timeout 2"), (2.0, "process"), (2.0, "call from process")]


def test_call_carries_its_value_and_rejects_negative_delays() -> None:
    env = Environment()
    seen: list[object] = []
    call = call_in(env, 3.0, lambda c: seen.append(c._value), "payload")
    assert isinstance(call, Call)
    env.run(until=10.0)
    assert seen == ["payload"] and env.now == 10.0
    with pytest.raises(ValueError, match="negative delay"):
        call_in(env, -1.0, lambda c: None)


def test_failed_events_crash_the_run_as_in_simpy() -> None:
    env = Environment()
    ev = Event(env)
    ev.fail(KeyError("boom"))
    with pytest.raises(KeyError, match="boom"):
        env.run(until=1.0)
    with pytest.raises(ValueError, match="greater than"):
        Environment(5.0).run(until=5.0)


def _chain_with_ties(env: simpy.Environment, use_feed: bool) -> list[tuple[float, str]]:
    """A chain of calls (each scheduling the next, as arrivals do) due at the same moments
    as queued calls, timeouts and an urgent event, some scheduled before and some after
    each link; the log of what ran when."""
    log: list[tuple[float, str]] = []
    times = [1.0, 2.0, 2.0, 3.0, 5.0, 5.0]

    def link(i: int) -> Callable[[Any], None]:
        def run(_ev: Any) -> None:
            log.append((env.now, f"link {i}"))
            if i == 1:  # scheduled after the next link, due at its moment
                call_in(env, 0.0, lambda ev: log.append((env.now, "call after link 1")))
            if i + 1 < len(times):
                nxt = link(i + 1)
                if use_feed:
                    env.feed(times[i + 1], nxt)
                else:
                    call_at(env, times[i + 1], nxt)
            if i == 2:  # an urgent event at the next link's moment runs first
                urgent = Event(env)
                urgent._ok, urgent._value = True, None
                urgent.callbacks.append(lambda ev: log.append((env.now, "urgent")))
                env.schedule(urgent, URGENT, 1.0)
        return run

    call_in(env, 2.0, lambda ev: log.append((env.now, "call queued first")))
    Timeout(env, 3.0).callbacks.append(lambda ev: log.append((env.now, "timeout")))
    if use_feed:
        env.feed(times[0], link(0))
    else:
        call_at(env, times[0], link(0))
    call_in(env, 1.0, lambda ev: log.append((env.now, "call queued after link 0")))
    return log


@pytest.mark.parametrize("until", [5.0, 6.0, None])
def test_the_feed_runs_its_chain_where_queued_calls_would_run(until: float | None) -> None:
    plain_env = simpy.Environment()
    plain = _chain_with_ties(plain_env, use_feed=False)
    lean_env = Environment()
    lean = _chain_with_ties(lean_env, use_feed=True)
    plain_env.run(until)  # None: SimPy's own loop (step and peek) must see the feed too
    lean_env.run(until)
    assert lean == plain
    assert ("link 5" in {name for _, name in lean}) == (until != 5.0)  # due at until
    assert lean[:3] == [(1.0, "link 0"), (1.0, "call queued after link 0"),
                        (2.0, "call queued first")]
    assert lean.index((3.0, "urgent")) < lean.index((3.0, "link 3"))


def test_the_feed_holds_one_call_and_never_one_in_the_past() -> None:
    env = Environment()
    env.feed(2.0, lambda ev: None)
    with pytest.raises(RuntimeError, match="already holds"):
        env.feed(3.0, lambda ev: None)
    env.run(until=4.0)
    with pytest.raises(ValueError, match="in the past"):
        env.feed(1.0, lambda ev: None)
    assert env.peek() == math.inf
