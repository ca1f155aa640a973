"""Scenario sections (pydantic v2): every field, its unit, its default and its source.

This module is the only home for defaults: every field says its unit in its name
(``_min``, ``_hour``, ``_per_day``) and where its default comes from ("seed" is the Jinan
High-tech Zone report, "assumption" our estimate).  Community-type and category presets
live as data in ``sim/presets/*.yaml`` (see :mod:`sim.config.presets`); a scenario names
a preset and overrides any of its fields.  Every float must be finite, and sizes are
capped (see :mod:`sim.config.limits`).  :class:`~sim.config.scenario.Scenario` puts the
sections together.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.config import limits
from sim.config.presets import community_presets, other_work_presets
from sim.distributions import Distribution, Fixed

StaffKind = Literal["service_desk", "technician", "community_cadre", "party_instructor"]
CommunityType = Literal[
    "new_estate", "old_estate", "industrial_park", "village", "boundary", "smart", "custom"
]
COMMUNITY_TYPES: tuple[str, ...] = CommunityType.__args__  # type: ignore[attr-defined]
Channel = Literal["phone", "walk_in", "mini_program", "hotline_12345"]
CHANNELS: tuple[str, ...] = Channel.__args__  # type: ignore[attr-defined]
Scope = Literal["community", "street", "zone"]
SCOPES: tuple[str, ...] = Scope.__args__  # type: ignore[attr-defined]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK_MIN = 7 * 1440.0


def _kinds(*kinds: StaffKind) -> list[StaffKind]:
    return list(kinds)


class ScenarioModel(BaseModel):
    """Base of every scenario model: unknown fields, NaN and infinity are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# --------------------------------------------------------------------------- run & SLA
class RunConfig(ScenarioModel):
    """How long, how often and from when to simulate."""

    horizon_days: float = Field(
        28.0, gt=0, le=limits.MAX_HORIZON_DAYS,
        description="days simulated per replication, warm-up included (assumption: four "
        "weeks show every weekday four times); at most ten years",
    )
    warmup_days: float = Field(
        0.0, ge=0, description="days at the start discarded from statistics (the system "
        "starts empty; assumption: none, since queues clear within hours)"
    )
    replications: int = Field(
        10, ge=1, le=limits.MAX_REPLICATIONS,
        description="independent replications (assumption: 10 give CI half-widths of a few "
        "percentage points)",
    )
    seed: int = Field(20241, ge=0, description="root seed of every random stream")
    start_weekday: Weekday = Field("mon", description="weekday at simulated minute 0")
    start_hour: int = Field(
        0, ge=0, le=23, description="hour of day (0-23) at simulated minute 0"
    )
    start_date: dt.date | None = Field(
        None, description="calendar date at simulated minute 0 (ISO, e.g. 2026-02-09); it "
        "fixes start_weekday (leave that out, or give the same weekday) and lets calendars "
        "and dated events apply; null: an undated run on average weeks",
    )

    @model_validator(mode="before")
    @classmethod
    def _weekday_from_date(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("start_date") is None:
            return data
        raw = data["start_date"]
        try:
            day = raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw))
        except ValueError:
            return data  # the field check reports the bad date
        weekday = WEEKDAYS[day.weekday()]
        given = data.get("start_weekday")
        if given is not None and given != weekday:
            raise ValueError(
                f"start_weekday {given!r} contradicts start_date {day.isoformat()}, a "
                f"{weekday!r}; leave start_weekday out of a dated run"
            )
        return {**data, "start_weekday": weekday}

    @model_validator(mode="after")
    def _warmup_inside(self) -> RunConfig:
        if self.warmup_days >= self.horizon_days:
            raise ValueError(f"warmup_days must be shorter than horizon_days (warmup_days "
                             f"{self.warmup_days:g}, horizon_days {self.horizon_days:g}; "
                             "shorten the warm-up too)")
        return self

    @property
    def horizon_min(self) -> float:
        return self.horizon_days * 1440.0

    @property
    def warmup_min(self) -> float:
        return self.warmup_days * 1440.0

    @property
    def start_offset_min(self) -> float:
        """Minutes from Monday 00:00 to simulated minute 0."""
        return (WEEKDAYS.index(self.start_weekday) * 24 + self.start_hour) * 60.0


