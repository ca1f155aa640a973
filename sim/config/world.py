"""Scenario sections that change the state or the world of a run, beyond staff and demand.

* :class:`InitialState` -- requests already open when the run starts (a backlog);
* :class:`Meeting` -- scheduled sittings that serve waiting requests in one batch (the
  government-enterprise breakfast meeting);
* :class:`Intervention` -- facilities and policies with a weekly cost and effects on demand
  and travel (charging sheds, mini-program self-service), switched on and off as levers.

Every section is empty by default, so a scenario that declares none runs as before.  Like
:mod:`sim.config.schema`, this module is the only home of these sections' defaults; their
sources are in ``sim/presets/sources.yaml``.  Cross-references to communities and
categories are checked by :func:`world_problem`, called from the scenario's cross-checks.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from sim.config import limits
from sim.config.presets import intervention_presets, meeting_presets
from sim.config.schema import ScenarioModel, Weekday

if TYPE_CHECKING:
    from sim.config.scenario import Scenario

BacklogStage = Literal["respond", "onsite", "plan"]
BACKLOG_STAGES: tuple[str, ...] = BacklogStage.__args__  # type: ignore[attr-defined]
MAX_BACKLOG_REQUESTS = 100_000
"""Most open requests an initial state may declare in all (a zone's month of requests)."""


# --------------------------------------------------------------------------- backlog
class OpenRequests(ScenarioModel):
    """Requests already open when the run starts, all alike: ``count`` requests of
    ``category`` in ``community``, waiting in ``stage``, reached the community ``age``
    before the start (give ``age_min`` or ``age_hour``).

    They keep their original clocks: each was created at minus its age, so a request
    aged 15 min waiting for a response has 5 min left of a 20-minute target.  Their other
    attributes (channel, durations, outside party, complexity unless given) are drawn
    like a new request's, from their own random stream.
    """

    community: str = Field(description="community name (a stamped name such as x-2 for "
                           "an entry with count > 1)")
    category: str = Field(description="request category")
    stage: BacklogStage = Field(
        "respond", description="stage the requests wait in: respond (not yet taken), "
        "onsite (responded, waiting for someone to go on site) or plan (complex, waiting "
        "for a plan); the stages before it happened before the run and are not measured",
    )
    count: int = Field(1, ge=1, le=MAX_BACKLOG_REQUESTS,
                       description="number of such requests")
    age_min: float | None = Field(
        None, gt=0, le=limits.MAX_HORIZON_DAYS * 1440.0,
        description="minutes since the requests reached the community (or give age_hour)",
    )
    age_hour: float | None = Field(
        None, gt=0, le=limits.MAX_HORIZON_DAYS * 24.0,
        description="hours since the requests reached the community (or give age_min)",
    )
    complex: bool | None = Field(
        None, description="whether they are complex (need a plan); null: drawn like a new "
        "request's; requests waiting in the plan stage are complex",
    )

    @model_validator(mode="after")
    def _one_age(self) -> OpenRequests:
        if (self.age_min is None) == (self.age_hour is None):
            raise ValueError("give exactly one of age_min and age_hour")
        if self.stage == "plan" and self.complex is False:
            raise ValueError("requests waiting in the plan stage are complex")
        return self

    @property
    def age(self) -> float:
        """Age in minutes."""
        if self.age_min is not None:
            return self.age_min
        assert self.age_hour is not None
        return self.age_hour * 60.0


class InitialState(ScenarioModel):
    """What is open when the run starts (default: nothing, the run starts empty).

    ``sim run --from-run DIR`` fills ``open_requests`` from the requests still open at
    the end of an earlier run.  Backlog requests are reported apart from new arrivals
    (``backlog_compliance.csv``); the usual tables count new arrivals only.
    """

    open_requests: list[OpenRequests] = Field(
        default_factory=list, max_length=MAX_BACKLOG_REQUESTS,
        description="groups of open requests (community x category x stage x age)",
    )

    @property
    def total(self) -> int:
        """Number of open requests declared."""
        return sum(o.count for o in self.open_requests)


def _with_preset(data: Any, presets: dict[str, dict[str, Any]]) -> Any:
    """``data`` over the fields of the preset it names (``preset:``)."""
    if isinstance(data, dict) and data.get("preset") is not None:
        name = data["preset"]
        if name not in presets:
            raise ValueError(f"preset: unknown preset {name!r} (presets: "
                             f"{', '.join(presets)})")
        return {**copy.deepcopy(presets[name]), **data}
    return data


# --------------------------------------------------------------------------- meetings
class Meeting(ScenarioModel):
    """A scheduled sitting that serves waiting requests in one batch.

    At each sitting start it takes the requests of its ``categories`` waiting for it in
    ``stage`` (up to ``capacity``, longest-waiting first); their stage is done at the
    sitting's end.  Requests it serves never queue for staff in that stage; those it
    cannot take wait for the next sitting.  The people attending spend no staff-pool time
    here (declare a ``blocks`` entry on their pool for that).
    """

    name: str = Field(description="meeting name (lever paths use it)")
    preset: str | None = Field(
        None, description="a meeting preset (sim/presets/interventions.yaml) filling the "
        "fields left out, e.g. breakfast_meeting; null: none")
    enabled: bool = Field(True, description="false: no sittings (the requests go to staff)")
    days: list[Weekday] = Field(min_length=1, max_length=7,
                                description="weekdays a sitting is held")
    start_hour: float = Field(ge=0, lt=24, description="hour of day a sitting starts "
                              "(7.5 = 07:30)")
    duration_min: float = Field(gt=0, le=1440, description="length of a sitting, minutes")
    on_holidays: bool = Field(
        False, description="true: sittings are held on the public holidays of the "
        "scenario's calendars too; false: not (a make-up working day holds the sittings "
        "of the weekday it stands for either way)"
    )
    capacity: int | None = Field(
        None, ge=1, le=limits.MAX_HEADCOUNT * 100,
        description="most requests one sitting takes; null: all that wait",
    )
    stage: Literal["plan"] = Field(
        "plan", description="the stage it serves: plan (the sitting settles the plan, "
        "like 当场就敲定了解决时限)"
    )
    categories: list[str] = Field(min_length=1, description="categories it serves")
    communities: list[str] | None = Field(
        None, description="community names, entry names or types it serves; null: all"
    )

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: Any) -> Any:
        return _with_preset(data, meeting_presets())


