"""Where every preset number and schema default comes from (``sim/presets/sources.yaml``).

Each number carries exactly one source, of one of three kinds:

``seed``
    a phrase quoted verbatim from the seed report (Chinese) that the number rests on;
``data``
    a function (of a module of the package, or of a script) that derives the number from
    a data file (reproducible), optionally naming the ``sim calibrate`` fit.csv
    ``quantity`` the number corresponds to;
``assumption``
    the reasoning and a plausible range ``[low, high]`` containing the value; an
    assumption whose numbers come from a data set about somewhere else (the Baltimore 311
    log) names that derivation as its ``stand_in``.

Entries are keyed by the dotted path of a number: ``types.village.travel_time.mean_min``
in the preset files (``types.`` / ``categories.`` as in those files; the ``x-`` anchor
blocks are YAML plumbing and are sourced where they are used), ``schema.SlaRule.respond_min``
for a default of the scenario schema.  A key may name a mapping (it then covers every
number under it, and its range may be one pair for all or a pair per sub-path) and ``*``
matches any one path segment.  A list of numbers (an hour profile) is one number here; a
range applies to each of its elements.  Text inside 「」 in any reasoning is a quotation of
the seed and is checked like a ``seed`` quote.

This module reads data only; it imports nothing from the simulation engine.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import re
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

Kind = Literal["seed", "data", "assumption"]
KINDS: tuple[Kind, ...] = ("seed", "data", "assumption")
Number = float | tuple[float, ...]
Pair = tuple[float, float]

SOURCES_FILE = "sources.yaml"
PRESET_FILES = ("community_types.yaml", "categories.yaml", "other_work.yaml",
                "interventions.yaml")
MIN_REASONING_CHARS = 20
_QUOTED = re.compile(r"「([^」]*)」")
_FIELDS: dict[Kind, frozenset[str]] = {
    "seed": frozenset({"seed", "note"}),
    "data": frozenset({"data", "note"}),
    "assumption": frozenset({"assumption", "range", "stand_in"}),
}


class SourcesError(ValueError):
    """The sources file is malformed; the message names the entry and the problem."""


@dataclass(frozen=True)
class DataRef:
    """A call that reproduces numbers: ``function(data_root / file, *args)`` of ``module``
    (an importable module) or else of ``script`` (a file in the repository).

    ``quantity`` names the rows of ``sim calibrate``'s fit.csv that estimate the same
    thing (a prefix such as ``hour_share/(all)``); it is a reference for readers.
    """

    script: str
    function: str
    file: str
    args: tuple[str, ...] = ()
    tolerance: float = 0.0
    module: str = ""
    quantity: str = ""

    @property
    def origin(self) -> str:
        """The module or script the function lives in."""
        return self.module or self.script


@dataclass(frozen=True)
class Source:
    """One entry of the sources file."""

    key: str
    kind: Kind
    text: str
    note: str = ""
    range: Pair | dict[str, Pair] | None = None
    ref: DataRef | None = None

    def quotations(self) -> list[str]:
        """Every phrase this entry claims the seed says: the quote and any 「…」."""
        own = [self.text] if self.kind == "seed" else []
        return own + _QUOTED.findall(self.text) + _QUOTED.findall(self.note)


# --------------------------------------------------------------------------- reading
def _pair(value: Any, where: str) -> Pair:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(_is_number(v) for v in value)
    ):
        raise SourcesError(f"{where}: must be [low, high] numbers")
    return float(value[0]), float(value[1])


def _ref(value: Any, where: str) -> DataRef:
    if (
        not isinstance(value, dict)
        or not {"function", "file"} <= set(value)
        or len({"module", "script"} & set(value)) != 1
    ):
        raise SourcesError(f"{where}: needs module (or script), function and file")
    extra = set(value) - {"module", "script", "function", "file", "args", "tolerance",
                          "quantity"}
    if extra:
        raise SourcesError(f"{where}: unknown fields {sorted(extra)}")
    return DataRef(
        script=str(value.get("script", "")),
        function=str(value["function"]),
        file=str(value["file"]),
        args=tuple(str(a) for a in value.get("args", [])),
        tolerance=float(value.get("tolerance", 0.0)),
        module=str(value.get("module", "")),
        quantity=str(value.get("quantity", "")),
    )


def _entry(key: str, raw: Any) -> Source:
    if not isinstance(raw, dict):
        raise SourcesError(f"{key}: an entry is a mapping with one of {', '.join(KINDS)}")
    kinds = [k for k in KINDS if k in raw]
    if len(kinds) != 1:
        raise SourcesError(f"{key}: needs exactly one of {', '.join(KINDS)} (has {kinds})")
    kind = kinds[0]
    extra = set(raw) - _FIELDS[kind]
    if extra:
        raise SourcesError(f"{key}: fields {sorted(extra)} do not belong to a {kind} entry")
    if kind == "data":
        return Source(key, kind, "", str(raw.get("note", "")), ref=_ref(raw["data"], key))
    if not isinstance(raw[kind], str):
        raise SourcesError(f"{key}: {kind} must be text")
    if kind == "seed":
        return Source(key, kind, raw["seed"], str(raw.get("note", "")))
    if "range" not in raw:
        raise SourcesError(f"{key}: an assumption needs a range [low, high]")
    rng = raw["range"]
    parsed: Pair | dict[str, Pair] = (
        {str(k): _pair(v, f"{key}.range.{k}") for k, v in rng.items()}
        if isinstance(rng, dict)
        else _pair(rng, f"{key}.range")
    )
    stand_in = _ref(raw["stand_in"], f"{key}.stand_in") if "stand_in" in raw else None
    return Source(key, kind, raw["assumption"], range=parsed, ref=stand_in)


def load_sources(text: str | None = None) -> dict[str, Source]:
    """Parse the sources file (the packaged one when ``text`` is None)."""
    if text is None:
        text = _preset_text(SOURCES_FILE)
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("sources"), dict):
        raise SourcesError(f"{SOURCES_FILE}: needs a top-level 'sources' mapping")
    return {str(k): _entry(str(k), v) for k, v in data["sources"].items()}


def _preset_text(name: str) -> str:
    return resources.files("sim.presets").joinpath(name).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- numbers
def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Number]]:
    if _is_number(value):
        yield path, float(value)
    elif isinstance(value, list) and value and all(_is_number(v) for v in value):
        yield path, tuple(float(v) for v in value)
    elif isinstance(value, dict):
        for k, v in value.items():
            if not str(k).startswith("x-"):
                yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}.{i}")


def preset_numbers(texts: Iterable[str] | None = None) -> dict[str, Number]:
    """Every number of the preset files, by dotted path (``types.village.households``)."""
    if texts is None:
        texts = [_preset_text(name) for name in PRESET_FILES]
    out: dict[str, Number] = {}
    for text in texts:
        out.update(_leaves(yaml.safe_load(text), ""))
    return out


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    """Pydantic model classes named anywhere in a type annotation."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models(arg)