class BusinessHours(ScenarioModel):
    """The calendar used by SLA rules whose clock only runs in business hours."""

    days: list[Weekday] = Field(
        default_factory=lambda: list(WEEKDAYS[:5]), max_length=7,
        description="weekdays the office is open (assumption: Monday to Friday)",
    )
    start_hour: float = Field(
        9.0, ge=0, lt=24, description="hour of day the office opens (assumption: 09:00)"
    )
    end_hour: float = Field(
        18.0, gt=0, le=24, description="hour of day the office closes (assumption: 18:00)"
    )

    @model_validator(mode="after")
    def _ordered(self) -> BusinessHours:
        if self.end_hour <= self.start_hour:
            raise ValueError("end_hour must be after start_hour")
        if not self.days:
            raise ValueError("days must name at least one weekday")
        return self


StageName = Literal["respond", "onsite", "finish", "plan"]
STAGE_NAMES: tuple[str, ...] = StageName.__args__  # type: ignore[attr-defined]


class DayTarget(ScenarioModel):
    """A stage target stated in days: natural days on the 24-hour clock, or working days
    on the business-hours clock (which skips weekends and the calendars' holidays)."""

    days: float = Field(gt=0, le=366, description="the target, in days")
    unit: Literal["natural", "working"] = Field(
        description="natural: days x 24 h of wall clock; working: days x the business "
        "hours of one working day (business_hours.end_hour - start_hour), counted only "
        "while the office is open"
    )


class SlaRule(ScenarioModel):
    """Targets per stage, counted from when the request reaches the community (default)
    or from when the resident raised it (``clock_from``).

    A stage whose target is ``null`` is not measured by this rule.  Defaults are the
    "2341" rule from the seed report: 20 min respond, 30 min on site, 4 h finish for
    routine requests, 1 day plan for complex ones.  ``plan_track`` and
    ``plan_during_outside_wait`` also change what staff do: the engine applies them to a
    category as the first rule listed that covers it says.
    """

    name: str = Field("2341", description="name of the rule in tables and reports")
    categories: Literal["all"] | list[str] = Field(
        "all", description="categories the rule measures: all, or a list of names"
    )
    calendar: Literal["24h", "business_hours"] = Field(
        "24h", description="24h: the clock never stops (seed: night lift faults count); "
        "business_hours: it runs only in business_hours"
    )
    respond_min: float | None = Field(
        20.0, gt=0, description="minutes to respond (seed: 20分钟响应); null: not measured"
    )
    onsite_min: float | None = Field(
        30.0, gt=0, description="minutes to be on site (seed: 30分钟处置); null: not measured"
    )
    finish_min: float | None = Field(
        240.0, gt=0, description="minutes to finish a routine request (seed: 4小时办结); "
        "null: not measured"
    )
    plan_min: float | None = Field(
        1440.0, gt=0, description="minutes to a plan for a complex request (seed: 1天出方案); "
        "null: not measured"
    )
    clock_from: Literal["community", "resident"] = Field(
        "community", description="community: targets count from when the request reaches "
        "the community (created_min); resident: from when the resident raised it "
        "(raised_min), so a 12345 transfer counts against the target"
    )
    plan_track: Literal["at_arrival", "after_finish_target"] = Field(
        "at_arrival", description="at_arrival: a request needs a plan if it is complex, "
        "known when it is assessed; after_finish_target: also a routine request not "
        "finished within finish_min then owes a plan (plan_min from its arrival), the "
        "seed's 4小时办结、1天出方案 read as 'what cannot be finished in 4 h gets a plan "
        "within 1 day'"
    )
    plan_during_outside_wait: bool = Field(
        False, description="false: a plan is written only after the outside party is done, "
        "so the plan clock includes its wait; true: plan staff write it while the party works"
    )
    targets_in_days: dict[StageName, DayTarget] = Field(
        default_factory=dict, description="stage targets stated in days instead of "
        "<stage>_min (e.g. plan: {days: 1, unit: working}); such a stage counts on its own "
        "clock (natural: 24h, working: business_hours) whatever calendar says",
    )

    @model_validator(mode="before")
    @classmethod
    def _days_fill_minutes(cls, data: Any) -> Any:
        # a stage with a target in days is measured: <stage>_min is set to its natural
        # length (1 day = 1440 min) for tables; sim.sla counts the stage on its own clock
        if not isinstance(data, dict) or not isinstance(data.get("targets_in_days"), dict):
            return data
        data = dict(data)
        for stage, target in data["targets_in_days"].items():
            key = f"{stage}_min"
            days = target.get("days") if isinstance(target, dict) else getattr(
                target, "days", None)
            if not isinstance(days, int | float) or stage not in STAGE_NAMES:
                continue  # the field checks report it
            given = data.get(key)
            # a resolved scenario written back carries both, equal
            if given is not None and given != float(days) * 1440.0:
                raise ValueError(f"{key} and targets_in_days.{stage} both set a target; "
                                 "give one of them")
            data[key] = float(days) * 1440.0
        return data

    @model_validator(mode="after")
    def _overdue_needs_finish(self) -> SlaRule:
        if self.plan_track == "after_finish_target" and self.finish_min is None:
            raise ValueError("plan_track after_finish_target needs a finish_min target")
        return self


