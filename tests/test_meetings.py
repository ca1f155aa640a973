"""Meetings serving batches: the wait to the next sitting against theory (half the period,
in expectation and exactly on an even grid), capacity limits against a direct count, and
the scenario checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import simpy
from scipy import stats

import sim
import sim.meetings
from sim.config import ScenarioError, scenario_from_dict
from sim.meetings import sitting_starts
from sim.timeaxis import WeekAxis
from tests.helpers import fixed, run, table, tiny_dict

PERIOD = 7 * 1440.0
FIRST = 30.0  # the run starts Tuesday 07:00; the first sitting is Tuesday 07:30
WEEKS = 4
DURATION = 90.0


def _scenario(capacity: int | None = None, enabled: bool = True, **meeting: Any) -> sim.Scenario:
    """Appeals that need nothing but a plan (desk handling 0, no site visit), planned at
    a weekly Tuesday 07:30 meeting of 90 min; one cadre plans them when it is off."""
    data = tiny_dict(
        run={"horizon_days": WEEKS * 7 + 1, "warmup_days": 0, "replications": 1, "seed": 1,
             "start_weekday": "tue", "start_hour": 7},
        categories={"appeal": {"respond_time": fixed(0), "onsite_by": [], "complex_prob": 1.0,
                               "plan_by": ["community_cadre"], "plan_time": fixed(120),
                               "close_time": fixed(30)}},
        meetings=[{"name": "breakfast", "days": ["tue"], "start_hour": 7.5,
                   "duration_min": DURATION, "capacity": capacity, "categories": ["appeal"],
                   "enabled": enabled, **meeting}],
    )
    data["communities"][0]["category_mix"] = {"appeal": 1.0}
    return scenario_from_dict(data, "<test>")


def _plans(sc: sim.Scenario, created: list[float] | np.ndarray) -> np.ndarray:
    times = [float(t) for t in created]
    req = table(sc, times, category="appeal", respond=0.0, complex_=[True] * len(times))
    out = run(sc, req).requests
    assert out["created_min"].tolist() == sorted(times)
    return out["plan_min"].to_numpy()


def test_sittings_fall_on_tuesdays_at_0730() -> None:
    sc = _scenario()
    starts = sitting_starts(sc.meetings[0], WeekAxis.from_run(sc.run), sc.run.horizon_min)
    assert starts == [FIRST + k * PERIOD for k in range(WEEKS + 1)]


def test_mean_wait_on_an_even_grid_is_exactly_half_the_period() -> None:
    # n arrivals at the midpoints of n equal slices of each period: waits P - (k + 1/2) P/n
    n = 48
    created = [FIRST + w * PERIOD + (k + 0.5) * PERIOD / n for w in range(WEEKS)
               for k in range(n)]
    plan = _plans(_scenario(), created)
    wait = plan - DURATION - np.array(created)
    assert np.mean(wait) == pytest.approx(PERIOD / 2, rel=1e-12)
    sittings = plan - DURATION
    assert set(sittings) == {FIRST + k * PERIOD for k in range(1, WEEKS + 1)}


@pytest.mark.statistical
def test_mean_wait_of_poisson_arrivals_is_half_the_period(stat_seed: int) -> None:
    # Poisson arrivals over whole periods: each wait is uniform on (0, P), mean P/2 and
    # standard deviation P/sqrt(12); the band is the 99.9% interval of the sample mean
    rng = np.random.default_rng(stat_seed)
    n = rng.poisson(2000)
    created = np.sort(FIRST + rng.random(n) * WEEKS * PERIOD)
    plan = _plans(_scenario(), created)
    wait = plan - DURATION - created
    assert not np.isnan(wait).any()
    half = stats.norm.ppf(0.9995) * PERIOD / np.sqrt(12 * n)
    assert abs(wait.mean() - PERIOD / 2) < half


def _direct(created: list[float], capacity: int, sittings: list[float]) -> list[float]:
    """Sitting each request is served at: every sitting takes the ``capacity`` longest
    waiting of those arrived before it."""
    served: list[float] = [np.nan] * len(created)
    waiting: list[int] = []
    nxt = 0
    for s in sittings:
        while nxt < len(created) and created[nxt] < s:
            waiting.append(nxt)
            nxt += 1
        for i in waiting[:capacity]:
            served[i] = s
        waiting = waiting[capacity:]
    return served


def test_capacity_limits_match_a_direct_count() -> None:
    created = [1.0, 2.0, 3.0, 4.0, 5.0, 100.0, 200.0, 7000.0, 11000.0, 11001.0, 21000.0]
    sc = _scenario(capacity=2)
    plan = _plans(sc, created)
    sittings = [FIRST + k * PERIOD for k in range(WEEKS + 1)]
    expected = np.array(_direct(created, 2, sittings)) + DURATION
    np.testing.assert_array_equal(plan, expected)
    # by hand: 1, 2 at the first sitting; 3, 4 at the second; 5, 100 at the third ...
    assert plan[:6].tolist() == [FIRST + DURATION] * 2 + [FIRST + PERIOD + DURATION] * 2 + [
        FIRST + 2 * PERIOD + DURATION] * 2


def test_without_the_meeting_staff_plan_at_once() -> None:
    plan = _plans(_scenario(enabled=False), [1.0, 500.0])
    assert plan.tolist() == [121.0, 620.0]  # one cadre, 120-minute plans


def test_meeting_plans_close_like_staff_plans() -> None:
    sc = _scenario()
    req = table(sc, [1.0], category="appeal", respond=0.0, complex_=[True])
    out = run(sc, req).requests.iloc[0]
    assert out["plan_min"] == FIRST + DURATION
    assert out["finished_min"] == FIRST + DURATION + 30.0  # close_time after the plan
    assert pd.isna(out["plan_pool"])  # no staff pool planned it


def test_meeting_problems_are_named() -> None:
    two = tiny_dict(meetings=[
        {"name": "a", "days": ["tue"], "start_hour": 7.5, "duration_min": 90,
         "categories": ["job"]},
        {"name": "b", "days": ["wed"], "start_hour": 7.5, "duration_min": 90,
         "categories": ["job"]}])
    with pytest.raises(ScenarioError, match=r"meetings\[1\]\.categories: 'job' in 'c1' is "
                       "already served by meeting 'a'"):
        scenario_from_dict(two, "<test>")
    bad = tiny_dict(meetings=[{"name": "a", "days": ["tue"], "start_hour": 7.5,
                               "duration_min": 90, "categories": ["nope"]}])
    with pytest.raises(ScenarioError, match="unknown categories"):
        scenario_from_dict(bad, "<test>")


@pytest.mark.parametrize(("weekday", "hour"), [("tue", 7), ("sun", 0), ("fri", 23)])
def test_dated_sittings_equal_weekly_ones_without_holidays(weekday: str, hour: int) -> None:
    from sim.calendars import DayAxis
    from sim.meetings import dated_sitting_starts

    sc = _scenario(days=["mon", "tue", "sat"], start_hour=7.5)
    run_ = sc.run.model_copy(update={"start_weekday": weekday, "start_hour": hour})
    m = sc.meetings[0]
    assert (dated_sitting_starts(m, DayAxis.from_run(run_), run_.horizon_min)
            == sitting_starts(m, WeekAxis.from_run(run_), run_.horizon_min))


@pytest.mark.parametrize("on_holidays", [False, True])
def test_no_sitting_on_a_public_holiday_and_one_on_a_makeup_day(on_holidays: bool) -> None:
    """Spring Festival 2026 (cn_2026): Mondays Feb 16 and 23 are holidays; Saturdays Feb
    14 and 28 are make-up days that work as Mondays."""
    import datetime as dt

    from sim.calendars import DayAxis

    data = tiny_dict(run={"horizon_days": 35, "warmup_days": 0, "replications": 1,
                          "start_date": "2026-02-02"},
                     calendars=[{"preset": "cn_2026"}],
                     categories={"appeal": {"respond_time": fixed(0), "onsite_by": [],
                                            "complex_prob": 1.0,
                                            "plan_by": ["community_cadre"],
                                            "plan_time": fixed(120),
                                            "close_time": fixed(30)}},
                     meetings=[{"name": "monday", "days": ["mon"], "start_hour": 8,
                                "duration_min": 60, "categories": ["appeal"],
                                "on_holidays": on_holidays}])
    data["communities"][0]["category_mix"] = {"appeal": 1.0}
    sc = scenario_from_dict(data, "<test>")
    days = DayAxis.of(sc)
    server = sim.meetings.start_meetings(
        simpy.Environment(), sc, list(sc.expanded_communities()),
        table(sc, [1.0], category="appeal", respond=0.0, complex_=[True]),
        lambda r: True, lambda r: None)
    assert server is not None and server[0] is not None
    held = {days.date(days.day_of(t)) for t in server[0].starts}
    mondays = {dt.date(2026, 2, 2) + dt.timedelta(weeks=w) for w in range(5)}
    makeup = {dt.date(2026, 2, 14), dt.date(2026, 2, 28)}
    holidays = {dt.date(2026, 2, 16), dt.date(2026, 2, 23)}
    assert held == (mondays | makeup) - (set() if on_holidays else holidays)
    assert all(t % 1440.0 == 8 * 60.0 for t in server[0].starts)
