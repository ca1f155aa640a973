"""Scenario schema (pydantic v2), preset merging and YAML loading.

This module is the only home for defaults: every field says its unit in its name
(``_min``, ``_hour``, ``_per_day``) and where its default comes from.  Community-type and
category presets live as data in ``sim/presets/*.yaml``; a scenario names a preset and
overrides any of its fields.

Loading a file never raises a raw traceback at a user: :func:`load_scenario` raises
:class:`ScenarioError`, whose message names the file, the field and the problem.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

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


class ScenarioError(Exception):
    """A scenario file or object is invalid; the message is meant for the user as is."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- run & SLA
class RunConfig(_Model):
    """How long, how often and from when to simulate."""

    horizon_days: float = Field(28.0, gt=0, description="simulated days per replication")
    warmup_days: float = Field(
        0.0, ge=0, description="days discarded from statistics (the system starts empty)"
    )
    replications: int = Field(10, ge=1, description="independent replications")
    seed: int = Field(20241, ge=0, description="root seed of every random stream")
    start_weekday: Weekday = Field("mon", description="weekday at simulated minute 0")
    start_hour: int = Field(0, ge=0, le=23, description="hour of day at simulated minute 0")

    @model_validator(mode="after")
    def _warmup_inside(self) -> RunConfig:
        if self.warmup_days >= self.horizon_days:
            raise ValueError("warmup_days must be shorter than horizon_days")
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


class BusinessHours(_Model):
    """The calendar used by SLA rules whose clock only runs in business hours."""

    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    start_hour: float = Field(9.0, ge=0, lt=24, description="assumption: office opens 09:00")
    end_hour: float = Field(18.0, gt=0, le=24, description="assumption: office closes 18:00")

    @model_validator(mode="after")
    def _ordered(self) -> BusinessHours:
        if self.end_hour <= self.start_hour:
            raise ValueError("end_hour must be after start_hour")
        if not self.days:
            raise ValueError("days must name at least one weekday")
        return self


class SlaRule(_Model):
    """Targets per stage, counted from the moment a request reaches the community.

    A stage whose target is ``null`` is not measured by this rule.  Defaults are the
    "2341" rule from the seed report: 20 min respond, 30 min on site, 4 h finish for
    routine requests, 1 day plan for complex ones.
    """

    name: str = "2341"
    categories: Literal["all"] | list[str] = "all"
    calendar: Literal["24h", "business_hours"] = Field(
        "24h", description="24h: the clock never stops (seed: night lift faults count)"
    )
    respond_min: float | None = Field(20.0, gt=0, description="seed: 20分钟响应")
    onsite_min: float | None = Field(30.0, gt=0, description="seed: 30分钟处置")
    finish_min: float | None = Field(240.0, gt=0, description="seed: 4小时办结 (routine)")
    plan_min: float | None = Field(1440.0, gt=0, description="seed: 1天出方案 (complex)")


class Escalation(_Model):
    """What happens when a waiting request breaches its stage target."""

    enabled: bool = Field(True, description="assumption: the 2341 mechanism escalates")
    raise_priority: bool = Field(True, description="move the request to the urgent class")
    handoff: bool = Field(True, description="offer it to every higher tier at once")


# --------------------------------------------------------------------------- categories
class OutsideParty(_Model):
    """An outside party (lift firm, grid company, utility) some requests wait on.

    The wait happens after the on-site stage and occupies no community staff: a routine
    request is finished when the party is done; a complex one goes to planning then.
    """

    name: str
    prob: float = Field(ge=0, le=1, description="share of requests that wait on the party")
    wait: Distribution


class Category(_Model):
    """A request category: who handles each stage and how long it takes."""

    label_zh: str = ""
    label_en: str = ""
    priority: Literal["urgent", "normal"] = "normal"
    complex_prob: float = Field(0.0, ge=0, le=1, description="share needing a plan")
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
    outside_party: OutsideParty | None = None

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


class ChannelConfig(_Model):
    """How requests reach the community through one channel."""

    transfer_delay: Distribution = Field(
        default_factory=lambda: Fixed(dist="fixed", value_min=0.0),
        description="time from the resident raising it to the community receiving it",
    )


