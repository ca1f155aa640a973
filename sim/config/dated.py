"""Scenario sections of dated runs: calendars (holidays, make-up days) and events.

A run with ``run.start_date`` sits on real dates.  ``calendars`` list public holidays and
make-up working days (调休); shifts with ``on_holidays: false`` and business-hours clocks
follow them.  ``events`` are windows that change the world: demand surges, clustered
faults, an outside party's outage, staff taken away.  An event starts at ``start`` (a date
and time; needs ``run.start_date``) or ``start_day`` days after simulated minute 0.
What the model does with them is in :mod:`sim.calendars` and :mod:`sim.events`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, model_validator

from sim.config import limits
from sim.config.presets import calendar_preset, calendar_presets
from sim.config.schema import COMMUNITY_TYPES, ScenarioModel, Weekday

if TYPE_CHECKING:
    from sim.config.scenario import Scenario

MAX_EVENTS = 200
MAX_CALENDAR_DAYS = 5000


class CalendarSpec(ScenarioModel):
    """Public holidays and make-up working days (调休), by date.

    ``preset`` adds a shipped calendar (``sim/presets/calendars/<name>.yaml``, e.g.
    ``cn_2026``) to the days listed here.  A make-up working day runs the shifts and
    business hours of the weekday it stands for.
    """

    name: str = Field("calendar", description="calendar name")
    preset: str | None = Field(
        None, description="a shipped calendar whose days are added (cn_2026: mainland "
        "China 2026, from the State Council General Office notice); null: none",
    )
    holidays: list[dt.date] = Field(
        default_factory=list, max_length=MAX_CALENDAR_DAYS,
        description="public holidays (ISO dates): shifts with on_holidays false do not "
        "start, business-hours clocks stand still",
    )
    workdays: dict[dt.date, Weekday] = Field(
        default_factory=dict, max_length=MAX_CALENDAR_DAYS,
        description="make-up working days (ISO date: the weekday whose shifts and business "
        "hours it keeps, e.g. 2026-02-14: mon)",
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("preset") is None:
            return data
        name = data["preset"]
        if name not in calendar_presets():
            raise ValueError(f"preset: unknown calendar {name!r}; shipped: "
                             f"{', '.join(calendar_presets())}")
        preset = calendar_preset(str(name))
        given_h = data.get("holidays") or []
        given_w = data.get("workdays") or {}
        if not isinstance(given_h, list) or not isinstance(given_w, dict):
            return data  # the field checks report it
        holidays = list(dict.fromkeys([*preset["holidays"], *given_h]))
        return {**data, "holidays": holidays, "workdays": {**preset["workdays"], **given_w}}

    @model_validator(mode="after")
    def _disjoint(self) -> CalendarSpec:
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise ValueError(f"workdays: {both[0].isoformat()} is also listed as a holiday")
        return self


# --------------------------------------------------------------------------- events
class EventWindow(ScenarioModel):
    """When an event happens: ``start`` (date and time) or ``start_day``, for
    ``duration_hour``."""

    name: str = Field(description="event name; its random streams are events/<name>/...")
    start: dt.datetime | None = Field(
        None, description="date and time it starts (e.g. 2026-07-14T15:00); needs "
        "run.start_date"
    )
    start_day: float | None = Field(
        None, ge=0, le=limits.MAX_HORIZON_DAYS,
        description="or: days after simulated minute 0 it starts (undated runs)",
    )
    duration_hour: float = Field(
        gt=0, le=24 * 366, description="how long the window lasts, in hours"
    )

    @model_validator(mode="after")
    def _one_start(self) -> EventWindow:
        if (self.start is None) == (self.start_day is None):
            raise ValueError("give exactly one of start (a date and time) or start_day")
        if self.start is not None and self.start.tzinfo is not None:
            raise ValueError("start: give a local date and time without a time zone")
        return self


class Surge(EventWindow):
    """More requests of some categories in some communities: inside the window the
    arrival rate is ``multiplier`` x the usual one; after it the multiplier falls linearly
    back to 1 over ``tail_hour``.  The extra requests are drawn from the event's own
    streams, so every other request is the same as without the event."""

    kind: Literal["surge"] = Field(description="a demand surge")
    categories: Literal["all"] | list[str] = Field(
        "all", description="categories that surge: all, or a list of names"
    )
    communities: Literal["all"] | list[str] = Field(
        "all", description="communities (names, entry names or types) that surge"
    )
    multiplier: float = Field(
        ge=1, le=limits.MAX_DEMAND_MULTIPLIER,
        description="arrival rate inside the window, as a multiple of the usual rate",
    )
    tail_hour: float = Field(
        0.0, ge=0, le=24 * 30, description="hours after the window over which the "
        "multiplier falls linearly back to 1 (0: it stops at once)"
    )


class Cluster(EventWindow):
    """A cluster of requests of one category (a power cut stopping many lifts):
    ``count`` of them in each community named, at times drawn uniformly in the window."""

    kind: Literal["cluster"] = Field(description="a cluster of requests")
    category: str = Field(description="category of every request of the cluster")
    communities: Literal["all"] | list[str] = Field(
        "all", description="communities (names, entry names or types) hit"
    )
    count: int = Field(ge=1, le=10_000, description="requests per community hit")


class Outage(EventWindow):
    """An outside party works slower: a wait on it that starts inside the window lasts
    ``wait_factor`` x its drawn length plus ``extra_wait_min``."""

    kind: Literal["outage"] = Field(description="an outside party's outage")
    party: str = Field(description="the outside party (outside_party.name of a category)")
    wait_factor: float = Field(
        1.0, ge=1, le=1000, description="waits starting in the window are this many times "
        "longer"
    )
    extra_wait_min: float = Field(
        0.0, ge=0, le=limits.MAX_HORIZON_DAYS * 1440,
        description="minutes added to each wait starting in the window",
    )


class StaffEvent(EventWindow):
    """People away from requests for the window (a training day): ``people`` fewer on
    duty in every run-time pool of ``pool`` (never below nobody)."""

    kind: Literal["staff"] = Field(description="staff taken away")
    pool: str = Field(description="the staff pool (its name under staff)")
    people: int = Field(ge=1, le=limits.MAX_HEADCOUNT, description="people taken away")


Event = Annotated[Surge | Cluster | Outage | StaffEvent, Field(discriminator="kind")]


def _where(event: Surge | Cluster, known: set[str]) -> list[str]:
    return [] if event.communities == "all" else sorted(set(event.communities) - known)


def dated_problem(sc: Scenario) -> str | None:
    """The first problem of the calendars and events of ``sc`` (names, dates), or None."""
    if sc.calendars and sc.run.start_date is None:
        return "calendars: a calendar needs run.start_date (the date of simulated minute 0)"
    dup = sorted(n for n, k in Counter(e.name for e in sc.events).items() if k > 1)
    if dup:
        return f"events: duplicate event names {dup}"
    names = {c.name for c in sc.communities} | set(sc.community_groups()) | set(COMMUNITY_TYPES)
    parties = {c.outside_party.name for c in sc.categories.values()
               if c.outside_party is not None}
    pools = {p.name for p in sc.staff}
    for i, e in enumerate(sc.events):
        where = f"events[{i}]"
        if e.start is not None and sc.run.start_date is None:
            return f"{where}.start: a dated event needs run.start_date; or use start_day"
        if isinstance(e, Surge) and e.categories != "all":
            unknown = sorted(set(e.categories) - set(sc.categories))
            if unknown:
                return f"{where}.categories: unknown categories {unknown}"
        if isinstance(e, Cluster) and e.category not in sc.categories:
            return f"{where}.category: unknown category {e.category!r}"
        if isinstance(e, Surge | Cluster) and _where(e, names):
            return f"{where}.communities: unknown communities or types {_where(e, names)}"
        if isinstance(e, Outage) and e.party not in parties:
            return (f"{where}.party: no category waits on an outside party named "
                    f"{e.party!r} (known: {sorted(parties)})")
        if isinstance(e, StaffEvent) and e.pool not in pools:
            return f"{where}.pool: unknown staff pool {e.pool!r}"
    return _size_problem(sc)


def _size_problem(sc: Scenario) -> str | None:
    """Surges and clusters asking for more requests than a run may hold (an upper bound:
    every community's whole demand surges)."""
    per_day = sum(c.count * c.requests_per_day for c in sc.communities)
    n_com = sum(c.count for c in sc.communities)
    extra = 0.0
    for i, e in enumerate(sc.events):
        if isinstance(e, Surge):
            extra += (e.multiplier - 1) * per_day * (e.duration_hour + e.tail_hour) / 24.0
        elif isinstance(e, Cluster):
            extra += e.count * n_com
        if extra > limits.MAX_REQUESTS:
            return (f"events[{i}]: events add up to about {extra:.2g} requests per "
                    f"replication; the limit is {limits.MAX_REQUESTS:.2g} — shorten the "
                    "windows or lower the multipliers")
    return None
