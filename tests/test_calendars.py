"""Dated runs: start_date, calendars (holidays, make-up days), shifts and business-hours
clocks on real days, targets in natural or working days.  Hand-made cases, exact times.

The 2026 cases use the shipped ``cn_2026`` calendar: Friday 25 September 2026 is the
Mid-Autumn holiday (25-27 September), Saturday 10 October a make-up working day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas.testing as pd_testing
import pytest
from helpers import run, table, tiny_dict

from sim.calendars import DatedClock, DayAxis, WeeklyClock, business_clock, dated_staffing
from sim.config import ScenarioError, resolved_dict, scenario_from_dict
from sim.config.dated import StaffEvent
from sim.sla import deadlines, outcomes
from sim.timeaxis import Calendar, WeekAxis

DAY = 1440.0
THU_17 = 17 * 60.0  # run starts Thursday 24 September 2026, 00:00


def dated(start: str = "2026-09-24", calendar: bool = True, **changes: Any) -> dict[str, Any]:
    d = tiny_dict(**changes)
    d["run"] = {**d["run"], "start_date": start, "horizon_days": 6}
    if calendar:
        d["calendars"] = [{"preset": "cn_2026"}]
    return d


def office_desk(d: dict[str, Any], on_holidays: bool) -> dict[str, Any]:
    d["staff"][0]["shifts"] = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start_hour": 9,
                                "end_hour": 18, "headcount": 1, "on_holidays": on_holidays}]
    return d


# --------------------------------------------------------------------------- the schema
def test_start_date_fixes_the_weekday_and_a_conflicting_one_is_refused() -> None:
    sc = scenario_from_dict(dated())
    assert sc.run.start_weekday == "thu"
    d = dated()
    d["run"]["start_weekday"] = "mon"
    with pytest.raises(ScenarioError, match=r"run\.start_weekday: .*contradicts start_date "
                       r"2026-09-24, a 'thu'"):
        scenario_from_dict(d, "s.yaml")
    d["run"]["start_weekday"] = "thu"  # the same weekday is accepted
    assert scenario_from_dict(d).run.start_weekday == "thu"


def test_a_calendar_needs_a_start_date() -> None:
    d = tiny_dict(calendars=[{"preset": "cn_2026"}])
    with pytest.raises(ScenarioError, match=r"s.yaml: calendars: a calendar needs "
                       r"run.start_date"):
        scenario_from_dict(d, "s.yaml")


def test_the_2026_preset_holds_the_notice_dates() -> None:
    sc = scenario_from_dict(dated())
    cal = sc.calendars[0]
    assert len(cal.holidays) == 33  # 3 + 9 + 3 + 5 + 3 + 3 + 7 days off
    assert dt.date(2026, 2, 16) in cal.holidays and dt.date(2026, 2, 24) not in cal.holidays
    assert set(cal.workdays) == {dt.date(2026, 1, 4), dt.date(2026, 2, 14),
                                 dt.date(2026, 2, 28), dt.date(2026, 5, 9),
                                 dt.date(2026, 9, 20), dt.date(2026, 10, 10)}


def test_day_types_of_a_dated_run() -> None:
    days = DayAxis.of(scenario_from_dict(dated(start="2026-09-24")))
    assert [days.day_type(k) for k in range(5)] == [
        "workday", "holiday", "holiday", "holiday", "workday"]
    days = DayAxis.of(scenario_from_dict(dated(start="2026-10-08")))
    assert days.day_type(2) == "makeup" and days.weekday(2) == 0  # Sat 10 Oct runs as Monday
    assert days.day_type(3) == "weekend" and days.weekday(3) == 6


# --------------------------------------------------------------------------- clocks
def _rule(**fields: Any) -> list[dict[str, Any]]:
    return [{"calendar": "business_hours", "respond_min": None, "onsite_min": None,
             "finish_min": 120, "plan_min": None, **fields}]


@pytest.mark.parametrize(("calendar", "due"), [(True, 4 * DAY + 600.0),  # Mon 28 Sep 10:00
                                               (False, DAY + 600.0)])    # Fri 25 Sep 10:00
def test_a_business_hours_clock_skips_a_holiday(calendar: bool, due: float) -> None:
    sc = scenario_from_dict(dated(calendar=calendar, sla=_rule()))
    # Thursday 17:00 + 120 business minutes: 60 on Thursday, 60 on the next open day
    assert deadlines(np.array([THU_17]), 120.0, sc.sla[0], sc)[0] == pytest.approx(due)


@pytest.mark.parametrize(("calendar", "met"), [(True, 1.0), (False, 0.0)])
def test_a_finish_on_the_holiday_meets_the_target_only_when_the_holiday_is_skipped(
    calendar: bool, met: float
) -> None:
    sc = scenario_from_dict(dated(calendar=calendar, sla=_rule()))
    # created Thu 17:00, taken at once: responded 17:10, on site 17:15, finished Fri 12:00
    req = table(sc, [THU_17], work=DAY + 720.0 - (THU_17 + 15.0))
    res = run(sc, req)
    assert res.requests["finished_min"].tolist() == [DAY + 720.0]
    assert outcomes(res.requests, sc.sla[0], sc)["finish"].tolist() == [met]


def test_a_make_up_day_opens_the_office() -> None:
    # Sat 10 Oct 2026 is a make-up working day: Friday 17:00 + 120 business minutes
    # ends Saturday 10:00 with the calendar, Monday 10:00 without it
    fri_17 = DAY + 17 * 60.0
    for calendar, due in ((True, 2 * DAY + 600.0), (False, 4 * DAY + 600.0)):
        sc = scenario_from_dict(dated(start="2026-10-08", calendar=calendar, sla=_rule()))
        assert deadlines(np.array([fri_17]), 120.0, sc.sla[0], sc)[0] == pytest.approx(due)


def test_the_dated_clock_equals_the_weekly_one_when_no_day_is_special() -> None:
    d = dated(start="2026-03-02", sla=_rule())
    d["calendars"] = [{"holidays": ["2030-01-01"]}]  # far outside the run
    sc = scenario_from_dict(d)
    clock = business_clock(sc)
    assert isinstance(clock, DatedClock)
    weekly = WeeklyClock(Calendar(sc.business_hours), WeekAxis.from_run(sc.run))
    rng = np.random.default_rng(3)
    start = rng.uniform(0, 20 * DAY, 400)
    end = start + rng.uniform(0, 5 * DAY, 400)
    np.testing.assert_allclose(clock.elapsed(start, end), weekly.elapsed(start, end),
                               atol=1e-6)
    for minutes in (1.0, 90.0, 540.0, 5000.0, 40000.0):  # the last runs past the table
        np.testing.assert_allclose(clock.add(start, minutes), weekly.add(start, minutes),
                                   atol=1e-6)


# --------------------------------------------------------------------------- day targets
@pytest.mark.parametrize(("unit", "due"), [("natural", THU_17 + DAY),
                                           ("working", 4 * DAY + 17 * 60.0)])
def test_one_day_natural_or_working(unit: str, due: float) -> None:
    # the rule's own calendar is business hours: a natural day still counts 24 h a day
    rules = [{"plan_min": None, "calendar": "business_hours",
              "targets_in_days": {"plan": {"days": 1, "unit": unit}}}]
    sc = scenario_from_dict(dated(sla=rules))
    rule = sc.sla[0]
    assert rule.plan_min == 1440.0  # measured, shown as one day
    # Thu 17:00: natural day -> Fri 17:00; working day (9 business hours) -> 1 h on
    # Thursday, 8 h on Monday 28 Sep (the holiday and the weekend skipped) -> Mon 17:00
    assert deadlines(np.array([THU_17]), 1440.0, rule, sc, "plan")[0] == pytest.approx(due)


def test_a_target_in_minutes_and_in_days_for_one_stage_is_refused() -> None:
    rules = [{"plan_min": 600, "targets_in_days": {"plan": {"days": 1, "unit": "natural"}}}]
    with pytest.raises(ScenarioError, match=r"plan_min and targets_in_days\.plan both"):
        scenario_from_dict(dated(sla=rules), "s.yaml")


# --------------------------------------------------------------------------- shifts
@pytest.mark.parametrize(("on_holidays", "taken"), [(False, 4 * DAY + 540.0),  # Mon 09:00
                                                    (True, DAY + 600.0)])      # at once
def test_a_shift_off_on_holidays_leaves_the_holiday_unstaffed(
    on_holidays: bool, taken: float
) -> None:
    sc = scenario_from_dict(office_desk(dated(), on_holidays))
    res = run(sc, table(sc, [DAY + 600.0]))  # Fri 25 Sep (Mid-Autumn) 10:00
    assert res.requests["responded_min"].tolist() == [taken]


@pytest.mark.parametrize(("calendar", "taken"), [(True, 2 * DAY + 600.0),  # Sat, make-up
                                                 (False, 4 * DAY + 540.0)])  # Mon 09:00
def test_a_make_up_day_runs_the_weekday_shifts(calendar: bool, taken: float) -> None:
    sc = scenario_from_dict(office_desk(dated(start="2026-10-08", calendar=calendar), False))
    res = run(sc, table(sc, [2 * DAY + 600.0]))  # Sat 10 Oct 10:00
    assert res.requests["responded_min"].tolist() == [taken]


def test_dated_staffing_changes_at_the_exact_minutes() -> None:
    sc = scenario_from_dict(office_desk(dated(), False))
    changes = dated_staffing(sc.staff[0], DayAxis.of(sc), sc.run.horizon_min)
    # Thu 24 Sep 09-18 on; Fri-Sun holidays and weekend; Mon 28 and Tue 29 Sep 09-18 on
    assert [(t, v.headcount) for t, v in changes] == [
        (0.0, 0), (540.0, 1), (1080.0, 0), (4 * DAY + 540.0, 1), (4 * DAY + 1080.0, 0),
        (5 * DAY + 540.0, 1), (5 * DAY + 1080.0, 0)]


# --------------------------------------------------------------------------- staff events
def test_a_training_day_takes_people_at_exact_times() -> None:
    d = dated(calendar=False)
    d["staff"][1]["shifts"] = [{"start_hour": 0, "end_hour": 24, "headcount": 2}]
    d["events"] = [{"name": "training", "kind": "staff", "pool": "tech", "people": 1,
                    "start": "2026-09-24T09:00", "duration_hour": 8}]
    sc = scenario_from_dict(d)
    changes = dated_staffing(sc.staff[1], DayAxis.of(sc), sc.run.horizon_min,
                             [e for e in sc.events if isinstance(e, StaffEvent)],
                             [(540.0, 1020.0)])
    assert [(t, v.headcount) for t, v in changes] == [(0.0, 2), (540.0, 1), (1020.0, 2)]
    # two requests at 10:00: the desk responds 10:00 and 10:10; with one technician left
    # the second waits for the first job (on site 10:15, 60 min work) to end at 11:15
    res = run(sc, table(sc, [600.0, 600.0]))
    assert res.requests["onsite_min"].tolist() == [615.0, 680.0]
    without = scenario_from_dict({**d, "events": []})
    assert run(without, table(without, [600.0, 600.0])).requests["onsite_min"].tolist() == [
        615.0, 625.0]
    # after the window both technicians are back: the same pair at 17:00 is served at once
    res = run(sc, table(sc, [1020.0, 1020.0]))
    assert res.requests["onsite_min"].tolist() == [1035.0, 1045.0]


@pytest.mark.parametrize(("start", "created", "natural", "working"), [
    # the README's worked example, row by row (run day 0 = start date, minutes from 00:00)
    ("2026-09-24", THU_17, DAY + 17 * 60.0, 4 * DAY + 17 * 60.0),
    ("2026-10-09", 17 * 60.0, DAY + 17 * 60.0, DAY + 17 * 60.0),
    ("2026-07-14", 600.0, DAY + 600.0, DAY + 600.0),
])
def test_the_readme_one_day_examples(start: str, created: float, natural: float,
                                     working: float) -> None:
    for unit, due in (("natural", natural), ("working", working)):
        rules = [{"plan_min": None, "targets_in_days": {"plan": {"days": 1, "unit": unit}}}]
        sc = scenario_from_dict(dated(start=start, sla=rules))
        got = deadlines(np.array([created]), 0.0, sc.sla[0], sc, "plan")[0]
        assert got == pytest.approx(due), unit


@pytest.mark.parametrize("name", ["quanxueli", "six_types"])
def test_day_by_day_staffing_equals_the_weekly_one_when_no_day_is_special(name: str) -> None:
    """The dated driver (forced by a calendar whose only day is years away) runs every
    shift, block and daily absence exactly as the weekly driver does."""
    import sim

    plain = sim.load_scenario(f"scenarios/{name}.yaml")
    plain = plain.model_copy(update={"run": plain.run.model_copy(update={"horizon_days": 3})})
    d = resolved_dict(plain)
    d["run"]["start_date"] = "2026-03-02"  # a Monday, as the scenario's start_weekday
    d["calendars"] = [{"holidays": ["2030-01-01"]}]
    with_calendar = scenario_from_dict(d)
    ra, rb = sim.simulate(plain), sim.simulate(with_calendar)
    assert len(ra.requests) > 30
    pd_testing.assert_frame_equal(ra.requests, rb.requests)
    pd_testing.assert_frame_equal(ra.load, rb.load)  # on-duty minutes per pool and hour
