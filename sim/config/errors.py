"""Scenario errors and how validation problems are worded for the user.

Every problem becomes one line, ``FILE: field.path: problem``, so a message never sends
the user hunting: it names the file, the field and what is wrong with it.
"""

from __future__ import annotations

import difflib
import re
from functools import cache
from typing import Any, get_args

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from sim.distributions import Distribution

#: At most this many problems are listed; the rest are counted on one more line.
MAX_PROBLEMS = 20


class ScenarioError(Exception):
    """A scenario file or object is invalid; the message is meant for the user as is.

    The message holds one line per problem, each starting with the file (or source) name.
    """


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters shown as escapes."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


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
    import sim.config.scenario  # noqa: F401  (so Scenario is among the subclasses)
    from sim.config.schema import ScenarioModel

    models = [*ScenarioModel.__subclasses__(), *get_args(get_args(Distribution)[0])]
    return frozenset(name for m in models for name in m.model_fields)


def _models_in(annotation: Any) -> list[type]:
    """The scenario models a field's annotation holds (through lists, dicts, unions)."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _fields_at(loc: tuple[int | str, ...]) -> frozenset[str]:
    """Field names of the model at ``loc`` (a pydantic location, the last part being the
    field itself); every field name when the path cannot be followed to one model."""
    from sim.config.scenario import Scenario

    model: type = Scenario
    for part in loc[:-1]:
        if isinstance(part, int):
            continue  # an item of a list: the model was unwrapped with the list
        fields = getattr(model, "model_fields", {})
        if part not in fields:  # a dict key (a name) or a tag: stay where we are
            continue
        models = _models_in(fields[part].annotation)
        if len(models) != 1:
            return _field_names()
        model = models[0]
    return frozenset(getattr(model, "model_fields", {})) or _field_names()


def _problem(e: ErrorDetails) -> tuple[tuple[int | str, ...], str]:
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
        value: Any = e.get("input")
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
                str(m[-1]) for m in missing if m[:-1] == loc[:-1] and isinstance(m[-1], str)
            )
            close = difflib.get_close_matches(loc[-1], names, n=1)
            if close:
                meant[loc] = close[0]
                missing.discard((*loc[:-1], close[0]))
            else:  # a misspelled optional field: the fields of the model it sits in
                known = sorted(_fields_at(loc))
                close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.75)
                if close:
                    meant[loc] = close[0]
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
    return problems(source, lines)


def problems(source: str, lines: list[str]) -> str:
    """Join problem lines: one per line, duplicates dropped, at most :data:`MAX_PROBLEMS`."""
    unique = [one_line(ln) for ln in dict.fromkeys(lines)]
    if len(unique) > MAX_PROBLEMS:
        more = len(unique) - MAX_PROBLEMS
        unique = [*unique[:MAX_PROBLEMS], f"{one_line(source)}: ... and {more} more problems"]
    return "\n".join(unique)
