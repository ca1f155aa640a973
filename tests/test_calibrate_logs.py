"""Reading and cleaning work-order logs (sim.calibrate.logs).

The Baltimore 311 sample is read in place from ``../shared/data`` (never copied into the
repository); its tests are skipped where it is absent.  Everything else uses small logs
written by the tests, with known answers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from sim.calibrate.logs import (
    BUILTIN_MAPPINGS,
    REASONS,
    REQUEST_COLUMNS,
    LogError,
    builtin_mapping,
    cleaning_summary,
    load_mapping,
    mapping_from_dict,
    read_log,
)
from sim.cli_audit import register

ROOT = Path(__file__).resolve().parents[1]
BALTIMORE = ROOT.parent / "shared" / "data" / "baltimore311" / "311_sample.csv"
needs_baltimore = pytest.mark.skipif(not BALTIMORE.exists(),
                                     reason=f"real request log not at {BALTIMORE}")
BASIC = {"columns": {"created": "Created", "closed": "Closed", "category": "Type",
                     "channel": "Channel"},
         "datetime_format": "%Y-%m-%d %H:%M"}


def write_csv(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8") -> Path:
    pd.DataFrame(rows).to_csv(path, index=False, encoding=encoding)
    return path


def row(created: str, closed: str = "", kind: str = "repair", channel: str = "phone") -> dict[
        str, str]:
    return {"Created": created, "Closed": closed, "Type": kind, "Channel": channel}


# --------------------------------------------------------------------------- Baltimore
@pytest.fixture(scope="module")
def baltimore() -> tuple[object, pd.DataFrame]:
    return read_log(BALTIMORE, builtin_mapping("baltimore311")), pd.read_csv(BALTIMORE)


@needs_baltimore
def test_baltimore_rows_add_up_and_match_the_raw_file(baltimore) -> None:  # type: ignore[no-untyped-def]
    log, raw = baltimore
    assert log.rows_read == len(raw) == 10_000
    summary = cleaning_summary(log).set_index("what")["rows"]
    dropped = summary[summary.index.str.startswith("dropped: ")].sum()
    assert dropped + summary["kept"] == summary["rows read"]
    assert set(log.dropped["row"]).isdisjoint(log.requests.index)
    assert sorted([*log.dropped["row"], *log.requests.index]) == list(range(len(raw)))
    # every "Internal" row is dropped as staff-raised, and only those
    internal = set(np.flatnonzero(raw["MethodReceived"] == "Internal"))
    assert set(log.dropped.loc[log.dropped["reason"] == "staff-raised", "row"]) == internal
    marked = set(np.flatnonzero(raw["SRStatus"].str.contains("(Duplicate)", regex=False)))
    assert set(log.dropped.loc[log.dropped["reason"] == "duplicate", "row"]) == (
        marked - internal)
    # open = no close date, among the rows kept
    assert log.requests["open"].sum() == raw.loc[log.requests.index, "CloseDate"].isna().sum()
    assert list(log.requests.columns) == list(REQUEST_COLUMNS)


@needs_baltimore
def test_baltimore_clock_fix_gives_office_hours(baltimore) -> None:  # type: ignore[no-untyped-def]
    log, raw = baltimore
    created = log.requests["created"]
    stored = pd.to_datetime(raw.loc[created.index, "CreatedDate"], format="%m/%d/%Y %I:%M:%S %p")
    shift_h = (created - stored).dt.total_seconds() / 3600
    # the inference in shared/data/README.md: 5 h behind under EST, 4 h under EDT
    assert set(shift_h[stored.dt.month == 1].round(6)) == {5.0}
    assert set(shift_h[stored.dt.month == 7].round(6)) == {4.0}
    hours = np.bincount(created.dt.hour, minlength=24)
    assert 9 <= hours.argmax() <= 15
    assert hours[9:16].sum() > 0.5 * hours.sum()
    raw_hours = np.bincount(stored.dt.hour, minlength=24)
    assert raw_hours.argmax() < 9  # the stored clock peaks before office hours

    # the DST-aware shift lines winter and summer up better than the stored clock does
    def spread(t: pd.Series) -> float:
        w = np.bincount(t[t.dt.month.isin([12, 1, 2])].dt.hour, minlength=24)
        s = np.bincount(t[t.dt.month.isin([6, 7, 8])].dt.hour, minlength=24)
        return float(0.5 * np.abs(w / w.sum() - s / s.sum()).sum())

    assert spread(created) < spread(stored) - 0.02


@needs_baltimore
def test_baltimore_close_time_medians(baltimore) -> None:  # type: ignore[no-untyped-def]
    log, _ = baltimore
    r = log.requests
    hours = (r["closed"] - r["created"]).dt.total_seconds() / 3600
    parking = hours[r["category_raw"] == "TRS-Parking Complaint"].median()
    assert 2.0 <= parking <= 2.4  # README: median ~2.2 h
    sanitation = hours[r["category_raw"].str.startswith("SW-")].median()
    assert sanitation > 24  # administrative closure: days, not hours


# --------------------------------------------------------------------------- cleaning
def test_every_reason_on_a_hand_made_log(tmp_path: Path) -> None:
    rows = [
        row("2024-03-04 08:00", "2024-03-04 09:00"),                 # 0 kept
        row("2024-03-04 08:00", "2024-03-04 09:00"),                 # 1 duplicate of 0
        row("2024-03-04 10:00", "2024-03-04 09:00"),                 # 2 closed before created
        row("2024-03-04 10:00", "2024-03-04 10:00"),                 # 3 zero duration
        row("2024-03-04 10:00", "2025-04-04 10:00"),                 # 4 absurd (> 365 d)
        row("2024-03-04 11:00", "2024-03-04 12:00", channel="staff"),  # 5 staff-raised
        row("", "2024-03-04 12:00"),                                 # 6 missing created
        row("yesterday", "2024-03-04 12:00"),                        # 7 unparseable created
        row("2024-03-04 12:00"),                                     # 8 kept, open
        row("2024-03-04 13:00", "2024-03-04 15:00", kind="noise"),   # 9 kept
    ]
    path = write_csv(tmp_path / "log.csv", rows)
    mapping = mapping_from_dict({**BASIC, "staff_raised": ["staff"],
                                 "max_unparseable_share": 0.5,
                                 "categories": {"noise": "noise_complaint"},
                                 "channels": {"phone": "phone"}})
    log = read_log(path, mapping)
    assert dict(zip(log.dropped["row"], log.dropped["reason"], strict=True)) == {
        1: "duplicate", 2: "closed before created", 3: "zero duration",
        4: "absurd duration", 5: "staff-raised", 6: "missing created",
        7: "unparseable created"}
    assert set(log.dropped["reason"]) <= set(REASONS)
    assert list(log.requests.index) == [0, 8, 9]
    assert list(log.requests["open"]) == [False, True, False]
    assert list(log.requests["category"]) == ["repair", "repair", "noise_complaint"]
    assert list(log.requests["category_raw"]) == ["repair", "repair", "noise"]
    assert set(log.requests["area"]) == {"all"}
    assert log.requests["first_response"].isna().all()
    assert log.start == pd.Timestamp("2024-03-04 08:00")
    assert log.end == pd.Timestamp("2024-03-04 15:00")  # last timestamp seen
    summary = cleaning_summary(log).set_index("what")["rows"]
    assert summary["rows read"] == 10 and summary["kept"] == 3
    assert summary["of which open (censored)"] == 1


def test_duplicates_by_status_and_by_id(tmp_path: Path) -> None:
    rows = [{**row("2024-03-04 08:00", f"2024-03-04 09:0{k}"), "Status": s, "Id": i}
            for k, (s, i) in enumerate([("Closed", "a"), ("Closed (Duplicate)", "b"),
                                        ("Closed", "a"), ("Closed", "c")])]
    path = write_csv(tmp_path / "log.csv", rows)
    columns = {**BASIC["columns"], "status": "Status", "id": "Id"}
    log = read_log(path, mapping_from_dict({**BASIC, "columns": columns,
                                            "duplicate_statuses": ["Closed (Duplicate)"]}))
    assert dict(zip(log.dropped["row"], log.dropped["reason"], strict=True)) == {
        1: "duplicate", 2: "duplicate"}
    assert list(log.requests.index) == [0, 3]


def test_a_stage_before_created_drops_the_row(tmp_path: Path) -> None:
    rows = [{**row("2024-03-04 08:00", "2024-03-04 09:00"), "Response": r}
            for r in ("2024-03-04 08:05", "2024-03-04 07:55", "")]
    path = write_csv(tmp_path / "log.csv", rows)
    log = read_log(path, mapping_from_dict(
        {**BASIC, "columns": {**BASIC["columns"], "first_response": "Response"}}))
    assert list(log.dropped["reason"]) == ["stage before created"]
    assert list(log.dropped["row"]) == [1]
    assert log.requests["first_response"].isna().tolist() == [False, True]


def test_time_zone_rules(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "log.csv", [row("2024-01-15 03:00", "2024-01-15 04:00"),
                                            row("2024-07-15 03:00", "2024-07-15 04:00")])
    def created(**extra: object) -> list[pd.Timestamp]:
        return list(read_log(path, mapping_from_dict({**BASIC, **extra})).requests["created"])

    ts = pd.Timestamp
    assert created() == [ts("2024-01-15 03:00"), ts("2024-07-15 03:00")]
    assert created(timezone="Asia/Shanghai", stored_clock="utc") == [
        ts("2024-01-15 11:00"), ts("2024-07-15 11:00")]
    assert created(timezone="America/New_York", stored_clock="local_read_as_utc") == [
        ts("2024-01-15 08:00"), ts("2024-07-15 07:00")]
    assert created(shift_hours=-1.5) == [ts("2024-01-15 01:30"), ts("2024-07-15 01:30")]


def test_date_format_inferred_from_a_sample(tmp_path: Path) -> None:
    cols = {"columns": {"created": "Created", "closed": "Closed", "category": "Type"}}
    path = write_csv(tmp_path / "a.csv", [row("2024/03/05 08:15", "2024/03/05 09:00"),
                                          row("2024/03/25 18:15", "")])
    log = read_log(path, mapping_from_dict(cols))
    assert list(log.requests["created"]) == [pd.Timestamp("2024-03-05 08:15"),
                                             pd.Timestamp("2024-03-25 18:15")]
    assert log.formats == {"created": "%Y/%m/%d %H:%M", "closed": "%Y/%m/%d %H:%M"}
    # a sample both month-first and day-first can read is read month-first (documented)
    path = write_csv(tmp_path / "c.csv", [row("03/04/2024 10:00", "03/05/2024 09:00")])
    assert read_log(path, mapping_from_dict(cols)).requests["created"].iloc[0] == (
        pd.Timestamp("2024-03-04 10:00"))
    path = write_csv(tmp_path / "b.csv", [row("2024年3月5日 08:15:00", "2024年3月5日 09:00:00")])
    assert read_log(path, mapping_from_dict(cols)).requests["created"].iloc[0] == (
        pd.Timestamp("2024-03-05 08:15"))


def test_excel_and_parquet_read_like_csv(tmp_path: Path) -> None:
    rows = [row("2024-03-04 08:00", "2024-03-04 09:00"), row("2024-03-04 12:00")]
    csv = read_log(write_csv(tmp_path / "log.csv", rows), mapping_from_dict(BASIC))
    frame = pd.DataFrame(rows)
    frame.to_parquet(tmp_path / "log.parquet")
    parquet = read_log(tmp_path / "log.parquet", mapping_from_dict(BASIC))
    pd.testing.assert_frame_equal(csv.requests, parquet.requests)
    pytest.importorskip("openpyxl")
    # Excel cells holding real datetimes, and an empty cell for the open request
    frame = frame.assign(Created=pd.to_datetime(frame["Created"]),
                         Closed=pd.to_datetime(frame["Closed"].replace("", None)))
    frame.to_excel(tmp_path / "log.xlsx", index=False)
    excel = read_log(tmp_path / "log.xlsx", mapping_from_dict(BASIC))
    pd.testing.assert_frame_equal(csv.requests, excel.requests)


ZH_ROWS = [
    {"受理时间": "2024-03-04 08:00:00", "派单时间": "2024-03-04 08:30:00",
     "响应时间": "2024-03-04 08:45:00", "到场时间": "2024-03-04 09:10:00",
     "办结时间": "2024-03-04 11:00:00", "诉求类型": "噪音扰民", "来源渠道": "12345热线",
     "所属社区": "幸福社区"},
    {"受理时间": "2024-03-04 09:00:00", "派单时间": "2024-03-04 09:05:00",
     "响应时间": "", "到场时间": "", "办结时间": "", "诉求类型": "路灯损坏",
     "来源渠道": "微信小程序", "所属社区": "和平社区"},
    {"受理时间": "2024-03-04 10:00:00", "派单时间": "2024-03-04 10:10:00",
     "响应时间": "2024-03-04 10:15:00", "到场时间": "", "办结时间": "2024-03-04 12:00:00",
     "诉求类型": "噪音扰民", "来源渠道": "巡查发现", "所属社区": "幸福社区"},
]


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_12345_layout_round_trip(tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "12345.csv", ZH_ROWS, encoding=encoding)
    log = read_log(path, builtin_mapping("12345"))
    r = log.requests
    assert list(r.index) == [0, 1]  # row 2 was found on patrol: staff-raised
    assert list(log.dropped["reason"]) == ["staff-raised"]
    assert list(r["channel"]) == ["hotline_12345", "mini_program"]
    assert list(r["area"]) == ["幸福社区", "和平社区"]
    assert list(r["category"]) == ["噪音扰民", "路灯损坏"]
    assert r["onsite"].iloc[0] == pd.Timestamp("2024-03-04 09:10")
    assert r["first_response"].iloc[0] == pd.Timestamp("2024-03-04 08:45")
    assert list(r["open"]) == [False, True]
    assert log.dispatched is not None
    assert list(log.dispatched) == [pd.Timestamp("2024-03-04 08:30"),
                                    pd.Timestamp("2024-03-04 09:05")]
    assert log.stage_columns == ("first_response", "onsite", "closed")


def test_builtin_mappings_are_valid() -> None:
    for name in BUILTIN_MAPPINGS:
        assert builtin_mapping(name).columns.created


# --------------------------------------------------------------------------- bad logs
def one_line_error(path: Path, mapping: dict[str, object] | None = None) -> str:
    with pytest.raises(LogError) as info:
        read_log(path, mapping_from_dict(mapping or BASIC))
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_missing_column_suggests_the_nearest(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "log.csv", [row("2024-03-04 08:00", "2024-03-04 09:00")])
    msg = one_line_error(path, {**BASIC, "columns": {**BASIC["columns"], "closed": "Closd"}})
    assert "'Closd' (closed) is not in the log" in msg and "did you mean 'Closed'" in msg


def test_unparseable_dates_name_the_rows(tmp_path: Path) -> None:
    rows = [row("2024-03-04 08:00", "2024-03-04 09:00") for _ in range(10)]
    rows[2]["Closed"] = "03/04/2024 9am"
    rows[6]["Closed"] = "soon"
    msg = one_line_error(write_csv(tmp_path / "log.csv", rows))
    assert "'Closed' (closed): 2 of 10 values are not dates" in msg
    assert "lines 4, 8" in msg  # header is line 1


def test_empty_logs(tmp_path: Path) -> None:
    (tmp_path / "none.csv").write_text("")
    assert "empty log" in one_line_error(tmp_path / "none.csv")
    (tmp_path / "header.csv").write_text("Created,Closed,Type,Channel\n")
    assert "empty log" in one_line_error(tmp_path / "header.csv")


def test_every_row_dropped_says_why(tmp_path: Path) -> None:
    rows = [row("2024-03-04 10:00", "2024-03-04 09:00"), row("2024-03-04 10:00",
                                                               "2024-03-04 10:00")]
    msg = one_line_error(write_csv(tmp_path / "log.csv", rows))
    assert "every one of the 2 rows was dropped" in msg
    assert "closed before created 1" in msg and "zero duration 1" in msg


def test_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "bin.csv").write_bytes(b"PK\x03\x04\x00\x00binary\x00")
    assert "binary" in one_line_error(tmp_path / "bin.csv")
    (tmp_path / "log.doc").write_text("x")
    assert "unsupported file type '.doc'" in one_line_error(tmp_path / "log.doc")
    (tmp_path / "log.xls").write_text("x")
    assert "save it as .xlsx" in one_line_error(tmp_path / "log.xls")
    (tmp_path / "bad.parquet").write_text("not parquet")
    assert "cannot read it as parquet" in one_line_error(tmp_path / "bad.parquet")
    assert "not found" in one_line_error(tmp_path / "missing.csv")


def test_mapping_typos_suggest_the_nearest_key(tmp_path: Path) -> None:
    bad = tmp_path / "map.yaml"
    bad.write_text("colums:\n  created: a\n")
    with pytest.raises(LogError, match=r"map.yaml: colums: unknown key \(did you mean "
                                       r"'columns'\?\)"):
        load_mapping(bad)
    bad.write_text("columns:\n  created: a\n  closed: b\n  category: c\n  chanel: d\n")
    with pytest.raises(LogError, match=r"columns.chanel: unknown key \(did you mean "
                                       r"'channel'\?\)"):
        load_mapping(bad)
    bad.write_text("columns: {created: a, closed: b, category: c}\ntimezone: Mars/Base\n")
    with pytest.raises(LogError, match="unknown time zone 'Mars/Base'"):
        load_mapping(bad)
    bad.write_text("columns: [a\n")
    with pytest.raises(LogError, match=r"map.yaml: \(YAML\) line"):
        load_mapping(bad)
    with pytest.raises(LogError, match="did you mean 'baltimore311'"):
        builtin_mapping("baltimore")


def test_cli_reports_a_bad_log_in_one_line(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)
    app.command("other")(lambda: None)
    path = write_csv(tmp_path / "log.csv", [row("2024-03-04 08:00", "2024-03-04 09:00")])
    mapping = tmp_path / "map.yaml"
    mapping.write_text("columns: {created: Creatd, closed: Closed, category: Type}\n")
    res = CliRunner().invoke(app, ["audit", str(path), "--map", str(mapping), "-o",
                                   str(tmp_path / "out")])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "did you mean 'Created'" in (
        lines[0])


def test_reading_imports_no_simulation_engine() -> None:
    code = ("import sys, sim.calibrate.logs, sim.calibrate.audit, sim.cli_audit; "
            "print('simpy' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert res.stdout.strip() == "False"
