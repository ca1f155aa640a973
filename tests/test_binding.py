"""Say what binds: binding constraint, failing hour band and the cause of a failed search."""

from __future__ import annotations

import pandas as pd

from sim.binding import Binding, binding, failing_hours, hours_text, uncovered
from sim.config import scenario_from_dict
from sim.optimiser import optimize
from tests.decide_scenarios import night_disputes, night_disputes_dict

NIGHT = (18, 19, 20, 21, 22, 23, 0, 1, 2, 3, 4, 5, 6, 7)


def test_hours_text_wraps_midnight() -> None:
    assert hours_text(NIGHT) == "18:00–08:00"
    assert hours_text([7, 8, 18, 19]) == "07:00–09:00, 18:00–20:00"
    assert hours_text(range(24)) == "all day"
    assert hours_text([22, 23]) == "22:00–00:00"


def _hourly(shares: dict[int, float], requests: float = 10.0) -> pd.DataFrame:
    return pd.DataFrame({"community_type": "old_estate", "stage": "onsite",
                         "group": [str(h) for h in shares], "compliance": list(shares.values()),
                         "requests": requests})


def test_failing_band_is_the_night_despite_a_stray_short_hour() -> None:
    shares = {h: (0.5 if h in NIGHT else 1.0) for h in range(24)}
    shares[13] = 0.75  # one short afternoon hour must not split or widen the band
    assert failing_hours(_hourly(shares), "old_estate", "onsite", 0.8) == NIGHT
    # short at every hour alike: no band
    flat = {h: 0.6 for h in range(24)}
    assert failing_hours(_hourly(flat), "old_estate", "onsite", 0.8) == ()
    # meeting the target everywhere: no band
    assert failing_hours(_hourly({h: 0.95 for h in range(24)}), "old_estate", "onsite",
                         0.8) == ()


def test_binding_is_the_smallest_margin() -> None:
    lcb = pd.DataFrame({"community_type": ["a", "b", "b"], "stage": ["respond", "onsite",
                                                                     "respond"],
                        "lcb": [0.9, 0.7, 0.99], "target": [0.8, 0.8, 0.8]})
    lcb["margin"] = lcb["lcb"] - lcb["target"]
    b = binding(lcb)
    assert b == Binding("b", "onsite", b.margin) and abs(b.margin + 0.1) < 1e-12
    assert b.text() == "onsite × b"


def test_uncovered_reads_routing_and_rosters() -> None:
    sc = night_disputes()
    assert uncovered(sc, "old_estate", "onsite") == [(["dispute"], ["community_cadre"],
                                                      tuple(sorted(NIGHT)))]
    assert uncovered(sc, "old_estate", "respond") == []  # the desk works round the clock
    d = night_disputes_dict()
    d["staff"][2]["shifts"].append({"name": "night", "start_hour": 18, "end_hour": 8,
                                    "headcount": 1})
    assert uncovered(scenario_from_dict(d), "old_estate", "onsite") == []


def test_failed_search_names_the_target_hours_and_cause() -> None:
    res = optimize(night_disputes(), {"staff.tech.day": [1, 2]},
                   {"respond": 0.9, "onsite": 0.8}, replications=4, jobs=1)
    assert res.best is None
    assert len(res.failure) == 1
    line = res.failure[0]
    assert line.startswith("onsite ≥ 80% for old_estate, 18:00–08:00:")
    assert "no staff kind that handles dispute (community_cadre) is on duty 18:00–08:00" \
        in line
    frontier = res.frontier()
    assert set(frontier["binding"]) == {"onsite × old_estate, 18:00–08:00"}
    assert (frontier["binding_margin"] < 0).all()


def test_lever_that_cannot_reach_the_stage_is_named() -> None:
    d = night_disputes_dict(dispute_share=0.0)
    d["staff"][1]["shifts"][0] = {"name": "day", "start_hour": 8, "end_hour": 18,
                                  "headcount": 1}
    res = optimize(scenario_from_dict(d), {"staff.desk.all": [1, 2]},
                   {"onsite": 0.8}, replications=4, jobs=1)
    assert res.best is None
    line = res.failure[0]
    assert "no staff kind that handles repair (technician) is on duty 18:00–08:00" in line
    assert "no lever changes the staff who handle it (tech)" in line
