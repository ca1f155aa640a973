"""The lean event core runs events exactly where and when SimPy would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import simpy
from simpy.events import Event, Timeout

from sim.kernel import Call, Environment, call_in


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
