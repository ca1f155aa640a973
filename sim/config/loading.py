"""Reading scenario files: every way a file can be wrong ends in one :class:`ScenarioError`.

A scenario file is read only when it is a regular file of at most
:data:`~sim.config.limits.MAX_FILE_BYTES`; it must be UTF-8 text.  The YAML reader is
PyYAML's safe loader with three more guards, checked before any Python object is built:
a key given twice is refused (naming the key and both lines), collections nested deeper
than :data:`~sim.config.limits.MAX_YAML_DEPTH` are refused, and so is a document that,
with its aliases expanded, holds more than :data:`~sim.config.limits.MAX_YAML_NODES`
values (the "billion laughs").
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.nodes import MappingNode, Node, SequenceNode

from sim.config import limits
from sim.config.errors import ScenarioError, format_validation_error, one_line
from sim.config.scenario import Scenario


class _Refused(yaml.YAMLError):
    """A YAML document the guards refuse; ``mark`` says where."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class GuardedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses duplicate keys, deep nesting and alias bombs."""

    _depth = 0
    _nodes = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        self._nodes += 1
        try:
            if self._depth > limits.MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _Refused(
                    f"collections nested more than {limits.MAX_YAML_DEPTH} deep", mark
                )
            if self._nodes > limits.MAX_YAML_NODES:  # stop early; aliases are checked later
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _Refused(f"more than {limits.MAX_YAML_NODES} values", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        _check_expanded_size(node)
        return self.construct_document(node)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[object, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark)
            except TypeError:  # unhashable: the base class says so
                break
            if first is not key_node.start_mark:
                raise _Refused(
                    f"duplicate key {one_line(repr(key))} (first given at line "
                    f"{first.line + 1})",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 reads ``1e9`` and ``1.0e9`` as strings; read them as numbers, as YAML 1.2 does.
GuardedLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def _check_expanded_size(root: Node) -> None:
    """Refuse a node graph holding more than MAX_YAML_NODES values once aliases expand."""
    size: dict[int, int] = {}
    order: list[Node] = []
    stack: list[Node] = [root]
    while stack:  # depth-first post-order without recursion; shared nodes visited once
        node = stack.pop()
        if id(node) in size:
            continue
        size[id(node)] = -1
        order.append(node)
        if isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            stack.extend(n for pair in node.value for n in pair)
    for node in reversed(order):
        total = 1
        if isinstance(node, SequenceNode):
            total += sum(size[id(n)] for n in node.value)
        elif isinstance(node, MappingNode):
            total += sum(size[id(n)] for pair in node.value for n in pair)
        # a child not yet sized (a cycle through an alias) counts as one value
        size[id(node)] = total if total > 0 else 1
        if total > limits.MAX_YAML_NODES:
            raise _Refused(
                f"more than {limits.MAX_YAML_NODES} values once aliases are expanded "
                "(an alias bomb?)",
                node.start_mark,
            )


def read_text(path: Path) -> str:
    """The text of a scenario file, refusing anything but a modest regular UTF-8 file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ScenarioError(f"{path}: file not found") from None
    except OSError as err:
        raise ScenarioError(f"{path}: cannot read the file ({err.strerror or err})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ScenarioError(f"{path}: cannot read the file (it is a directory)")
    if not stat.S_ISREG(st.st_mode):
        raise ScenarioError(
            f"{path}: cannot read the file (not a regular file: a device, pipe or socket)"
        )
    if st.st_size > limits.MAX_FILE_BYTES:
        raise ScenarioError(
            f"{path}: the file is {st.st_size} bytes; scenario files are at most "
            f"{limits.MAX_FILE_BYTES} bytes"
        )
    try:
        with open(path, "rb") as f:
            raw = f.read(limits.MAX_FILE_BYTES + 1)
    except OSError as err:
        raise ScenarioError(f"{path}: cannot read the file ({err.strerror or err})") from None
    if len(raw) > limits.MAX_FILE_BYTES:
        raise ScenarioError(
            f"{path}: the file is larger than {limits.MAX_FILE_BYTES} bytes, the limit "
            "for scenario files"
        )
    if b"\0" in raw:
        line = raw[: raw.index(b"\0")].count(b"\n") + 1
        raise ScenarioError(f"{path}: line {line}: a binary file, not YAML text (NUL byte)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ScenarioError(
            f"{path}: line {line}: not UTF-8 text (byte {raw[err.start]:#04x}); "
            "save the file as UTF-8"
        ) from None


def parse_yaml(text: str, source: str) -> Any:
    """The data of one YAML document, read with :class:`GuardedLoader`."""
    loader: GuardedLoader | None = None
    try:
        loader = GuardedLoader(text)  # reading checks every character first
        return loader.get_single_data()
    except yaml.reader.ReaderError as err:
        line = text[: err.position].count("\n") + 1
        raise ScenarioError(
            f"{source}: (YAML) line {line}: control character {int(err.character):#06x} "
            "is not allowed in YAML text"
        ) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        context, cmark = getattr(err, "context", None), getattr(err, "context_mark", None)
        if context and cmark and (not mark or cmark.line != mark.line):
            problem += f" ({context} at line {cmark.line + 1})"
        if isinstance(err, yaml.constructor.ConstructorError) and "tag" in problem:
            problem += "; scenario files hold plain YAML data only"
        raise ScenarioError(f"{source}: (YAML) {where}{one_line(problem)}") from None
    except RecursionError:  # pragma: no cover - the depth guard comes first
        raise ScenarioError(f"{source}: (YAML) nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def scenario_from_dict(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate a plain mapping as a scenario, raising :class:`ScenarioError`."""
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}, not a mapping"
        raise ScenarioError(f"{source}: (top level): the scenario is {kind}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(format_validation_error(source, err)) from None
    except RecursionError:
        raise ScenarioError(f"{source}: (top level): nested too deeply") from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file.

    Raises
    ------
    ScenarioError
        With one line per problem, each naming the file, the field and the problem.
    """
    p = Path(path)
    return scenario_from_dict(parse_yaml(read_text(p), str(p)), str(p))


def resolved_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario with every default filled in, as plain data (for YAML/JSON)."""
    return scenario.model_dump(mode="json")