class Escalation(ScenarioModel):
    """What happens when a waiting request breaches its stage target."""

    enabled: bool = Field(True, description="assumption: the 2341 mechanism escalates")
    raise_priority: bool = Field(True, description="move the request to the urgent class")
    handoff: bool = Field(True, description="offer it to every higher tier at once")


# --------------------------------------------------------------------------- categories
class OutsideParty(ScenarioModel):
    """An outside party (lift firm, grid company, utility) some requests wait on.

    The wait happens after the on-site stage and occupies no community staff: a routine
    request is finished when the party is done; a complex one goes to planning then.
    """

    name: str = Field(description="name of the party (lift firm, grid company, ...)")
    prob: float = Field(ge=0, le=1, description="share of requests that wait on the party")
    wait: Distribution = Field(description="how long the party takes, in minutes")


class Category(ScenarioModel):
    """A request category: who handles each stage and how long it takes."""

    label_zh: str = Field("", description="Chinese label for reports")
    label_en: str = Field("", description="English label for reports")
    priority: Literal["urgent", "normal"] = Field(
        "normal", description="urgent requests are served first"
    )
    complex_prob: float = Field(
        0.0, ge=0, le=1, description="share of requests that are complex and need a plan"
    )
    respond_by: list[StaffKind] = Field(
        default_factory=lambda: _kinds("service_desk"), min_length=1,
        description="staff kinds, in tier order, that respond",
    )
    onsite_by: list[StaffKind] = Field(
        default_factory=lambda: _kinds("technician"),
        description="staff kinds that go on site; empty: closed at the desk",
    )
    plan_by: list[StaffKind] = Field(
        default_factory=lambda: _kinds("community_cadre", "party_instructor"),
        description="staff kinds that coordinate complex requests and write the plan",
    )
    respond_time: Distribution = Field(description="desk handling time (acknowledge, log)")
    work_time: Distribution | None = Field(
        None, description="on-site work of a routine request (after travel)"
    )
    assess_time: Distribution | None = Field(
        None, description="on-site assessment of a complex request; default: work_time"
    )
    plan_time: Distribution | None = Field(
        None, description="staff time to coordinate and write the plan"
    )
    close_time: Distribution = Field(
        default_factory=lambda: Fixed(dist="fixed", value_min=4320.0),
        description="assumption: a complex request closes 3 days after its plan",
    )
    outside_party: OutsideParty | None = Field(
        None, description="an outside party some requests wait on; null: none"
    )

    @model_validator(mode="after")
    def _stages_have_times(self) -> Category:
        if self.onsite_by and self.work_time is None:
            raise ValueError("work_time is required when onsite_by names a staff kind")
        if self.complex_prob > 0:
            if not self.plan_by:
                raise ValueError("plan_by must name a staff kind when complex_prob > 0")
            if self.plan_time is None:
                raise ValueError("plan_time is required when complex_prob > 0")
        return self

    @property
    def assess(self) -> Distribution | None:
        return self.assess_time if self.assess_time is not None else self.work_time


