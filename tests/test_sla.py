"""SLA clocks and compliance outcomes as pure functions of the records."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import run, table, tiny, tiny_dict

from sim.config import BusinessHours, scenario_from_dict
from sim.sla import Calendar, outcomes


def at(df: pd.DataFrame, row: int, column: str) -> Any:
    """One cell of a frame (by row position)."""
    return df[column].iloc[row]


def test_business_calendar_counts_only_open_hours() -> None:
    cal = Calendar(BusinessHours())  # Mon-Fri 09:00-18:00
    mon_9 = 9 * 60.0
    fri_17 = 4 * 1440 + 17 * 60.0
    # Friday 17:00 + 2 business hours = Monday 10:00 of the next week
    assert cal.add(np.array([fri_17]), 120.0)[0] == pytest.approx(7 * 1440 + 10 * 60.0)
    assert cal.elapsed_before(np.array([mon_9 + 30]))[0] == pytest.approx(30.0)
    # a whole week holds 5 x 9 h
    assert cal.elapsed_before(np.array([7 * 1440.0]))[0] == pytest.approx(45 * 60.0)
    t = np.array([100.0, 3000.0, 8000.0])
    assert np.allclose(cal.elapsed_before(cal.add(t, 90.0)) - cal.elapsed_before(t), 90.0)


def test_outcomes_met_missed_not_applicable_and_censored() -> None:
    sc = tiny()
    res = run(sc, table(sc, [0.0, 0.0, 1400.0], complex_=[False, True, False]))
    out = outcomes(res.requests, sc.sla[0], sc)
    # request 0: respond 0, on site 15, finished 75 -> all met
    assert [at(out, 0, c) for c in ("respond", "onsite", "finish", "joint")] == [1.0] * 4
    assert np.isnan(at(out, 0, "plan"))  # routine: plan not applicable
    # request 1 (complex) waited 10 for the desk and the technician until 75: on site 80
    assert out.loc[1, "onsite"] == 0.0
    assert np.isnan(at(out, 1, "finish"))  # complex: 4 h finish not applicable
    # request 2 arrived 40 min before the horizon: responded, on site at 1415 (met), its
    # finish deadline (1640) is after the horizon and it is still open -> unknown
    assert out.loc[2, "onsite"] == 1.0
    assert np.isnan(at(out, 2, "finish")) and out.loc[2, "finish_unknown"]
    assert np.isnan(at(out, 2, "joint")) and out.loc[2, "joint_unknown"]


def test_open_stage_whose_deadline_passed_counts_as_missed() -> None:
    d = tiny_dict()
    d["staff"][1]["shifts"] = [{"start_hour": 0, "end_hour": 1, "headcount": 1}]
    sc = scenario_from_dict(d)
    res = run(sc, table(sc, [600.0]))  # no technician on duty after 01:00
    assert np.isnan(at(res.requests, 0, "onsite_min"))
    out = outcomes(res.requests, sc.sla[0], sc)
    assert out.loc[0, "onsite"] == 0.0 and out.loc[0, "finish"] == 0.0
    assert out.loc[0, "joint"] == 0.0


def test_rule_on_business_hours_and_category_subset() -> None:
    d = tiny_dict(sla=[{"name": "office", "calendar": "business_hours", "respond_min": 60,
                        "onsite_min": None, "finish_min": None, "plan_min": None}])
    sc = scenario_from_dict(d)
    # created Monday 17:30, responded Tuesday 09:20: 30 + 20 = 50 business minutes
    reqs = pd.DataFrame({"category": ["job"], "complex": [False], "created_min": [1050.0],
                         "responded_min": [1440 + 560.0], "onsite_min": [np.nan],
                         "plan_min": [np.nan], "finished_min": [np.nan]})
    out = outcomes(reqs, sc.sla[0], sc)
    assert out.loc[0, "respond"] == 1.0
    assert np.isnan(at(out, 0, "onsite"))