def _default_channels() -> dict[Channel, ChannelConfig]:
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
    return [v / mean for v in values]


class Community(_Model):
    """A community (or, with ``count``, several alike ones).

    Fields left out are taken from the preset of ``type``; ``custom`` has no preset.
    """

    name: str
    type: CommunityType
    street: str = Field("street-1", description="the street (or park) the community is in")
    count: int = Field(1, ge=1, description="stamp out this many alike communities")
    households: int = Field(ge=0)
    firms: int = Field(0, ge=0)
    requests_per_household_per_day: float = Field(ge=0)
    requests_per_firm_per_day: float = Field(0.0, ge=0)
    demand_multiplier: float = Field(1.0, ge=0)
    complex_prob_multiplier: float = Field(1.0, ge=0)
    hour_profile: list[float] = Field(
        min_length=24, max_length=24, description="relative weights, normalised to mean 1"
    )
    weekday_profile: list[float] = Field(
        min_length=7, max_length=7, description="Mon..Sun relative weights, mean 1"
    )
    channel_mix: dict[Channel, float]
    category_mix: dict[str, float]
    travel_time: Distribution = Field(description="staff travel from base to the site")

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
class Shift(_Model):
    """A block of staffing that starts on the given days; night on-call is a shift too.

    ``end_hour <= start_hour`` means the shift runs past midnight into the next day;
    ``start_hour == end_hour`` is a 24-hour shift.
    """

    name: str = "shift"
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS), min_length=1)
    start_hour: float = Field(ge=0, lt=24)
    end_hour: float = Field(gt=0, le=24)
    headcount: int = Field(ge=0)
    on_call: bool = False
    callout_min: float = Field(
        0.0, ge=0, description="extra delay before an on-call person can set off"
    )
    cost_factor: float = Field(1.0, ge=0, description="share of hourly_cost paid")

    @property
    def length_hour(self) -> float:
        span = (self.end_hour - self.start_hour) % 24
        return 24.0 if span == 0 else span


class StaffPool(_Model):
    """Staff of one kind at one scope.

    ``scope: community`` creates one pool in every community it applies to; ``street``
    one per street; ``zone`` a single shared pool.  A request is offered to the pools
    covering its community in tier order (kind order of the category's stage, then
    community before street before zone); a higher tier is offered it once it has waited
    ``borrow_after_min`` at the lower tiers, or at once on escalation.
    """

    name: str
    kind: StaffKind
    scope: Scope = "community"
    communities: list[str] | None = Field(
        None, description="community names or types this pool serves; null: all"
    )
    shifts: list[Shift] = Field(min_length=1)
    hourly_cost: float = Field(0.0, ge=0, description="cost per staff-hour on duty")
    borrow_after_min: float = Field(
        15.0, ge=0, description="wait at lower tiers before this (higher) tier takes it"
    )
    travel_time: Distribution | None = Field(
        None, description="travel when this pool goes on site; null: community's travel"
    )
    preemptive: bool = Field(
        False, description="urgent requests interrupt normal work (preemptive-resume)"
    )


# --------------------------------------------------------------------------- scenario
def _stamped_names(c: Community) -> list[str]:
    return [c.name] if c.count == 1 else [f"{c.name}-{k}" for k in range(1, c.count + 1)]