class ChannelConfig(ScenarioModel):
    """How requests reach the community through one channel."""

    transfer_delay: Distribution = Field(
        default_factory=lambda: Fixed(dist="fixed", value_min=0.0),
        description="time from the resident raising it to the community receiving it",
    )


def default_channels() -> dict[Channel, ChannelConfig]:
    return {
        "phone": ChannelConfig(),
        "walk_in": ChannelConfig(),
        "mini_program": ChannelConfig(),
        # assumption: a 12345 hotline ticket is transferred to the community in about an
        # hour (lognormal, CV 0.5); the seed names the hotline but gives no delay.
        "hotline_12345": ChannelConfig.model_validate(
            {"transfer_delay": {"dist": "lognormal", "mean_min": 60.0, "cv": 0.5}}
        ),
    }


# --------------------------------------------------------------------------- communities
def _check_shares(name: str, shares: dict[str, float]) -> dict[str, float]:
    if not shares:
        raise ValueError(f"{name} must list at least one entry")
    bad = [k for k, v in shares.items() if v < 0]
    if bad:
        raise ValueError(f"{name} has negative shares: {', '.join(bad)}")
    total = sum(shares.values())
    if abs(total - 1.0) > 1e-3:
        raise ValueError(f"{name} shares must sum to 1 (they sum to {total:.4g})")
    return shares


def _check_profile(name: str, values: list[float]) -> list[float]:
    if any(v < 0 for v in values):
        raise ValueError(f"{name} weights must be >= 0")
    if sum(values) <= 0:
        raise ValueError(f"{name} must have a positive weight somewhere")
    mean = sum(values) / len(values)
    if not math.isfinite(mean):
        raise ValueError(f"{name} weights are too large (their sum is not finite)")
    return [v / mean for v in values]


