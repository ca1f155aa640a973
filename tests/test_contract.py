"""The default 2341 rule and the category presets, written out as a contract.

A change to any of these tables changes what the simulator measures: it must be a
deliberate act, made here as well as in the code or the preset file.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers import tiny, tiny_dict

from sim.config import Scenario, SlaRule, scenario_from_dict
from sim.sla import outcomes
from sim.stages import STAGE_TABLE

DEFAULT_TARGETS_MIN = {"respond": 20.0, "onsite": 30.0, "finish": 240.0, "plan": 1440.0}

# category -> (respond_by, onsite_by, plan_by), tier order, from sim/presets/categories.yaml
PRESET_STAFF = {
    "lift_fault": (["service_desk"], ["technician"], ["community_cadre", "party_instructor"]),
    "water_leak": (["service_desk"], ["technician"], ["community_cadre", "party_instructor"]),
    "home_repair": (["service_desk"], ["technician"], ["community_cadre", "party_instructor"]),
    "facility_repair": (["service_desk"], ["technician"],
                        ["community_cadre", "party_instructor"]),
    "parking": (["service_desk"], ["technician"], ["community_cadre", "party_instructor"]),
    "ebike_charging": (["service_desk"], ["technician"],
                       ["community_cadre", "party_instructor"]),
    "dispute": (["service_desk"], ["community_cadre"], ["community_cadre", "party_instructor"]),
    "enterprise_appeal": (["service_desk"], ["community_cadre"],
                          ["party_instructor", "community_cadre"]),
    "security_infrastructure": (["service_desk"], ["technician"],
                                ["community_cadre", "party_instructor"]),
    "elderly_alert": (["service_desk"], ["community_cadre"],
                      ["community_cadre", "party_instructor"]),
    "consultation": (["service_desk"], [], ["community_cadre", "party_instructor"]),
}
DESK_ONLY = {"consultation"}
URGENT = {"lift_fault", "water_leak", "elderly_alert"}


def preset_scenario() -> Scenario:
    """A scenario that loads every category preset unchanged (and the tests' ``job``)."""
    return tiny()


def test_default_rule_is_2341_on_a_24_hour_clock() -> None:
    rule = SlaRule()
    assert rule.name == "2341"
    assert rule.calendar == "24h"
    assert rule.categories == "all"
    for stage in STAGE_TABLE:
        assert getattr(rule, stage.sla_field) == DEFAULT_TARGETS_MIN[stage.name], stage.name
    # a scenario without an `sla` key measures exactly that one rule
    sc = tiny()
    assert sc.sla == [SlaRule()]


def test_stage_table_order_and_fields() -> None:
    assert [s.name for s in STAGE_TABLE] == ["respond", "onsite", "finish", "plan"]
    assert [s.applies_to for s in STAGE_TABLE] == ["all", "site", "routine", "complex"]
    assert [s.column for s in STAGE_TABLE] == [
        "responded_min", "onsite_min", "finished_min", "plan_min"]
    assert [s.staff_field for s in STAGE_TABLE] == ["respond_by", "onsite_by", None, "plan_by"]


def test_category_presets_staff_kinds_per_stage() -> None:
    cats = preset_scenario().categories
    assert set(PRESET_STAFF) <= set(cats)
    for name, (respond, onsite, plan) in PRESET_STAFF.items():
        c = cats[name]
        assert (list(c.respond_by), list(c.onsite_by), list(c.plan_by)) == (
            respond, onsite, plan), name
        assert (c.priority == "urgent") == (name in URGENT), name
        assert (c.complex_prob == 0.0) == (name in DESK_ONLY), name


def _records_all_met(sc: Scenario, names: list[str]) -> pd.DataFrame:
    """Two requests per category (routine, complex), every stage reached at minute 1."""
    cats = [n for n in names for _ in (0, 1)]
    n = len(cats)
    return pd.DataFrame({
        "category": pd.Categorical(cats, categories=list(sc.categories)),
        "complex": np.array([False, True] * len(names)),
        "created_min": np.zeros(n),
        "responded_min": np.ones(n),
        "onsite_min": np.ones(n),
        "finished_min": np.ones(n),
        "plan_min": np.ones(n),
    })


def test_every_stage_applies_to_the_right_requests_of_every_preset() -> None:
    sc = preset_scenario()
    names = list(PRESET_STAFF)
    out = outcomes(_records_all_met(sc, names), sc.sla[0], sc)
    for i, name in enumerate(names):
        for j, is_complex in enumerate((False, True)):
            row = out.iloc[2 * i + j]
            has_site = bool(PRESET_STAFF[name][1])
            expect = {"respond": True, "onsite": has_site, "finish": not is_complex,
                      "plan": is_complex}
            for stage, applies in expect.items():
                value = row[stage]
                assert (value == 1.0) if applies else math.isnan(value), (
                    name, is_complex, stage, value)
            assert row["joint"] == 1.0


def test_desk_only_category_has_no_onsite_target_in_a_run() -> None:
    d = tiny_dict()
    d["categories"]["job"]["onsite_by"] = []
    d["categories"]["job"].pop("plan_by")
    sc = scenario_from_dict(d)
    from helpers import run, table

    res = run(sc, table(sc, [0.0, 100.0], category="job"))
    assert res.requests["onsite_min"].isna().all()
    # closed at the desk: finished when the desk is done
    assert res.requests["finished_min"].tolist() == [10.0, 110.0]
    out = outcomes(res.requests, sc.sla[0], sc)
    assert out["onsite"].isna().all()
    assert not out["onsite_unknown"].any()
    assert out["finish"].tolist() == [1.0, 1.0]
    assert out["joint"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("stage", [s.name for s in STAGE_TABLE])
def test_a_rule_without_a_stage_target_measures_nothing_there(stage: str) -> None:
    sc = preset_scenario()
    field = {s.name: s.sla_field for s in STAGE_TABLE}[stage]
    rule = SlaRule(**{field: None})
    out = outcomes(_records_all_met(sc, list(PRESET_STAFF)), rule, sc)
    assert out[stage].isna().all()
    others = [s.name for s in STAGE_TABLE if s.name != stage]
    assert any(out[o].notna().any() for o in others)
