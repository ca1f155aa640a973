"""Mapping files (``MAP.yaml``): which column of a log holds what, and on which clock.

A mapping is validated as :class:`LogMapping`; the built-in ones (``--format NAME``) are
:data:`BUILTIN_MAPPINGS`.  Every problem is a :class:`LogError`: one line naming the
file, the key and the problem, with the nearest known key for a typo.
"""

from __future__ import annotations

import difflib
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.config import Channel

__all__ = ["BUILTIN_MAPPINGS", "LogColumns", "LogError", "LogMapping", "builtin_mapping",
           "load_mapping", "mapping_from_dict", "nearest"]

MAX_MAPPING_BYTES: Final = 1_000_000
"""Largest mapping file read (a mapping is a few lines; anything bigger is a mistake)."""


class LogError(Exception):
    """A log or mapping cannot be read; the message is one line meant for the user."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogColumns(_Strict):
    """Which column of the export holds what; ``null`` where the log has no such column."""

    created: str = Field(description="when the request was raised / registered")
    closed: str = Field(description="when it was finished (empty = still open)")
    category: str = Field(description="request type")
    channel: str | None = Field(None, description="how it came in (phone, app, ...)")
    area: str | None = Field(None, description="becomes a community (or group of them)")
    dispatched: str | None = Field(
        None, description="when it reached the community, where that differs from created")
    first_response: str | None = Field(None, description="first response by staff")
    onsite: str | None = Field(None, description="staff arrived on site")
    status: str | None = Field(None, description="status text (for duplicate_statuses)")
    due: str | None = Field(None, description="the log's own due date")
    id: str | None = Field(None, description="record id (rows repeating one are duplicates)")

    def mapped(self) -> dict[str, str]:
        """Role -> column name, for the roles the log has."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class LogMapping(_Strict):
    """A mapping file (``MAP.yaml``): columns, clock, value maps and cleaning rules.

    Time zones: ``timezone`` is the IANA zone of the place the requests come from and
    ``stored_clock`` how the export's timestamps relate to its wall clock:

    * ``local`` -- they are local wall-clock times (nothing to do);
    * ``utc`` -- they are UTC: converted to ``timezone``;
    * ``local_read_as_utc`` -- local times were taken for UTC and converted to
      ``timezone`` once more, so they sit one UTC offset off (west of Greenwich:
      behind; Baltimore: 5 h in winter, 4 h in summer): read as ``timezone`` and taken
      back to UTC.  Within an hour of a DST change the fix can be off by an hour.

    ``shift_hours`` is then added to every timestamp (a fixed shift, for exports whose
    clock is off by a constant).  Durations only change across a DST change.
    """

    columns: LogColumns
    datetime_format: str | None = Field(None, description="strptime format; null: infer")
    timezone: str | None = Field(None, description="IANA zone of the local wall clock")
    stored_clock: Literal["local", "utc", "local_read_as_utc"] = "local"
    shift_hours: float = Field(0.0, ge=-24, le=24, description="fixed shift added last")
    encoding: str | None = Field(None, description="text encoding; null: UTF-8, else GB18030")
    categories: dict[str, str] = Field(default_factory=dict,
                                       description="raw category -> scenario category")
    channels: dict[str, Channel] = Field(default_factory=dict,
                                         description="raw channel -> scenario channel")
    areas: dict[str, str] = Field(default_factory=dict, description="raw area -> community")
    staff_raised: list[str] = Field(default_factory=list,
                                    description="raw channel values raised by staff: dropped")
    duplicate_statuses: list[str] = Field(
        default_factory=list, description="raw status values marking a duplicate: dropped")
    max_duration_days: float = Field(
        365.0, gt=0, description="closed this long after created: dropped as absurd")
    max_unparseable_share: float = Field(
        0.01, ge=0, le=1,
        description="above this share of unreadable dates in a column the log is refused")
    observed_until: datetime | None = Field(
        None, description="end of the observation window (export time, local clock); "
        "null: the last timestamp in the log")
    note: str = ""

    @model_validator(mode="after")
    def _clock(self) -> LogMapping:
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"timezone: unknown time zone {self.timezone!r} "
                                 "(an IANA name such as Asia/Shanghai)") from None
        if self.stored_clock != "local" and self.timezone is None:
            raise ValueError(f"stored_clock {self.stored_clock!r} needs a timezone")
        return self