# --------------------------------------------------------------------------- interventions
class Intervention(ScenarioModel):
    """A facility or policy with a weekly cost and effects, in force for the whole run.

    At ``intensity`` s (0..1) an effect of multiplier m acts as ``1 - s (1 - m)``, a share
    as ``s x share``, and the weekly cost is ``s x weekly_cost``; ``enabled: false`` is s = 0.
    Requests removed by rate multipliers and self-service are thinned with the
    intervention's own random stream, so every other request is exactly the one of the
    run without the intervention (common random numbers).
    """

    name: str = Field(description="intervention name (lever paths use it)")
    preset: str | None = Field(
        None, description="an intervention preset (sim/presets/interventions.yaml) filling "
        "the fields left out, e.g. charging_sheds; null: none")
    enabled: bool = Field(True, description="false: no effect and no cost")
    intensity: float = Field(1.0, ge=0, le=1, description="share of the full effect and "
                             "cost (a lever: 0.5 = half the sheds)")
    weekly_cost: float = Field(0.0, ge=0, le=1e9, description="yuan per week at full "
                               "intensity (build cost spread over its life, plus upkeep)")
    communities: list[str] | None = Field(
        None, description="community names, entry names or types it applies to; null: all"
    )
    rate_multipliers: dict[str, float] = Field(
        default_factory=dict, max_length=limits.MAX_CATEGORIES,
        description="category -> multiplier (0..1) of its arrival rate (sheds: "
        "ebike_charging 0.6)",
    )
    self_service: dict[str, float] = Field(
        default_factory=dict, max_length=limits.MAX_CATEGORIES,
        description="category -> share (0..1) of its requests resolved by self-service "
        "(a mini-program) without staff; they never reach the community's staff and are "
        "not in the request tables",
    )
    travel_time_multiplier: float = Field(
        1.0, gt=0, le=10, description="multiplies the community's travel time (a closer "
        "base, a bicycle); pools with their own travel_time keep theirs",
    )

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: Any) -> Any:
        return _with_preset(data, intervention_presets())

    @model_validator(mode="after")
    def _shares(self) -> Intervention:
        for field in ("rate_multipliers", "self_service"):
            bad = [k for k, v in getattr(self, field).items() if not 0 <= v <= 1]
            if bad:
                raise ValueError(f"{field}: values must be between 0 and 1 ({', '.join(bad)})")
        return self

    @property
    def strength(self) -> float:
        """Intensity in force: 0 when disabled."""
        return self.intensity if self.enabled else 0.0


