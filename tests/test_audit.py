"""Auditing a real log (sim.calibrate.audit, ``sim audit``).

Hand-made logs with known timestamps are audited and compared with outcomes worked out
by hand, censoring of open requests at the window's end included.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from sim.calibrate.audit import AuditRules, audit, audit_log, load_rules
from sim.calibrate.logs import CleanLog, LogError, builtin_mapping, mapping_from_dict, read_log
from sim.cli_audit import register

ROOT = Path(__file__).resolve().parents[1]
BALTIMORE = ROOT.parent / "shared" / "data" / "baltimore311" / "311_sample.csv"
COLUMNS = {"created": "created", "closed": "closed", "category": "type",
           "first_response": "response", "onsite": "onsite", "area": "area"}
# Monday 4 March 2024; the window ends at 20:00 (the export time)
HAND = [  # created, response, onsite, closed, type
    ("08:00", "08:10", "08:25", "10:00", "repair"),  # 0 all met
    ("09:00", "09:30", "09:45", "14:00", "repair"),  # 1 respond, onsite, finish missed
    ("10:00", "10:20", "", "13:00", "desk"),  # 2 respond at exactly 20 min: met
    ("12:00", "12:05", "", "", "repair"),  # 3 open: onsite and finish overdue by 20:00
    ("19:00", "", "", "", "repair"),  # 4 open: respond/onsite overdue, finish unknown
    ("19:50", "", "", "", "repair"),  # 5 open: everything unknown
]


def hand_log(tmp_path: Path, rows: list[tuple[str, ...]] = HAND, **extra: object) -> CleanLog:
    day = "2024-03-04 "
    frame = pd.DataFrame([{"created": day + c, "response": day + r if r else "",
                           "onsite": day + o if o else "", "closed": day + d if d else "",
                           "type": t, "area": "east" if i % 2 else "west"}
                          for i, (c, r, o, d, t) in enumerate(rows)])
    frame.to_csv(tmp_path / "log.csv", index=False)
    mapping = mapping_from_dict({"columns": COLUMNS, "datetime_format": "%Y-%m-%d %H:%M",
                                 "observed_until": "2024-03-04T20:00:00", **extra})
    return read_log(tmp_path / "log.csv", mapping)


def overall(table: pd.DataFrame) -> dict[str, tuple[float, int, int]]:
    t = table[table["by"] == "all"]
    return {r.stage: (round(r.mean, 6), int(r.requests), int(r.unknown))
            for r in t.itertuples()}


def test_hand_log_audited_exactly(tmp_path: Path) -> None:
    result = audit(hand_log(tmp_path))
    out = result.experiment.outcomes()
    nan = np.nan
    expected = {  # per request, worked out by hand; NaN: not applicable or unknown
        "respond": [1, 0, 1, 1, 0, nan],
        "onsite": [1, 0, nan, 0, 0, nan],  # "desk" never has an on-site time: exempt
        "finish": [1, 0, 1, 0, nan, nan],
        "joint": [1, 0, 1, 0, 0, nan],
    }
    for stage, values in expected.items():
        np.testing.assert_array_equal(out[stage].to_numpy(), np.array(values, dtype=float),
                                      err_msg=stage)
    assert list(out["finish_unknown"]) == [False] * 4 + [True, True]
    table = result.compliance_tables()
    assert overall(table) == {"respond": (0.6, 5, 1), "onsite": (0.25, 4, 1),
                              "finish": (0.5, 4, 2), "joint": (0.4, 5, 1)}
    assert result.not_in_log == ("plan",)
    assert "plan" not in set(table["stage"])
    by_area = table[(table["by"] == "community") & (table["stage"] == "finish")]
    assert dict(zip(by_area["group"], by_area["requests"], strict=True)) == {"east": 2,
                                                                           "west": 2}
    # Wilson interval around 0.5 of 4
    row = table[(table["by"] == "all") & (table["stage"] == "finish")].iloc[0]
    assert row["ci_low"] == pytest.approx(0.15004, abs=1e-4)
    assert row["ci_high"] == pytest.approx(0.84996, abs=1e-4)


def test_window_end_defaults_to_the_last_timestamp(tmp_path: Path) -> None:
    log = hand_log(tmp_path, HAND[:4], observed_until=None)  # last: 14:00, request 1 closed
    assert log.end == pd.Timestamp("2024-03-04 14:00")
    out = audit(log).experiment.outcomes()
    # request 3 (12:00, open): on-site deadline 12:30 passed; finish deadline 16:00 not yet
    assert out.loc[3, "onsite"] == 0
    assert np.isnan(out.loc[3, "finish"]) and out.loc[3, "finish_unknown"]


def test_an_export_time_before_the_last_timestamp_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LogError, match="observed_until 2024-03-04 12:00:00 is before the "
                                       "last timestamp in the log"):
        hand_log(tmp_path, observed_until="2024-03-04T12:00:00")


def test_stages_without_timestamps_are_not_in_the_log(tmp_path: Path) -> None:
    columns = {k: v for k, v in COLUMNS.items() if k not in ("first_response", "onsite")}
    log = hand_log(tmp_path, columns=columns)
    result = audit(log)
    assert result.measured == ("finish",)
    assert result.not_in_log == ("respond", "onsite", "plan")
    table = result.compliance_tables()
    assert set(table["stage"]) == {"finish", "joint"}
    assert overall(table)["joint"] == overall(table)["finish"] == (0.5, 4, 2)


def test_business_hours_rule_from_a_rules_file(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text("sla:\n  - {name: office, calendar: business_hours, respond_min: 20,"
                          " onsite_min: null, finish_min: null, plan_min: null}\n"
                          "business_hours: {start_hour: 9, end_hour: 18}\n")
    rules = load_rules(rules_file)
    frame = pd.DataFrame({"created": ["2024-03-08 17:50"], "response": ["2024-03-11 09:05"],
                          "closed": ["2024-03-11 10:00"], "type": ["repair"]})
    frame.to_csv(tmp_path / "log.csv", index=False)
    mapping = mapping_from_dict({"columns": {"created": "created", "closed": "closed",
                                             "category": "type", "first_response": "response"},
                                 "datetime_format": "%Y-%m-%d %H:%M"})
    log = read_log(tmp_path / "log.csv", mapping)
    # Friday 17:50 -> Monday 09:05 is 15 business minutes: met; 3 days on a 24 h clock
    assert audit(log, rules).experiment.outcomes("office")["respond"].tolist() == [1.0]
    assert audit(log).experiment.outcomes()["respond"].tolist() == [0.0]
    rules_file.write_text("sla:\n  - {name: x, respnd_min: 20}\n")
    with pytest.raises(LogError, match=r"rules.yaml: sla.0.respnd_min: unknown key"):
        load_rules(rules_file)


def test_due_dates_audited_as_their_own_rule(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "created": ["2024-03-04 08:00"] * 4,
        "closed": ["2024-03-04 09:00", "2024-03-06 09:00", "", ""],
        "due": ["2024-03-05 08:00", "2024-03-05 08:00", "2024-03-05 08:00",
                "2024-03-09 08:00"],
        "type": ["a"] * 4})
    frame.to_csv(tmp_path / "log.csv", index=False)
    mapping = mapping_from_dict({"columns": {"created": "created", "closed": "closed",
                                             "category": "type", "due": "due"},
                                 "datetime_format": "%Y-%m-%d %H:%M"})
    result = audit(read_log(tmp_path / "log.csv", mapping))  # window ends 03-06 09:00
    assert result.due is not None
    np.testing.assert_array_equal(result.due["due"], [1.0, 0.0, 0.0, np.nan])
    due = result.compliance_tables()
    due = due[(due["rule"] == "due date") & (due["by"] == "all")].iloc[0]
    assert (round(due["mean"], 6), due["requests"], due["unknown"]) == (round(1 / 3, 6), 3, 1)


def test_12345_audited_on_both_clocks(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "受理时间": ["2024-03-04 08:00:00", "2024-03-04 09:00:00"],
        "派单时间": ["2024-03-04 08:30:00", ""],
        "响应时间": ["2024-03-04 08:45:00", ""],
        "到场时间": ["2024-03-04 09:00:00", ""],
        "办结时间": ["2024-03-04 10:00:00", "2024-03-04 09:30:00"],
        "诉求类型": ["噪音扰民", "咨询"], "来源渠道": ["12345热线", "电话"],
        "所属社区": ["幸福社区", "和平社区"]})
    frame.to_csv(tmp_path / "12345.csv", index=False)
    log = read_log(tmp_path / "12345.csv", builtin_mapping("12345"))
    resident, community = audit_log(log)
    assert (resident.clock, community.clock) == ("created", "dispatched")
    r = resident.experiment.outcomes()
    c = community.experiment.outcomes()
    # from 受理时间: 45 min to respond (missed), 60 to site (missed), 2 h to close (met)
    assert r.loc[0, ["respond", "onsite", "finish"]].tolist() == [0.0, 0.0, 1.0]
    # from 派单时间: 15 min (met), 30 min (met, at the target), 1.5 h (met)
    assert c.loc[0, ["respond", "onsite", "finish"]].tolist() == [1.0, 1.0, 1.0]
    assert community.excluded == 1 and len(c) == 1  # never dispatched: not on that clock


def test_cli_writes_the_run_tables(tmp_path: Path) -> None:
    hand_log(tmp_path)  # writes log.csv
    mapping = tmp_path / "map.yaml"
    mapping.write_text(json.dumps({"columns": COLUMNS, "datetime_format": "%Y-%m-%d %H:%M",
                                   "observed_until": "2024-03-04T20:00:00"}))
    app = typer.Typer()
    register(app)
    app.command("other")(lambda: None)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["audit", str(tmp_path / "log.csv"), "--map", str(mapping),
                                   "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "finish   50.0%" in res.output
    table = pd.read_csv(out / "compliance.csv")
    assert {"all", "category", "channel", "community", "hour", "weekday"} == set(table["by"])
    assert set(pd.read_csv(out / "percentiles.csv")["stage"]) == {"respond", "onsite",
                                                                  "finish"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stages_not_in_log"] == ["plan"]
    assert manifest["cleaning"]["kept"] == 6
    page = (out / "audit.html").read_text()
    assert "<script" not in page and "Not in the log" in page
    again = tmp_path / "again"
    CliRunner().invoke(app, ["audit", str(tmp_path / "log.csv"), "--map", str(mapping), "-o",
                             str(again)])
    for name in ("compliance.csv", "percentiles.csv", "manifest.json", "audit.html"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name
    res = CliRunner().invoke(app, ["audit", str(tmp_path / "log.csv"), "-o", str(out)])
    assert res.exit_code == 2 and "exactly one of --map" in res.output


@pytest.mark.skipif(not BALTIMORE.exists(), reason=f"real request log not at {BALTIMORE}")
def test_baltimore_audit_matches_plain_timestamp_arithmetic() -> None:
    log = read_log(BALTIMORE, builtin_mapping("baltimore311"))
    result = audit(log, AuditRules())
    assert result.measured == ("finish",)
    r = log.requests
    took = r["closed"] - r["created"]
    four_h = pd.Timedelta(hours=4)
    met = (took <= four_h).sum()
    missed = (took > four_h).sum() + (r["open"] & (r["created"] + four_h <= log.end)).sum()
    row = result.compliance_tables()
    row = row[(row["by"] == "all") & (row["stage"] == "finish") & (row["rule"] == "2341")]
    assert int(row["requests"].iloc[0]) == met + missed
    assert row["mean"].iloc[0] == pytest.approx(met / (met + missed), abs=1e-12)