BUILTIN_MAPPINGS: Final[dict[str, dict[str, Any]]] = {
    "baltimore311": {
        "note": "Baltimore 311 (OpenBaltimore) export. Timestamps sit 5 h (EST) / 4 h (EDT) "
        "behind local time -- an inference from the hour profile, which then peaks in "
        "office hours and moves less between winter and summer than under a fixed "
        "shift; 'Internal' requests are raised by staff; API/Web mapped to the app "
        "channel (mini_program) by analogy.",
        "columns": {"created": "CreatedDate", "closed": "CloseDate", "category": "SRType",
                    "channel": "MethodReceived", "area": "Neighborhood",
                    "status": "SRStatus", "due": "DueDate", "id": "SRRecordID"},
        "datetime_format": "%m/%d/%Y %I:%M:%S %p",
        "timezone": "America/New_York",
        "stored_clock": "local_read_as_utc",
        "channels": {"Phone": "phone", "API": "mini_program", "Web": "mini_program"},
        "staff_raised": ["Internal"],
        "duplicate_statuses": ["Closed (Duplicate)", "Open (Duplicate)", "New (Duplicate)"],
    },
    "12345": {
        "note": "ASSUMED layout of a Chinese 12345 hotline export (no real file seen): "
        "受理时间 = registered by the hotline (the resident's clock), 派单时间 = "
        "dispatched to the community (the community's clock), 响应时间 first response, "
        "到场时间 on site, 办结时间 closed; channel values and 巡查发现 (found on patrol, "
        "staff-raised) assumed.",
        "columns": {"created": "受理时间", "dispatched": "派单时间",
                    "first_response": "响应时间", "onsite": "到场时间", "closed": "办结时间",
                    "category": "诉求类型", "channel": "来源渠道", "area": "所属社区"},
        "timezone": "Asia/Shanghai",
        "channels": {"12345热线": "hotline_12345", "12345": "hotline_12345",
                     "电话": "phone", "来电": "phone", "微信小程序": "mini_program",
                     "小程序": "mini_program", "来访": "walk_in", "上门": "walk_in"},
        "staff_raised": ["巡查发现"],
    },
}
"""Mappings selected with ``--format NAME``."""


# --------------------------------------------------------------------------- mapping
def nearest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string."""
    near = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _mapping_problem(source: str, err: ValidationError) -> str:
    # a typo shows as an unknown key *and* a missing one: name the typo
    e = min(err.errors(), key=lambda x: x["type"] != "extra_forbidden")
    loc = tuple(e["loc"])
    where = ".".join(str(p) for p in loc) or "(top level)"
    if e["type"] == "extra_forbidden":
        parent: type[BaseModel] = LogColumns if loc[:1] == ("columns",) else LogMapping
        known = tuple(parent.model_fields)
        return f"{source}: {where}: unknown key{nearest(str(loc[-1]), known)}"
    if e["type"] == "missing":
        return f"{source}: {where}: required key is missing"
    msg = str(e["msg"]).removeprefix("Value error, ")
    return f"{source}: {where}: {msg}"


def mapping_from_dict(data: Any, source: str = "<mapping>") -> LogMapping:
    """Validate plain data as a :class:`LogMapping`, raising :class:`LogError`."""
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}, not a mapping"
        raise LogError(f"{source}: the mapping is {kind}")
    try:
        return LogMapping.model_validate(data)
    except ValidationError as err:
        raise LogError(_mapping_problem(source, err)) from None


def load_mapping(path: str | Path) -> LogMapping:
    """Read and validate a mapping file (YAML), raising :class:`LogError`."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_MAPPING_BYTES + 1)
    except FileNotFoundError:
        raise LogError(f"{p}: mapping file not found") from None
    except OSError as err:
        raise LogError(f"{p}: cannot read the mapping file ({err.strerror or err})") from None
    if len(raw) > MAX_MAPPING_BYTES:
        raise LogError(f"{p}: larger than {MAX_MAPPING_BYTES} bytes; not a mapping file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LogError(f"{p}: not UTF-8 text; save the mapping file as UTF-8") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise LogError(f"{p}: (YAML) {where}{problem}") from None
    return mapping_from_dict(data, str(p))


def builtin_mapping(name: str) -> LogMapping:
    """A built-in mapping (:data:`BUILTIN_MAPPINGS`), raising :class:`LogError`."""
    if name not in BUILTIN_MAPPINGS:
        raise LogError(f"--format: unknown format {name!r}{nearest(name, list(BUILTIN_MAPPINGS))}"
                       f"; known: {', '.join(BUILTIN_MAPPINGS)}")
    return mapping_from_dict(BUILTIN_MAPPINGS[name], f"--format {name}")
