"""Scenarios: schema, presets, loading and error messages.

* :mod:`sim.config.schema` — the sections' pydantic models, the only home of defaults;
* :mod:`sim.config.scenario` — the whole scenario and its cross-checks;
* :mod:`sim.config.presets` — community-type and category presets (``sim/presets``);
* :mod:`sim.config.loading` — reading YAML files safely, :func:`load_scenario`;
* :mod:`sim.config.errors` — :class:`ScenarioError` and one line per problem;
* :mod:`sim.config.limits` — size limits, checked before anything large is built;
* :mod:`sim.config.editor_schema` — the JSON Schema for editors (``sim schema``).
"""

from __future__ import annotations

from sim.config.editor_schema import scenario_json_schema
from sim.config.errors import ScenarioError, format_validation_error
from sim.config.loading import load_scenario, resolved_dict, scenario_from_dict
from sim.config.presets import category_presets, community_presets
from sim.config.scenario import Scenario
from sim.config.schema import (
    CHANNELS,
    COMMUNITY_TYPES,
    SCOPES,
    WEEK_MIN,
    WEEKDAYS,
    BusinessHours,
    Category,
    Channel,
    ChannelConfig,
    Community,
    CommunityType,
    Escalation,
    Interruptions,
    OtherBlock,
    OutsideParty,
    RunConfig,
    ScenarioModel,
    Scope,
    Shift,
    SlaRule,
    StaffKind,
    StaffPool,
    Weekday,
)

__all__ = [
    "CHANNELS",
    "COMMUNITY_TYPES",
    "SCOPES",
    "WEEKDAYS",
    "WEEK_MIN",
    "BusinessHours",
    "Category",
    "Channel",
    "ChannelConfig",
    "Community",
    "CommunityType",
    "Escalation",
    "Interruptions",
    "OtherBlock",
    "OutsideParty",
    "RunConfig",
    "Scenario",
    "ScenarioError",
    "ScenarioModel",
    "Scope",
    "Shift",
    "SlaRule",
    "StaffKind",
    "StaffPool",
    "Weekday",
    "category_presets",
    "community_presets",
    "format_validation_error",
    "load_scenario",
    "resolved_dict",
    "scenario_from_dict",
    "scenario_json_schema",
]