class Community(ScenarioModel):
    """A community (or, with ``count``, several alike ones).

    Fields left out are taken from the preset of ``type``; ``custom`` has no preset.
    """

    name: str = Field(description="community name; with count > 1, entries are name-1..")
    type: CommunityType = Field(
        description="community type (seed report's six types); its preset fills every "
        "field left out; custom has no preset"
    )
    street: str = Field("street-1", description="the street (or park) the community is in")
    count: int = Field(
        1, ge=1, le=limits.MAX_COMMUNITIES,
        description="stamp out this many alike communities, named name-1 .. name-N",
    )
    households: int = Field(
        ge=0, le=10_000_000, description="households (preset: by type, from the seed report)"
    )
    firms: int = Field(0, ge=0, le=1_000_000, description="firms (industrial parks)")
    requests_per_household_per_day: float = Field(
        ge=0, description="mean requests per household per day (preset; assumption)"
    )
    requests_per_firm_per_day: float = Field(
        0.0, ge=0, description="mean requests per firm per day (preset; assumption)"
    )
    demand_multiplier: float = Field(
        1.0, ge=0, le=limits.MAX_DEMAND_MULTIPLIER,
        description="scales demand (0: no requests; what-if studies)",
    )
    complex_prob_multiplier: float = Field(
        1.0, ge=0, description="scales every category's complex_prob here (old estates)"
    )
    hour_profile: list[float] = Field(
        min_length=24, max_length=24,
        description="24 relative weights of arrivals by hour of day, normalised to mean 1 "
        "(preset: 311 log)",
    )
    weekday_profile: list[float] = Field(
        min_length=7, max_length=7,
        description="7 relative weights of arrivals Mon..Sun, normalised to mean 1 "
        "(preset: 311 log and assumption)",
    )
    channel_mix: dict[Channel, float] = Field(
        description="share of requests by channel, summing to 1 (preset: assumption)"
    )
    category_mix: dict[str, float] = Field(
        max_length=limits.MAX_CATEGORIES,
        description="share of requests by category, summing to 1 (preset: seed report)",
    )
    travel_time: Distribution = Field(
        description="staff travel from base to the site, in minutes (preset: assumption)"
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("type") in COMMUNITY_TYPES:
            ctype = data["type"]
            if ctype != "custom":
                merged = copy.deepcopy(community_presets()[ctype])
                merged.pop("label_zh", None)
                merged.pop("label_en", None)
                merged.update(data)
                return merged
        return data

    @field_validator("hour_profile")
    @classmethod
    def _hours(cls, v: list[float]) -> list[float]:
        return _check_profile("hour_profile", v)

    @field_validator("weekday_profile")
    @classmethod
    def _days(cls, v: list[float]) -> list[float]:
        return _check_profile("weekday_profile", v)

    @field_validator("channel_mix")
    @classmethod
    def _channels(cls, v: dict[str, float]) -> dict[str, float]:
        return _check_shares("channel_mix", v)

    @field_validator("category_mix")
    @classmethod
    def _cats(cls, v: dict[str, float]) -> dict[str, float]:
        return _check_shares("category_mix", v)

    @property
    def requests_per_day(self) -> float:
        """Mean requests per day (before profiles), including the demand multiplier."""
        base = (
            self.households * self.requests_per_household_per_day
            + self.firms * self.requests_per_firm_per_day
        )
        return base * self.demand_multiplier


# --------------------------------------------------------------------------- staff
class Shift(ScenarioModel):
    """A block of staffing that starts on the given days; night on-call is a shift too.

    ``end_hour <= start_hour`` means the shift runs past midnight into the next day;
    ``start_hour == end_hour`` is a 24-hour shift.
    """

    name: str = Field("shift", description="shift name (lever paths use it)")
    days: list[Weekday] = Field(
        default_factory=lambda: list(WEEKDAYS), min_length=1, max_length=7,
        description="weekdays the shift starts on (default: every day)",
    )
    start_hour: float = Field(ge=0, lt=24, description="hour of day the shift starts")
    end_hour: float = Field(
        gt=0, le=24, description="hour of day it ends; <= start_hour: the next day"
    )
    headcount: int = Field(
        ge=0, le=limits.MAX_HEADCOUNT, description="people on duty (0: nobody)"
    )
    on_call: bool = Field(False, description="on call from home (adds callout_min)")
    callout_min: float = Field(
        0.0, ge=0, description="extra delay before an on-call person can set off"
    )
    cost_factor: float = Field(1.0, ge=0, description="share of hourly_cost paid")
    on_holidays: bool = Field(
        True, description="false: the shift does not start on a public holiday of the "
        "scenario's calendars; a make-up working day runs the shifts of the weekday it "
        "stands for either way"
    )

    @property
    def length_hour(self) -> float:
        span = (self.end_hour - self.start_hour) % 24
        return 24.0 if span == 0 else span


class OtherBlock(ScenarioModel):
    """Scheduled work that is not requests (a meeting, a study afternoon, patrol rounds).

    During the block ``people`` of those present are away from requests (at most all of
    them).  A person busy on a request when the block starts joins it when done.
    """

    name: str = Field("block", description="block name")
    days: list[Weekday] = Field(
        default_factory=lambda: list(WEEKDAYS), min_length=1, max_length=7,
        description="weekdays the block is held (default: every day)",
    )
    start_hour: float = Field(ge=0, lt=24, description="hour of day the block starts")
    end_hour: float = Field(gt=0, le=24, description="hour of day it ends (same day)")
    people: int = Field(ge=1, le=limits.MAX_HEADCOUNT, description="people it takes")

    @model_validator(mode="after")
    def _ordered(self) -> OtherBlock:
        if self.end_hour <= self.start_hour:
            raise ValueError("end_hour must be after start_hour (a block ends the same day)")
        return self


class Interruptions(ScenarioModel):
    """A random stream of small jobs that are not requests (walk-in enquiries, fees,
    inspections): Poisson arrivals, each occupying one person for ``duration``, during
    the hours ``start_hour``-``end_hour`` of every day (all day by default).

    Waiting interruptions are taken before waiting requests.  ``urgent_preempts``: an
    urgent request finding nobody free interrupts one (which resumes later).
    ``preempts_requests``: an interruption finding nobody free interrupts a request
    instead (preemptive-resume priority above requests; used for validation).
    """

    rate_per_hour: float = Field(ge=0, le=1e4, description="arrivals per hour (see per)")
    per: Literal["person", "pool"] = Field(
        "person", description="person: rate per person on duty; pool: rate for the pool"
    )
    duration: Distribution = Field(description="time one interruption takes, in minutes")
    urgent_preempts: bool = Field(
        True, description="an urgent request may interrupt an interruption"
    )
    preempts_requests: bool = Field(
        False, description="an interruption may interrupt a request (preemptive-resume)"
    )
    start_hour: float = Field(
        0, ge=0, lt=24, description="interruptions arrive only from this hour of the day "
        "(with end_hour; a window past midnight when start_hour > end_hour)"
    )
    end_hour: float = Field(
        24, gt=0, le=24, description="... until this hour of the day (0-24: all day)"
    )

    @property
    def all_day(self) -> bool:
        """True when the stream runs around the clock."""
        return (self.start_hour == 0 and self.end_hour == 24) or self.start_hour == self.end_hour

    def in_window(self, hour: float) -> bool:
        """Whether hour of day ``hour`` (0 <= hour < 24) lies in the arrival window."""
        if self.all_day:
            return True
        if self.start_hour < self.end_hour:
            return self.start_hour <= hour < self.end_hour
        return hour >= self.start_hour or hour < self.end_hour


class StaffPool(ScenarioModel):
    """Staff of one kind at one scope.

    ``scope: community`` creates one pool in every community it applies to; ``street``
    one per street; ``zone`` a single shared pool.  A request is offered to the pools
    covering its community in tier order (kind order of the category's stage, then
    community before street before zone); a higher tier is offered it once it has waited
    ``borrow_after_min`` at the lower tiers, or at once on escalation.
    """

    name: str = Field(description="pool name (lever paths use it)")
    kind: StaffKind = Field(description="the staff kind; categories name kinds per stage")
    scope: Scope = Field(
        "community", description="community: one pool per community; street: one per "
        "street; zone: one shared pool"
    )
    communities: list[str] | None = Field(
        None, description="community names or types this pool serves; null: all"
    )
    shifts: list[Shift] = Field(
        min_length=1, max_length=limits.MAX_SHIFTS, description="the weekly shifts"
    )
    hourly_cost: float = Field(
        0.0, ge=0, description="cost per staff-hour on duty, in yuan (assumption)"
    )
    borrow_after_min: float = Field(
        15.0, ge=0, description="minutes a request waits at lower tiers before this "
        "(higher) tier takes it (assumption: half the 30-minute on-site target)"
    )
    travel_time: Distribution | None = Field(
        None, description="travel when this pool goes on site; null: community's travel"
    )
    preemptive: bool = Field(
        False, description="urgent requests interrupt normal work (preemptive-resume)"
    )
    blocks: list[OtherBlock] = Field(
        default_factory=list, max_length=limits.MAX_SHIFTS,
        description="scheduled work that is not requests (default: none)",
    )
    interruptions: Interruptions | None = Field(
        None, description="random work that is not requests (default: none)"
    )
    absence_prob: float = Field(
        0.0, ge=0, le=1, description="probability a rostered person is away on a given "
        "day (drawn per day and person from the pool's own random stream)"
    )
    absence_cover: float = Field(
        0.0, ge=0, le=1, description="probability a person's day away is covered by a "
        "stand-in (a colleague called in), drawn per day and person from its own stream; "
        "0: nobody is replaced"
    )
    other_work: Literal["none", "kind_preset"] = Field(
        "none", description="kind_preset: blocks, interruptions and absence not given "
        "here come from the staff kind's preset (sim/presets/other_work.yaml)"
    )
    at_shift_end: Literal["finish", "hand_over"] = Field(
        "finish", description="finish: a person finishes the job in hand (overtime); "
        "hand_over: the job pauses and the next person on duty resumes it"
    )
    streams_from: str | None = Field(
        None, max_length=200, description="draw other work and absence from the random "
        "streams of the pool of this name (default: the pool's own); a copy of a pool "
        "serving some of its communities (as sim allocate makes) keeps its draws"
    )

    @model_validator(mode="before")
    @classmethod
    def _kind_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("other_work") == "kind_preset":
            preset = other_work_presets().get(str(data.get("kind")), {})
            data = {**copy.deepcopy(preset), **data}
        return data

    @property
    def has_other_work(self) -> bool:
        """True when the pool has blocks, interruptions or absence."""
        return bool(self.blocks) or self.interruptions is not None or self.absence_prob > 0