class Scenario(_Model):
    """A complete, validated scenario.  Build one with :func:`load_scenario`."""

    name: str = "scenario"
    description: str = ""
    run: RunConfig = Field(default_factory=RunConfig)
    sla: list[SlaRule] = Field(default_factory=lambda: [SlaRule()], min_length=1)
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    escalation: Escalation = Field(default_factory=Escalation)
    channels: dict[Channel, ChannelConfig] = Field(default_factory=_default_channels)
    categories: dict[str, Category] = Field(default_factory=dict)
    communities: list[Community] = Field(min_length=1)
    staff: list[StaffPool] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _apply_category_presets(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        given = data.get("categories") or {}
        if not isinstance(given, dict):
            return data
        merged = copy.deepcopy(category_presets())
        for name, fields in given.items():
            if isinstance(fields, dict) and name in merged:
                merged[name].update(fields)
            else:
                merged[name] = fields
        data["categories"] = merged
        chans = data.get("channels")
        if isinstance(chans, dict):
            full = {k: v.model_dump() for k, v in _default_channels().items()}
            full.update(chans)
            data["channels"] = full
        return data

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        names = [c.name for c in self.communities]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"communities: duplicate names {sorted(dup)}")
        pool_names = [p.name for p in self.staff]
        dup = {n for n in pool_names if pool_names.count(n) > 1}
        if dup:
            raise ValueError(f"staff: duplicate pool names {sorted(dup)}")
        for i, c in enumerate(self.communities):
            unknown = sorted(set(c.category_mix) - set(self.categories))
            if unknown:
                raise ValueError(
                    f"communities[{i}].category_mix: unknown categories {unknown}"
                )
        for i, r in enumerate(self.sla):
            if r.categories != "all":
                unknown = sorted(set(r.categories) - set(self.categories))
                if unknown:
                    raise ValueError(f"sla[{i}].categories: unknown categories {unknown}")
        known = set(names) | set(COMMUNITY_TYPES)
        for i, p in enumerate(self.staff):
            if p.communities is not None:
                unknown = sorted(set(p.communities) - known)
                if unknown:
                    raise ValueError(
                        f"staff[{i}].communities: unknown communities or types {unknown}"
                    )
        self._check_coverage()
        return self

    def _check_coverage(self) -> None:
        """Every stage of every category in use must have a pool that can take it."""
        for c in self.communities:
            for cat_name, share in c.category_mix.items():
                if share <= 0:
                    continue
                cat = self.categories[cat_name]
                stages = [("respond_by", cat.respond_by), ("onsite_by", cat.onsite_by)]
                if cat.complex_prob * c.complex_prob_multiplier > 0:
                    stages.append(("plan_by", cat.plan_by))
                for field, kinds in stages:
                    if kinds and not any(self.pools_covering(c, k) for k in kinds):
                        raise ValueError(
                            f"categories.{cat_name}.{field}: no staff pool of kind "
                            f"{' or '.join(kinds)} serves community {c.name!r}"
                        )

    def pools_covering(self, community: Community, kind: str) -> list[StaffPool]:
        """Pools of ``kind`` serving ``community``, lowest scope first."""
        found = [
            p
            for p in self.staff
            if p.kind == kind
            and (
                p.communities is None
                or community.name in p.communities
                or community.type in p.communities
            )
        ]
        return sorted(found, key=lambda p: SCOPES.index(p.scope))

    def expanded_communities(self) -> Iterator[Community]:
        """Communities with ``count > 1`` stamped out as ``name-1 .. name-N``."""
        for c in self.communities:
            for name in _stamped_names(c):
                yield c if c.count == 1 else c.model_copy(update={"name": name, "count": 1})

    def community_groups(self) -> dict[str, str]:
        """Expanded community name -> name of the scenario entry it was stamped from."""
        return {name: c.name for c in self.communities for name in _stamped_names(c)}

    def used_categories(self) -> list[str]:
        """Categories with a positive share in some community, in catalogue order."""
        used = {k for c in self.communities for k, v in c.category_mix.items() if v > 0}
        return [k for k in self.categories if k in used]



# --------------------------------------------------------------------------- presets
@cache
def _preset_file(name: str) -> dict[str, Any]:
    text = resources.files("sim.presets").joinpath(name).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def community_presets() -> dict[str, dict[str, Any]]:
    """Community-type presets (``sim/presets/community_types.yaml``), one per type."""
    return _preset_file("community_types.yaml")["types"]


def category_presets() -> dict[str, dict[str, Any]]:
    """Request-category presets (``sim/presets/categories.yaml``)."""
    return _preset_file("categories.yaml")["categories"]


# --------------------------------------------------------------------------- loading
def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


# The tags of the distribution families: pydantic puts the tag of a tagged union in the
# error location (``work_time.lognormal.cv``); the user never wrote it, so it is dropped.
_DIST_TAGS = frozenset(
    tag
    for member in get_args(get_args(Distribution)[0])
    for tag in get_args(member.model_fields["dist"].annotation)
)
# A model validator's message that starts with a path and a colon names the field itself
# (``communities[0].category_mix: unknown categories``).
_PATH_PREFIX = re.compile(r"([A-Za-z_]\w*(?:\[\d+\]|\.[^\s:]+)*): (.*)", re.DOTALL)


