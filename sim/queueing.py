"""Closed-form queueing results used to validate the model and to seed staffing searches.

All functions use one time unit throughout (rates per that unit, times in it).
"""

from __future__ import annotations

import math


def erlang_c(servers: int, offered_load: float) -> float:
    """Erlang C: probability an arrival waits in an M/M/c queue.

    ``offered_load`` is a = lambda / mu (in Erlangs); 1.0 when the queue is unstable.
    """
    c, a = servers, offered_load
    if a >= c:
        return 1.0
    term = 1.0
    total = 1.0
    for k in range(1, c):
        term *= a / k
        total += term
    last = term * a / c * c / (c - a)
    return last / (total + last)


def mmc_wait_cdf(t: float, servers: int, arrival_rate: float, mean_service: float) -> float:
    """P(W <= t) for the waiting time of an M/M/c queue (same time unit throughout)."""
    mu = 1.0 / mean_service
    pw = erlang_c(servers, arrival_rate / mu)
    return 1.0 - pw * math.exp(-(servers * mu - arrival_rate) * t)


def mmc_mean_wait(servers: int, arrival_rate: float, mean_service: float) -> float:
    """Mean waiting time in queue of an M/M/c queue."""
    mu = 1.0 / mean_service
    pw = erlang_c(servers, arrival_rate / mu)
    return pw / (servers * mu - arrival_rate)


def mmc_mean_in_system(servers: int, arrival_rate: float, mean_service: float) -> float:
    """Mean number in system L = lambda * (Wq + 1/mu) (Little's law)."""
    return arrival_rate * (mmc_mean_wait(servers, arrival_rate, mean_service) + mean_service)


def preemptive_low_mean_response(
    servers: int, high_rate: float, low_rate: float, mean_service: float
) -> float:
    """Mean time in system of the low class of a two-class preemptive-resume M/M/c queue
    with equal exponential service rates.

    Both classes together form an M/M/c queue, and the high class alone is one (it never
    sees the low class), so the low class holds ``L(M/M/c, both) - L(M/M/c, high)`` on
    average; Little's law gives its mean time in system.  For one server this is
    ``(1/mu) / ((1 - rho1)(1 - rho1 - rho2))`` (Kleinrock; Harchol-Balter ch. 32).
    """
    both = mmc_mean_in_system(servers, high_rate + low_rate, mean_service)
    high = mmc_mean_in_system(servers, high_rate, mean_service)
    return (both - high) / low_rate
