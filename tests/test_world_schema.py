"""The backlog, meeting and intervention sections in the JSON Schema, their presets, and
the shipped scenarios that show them."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.config import ScenarioError, scenario_from_dict, scenario_json_schema
from sim.levers import apply
from sim.staffing import scenario_weekly_cost
from tests.helpers import tiny_dict

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


@pytest.mark.parametrize("model", ["InitialState", "OpenRequests", "Meeting", "Intervention"])
def test_every_field_is_described_in_the_json_schema(model: str) -> None:
    defs = scenario_json_schema()["$defs"]
    props = defs[model]["properties"]
    assert props
    assert all(p.get("description") for p in props.values()), model
    top = scenario_json_schema()["properties"]
    for section in ("initial_state", "meetings", "interventions"):
        assert top[section]["description"]


def test_json_schema_needs_meeting_fields_only_without_a_preset() -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(scenario_json_schema())
    bare = tiny_dict(meetings=[{"name": "b", "categories": ["job"]}])
    errors = [e.message for e in validator.iter_errors(bare)]
    assert any("'days' is a required property" in m for m in errors)
    named = tiny_dict(meetings=[{"name": "b", "preset": "breakfast_meeting"}])
    assert not list(validator.iter_errors(named))


def test_presets_fill_fields_and_unknown_presets_are_named() -> None:
    sc = scenario_from_dict(tiny_dict(
        meetings=[{"name": "b", "preset": "breakfast_meeting", "categories": ["job"]}],
        interventions=[{"name": "s", "preset": "charging_sheds", "intensity": 0.5}]), "<t>")
    m, v = sc.meetings[0], sc.interventions[0]
    assert (m.days, m.start_hour, m.duration_min, m.capacity) == (["tue"], 7.5, 90.0, 10)
    assert m.categories == ["job"]  # the scenario's fields win
    assert v.rate_multipliers == {"ebike_charging": 0.6} and v.weekly_cost == 1000.0
    with pytest.raises(ScenarioError, match=r"interventions\[0\]\.preset: unknown preset 'barns'"):
        scenario_from_dict(tiny_dict(interventions=[{"name": "s", "preset": "barns"}]), "<t>")


def test_jingu_breakfast_meeting_moves_enterprise_plans_to_tuesday_mornings() -> None:
    sc = sim.load_scenario(SCENARIOS / "jingu_breakfast.yaml")
    short = sc.model_copy(update={"run": sc.run.model_copy(update={"horizon_days": 14})})
    req = sim.simulate(short).requests
    appeals = req[(req["category"] == "enterprise_appeal") & req["complex"]
                  & req["plan_min"].notna()]
    assert len(appeals) > 0
    # every plan is made at the end of a sitting: Tuesday 07:30 + 90 min = 09:00
    assert ((appeals["plan_min"] % 10080.0) == 1440.0 + 540.0).all()
    off = apply(short, {"meetings.breakfast": 0})
    req_off = sim.simulate(off).requests
    planned = req_off[(req_off["category"] == "enterprise_appeal") & req_off["complex"]
                      & req_off["plan_min"].notna()]
    assert ((planned["plan_min"] % 10080.0) != 1980.0).any()


def test_yajuyuan_weighs_sheds_and_a_technician_on_one_cost_scale() -> None:
    sc = sim.load_scenario(SCENARIOS / "yajuyuan_sheds_vs_staff.yaml")
    base = scenario_weekly_cost(sc)
    sheds = apply(sc, {"interventions.sheds": 1})
    tech = apply(sc, {"staff.technicians.day": 3})
    assert scenario_weekly_cost(sheds) - base == 1000.0
    assert scenario_weekly_cost(tech) - base == 10 * 7 * 40.0  # 10 h a day, 40 yuan/h