@cache
def _field_names() -> frozenset[str]:
    """Every field name of every scenario model (to spot a field named by a message)."""
    models = [*_Model.__subclasses__(), *get_args(get_args(Distribution)[0])]
    return frozenset(name for m in models for name in m.model_fields)


def _problem(e: Any) -> tuple[tuple[int | str, ...], str]:
    """The location and message of one pydantic error, as the user should see them."""
    loc = tuple(
        p for p in e["loc"] if not (isinstance(p, str) and (p.endswith("]") or p in _DIST_TAGS))
    )
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "value_error":
        m = _PATH_PREFIX.fullmatch(msg)
        first = msg.split(" ", 1)[0]
        if m:  # "path: problem" -> the path extends the location
            return (*loc, m.group(1)), m.group(2)
        if first in _field_names() and loc[-1:] != (first,):
            # a model-level check about one of its fields ("warmup_days must be ...")
            return (*loc, first), msg
    elif e["type"] not in ("missing", "extra_forbidden"):
        value = e.get("input")
        if isinstance(value, str | int | float) and len(repr(value)) <= 40:
            msg += f" (got {value!r})"
    return loc, msg


def format_validation_error(source: str, err: ValidationError) -> str:
    """One line per problem: ``source: field.path: message``."""
    errors = err.errors()
    # A community whose type is wrong got no preset, so every preset field is "missing":
    # report the type alone.
    bad_type = {e["loc"][:-1] for e in errors if e["loc"][-1:] == ("type",)}
    # A misspelt field is both unknown and missing ("headcont" for "headcount"): report
    # it once, as the typo, with the likely intended name.
    missing = {e["loc"] for e in errors if e["type"] == "missing"}
    meant: dict[tuple[int | str, ...], str] = {}
    for e in errors:
        loc = e["loc"]
        if e["type"] == "extra_forbidden" and isinstance(loc[-1], str):
            names = sorted(
                m[-1] for m in missing if m[:-1] == loc[:-1] and isinstance(m[-1], str)
            )
            close = difflib.get_close_matches(loc[-1], names, n=1)
            if close:
                meant[loc] = close[0]
                missing.discard((*loc[:-1], close[0]))
    lines = []
    for e in errors:
        if e["type"] == "missing" and (
            (e["loc"][:-1] in bad_type and e["loc"][-1] != "type") or e["loc"] not in missing
        ):
            continue
        loc, msg = _problem(e)
        if e["type"] == "extra_forbidden":
            msg = "unknown field" + (
                f" (did you mean {meant[e['loc']]!r}?)" if e["loc"] in meant else ""
            )
        lines.append(f"{source}: {_loc(loc)}: {msg}")
    return "\n".join(dict.fromkeys(lines))


def scenario_from_dict(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate a plain mapping as a scenario, raising :class:`ScenarioError`."""
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}, not a mapping"
        raise ScenarioError(f"{source}: (top level): the scenario is {kind}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(format_validation_error(source, err)) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file.

    Raises
    ------
    ScenarioError
        With a message naming the file, the field and the problem.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(f"{p}: file not found") from None
    except OSError as err:
        raise ScenarioError(f"{p}: cannot read the file ({err.strerror or err})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ScenarioError(
            f"{p}: line {line}: not UTF-8 text (byte {raw[err.start]:#04x}); "
            "save the file as UTF-8"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        context, cmark = getattr(err, "context", None), getattr(err, "context_mark", None)
        if context and cmark and (not mark or cmark.line != mark.line):
            problem += f" ({context} at line {cmark.line + 1})"
        if isinstance(err, yaml.constructor.ConstructorError) and "tag" in problem:
            problem += "; scenario files hold plain YAML data only"
        raise ScenarioError(f"{p}: (YAML) {where}{problem}") from None
    return scenario_from_dict(data, str(p))


def resolved_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario with every default filled in, as plain data (for YAML/JSON)."""
    return scenario.model_dump(mode="json")