def schema_models(root: type[BaseModel]) -> list[type[BaseModel]]:
    """``root`` and every model class reachable through its fields' annotations."""
    seen: dict[type[BaseModel], None] = {}
    todo = [root]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen[model] = None
        for field in model.model_fields.values():
            todo.extend(_models(field.annotation))
    return list(seen)


def _default_leaves(value: Any, path: str) -> Iterator[tuple[str, Number]]:
    """Numbers a default sets; a model left at its own class defaults adds none."""
    if isinstance(value, BaseModel):
        for name in sorted(value.model_fields_set):
            yield from _default_leaves(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _default_leaves(v, f"{path}.{k}")
    elif isinstance(value, list) and not all(_is_number(v) for v in value):
        for i, v in enumerate(value):
            yield from _default_leaves(v, f"{path}.{i}")
    else:
        yield from _leaves(value, path)


def schema_numbers(root: type[BaseModel]) -> dict[str, Number]:
    """Every numeric default of the schema under ``root``: ``schema.<Model>.<field>``."""
    out: dict[str, Number] = {}
    for model in schema_models(root):
        for name, field in model.model_fields.items():
            default = field.get_default(call_default_factory=True)
            if default is PydanticUndefined:
                continue
            out.update(_default_leaves(default, f"schema.{model.__name__}.{name}"))
    return out


# --------------------------------------------------------------------------- checks
def covers(key: str, path: str) -> bool:
    """Whether entry ``key`` (``*`` = any one segment) names ``path`` or a node above it."""
    k, p = key.split("."), path.split(".")
    return len(k) <= len(p) and all(a in ("*", b) for a, b in zip(k, p, strict=False))


def matches(sources: Mapping[str, Source], numbers: Mapping[str, Number]) -> dict[str, list[str]]:
    """For every number, the keys of the entries that cover it."""
    return {path: [k for k in sources if covers(k, path)] for path in numbers}


def _range_for(source: Source, path: str) -> Pair | None:
    rng = source.range
    if rng is None or isinstance(rng, tuple):
        return rng
    rest = ".".join(path.split(".")[len(source.key.split(".")):])
    return rng.get(rest)


def _values(value: Number) -> tuple[float, ...]:
    return value if isinstance(value, tuple) else (value,)


def assumption_ranges(
    sources: Mapping[str, Source], numbers: Mapping[str, Number]
) -> dict[str, tuple[Number, Pair]]:
    """Every number sourced as an assumption: path -> (value, (low, high))."""
    out: dict[str, tuple[Number, Pair]] = {}
    for path, keys in matches(sources, numbers).items():
        if len(keys) == 1 and sources[keys[0]].kind == "assumption":
            rng = _range_for(sources[keys[0]], path)
            if rng is not None:
                out[path] = (numbers[path], rng)
    return out


def problems(
    sources: Mapping[str, Source], numbers: Mapping[str, Number], seed: str | None
) -> list[str]:
    """Everything wrong with the sources of ``numbers``, one line each.

    Checks that every number has exactly one entry and every entry (and every key of a
    per-sub-path range) covers a number; that each assumption has reasoning and a range
    containing its values; and, when the seed text is given, that every quotation occurs
    in it verbatim.
    """
    out: list[str] = []
    found = matches(sources, numbers)
    for path, keys in found.items():
        if not keys:
            out.append(f"{path}: no source")
        elif len(keys) > 1:
            out.append(f"{path}: several sources ({', '.join(keys)})")
    used = {k for keys in found.values() for k in keys}
    out += [f"{k}: names no number" for k in sources if k not in used]
    for key, src in sources.items():
        if isinstance(src.range, dict):
            depth = len(key.split("."))
            named = {".".join(p.split(".")[depth:]) for p, ks in found.items() if key in ks}
            out += [f"{key}: range names no number {r!r}" for r in src.range if r not in named]
        if src.kind == "seed" and not src.text.strip():
            out.append(f"{key}: empty seed quote")
        if src.kind == "assumption" and len(src.text.strip()) < MIN_REASONING_CHARS:
            out.append(f"{key}: the assumption gives no reasoning")
        if seed is not None:
            out += [f"{key}: not in the seed: {q!r}" for q in src.quotations() if q not in seed]
    for path, keys in found.items():
        if len(keys) != 1 or sources[keys[0]].kind != "assumption":
            continue
        src = sources[keys[0]]
        rng = _range_for(src, path)
        if rng is None:
            out.append(f"{path}: {src.key} gives no range for it")
            continue
        low, high = rng
        bad = [v for v in _values(numbers[path]) if not low <= v <= high]
        if bad:
            out.append(f"{path}: {bad[0]:g} outside its range [{low:g}, {high:g}]")
    return out


Loader = Callable[[DataRef], Number]


def script_loader(repo_root: Path, data_root: Path) -> Loader:
    """Run ``ref.function(data_root / ref.file, *ref.args)`` from the module named (imported)
    or else from the script in the repo."""
    modules: dict[str, Any] = {}

    def call(ref: DataRef) -> Number:
        if ref.module and ref.module not in modules:
            modules[ref.module] = importlib.import_module(ref.module)
        elif not ref.module and ref.script not in modules:
            spec = importlib.util.spec_from_file_location(
                Path(ref.script).stem, repo_root / ref.script
            )
            if spec is None or spec.loader is None:
                raise FileNotFoundError(repo_root / ref.script)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            modules[ref.script] = module
        value = getattr(modules[ref.origin], ref.function)(data_root / ref.file, *ref.args)
        return tuple(map(float, value)) if isinstance(value, list | tuple) else float(value)

    return call


def data_problems(
    sources: Mapping[str, Source], numbers: Mapping[str, Number], load: Loader
) -> list[str]:
    """Numbers whose ``data`` (or ``stand_in``) call does not reproduce them."""
    out: list[str] = []
    cache: dict[DataRef, Number] = {}
    for path, keys in matches(sources, numbers).items():
        ref = sources[keys[0]].ref if len(keys) == 1 else None
        if ref is None:
            continue
        if ref not in cache:
            cache[ref] = load(ref)
        got, want = _values(cache[ref]), _values(numbers[path])
        if len(got) != len(want) or any(
            not math.isclose(g, w, rel_tol=0.0, abs_tol=ref.tolerance + 1e-9)
            for g, w in zip(got, want, strict=False)
        ):
            out.append(f"{path}: {ref.origin}:{ref.function} gives {got}, not {want}")
    return out


def seed_text(seed_dir: Path) -> str | None:
    """The seed report's text (every ``*.txt``), or None when the folder is absent."""
    files = sorted(seed_dir.glob("*.txt")) if seed_dir.is_dir() else []
    return "\n".join(f.read_text(encoding="utf-8") for f in files) if files else None