def interventions_weekly_cost(sc: Scenario) -> float:
    """Weekly cost of the interventions in force (``intensity x weekly_cost`` each)."""
    return float(sum(v.strength * v.weekly_cost for v in sc.interventions))


# --------------------------------------------------------------------------- cross-checks
def _serves(names: list[str] | None, community: str, entry: str, ctype: str) -> bool:
    return names is None or bool({community, entry, ctype} & set(names))


def world_problem(sc: Scenario) -> str | None:
    """The first cross-reference problem of these sections, as ``field: problem``."""
    groups = sc.community_groups()
    expanded = {c.name: c for c in sc.expanded_communities()}
    known = set(expanded) | set(groups.values()) | {c.type for c in expanded.values()}
    cats = set(sc.categories)
    if sc.initial_state.total > MAX_BACKLOG_REQUESTS:
        return (f"initial_state.open_requests: {sc.initial_state.total} requests; the limit "
                f"is {MAX_BACKLOG_REQUESTS}")
    for i, o in enumerate(sc.initial_state.open_requests):
        where = f"initial_state.open_requests[{i}]"
        if o.community not in expanded:
            return f"{where}.community: unknown community {o.community!r}"
        if o.category not in cats:
            return f"{where}.category: unknown category {o.category!r}"
        cat = sc.categories[o.category]
        if o.stage == "onsite" and not cat.onsite_by:
            return f"{where}.stage: category {o.category!r} has no on-site stage"
        if o.stage == "plan" and (not cat.plan_by or cat.plan_time is None):
            return f"{where}.stage: category {o.category!r} has no plan stage"
        if o.complex and (not cat.plan_by or cat.plan_time is None):
            return f"{where}.complex: category {o.category!r} has no plan stage"
    names = [m.name for m in sc.meetings]
    if len(set(names)) < len(names):
        return "meetings: duplicate names"
    served: dict[tuple[str, str], str] = {}
    for i, m in enumerate(sc.meetings):
        unknown = sorted(set(m.categories) - cats)
        if unknown:
            return f"meetings[{i}].categories: unknown categories {unknown}"
        if m.communities is not None and set(m.communities) - known:
            return (f"meetings[{i}].communities: unknown communities or types "
                    f"{sorted(set(m.communities) - known)}")
        if not m.enabled:
            continue
        for name, c in expanded.items():
            if not _serves(m.communities, name, groups[name], c.type):
                continue
            for cat_name in m.categories:
                other = served.setdefault((name, cat_name), m.name)
                if other != m.name:
                    return (f"meetings[{i}].categories: {cat_name!r} in {name!r} is already "
                            f"served by meeting {other!r}")
    names = [v.name for v in sc.interventions]
    if len(set(names)) < len(names):
        return "interventions: duplicate names"
    for i, v in enumerate(sc.interventions):
        for field in ("rate_multipliers", "self_service"):
            unknown = sorted(set(getattr(v, field)) - cats)
            if unknown:
                return f"interventions[{i}].{field}: unknown categories {unknown}"
        if v.communities is not None and set(v.communities) - known:
            return (f"interventions[{i}].communities: unknown communities or types "
                    f"{sorted(set(v.communities) - known)}")
    return None
