"""Compliance by day for dated runs: the table adds up to the run's compliance, the figure
marks holidays and event windows where they are."""

from __future__ import annotations

import numpy as np
from helpers import run, table, tiny_dict
from matplotlib.patches import Rectangle

import sim
from sim.config import scenario_from_dict
from sim.figures import report_figures
from sim.figures.daily import compliance_by_day, daily_compliance
from sim.results import ExperimentResult

DAY = 1440.0


def dated_exp() -> ExperimentResult:
    d = tiny_dict(calendars=[{"preset": "cn_2026"}], events=[
        {"name": "storm", "kind": "surge", "start": "2026-09-28T08:00", "duration_hour": 6,
         "multiplier": 5}])
    d["run"] = {**d["run"], "start_date": "2026-09-24", "horizon_days": 6}
    sc = scenario_from_dict(d)
    # day 0 (Thu): two met, day 1 (Fri, holiday): one met and one late (on site 40 min)
    req = table(sc, [600.0, 700.0, DAY + 600.0, DAY + 600.0], travel=[5.0, 5.0, 5.0, 25.0],
                respond=[10.0, 10.0, 10.0, 0.5])
    res = run(sc, req)
    return ExperimentResult.from_results(sc, 1, [res])


def test_daily_shares_are_the_shares_of_each_day() -> None:
    exp = dated_exp()
    onsite = daily_compliance(exp).query("stage == 'onsite'").set_index("day")
    # the desk takes the 10:00 pair one after the other: the second waits 0.5 min more
    assert onsite["requests"].to_dict() == {0: 2, 1: 2}
    assert onsite["mean"].to_dict() == {0: 1.0, 1: 0.5}


def test_daily_counts_add_up_to_the_run_on_a_real_scenario() -> None:
    sc = sim.load_scenario("scenarios/spring_festival.yaml")
    sc = sc.model_copy(update={"run": sc.run.model_copy(update={"replications": 2,
                                                                 "horizon_days": 5})})
    exp = sim.replicate(sc)
    daily = daily_compliance(exp).groupby("stage")["requests"].sum()
    total = exp.compliance(None).set_index("stage")["requests"]
    assert daily.to_dict() == total.to_dict()


def test_the_figure_marks_holidays_and_event_windows() -> None:
    exp = dated_exp()
    fig = compliance_by_day(exp)
    spans = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    # holidays Fri 25 - Sun 27 Sep (run days 1-3), the storm on Mon 28 Sep 08:00-14:00
    xs = sorted((round(p.get_x(), 4), round(p.get_x() + p.get_width(), 4)) for p in spans)
    assert xs == [(1.0, 2.0), (2.0, 3.0), (3.0, 4.0),
                  (round(4 + 8 / 24, 4), round(4 + 14 / 24, 4))]
    assert "compliance_by_day" in report_figures(exp)
    undated = ExperimentResult.from_results(
        scenario_from_dict(tiny_dict()), 1, [run(scenario_from_dict(tiny_dict()),
                                                 table(scenario_from_dict(tiny_dict()),
                                                       [60.0]))])
    assert "compliance_by_day" not in report_figures(undated)
    assert np.isfinite(daily_compliance(undated)["mean"]).all()
