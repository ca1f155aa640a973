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
