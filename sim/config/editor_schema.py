"""The JSON Schema of scenario files, for editors (``sim schema``).

It describes what a user may write, not the validated model: fields a community-type
preset fills may be left out (except for ``type: custom``, which has no preset), and so
may every field of a preset category and of a meeting that names a preset.  Checks that
need arithmetic or cross-references (shares summing to 1, known category names, staff
coverage) are left to ``sim validate``.
"""

from __future__ import annotations

from typing import Any

from sim.config.presets import category_presets
from sim.config.scenario import Scenario


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) that every valid scenario file satisfies."""
    schema = Scenario.model_json_schema(mode="validation")
    defs: dict[str, Any] = schema["$defs"]
    community = defs["Community"]
    preset_filled = sorted(set(community.get("required", [])) - {"name", "type"})
    community["required"] = ["name", "type"]
    community["allOf"] = [{
        "if": {"properties": {"type": {"const": "custom"}}, "required": ["type"]},
        "then": {"required": preset_filled},
    }]
    # a meeting naming a preset may leave out what the preset fills
    meeting = defs["Meeting"]
    filled = sorted(set(meeting.get("required", [])) - {"name"})
    meeting["required"] = ["name"]
    meeting["allOf"] = [{"if": {"not": {"required": ["preset"]}},
                         "then": {"required": filled}}]
    # a preset category may be given in part; a new one needs every required field
    category_ref = {"$ref": "#/$defs/Category"}
    partial = {k: v for k, v in defs["Category"].items() if k != "required"}
    partial["title"] = "PresetCategory"
    partial["description"] = (
        "Fields overriding a preset category (sim/presets/categories.yaml); all optional."
    )
    defs["PresetCategory"] = partial
    cats = schema["properties"]["categories"]
    cats.pop("additionalProperties", None)
    cats["properties"] = {name: {"$ref": "#/$defs/PresetCategory"}
                          for name in category_presets()}
    cats["additionalProperties"] = category_ref
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
