"""Reading and cleaning a real work-order log through a mapping file.

A *mapping* (``MAP.yaml``, :class:`LogMapping`) says which column of the export holds what
(created, closed, category, ...), how its timestamps are written and on which clock, and
which raw values mean something (staff-raised channels, duplicate statuses).
:func:`read_log` reads a CSV, Excel (``.xlsx``) or Parquet export through it, parses every
timestamp vectorised (one explicit format per column, given or inferred from a sample),
moves the timestamps onto the local wall clock, and drops unusable rows, each with a
reason.  The result, :class:`CleanLog`, is what calibration and the audit read.

Every problem with the file or the mapping is a :class:`LogError` whose message is one
line naming the file, the column or rows, and the problem.  The mapping itself lives in
:mod:`sim.calibrate.mapping` (re-exported here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from sim.calibrate.mapping import (
    BUILTIN_MAPPINGS,
    LogColumns,
    LogError,
    LogMapping,
    builtin_mapping,
    load_mapping,
    mapping_from_dict,
    nearest,
)

__all__ = [
    "BUILTIN_MAPPINGS", "REASONS", "REQUEST_COLUMNS", "CleanLog", "LogColumns", "LogError",
    "LogMapping", "builtin_mapping", "cleaning_summary", "load_mapping", "mapping_from_dict",
    "read_log",
]

SAMPLE_VALUES: Final = 500
"""Distinct values a date format is inferred from."""
SHOWN_ROWS: Final = 5
"""Rows named in an error message before "..."."""
TIME_ROLES: Final = ("created", "dispatched", "first_response", "onsite", "closed", "due")
"""Columns holding timestamps, in the order a request reaches them (due last)."""
REQUEST_COLUMNS: Final = ("created", "closed", "first_response", "onsite", "due", "category",
                          "category_raw", "channel", "area", "open")
"""Columns of :attr:`CleanLog.requests`, in order."""
REASONS: Final = ("missing created", "unparseable created", "unparseable closed",
                  "unparseable dispatched", "unparseable first_response",
                  "unparseable onsite", "unparseable due", "staff-raised", "duplicate",
                  "closed before created", "stage before created", "zero duration",
                  "absurd duration")
"""Why a row is dropped; a row gets the first reason in this order that applies."""
DATE_FORMATS: Final = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M",
    "%Y%m%d%H%M%S", "%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y",
)
"""Formats tried, in this order, when the mapping gives none (month-first before
day-first: a sample that fits both is read month-first; set ``datetime_format`` to
choose)."""

# --------------------------------------------------------------------------- result
@dataclass
class CleanLog:
    """A log read and cleaned: one row per request kept, one per row dropped.

    Attributes
    ----------
    requests:
        Columns :data:`REQUEST_COLUMNS`: timestamps on the local wall clock (naive
        ``datetime64[ns]``, NaT where absent or not reached; ``first_response``,
        ``onsite`` and ``due`` all NaT when the log has no such column), ``category``
        (scenario category where mapped, else raw), ``category_raw``, ``channel``
        (scenario channel, or ``other``), ``area`` (``all`` when unmapped), ``open``.
        The index is the 0-based input row.
    dropped:
        ``row`` (0-based input row) and ``reason`` (one of :data:`REASONS`).
    start, end:
        Observation window: first created, and the last timestamp in the log (or the
        mapping's ``observed_until``) -- the censoring point of open requests.
    dispatched:
        When each kept request reached the community (aligned with ``requests``), for
        logs that record it apart from ``created``; else ``None``.
    formats:
        The date format used per time column (given or inferred).
    """

    requests: pd.DataFrame
    dropped: pd.DataFrame
    source: str
    mapping: LogMapping
    start: pd.Timestamp
    end: pd.Timestamp
    dispatched: pd.Series | None = None
    formats: dict[str, str] | None = None

    @property
    def rows_read(self) -> int:
        """Data rows in the input."""
        return len(self.requests) + len(self.dropped)

    @property
    def stage_columns(self) -> tuple[str, ...]:
        """Time roles the log has (mapped), among ``first_response, onsite, closed, due``."""
        have = self.mapping.columns.mapped()
        return tuple(r for r in ("first_response", "onsite", "closed", "due") if r in have)


def cleaning_summary(log: CleanLog) -> pd.DataFrame:
    """Rows read, dropped per reason and kept: columns ``what, rows`` (caller prints)."""
    counts = log.dropped["reason"].value_counts()
    rows = [("rows read", log.rows_read)]
    rows += [(f"dropped: {r}", int(counts[r])) for r in REASONS if r in counts.index]
    rows += [("kept", len(log.requests)), ("of which open (censored)",
                                            int(log.requests["open"].sum()))]
    return pd.DataFrame(rows, columns=["what", "rows"])


# --------------------------------------------------------------------------- reading
def _kind(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    last = suffixes[-1] if suffixes else ""
    if last in (".gz", ".bz2", ".zip", ".xz", ".zst") and len(suffixes) > 1:
        last = suffixes[-2]
    if last in (".csv", ".txt", ".tsv"):
        return "tsv" if last == ".tsv" else "csv"
    if last in (".xlsx", ".xlsm"):
        return "excel"
    if last in (".parquet", ".pq"):
        return "parquet"
    if last == ".xls":
        raise LogError(f"{path}: old Excel .xls files are not read; save it as .xlsx or CSV")
    raise LogError(f"{path}: unsupported file type {last or '(no extension)'!r}; "
                   "give a .csv, .xlsx or .parquet export")


def _header(path: Path, kind: str, encoding: str) -> list[str]:
    if kind == "parquet":
        import pyarrow.parquet as pq

        return [str(c) for c in pq.read_schema(path).names]
    if kind == "excel":
        return [str(c) for c in _read_excel(path, nrows=0).columns]
    sep = "\t" if kind == "tsv" else ","
    return [str(c) for c in pd.read_csv(path, nrows=0, sep=sep, encoding=encoding).columns]


def _read_excel(path: Path, nrows: int | None = None,
                usecols: list[str] | None = None) -> pd.DataFrame:
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        raise LogError(f"{path}: reading Excel needs the openpyxl package "
                       "(pip install openpyxl), or save the sheet as CSV") from None
    return pd.read_excel(path, nrows=nrows, usecols=usecols, dtype=object, engine="openpyxl")


def _encoding(path: Path, mapping: LogMapping) -> str:
    """The mapping's encoding, else UTF-8 (with or without BOM) if the start decodes."""
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    if path.suffix.lower() not in (".gz", ".bz2", ".zip", ".xz", ".zst") and b"\x00" in head:
        raise LogError(f"{path}: binary data in a text file; not a CSV export")
    if mapping.encoding:
        return mapping.encoding
    try:
        head.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 4:  # not just a character cut at the block's end
            return "gb18030"
    return "utf-8-sig"


def _read_raw(path: Path, mapping: LogMapping) -> tuple[pd.DataFrame, str]:
    """The mapped columns of the file, renamed to their roles; and the file kind."""
    if not path.exists():
        raise LogError(f"{path}: log file not found")
    if path.is_dir():
        raise LogError(f"{path}: is a folder, not a log file")
    kind = _kind(path)
    roles = mapping.columns.mapped()
    enc = _encoding(path, mapping) if kind in ("csv", "tsv") else "utf-8"
    try:
        header = _header(path, kind, enc)
    except LogError:
        raise
    except pd.errors.EmptyDataError:
        raise LogError(f"{path}: empty log (no header, no rows)") from None
    except UnicodeDecodeError:
        raise LogError(f"{path}: text is neither UTF-8 nor GB18030; set `encoding` in the "
                       "mapping") from None
    except Exception as err:  # each reader raises its own kinds for a damaged file
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise LogError(f"{path}: cannot read it as {kind} ({first})") from None
    for role, col in roles.items():
        if col not in header:
            raise LogError(f"{path}: mapped column {col!r} ({role}) is not in the log"
                           f"{nearest(col, header)}")
    cols = list(dict.fromkeys(roles.values()))
    try:
        if kind == "parquet":
            df = pd.read_parquet(path, columns=cols)
        elif kind == "excel":
            df = _read_excel(path, usecols=cols)
        elif enc == "utf-8-sig" and path.suffix.lower() in (".csv", ".tsv", ".txt"):
            df = _read_csv_arrow(path, cols, "\t" if kind == "tsv" else ",")
        else:
            df = pd.read_csv(path, usecols=cols, dtype=str, sep="\t" if kind == "tsv" else ",",
                             encoding=enc, keep_default_na=False, na_values=[""])
    except UnicodeDecodeError:
        raise LogError(f"{path}: text is not {enc}; set `encoding` in the mapping") from None
    except Exception as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise LogError(f"{path}: cannot read it as {kind} ({first})") from None
    if df.empty:
        raise LogError(f"{path}: empty log (a header but no rows)")
    out = pd.DataFrame({role: df[col] for role, col in roles.items()})
    out.index = pd.RangeIndex(len(out))
    return out, kind


def _read_csv_arrow(path: Path, cols: list[str], sep: str) -> pd.DataFrame:
    """Columns ``cols`` of a UTF-8 CSV as text (empty cells missing), with Arrow's reader."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    table = pcsv.read_csv(
        path, parse_options=pcsv.ParseOptions(delimiter=sep),
        convert_options=pcsv.ConvertOptions(
            include_columns=cols, column_types={c: pa.string() for c in cols},
            null_values=[""], strings_can_be_null=True))
    frame: pd.DataFrame = table.to_pandas()
    return frame


def _rows_text(rows: np.ndarray[Any, Any], kind: str) -> str:
    """Rows as the user sees them: file lines for CSV, sheet rows for Excel."""
    shown = rows[:SHOWN_ROWS]
    more = f", ... ({len(rows)} in all)" if len(rows) > SHOWN_ROWS else ""
    if kind in ("csv", "tsv"):
        return "lines " + ", ".join(str(r + 2) for r in shown) + more
    if kind == "excel":
        return "sheet rows " + ", ".join(str(r + 2) for r in shown) + more
    return "rows (from 0) " + ", ".join(str(r) for r in shown) + more


def _infer_format(values: pd.Series) -> str | None:
    """The first of :data:`DATE_FORMATS` reading the most of a sample (None: none do)."""
    sample = pd.Series(values.dropna().unique()[:SAMPLE_VALUES]).astype(str)
    best, best_n = None, 0
    for fmt in DATE_FORMATS:
        n = int(pd.to_datetime(sample, format=fmt, errors="coerce").notna().sum())
        if n > best_n:
            best, best_n = fmt, n
        if n == len(sample):
            break
    if best is None or best_n < len(sample) / 2:
        return None
    return best


def _parse(values: pd.Series, role: str, mapping: LogMapping, path: Path,
           kind: str) -> tuple[pd.Series, np.ndarray[Any, Any], str]:
    """Parsed local wall-clock times, the mask of unreadable values, and the format."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed, fmt = values, "(stored as dates)"
        bad = np.zeros(len(values), dtype=bool)
    else:
        text = values.astype("string").str.strip()
        text = text.mask(text == "")
        present = text.notna().to_numpy()
        # Excel and Parquet cells may already hold datetimes among text
        objs = values.dropna() if values.dtype == object else values.iloc[:0]
        if len(objs) and objs.map(lambda v: isinstance(v, datetime)).all():
            parsed = pd.to_datetime(values, errors="coerce")
            fmt = "(stored as dates)"
        else:
            fmt_opt = mapping.datetime_format or _infer_format(text)
            if fmt_opt is None:
                example = text.dropna().iloc[0] if present.any() else ""
                raise LogError(f"{path}: column {getattr(mapping.columns, role)!r} ({role}): "
                               f"no known date format reads values such as {example!r}; "
                               "set datetime_format in the mapping")
            fmt = fmt_opt
            parsed = _strptime(text, fmt)
        bad = present & parsed.isna().to_numpy()
    parsed = pd.Series(parsed, index=values.index)
    if parsed.dt.tz is not None:  # stored with a zone: that fixes the clock
        zone = mapping.timezone or "UTC"
        parsed = parsed.dt.tz_convert(zone).dt.tz_localize(None)
    else:
        parsed = _to_local(parsed, mapping)
    if mapping.shift_hours:
        parsed = parsed + pd.Timedelta(hours=mapping.shift_hours)
    n_bad = int(bad.sum())
    n_present = int((~parsed.isna()).sum()) + n_bad
    if n_bad and (n_bad == n_present or n_bad > mapping.max_unparseable_share * n_present):
        rows = np.flatnonzero(bad)
        col = getattr(mapping.columns, role)
        raise LogError(f"{path}: column {col!r} ({role}): {n_bad} of {n_present} values are "
                       f"not dates in format {fmt!r} ({_rows_text(rows, kind)}); fix them or "
                       "set datetime_format in the mapping")
    return parsed.astype("datetime64[ns]"), bad, fmt


def _strptime(text: pd.Series, fmt: str) -> pd.Series:
    """Text -> naive datetimes (NaT where unreadable), vectorised.

    Arrow's parser is many times faster than pandas' but rolls a day past the month's end
    over (30 February -> 1 March), so values it reads as day 1-3 of a month are printed
    back and compared with the text; those that differ, and those it cannot read, go
    through pandas' strict parser.
    """
    if any(code in fmt for code in ("%f", "%z", "%Z")) or fmt == "ISO8601":
        return pd.to_datetime(text, format=fmt, errors="coerce")
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(text, type=pa.large_string(), from_pandas=True)
    fast = pc.strptime(arr, format=fmt, unit="s", error_is_null=True)
    redo = text.notna().to_numpy() & fast.is_null().to_numpy(zero_copy_only=False)
    early = np.flatnonzero(pc.fill_null(pc.less_equal(pc.day(fast), 3), False)
                           .to_numpy(zero_copy_only=False))
    printed = pc.strftime(fast.take(early), format=fmt)
    same = pc.fill_null(pc.equal(printed, arr.take(early)), False)
    redo[early[~same.to_numpy(zero_copy_only=False)]] = True
    out = pd.Series(fast.to_pandas(), index=text.index).astype("datetime64[ns]")
    if redo.any():
        out[redo] = pd.to_datetime(text[redo], format=fmt, errors="coerce")
    return out


def _to_local(stored: pd.Series, mapping: LogMapping) -> pd.Series:
    """Stored naive times -> local wall clock, per ``stored_clock`` (see LogMapping)."""
    if mapping.stored_clock == "local" or mapping.timezone is None:
        return stored
    if mapping.stored_clock == "utc":
        aware_utc = stored.dt.tz_localize("UTC").dt.tz_convert(mapping.timezone)
        local: pd.Series = aware_utc.dt.tz_localize(None)
        return local
    aware = stored.dt.tz_localize(mapping.timezone, ambiguous="NaT",
                                  nonexistent="shift_forward")
    # an ambiguous hour (the autumn change) is read as standard time
    fixed = aware.dt.tz_convert("UTC").dt.tz_localize(None)
    std = stored.dt.tz_localize(mapping.timezone, ambiguous=np.zeros(len(stored), dtype=bool),
                                nonexistent="shift_forward")
    out: pd.Series = fixed.fillna(std.dt.tz_convert("UTC").dt.tz_localize(None))
    return out


def _labels(values: pd.Series | None, n: int, mapped: dict[str, str], default: str,
            fill_unmapped: str | None = None) -> pd.Series:
    """Raw text -> mapped names (unmapped: raw value, or ``fill_unmapped``)."""
    if values is None:
        return pd.Series(np.full(n, default, dtype=object)).astype(str)
    # map the distinct values only: a million rows hold a few hundred of them
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    raw = pd.Series(uniques).astype("string").str.strip().fillna("unknown")
    named = raw.map(mapped) if mapped else pd.Series(pd.NA, index=raw.index, dtype="object")
    names = named.fillna(raw if fill_unmapped is None else fill_unmapped).astype(str)
    return pd.Series(names.to_numpy()[codes], index=values.index).astype(str)


def read_log(path: str | Path, mapping: LogMapping) -> CleanLog:
    """Read and clean a log (CSV, Excel ``.xlsx`` or Parquet) through ``mapping``.

    Raises
    ------
    LogError
        One line naming the file and the problem: missing file or column (with the
        nearest column name), unsupported or damaged file, no rows, unreadable dates
        (with the first rows), every row dropped (with the reasons).
    """
    p = Path(path)
    raw, kind = _read_raw(p, mapping)
    n = len(raw)
    reason = np.full(n, "", dtype=object)

    def mark(mask: np.ndarray[Any, Any] | pd.Series, why: str) -> None:
        m = np.asarray(mask, dtype=bool) & (reason == "")
        reason[m] = why

    times: dict[str, pd.Series] = {}
    formats: dict[str, str] = {}
    for role in TIME_ROLES:
        if role not in raw.columns:
            times[role] = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
            continue
        times[role], bad, formats[role] = _parse(raw[role], role, mapping, p, kind)
        if role == "created":
            mark(times[role].isna().to_numpy() & ~bad, "missing created")
        mark(bad, f"unparseable {role}")
    if "channel" in raw.columns and mapping.staff_raised:
        mark(raw["channel"].astype("string").str.strip().isin(mapping.staff_raised)
             .fillna(False), "staff-raised")
    dup = raw.duplicated(subset=["id"]) if "id" in raw.columns else raw.duplicated()
    if "status" in raw.columns and mapping.duplicate_statuses:
        status = raw["status"].astype("string").str.strip()
        dup = dup | status.isin(mapping.duplicate_statuses).fillna(False)
    mark(dup, "duplicate")
    created, closed = times["created"], times["closed"]
    mark((closed < created).fillna(False), "closed before created")
    early = np.zeros(n, dtype=bool)
    for role in ("dispatched", "first_response", "onsite"):
        early |= (times[role] < created).fillna(False).to_numpy()
    mark(early, "stage before created")
    mark((closed == created).fillna(False), "zero duration")
    limit = pd.Timedelta(days=mapping.max_duration_days)
    mark(((closed - created) > limit).fillna(False), "absurd duration")

    keep = reason == ""
    dropped = pd.DataFrame({"row": np.flatnonzero(~keep).astype(np.int64),
                            "reason": reason[~keep].astype(str)})
    if not keep.any():
        counts = dropped["reason"].value_counts()
        why = ", ".join(f"{r} {c}" for r, c in counts.items())
        raise LogError(f"{p}: every one of the {n} rows was dropped in cleaning ({why}); "
                       "check the mapping")
    kept = raw.index[keep]
    sub = raw.loc[kept]
    m = len(sub)
    cat_raw = _labels(sub.get("category"), m, {}, "unknown").set_axis(kept)
    requests = pd.DataFrame({
        **{role: times[role].loc[kept] for role in ("created", "closed", "first_response",
                                                     "onsite", "due")},
        "category": _labels(sub.get("category"), m, mapping.categories, "unknown")
        .set_axis(kept),
        "category_raw": cat_raw,
        "channel": _labels(sub.get("channel"), m, dict(mapping.channels), "other",
                           fill_unmapped="other").set_axis(kept),
        "area": _labels(sub.get("area"), m, mapping.areas, "all").set_axis(kept),
    }, index=kept)
    requests["open"] = requests["closed"].isna()
    start = requests["created"].min()
    seen = [requests[c].max() for c in ("created", "closed", "first_response", "onsite")]
    if "dispatched" in raw.columns:
        seen.append(times["dispatched"].loc[kept].max())
    end = max(t for t in seen if not pd.isna(t))
    if mapping.observed_until is not None:
        until = pd.Timestamp(mapping.observed_until)
        if until < end:
            raise LogError(f"{p}: observed_until {until} is before the last timestamp in the "
                           f"log ({end}); give the export time on the local clock")
        end = until
    dispatched = times["dispatched"].loc[kept] if "dispatched" in raw.columns else None
    return CleanLog(requests[list(REQUEST_COLUMNS)], dropped, str(p), mapping,
                    pd.Timestamp(start), pd.Timestamp(end), dispatched, formats)
