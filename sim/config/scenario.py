"""The whole scenario: its sections, and the checks that need more than one of them.

Cross-references (known category and community names, staff coverage of every stage),
stamped community names, finite numbers everywhere (distributions included) and the size
limits of :mod:`sim.config.limits` are checked here, once every section is valid.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, Field, model_validator

from sim.config import limits
from sim.config.dated import MAX_EVENTS, CalendarSpec, Event, dated_problem
from sim.config.presets import category_presets
from sim.config.schema import (
    COMMUNITY_TYPES,
    SCOPES,
    BusinessHours,
    Category,
    Channel,
    ChannelConfig,
    Community,
    Escalation,
    RunConfig,
    ScenarioModel,
    SlaRule,
    StaffPool,
    default_channels,
)
from sim.config.world import InitialState, Intervention, Meeting, world_problem


def _stamped_names(c: Community) -> list[str]:
    return [c.name] if c.count == 1 else [f"{c.name}-{k}" for k in range(1, c.count + 1)]


def _non_finite(value: object, loc: tuple[int | str, ...]) -> str | None:
    """Path of the first float below ``value`` that is NaN or infinite (None: none).

    The scenario models refuse them themselves; this walk also covers the distribution
    models, which are declared elsewhere.
    """
    if isinstance(value, float):
        if math.isfinite(value):
            return None
        return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    items: Iterator[tuple[int | str, object]]
    if isinstance(value, BaseModel):
        items = ((k, getattr(value, k)) for k in type(value).model_fields)
    elif isinstance(value, dict):
        items = iter(value.items())
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _non_finite(item, (*loc, key))
        if found:
            return found
    return None


class Scenario(ScenarioModel):
    """A complete, validated scenario.  Build one with :func:`load_scenario`."""

    name: str = Field("scenario", description="scenario name in tables and reports")
    description: str = Field("", description="free text")
    run: RunConfig = Field(default_factory=RunConfig, description="run length and seed")
    sla: list[SlaRule] = Field(
        default_factory=lambda: [SlaRule()], min_length=1, max_length=limits.MAX_SLA_RULES,
        description="SLA rules; the first is the headline (default: the 2341 rule)",
    )
    business_hours: BusinessHours = Field(
        default_factory=BusinessHours, description="office calendar for business-hours rules"
    )
    escalation: Escalation = Field(
        default_factory=Escalation, description="what a breach of a target sets off"
    )
    channels: dict[Channel, ChannelConfig] = Field(
        default_factory=default_channels, description="per-channel transfer delays"
    )
    categories: dict[str, Category] = Field(
        default_factory=dict, max_length=limits.MAX_CATEGORIES,
        description="request categories; presets (sim/presets/categories.yaml) are always "
        "there, and an entry here overrides fields of a preset or adds a category",
    )
    communities: list[Community] = Field(
        min_length=1, max_length=limits.MAX_COMMUNITY_ENTRIES, description="the communities"
    )
    staff: list[StaffPool] = Field(
        min_length=1, max_length=limits.MAX_STAFF_ENTRIES, description="the staff pools"
    )
    # dated runs (sim.config.dated): both empty leave the run on average weeks
    calendars: list[CalendarSpec] = Field(
        default_factory=list, max_length=20, description="public holidays and make-up "
        "working days (needs run.start_date); several are merged (default: none)",
    )
    events: list[Event] = Field(
        default_factory=list, max_length=MAX_EVENTS, description="dated windows that change "
        "demand, outside parties' waits or staff on duty (default: none)",
    )
    initial_state: InitialState = Field(
        default_factory=InitialState,
        description="requests open when the run starts (default: none, it starts empty)",
    )
    meetings: list[Meeting] = Field(
        default_factory=list, max_length=limits.MAX_STAFF_ENTRIES,
        description="scheduled sittings serving waiting requests in batches (default: none)",
    )
    interventions: list[Intervention] = Field(
        default_factory=list, max_length=limits.MAX_STAFF_ENTRIES,
        description="facilities and policies with a weekly cost and effects (default: none)",
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_category_presets(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        # refuse an over-long list before every entry of it is validated
        for key, cap in (("communities", limits.MAX_COMMUNITY_ENTRIES),
                         ("staff", limits.MAX_STAFF_ENTRIES),
                         ("categories", limits.MAX_CATEGORIES), ("sla", limits.MAX_SLA_RULES)):
            given = data.get(key)
            if isinstance(given, list | dict) and len(given) > cap:
                raise ValueError(f"{key}: {len(given)} entries; the limit is {cap}")
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
            full = {k: v.model_dump() for k, v in default_channels().items()}
            full.update(chans)
            data["channels"] = full
        return data

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        bad_float = _non_finite(self, ())
        if bad_float:
            raise ValueError(f"{bad_float}: must be a finite number")
        too_big = limits.size_problem(self)
        if too_big:
            raise ValueError(too_big)
        names = [c.name for c in self.communities]
        dup = {n for n, k in Counter(names).items() if k > 1}
        if dup:
            raise ValueError(f"communities: duplicate names {sorted(dup)}")
        stamped = Counter(n for c in self.communities for n in _stamped_names(c))
        clash = sorted(n for n, k in stamped.items() if k > 1)
        if clash:
            i = next(i for i, c in enumerate(self.communities)
                     if c.count > 1 and set(_stamped_names(c)) & set(clash))
            raise ValueError(
                f"communities[{i}].count: stamped names collide with another community: "
                f"{clash[:5]}; rename one of them"
            )
        pool_names = [p.name for p in self.staff]
        dup = {n for n, k in Counter(pool_names).items() if k > 1}
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
        known = set(names) | set(stamped) | set(COMMUNITY_TYPES)
        for i, p in enumerate(self.staff):
            if p.communities is not None:
                unknown = sorted(set(p.communities) - known)
                if unknown:
                    raise ValueError(
                        f"staff[{i}].communities: unknown communities or types {unknown}"
                    )
        self._check_coverage()
        problem = dated_problem(self) or world_problem(self)
        if problem:
            raise ValueError(problem)
        return self

    def _check_coverage(self) -> None:
        """Every stage of every category in use must have a pool that can take it."""
        for c in self.communities:
            covered = {
                p.kind for p in self.staff
                if p.communities is None or c.name in p.communities or c.type in p.communities
            }
            for cat_name, share in c.category_mix.items():
                if share <= 0:
                    continue
                cat = self.categories[cat_name]
                stages = [("respond_by", cat.respond_by), ("onsite_by", cat.onsite_by)]
                if cat.complex_prob * c.complex_prob_multiplier > 0:
                    stages.append(("plan_by", cat.plan_by))
                for field, kinds in stages:
                    if kinds and not covered.intersection(kinds):
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
