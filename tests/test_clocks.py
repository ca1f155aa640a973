"""Whose clock: targets counted from reaching the community or from the resident's call,
and hotline tickets still in transit at the horizon kept as censored requests."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import fixed, run, table, tiny, tiny_dict

from sim.arrivals import RequestTable
from sim.config import CHANNELS, Scenario, scenario_from_dict
from sim.model import simulate
from sim.results import ExperimentResult
from sim.sla import outcomes, with_clock


def _raised(req: RequestTable, raised: list[float]) -> RequestTable:
    req.raised_min = np.array(raised, dtype=float)
    return req


def _two_requests() -> tuple[Scenario, pd.DataFrame]:
    """A: raised 0, reaches the community at 60.  B: raised 1400, still in transit at the
    horizon (1440), reaching the community at 1500."""
    sc = tiny()
    req = _raised(table(sc, [60.0, 1500.0]), [0.0, 1400.0])
    return sc, run(sc, req).requests


def _row(out: pd.DataFrame, i: int) -> dict[str, Any]:
    return {str(k): (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in out.iloc[i].to_dict().items()}


def test_the_ticket_in_transit_is_kept_flagged_and_never_served() -> None:
    _, req = _two_requests()
    assert req["in_transit"].tolist() == [False, True]
    assert req["raised_min"].tolist() == [0.0, 1400.0]
    assert req["created_min"].tolist() == [60.0, 1500.0]
    # A: desk 60-70, travel 5 -> on site 75, work 60 -> finished 135
    assert req["responded_min"].tolist()[0] == 60.0
    assert req["onsite_min"].tolist()[0] == 75.0
    assert req["finished_min"].tolist()[0] == 135.0
    assert req.loc[1, ["responded_min", "onsite_min", "finished_min"]].isna().all()


def test_community_clock_counts_from_reaching_the_community() -> None:
    sc, req = _two_requests()
    assert sc.sla[0].clock_from == "community"  # the default
    out = outcomes(req, sc.sla[0], sc)
    a, b = _row(out, 0), _row(out, 1)
    assert (a["respond"], a["onsite"], a["finish"], a["joint"]) == (1.0, 1.0, 1.0, 1.0)
    # not yet at the community: nothing measurable, every deadline after the horizon
    assert (b["respond"], b["onsite"], b["finish"], b["joint"]) == (None,) * 4
    assert b["respond_unknown"] and b["onsite_unknown"] and b["finish_unknown"]
    assert b["joint_unknown"]


def test_resident_clock_counts_the_transfer_and_the_ticket_in_transit() -> None:
    sc, req = _two_requests()
    out = outcomes(req, with_clock(sc.sla[0], "resident"), sc)
    a, b = _row(out, 0), _row(out, 1)
    # A from 0: respond at 60 > 20, on site at 75 > 30, finished at 135 <= 240
    assert (a["respond"], a["onsite"], a["finish"], a["joint"]) == (0.0, 0.0, 1.0, 0.0)
    # B raised at 1400: respond due 1420 and on site 1430 passed before the horizon
    # (misses); finish due 1640 is after it (unknown); joint already missed
    assert (b["respond"], b["onsite"], b["finish"], b["joint"]) == (0.0, 0.0, None, 0.0)
    assert b["finish_unknown"] and not b["respond_unknown"] and not b["joint_unknown"]


def test_a_rule_can_choose_the_resident_clock() -> None:
    d = tiny_dict(sla=[{"clock_from": "resident"}])
    sc = scenario_from_dict(d, "<test>")
    res = run(sc, _raised(table(sc, [60.0, 1500.0]), [0.0, 1400.0]))
    exp = ExperimentResult.from_results(sc, 1, [res])
    own = exp.compliance().set_index("stage")
    assert set(own["clock"]) == {"resident"}
    assert own.loc["respond", "mean"] == 0.0 and own.loc["respond", "requests"] == 2
    assert own.loc["finish", "requests"] == 1 and own.loc["finish", "unknown"] == 1
    other = exp.compliance(clock="community").set_index("stage")
    assert other.loc["respond", "mean"] == 1.0
    assert other.loc["respond", "requests"] == 1 and other.loc["respond", "unknown"] == 1
    with pytest.raises(ValueError, match="unknown clock"):
        exp.compliance(clock="wall")


def test_compliance_tables_hold_both_clocks_for_every_rule() -> None:
    sc, _ = _two_requests()
    res = run(sc, _raised(table(sc, [60.0, 1500.0]), [0.0, 1400.0]))
    tables = ExperimentResult.from_results(sc, 1, [res]).compliance_tables([None])
    assert tables["clock"].tolist()[0] == "community"  # the rule's own clock first
    resp = tables[tables["stage"] == "respond"].set_index("clock")
    assert resp.loc["community", "mean"] == 1.0
    assert resp.loc["resident", "mean"] == 0.0


def test_escalation_deadline_follows_the_rule_clock() -> None:
    """Escalation counts each stage's deadline on the rule's clock (bit 2: on site)."""
    for clock, expected in (("community", [0, 0]), ("resident", [0, 2])):
        d = tiny_dict(sla=[{"clock_from": clock}], escalation={"enabled": True,
                                                               "handoff": False})
        sc = scenario_from_dict(d, "<test>")
        # one technician, held 10..75 by the first job; the second (raised 0, reached 60)
        # waits for him from 70 to 75: its on-site deadline is 90 on the community clock
        # (no breach) and 30 on the resident clock (breached on arrival: escalated)
        req = _raised(table(sc, [0.0, 60.0]), [0.0, 0.0])
        res = run(sc, req)
        assert res.requests["escalated"].tolist() == expected, clock


def test_simulated_hotline_tickets_raised_late_are_kept_in_transit() -> None:
    d = tiny_dict()
    d["communities"][0].update(channel_mix={"hotline_12345": 1.0}, households=1000)
    d["channels"] = {"hotline_12345": {"transfer_delay": fixed(120)}}
    req = simulate(scenario_from_dict(d, "<test>")).requests
    late = req["raised_min"] >= 1440 - 120  # about 8 of 100 a day
    assert late.sum() > 0 and (~late).sum() > 0
    assert req["in_transit"].tolist() == late.tolist()
    assert (req["created_min"] == req["raised_min"] + 120).all()
    assert req.loc[late, "responded_min"].isna().all()


def _hotline_experiment() -> ExperimentResult:
    """Two hotline tickets (A and B above) and one phone call at 100 (met on both clocks)."""
    sc = tiny()
    req = _raised(table(sc, [60.0, 100.0, 1500.0]), [0.0, 100.0, 1400.0])
    req.channel = np.array([CHANNELS.index("hotline_12345"), CHANNELS.index("phone"),
                            CHANNELS.index("hotline_12345")], dtype=np.int32)
    return ExperimentResult.from_results(sc, 1, [run(sc, req)])


def test_hotline_requests_on_both_clocks() -> None:
    exp = _hotline_experiment()
    wide = exp.clock_comparison().set_index("stage")
    assert wide.loc["respond", "community"] == 1.0 and wide.loc["respond", "resident"] == 0.0
    assert wide.loc["respond", "requests_community"] == 1
    assert wide.loc["respond", "unknown_community"] == 1
    assert wide.loc["respond", "requests_resident"] == 2
    assert wide.loc["finish", "resident"] == 1.0  # A finished at 135, B unknown
    assert exp.censored()["in_transit"] == 1


def test_report_headline_shows_hotline_requests_on_both_clocks() -> None:
    from sim.html_report import _headline

    html = _headline(_hotline_experiment())
    part = html[html.index("12345 hotline requests on both clocks"):]
    assert "1 tickets were still in transit" in part
    assert "<td>respond</td><td>100.0%</td><td>0.0%</td>" in part.replace(
        ' class="num"', "")


def test_terminal_summary_shows_hotline_requests_on_both_clocks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from rich.console import Console

    import sim.cli

    buf = io.StringIO()
    monkeypatch.setattr(sim.cli, "out", Console(file=buf, width=300))
    sim.cli._print_summary(_hotline_experiment(), "community_type", tmp_path)
    text = " ".join(buf.getvalue().split())
    assert ("12345 hotline requests, counted from reaching the community / from the "
            "resident's call: respond 100% / 0%, onsite 100% / 0%, finish 100% / 100%, "
            "joint 100% / 0% (1 still in transit at the horizon).") in text


def test_no_request_meets_a_target_on_the_resident_clock_but_misses_it_on_the_community_one(
) -> None:
    """raised_min <= created_min, so a resident-clock deadline is never later."""
    from sim.config import load_scenario

    sc = load_scenario("scenarios/six_types.yaml")
    sc = sc.model_copy(update={"run": sc.run.model_copy(update={"horizon_days": 3})})
    req = simulate(sc, seed=3).requests
    com = outcomes(req, sc.sla[0], sc)
    res = outcomes(req, with_clock(sc.sla[0], "resident"), sc)
    hotline = (req["channel"] == "hotline_12345").to_numpy()
    for st in ("respond", "onsite", "finish", "plan", "joint"):
        assert not ((res[st] == 1.0) & (com[st] != 1.0)).any(), st
        # other channels reach the community as they are raised: the clocks agree
        pd.testing.assert_series_equal(res.loc[~hotline, st], com.loc[~hotline, st])
    assert (res.loc[hotline, "respond"] == 0.0).sum() > (com.loc[hotline, "respond"] == 0.0).sum()
