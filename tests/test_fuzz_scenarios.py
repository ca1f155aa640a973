"""Hundreds of broken scenario files: each ends in exit 0 or 2, one line per problem.

The cases are mutations of the shipped scenarios (wrong types, NaN and infinity,
negative and huge values, missing and unknown keys, markup and control characters in
names) plus hand-made hostile files (alias bombs, deep nesting, duplicate keys, binary
content, directories, devices, pipes).  Each runs ``sim validate`` in-process under a
time alarm and an address-space limit; a sample of those that validate also runs one
short replication.  A hypothesis property feeds random data into the schema directly.
"""

from __future__ import annotations

import copy
import math
import os
import random
import resource
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sim.cli import app
from sim.config import ScenarioError, scenario_from_dict
from sim.config.errors import MAX_PROBLEMS
from sim.config.limits import MAX_FILE_BYTES

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
SMALL = ["quanxueli", "quanxueli_night_tech", "six_types", "mmc_validation"]
SECONDS_PER_CASE = 120  # a hang guard on a shared machine, not a speed test
# A hang guard, not a speed test: a valid mutant may hold ~1e5 requests per day, and the
# suite runs beside other work; only a run that never ends should trip it.
SECONDS_PER_RUN = 300
EXTRA_MEMORY = 3 << 30  # bytes of address space a case may add to the test process


@dataclass(frozen=True)
class Case:
    """One scenario file to try: its content, or a special kind of path."""

    id: str
    content: bytes | None = None
    special: str | None = None  # "dir", "devzero", "devnull", "fifo", "dangling", "loop"


def _load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "scenarios" / f"{name}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _dump(data: object) -> bytes:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode("utf-8")


def _leaves(node: object, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths of every value below ``node`` (collections included)."""
    if path:
        yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, (*path, i))


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(data)
    node = out
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return out


def _delete(data: Any, path: tuple[Any, ...]) -> Any:
    out = copy.deepcopy(data)
    node = out
    for p in path[:-1]:
        node = node[p]
    del node[path[-1]]
    return out


MARKUP = ["[/bold]", "[link=http://x]click[/link]", "[red]x", "名字\n第二行", "\u202eevil",
          "tab\there", "emoji 🚑", "\x1b[31mred", ""]
BAD_VALUES: list[Any] = [
    float("nan"), float("inf"), float("-inf"), -1, -1e-9, 0, 1e9, 1e308, 10**30, "text",
    "nan", "1e400", None, [], {}, True, [1, 2], {"x": 1}, "2024-01-01", *MARKUP[:3],
]
STRAY = [b"[", b"{", b"&a ", b"*a", b": ", b"\n  - ", b"!!", b"'", b'"', b"\t", b"1e999",
         b".nan", b"\xef\xbb\xbf", b"\xe2\x80\xa8", b"\xc2\x85", b"? ", b"<<: *a", b"---\n",
         b"\x04"]
SIZE_CASES: list[tuple[str, str, Any]] = [
    ("communities[0].demand_multiplier", "demand_multiplier", 1e9),
    ("communities[0].demand_multiplier", "demand_multiplier", 999),
    ("communities[0].count", "count", 10**9),
    ("communities[0].count", "count", 20_000),
    ("communities[0].households", "households", 10**9),
    ("communities[0].households", "households", 9_999_999),
    ("run.horizon_days", "horizon_days", 1e9),
    ("run.horizon_days", "horizon_days", 3660),
    ("run.replications", "replications", 10**9),
    ("staff[0].shifts[0].headcount", "headcount", 10**9),
]


def _mutations() -> list[Case]:
    rng = random.Random(20241)
    cases: list[Case] = []
    for path in SCENARIOS:
        name = path.stem
        data = _load(name)
        leaves = list(_leaves(data))
        # every value type at a random sample of places
        for value in BAD_VALUES:
            for where in rng.sample(leaves, min(3, len(leaves))):
                cases.append(Case(f"{name}:{where}={value!r}"[:120], _dump(_set(data, where,
                                                                               value))))
        # a missing key anywhere, an unknown key at a few places
        for where in rng.sample([p for p in leaves if not isinstance(p[-1], int)], 6):
            cases.append(Case(f"{name}:del {where}", _dump(_delete(data, where))))
        maps = [p for p in leaves if isinstance(_get(data, p), dict)]
        for where in rng.sample(maps, min(3, len(maps))):
            cases.append(Case(f"{name}:extra {where}",
                              _dump(_set(data, (*where, "surprise_field"), 1))))
        # markup and control characters in names
        for text in MARKUP:
            cases.append(Case(f"{name}:name={text!r}", _dump({**data, "name": text})))
            com = copy.deepcopy(data)
            com["communities"][0]["name"] = text
            cases.append(Case(f"{name}:community name={text!r}", _dump(com)))
        # absurd and just-legal sizes
        for field, key, value in SIZE_CASES:
            mutated = copy.deepcopy(data)
            target = _field(mutated, field)
            target[key] = value
            cases.append(Case(f"{name}:{field}={value}", _dump(mutated)))
        # stamped names colliding with another entry; nobody on duty; no households
        stamped = copy.deepcopy(data)
        first = stamped["communities"][0]
        stamped["communities"].append({**first, "name": f"{first['name']}-2", "count": 1})
        first["count"] = 3
        cases.append(Case(f"{name}:stamped collision", _dump(stamped)))
        nobody = copy.deepcopy(data)
        for pool in nobody["staff"]:
            for shift in pool["shifts"]:
                shift["headcount"] = 0
        cases.append(Case(f"{name}:every headcount 0", _dump(nobody)))
        empty = copy.deepcopy(data)
        for c in empty["communities"]:
            c["households"] = 0
            c["firms"] = 0
        cases.append(Case(f"{name}:households 0", _dump(empty)))
        zero = copy.deepcopy(data)
        for c in zero["communities"]:
            c["demand_multiplier"] = 0
        cases.append(Case(f"{name}:demand_multiplier 0", _dump(zero)))
        # a truncated file, a file cut into binary junk
        raw = path.read_bytes()
        cases.append(Case(f"{name}:truncated", raw[: len(raw) // 2]))
        cases.append(Case(f"{name}:nul byte", raw[:100] + b"\0" + raw[100:]))
        cases.append(Case(f"{name}:latin-1", raw.replace(b"name:", "nàme:".encode("latin-1"))))
        cases.append(Case(f"{name}:duplicate key", raw + b"\nrun: {seed: 3}\n"))
        # byte-level damage: flipped bytes, cut spans, stray YAML syntax
        for k in range(8):
            damaged = bytearray(raw)
            for _ in range(rng.randint(1, 5)):
                pos = rng.randrange(len(damaged))
                op = rng.random()
                if op < 0.4:
                    damaged[pos] = rng.randrange(256)
                elif op < 0.7:
                    del damaged[pos:pos + rng.randint(1, 20)]
                else:
                    damaged[pos:pos] = rng.choice(STRAY)
            cases.append(Case(f"{name}:damaged {k}", bytes(damaged)))
    return cases


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        data = data[p]
    return data


def _field(data: Any, dotted: str) -> Any:
    """The mapping holding the last part of ``communities[0].count``-style paths."""
    node = data
    for part in dotted.split(".")[:-1]:
        name, _, index = part.partition("[")
        node = node.setdefault(name, {}) if not index else node[name][int(index[:-1])]
    return node


def _hostile() -> list[Case]:
    base = (ROOT / "scenarios" / "quanxueli.yaml").read_bytes()
    laughs = [b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        laughs.append(f"{cur}: &{cur} [{','.join(['*' + prev] * 9)}]".encode())
    cases = [
        Case("billion laughs", b"\n".join(laughs) + b"\n"),
        Case("billion laughs in a field", base + b"\n" + b"\n".join(laughs).replace(
            b"a: &a", b"x-a: &a") + b"\n"),
        Case("deep flow nesting", b"name: " + b"[" * 5000 + b"]" * 5000 + b"\n"),
        Case("deep block nesting",
             "".join(f"{'  ' * i}k{i}:\n" for i in range(300)).encode() + b"  " * 300 + b"v\n"),
        Case("deep map nesting", b"x: " + b"{a: " * 3000 + b"1" + b"}" * 3000 + b"\n"),
        Case("recursive alias", b"x: &x [*x]\nname: a\n"),
        Case("unhashable key", b"? [a, b]\n: 1\n"),
        Case("duplicate top key", base + b"\nname: again\n"),
        Case("duplicate nested key", b"run:\n  seed: 1\n  seed: 2\n"),
        Case("merge key", b"base: &b {horizon_days: 7}\nrun:\n  <<: *b\n"),
        Case("binary junk", bytes(range(256)) * 8),
        Case("utf-16", base.decode("utf-8").encode("utf-16")),
        Case("bom", b"\xef\xbb\xbf" + base),
        Case("only a comment", b"# nothing\n"),
        Case("a scalar", b"42\n"),
        Case("two documents", base + b"\n---\nname: second\n"),
        Case("python tag", b"!!python/object/apply:os.getcwd []\n"),
        Case("binary tag", b"name: !!binary aGVsbG8=\n"),
        Case("set", b"!!set {a, b}\n"),
        Case("timestamp name", base.replace(b"name: quanxueli", b"name: 2024-01-01")),
        Case("long line", b"name: " + b"x" * 500_000 + b"\n"),
        Case("many entries", b"communities:\n" + b"  - {name: c, type: village}\n" * 2_000),
        Case("many values", b"x: [" + b"1," * 120_000 + b"]\n"),
        Case("oversized file", b"#" * (MAX_FILE_BYTES + 10)),
        Case("many problems", b"communities:\n" + b"  - {name: 1, type: x}\n" * 200),
        Case("int keys", b"1: 2\n3: [4]\n"),
        Case("null key", b"~: 1\n"),
        Case("tabs", b"name:\tx\n\trun: 1\n"),
        Case("lone surrogate escape", b'name: "\\ud800"\n'),
        Case("control chars in key", b'"a\\nb\\x1b[31m": 1\n'),
        Case("raw control character", b"name: a\x04b\n"),
        Case("raw escape character", base.replace(b"name:", b"\x1b[31mname:")),
        Case("markup key", b'"[/bold]": 1\n"[link=http://x]y[/link]": 2\n'),
        Case("nan everywhere", base.replace(b": 0.", b": .nan #")),
        Case("inf everywhere", base.replace(b": 0.", b": .inf #")),
    ]
    cases += [Case(f"special:{s}", special=s)
              for s in ("dir", "devzero", "devnull", "fifo", "dangling", "loop")]
    return cases


CASES = _mutations() + _hostile()


def test_enough_cases() -> None:
    assert len(CASES) >= 300
    assert len({c.id for c in CASES}) == len(CASES)


@contextmanager
def bounded(seconds: int = SECONDS_PER_CASE) -> Iterator[None]:
    """Fail (not hang, not swap) when a case takes too long or too much memory."""

    def _timeout(_sig: int, _frame: object) -> None:
        raise TimeoutError(f"took more than {seconds} s")

    old_handler = signal.signal(signal.SIGALRM, _timeout)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm", encoding="ascii") as f:
        used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    cap = used + EXTRA_MEMORY
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard < 0 else min(cap, hard), hard))
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old_handler)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _make(case: Case, folder: Path) -> Path:
    path = folder / "scenario.yaml"
    if case.content is not None:
        path.write_bytes(case.content)
    elif case.special == "dir":
        path.mkdir()
    elif case.special == "devzero":
        path.symlink_to("/dev/zero")
    elif case.special == "devnull":
        path.symlink_to("/dev/null")
    elif case.special == "fifo":
        os.mkfifo(path)
    elif case.special == "dangling":
        path.symlink_to(folder / "missing.yaml")
    elif case.special == "loop":
        path.symlink_to(path)
    return path


def cli(*args: str) -> tuple[int, str]:
    """Run the CLI in-process; (exit code, stdout+stderr)."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        exc = result.exception
        raise AssertionError(f"{type(exc).__name__}: {exc}") from exc
    return result.exit_code, result.output


def check_outcome(code: int, output: str, path: Path) -> None:
    """Exit 0, or exit 2 with only ``error:`` lines naming the file; never a traceback."""
    assert code in (0, 2), f"exit {code}:\n{output}"
    assert "Traceback" not in output, output
    if code == 2:
        lines = [ln for ln in output.splitlines() if ln.strip()]
        assert lines, "exit 2 without a message"
        assert len(lines) <= MAX_PROBLEMS + 1, output
        for ln in lines:
            assert ln.startswith("error: "), output
            assert str(path) in ln, output


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_validate_ends_cleanly(case: Case, tmp_path: Path) -> None:
    path = _make(case, tmp_path)
    with bounded():
        code, output = cli("validate", str(path))
    check_outcome(code, output, path)


def _sample_runs() -> list[Any]:
    picked = [c for c in CASES if c.content is not None and c.id.split(":")[0] in SMALL
              and not c.id.endswith((":households 0", ":every headcount 0",
                                     ":demand_multiplier 0"))]
    sample = random.Random(7).sample(picked, 18)
    # names a terminal could take for markup, printed by the run summary
    sample += [c for c in picked if c.id.startswith("quanxueli:name=")]
    return [pytest.param(c, id=c.id) for c in dict.fromkeys(sample)]


def _shortened(content: bytes) -> bytes | None:
    """The scenario cut to two days (None: it is not a mapping with a run section)."""
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("run", {}), dict):
        return None
    run = dict(data.get("run") or {})
    run.update(horizon_days=2, warmup_days=0)
    return _dump({**data, "run": run})


@pytest.mark.parametrize("case", _sample_runs())
def test_valid_mutants_run(case: Case, tmp_path: Path) -> None:
    """A mutant that validates also runs: one replication of two days ends in exit 0."""
    assert case.content is not None
    short = _shortened(case.content)
    if short is None:
        pytest.skip("not a mapping with a run section")
    path = tmp_path / "scenario.yaml"
    path.write_bytes(short)
    with bounded(SECONDS_PER_RUN):
        code, output = cli("validate", str(path))
        check_outcome(code, output, path)
        if code == 0:
            code, output = cli("run", str(path), "-o", str(tmp_path / "out"), "-n", "1")
            assert code == 0, output
            assert "Traceback" not in output


@pytest.mark.parametrize("name", ["quanxueli", "six_types"])
@pytest.mark.parametrize("what", [
    "households 0",
    "every headcount 0",
    "demand_multiplier 0",
])
def test_nothing_measured_runs(name: str, what: str, tmp_path: Path) -> None:
    """Nobody on duty, no households, no demand: legitimate scenarios that run."""
    case = next(c for c in CASES if c.id == f"{name}:{what}")
    assert case.content is not None
    short = _shortened(case.content)
    assert short is not None
    path = tmp_path / "scenario.yaml"
    path.write_bytes(short)
    with bounded():
        assert cli("validate", str(path))[0] == 0
        code, output = cli("run", str(path), "-o", str(tmp_path / "out"), "-n", "1")
    assert code == 0, output


# --------------------------------------------------------------------------- subprocess
LIMITED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 31, resource.RLIM_INFINITY))
sys.argv = ["sim", "validate", sys.argv[1]]
from sim.cli import main
main()
"""


@pytest.mark.parametrize("special", ["devzero", "fifo"])
def test_devices_refused_in_a_memory_limited_process(special: str, tmp_path: Path) -> None:
    """/dev/zero and a pipe nobody writes to are refused, not read (2 GB address space)."""
    path = _make(Case(special, special=special), tmp_path)
    proc = subprocess.run([sys.executable, "-c", LIMITED, str(path)], capture_output=True,
                          text=True, timeout=60, check=False, cwd=ROOT,
                          env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"})
    check_outcome(proc.returncode, proc.stdout + proc.stderr, path)
    assert proc.returncode == 2
    assert "not a regular file" in proc.stderr
    assert stat.S_ISCHR(os.stat(path).st_mode) or stat.S_ISFIFO(os.stat(path).st_mode)


# --------------------------------------------------------------------------- property
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=4),
    max_leaves=12,
)
_BASE = _load("quanxueli")
_PATHS = [p for p in _leaves(_BASE)]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from(_PATHS), value=_values)
def test_any_value_anywhere_is_accepted_or_explained(where: tuple[Any, ...], value: Any) -> None:
    """Whatever value replaces whatever field, validation returns or says what is wrong."""
    data = _set(_BASE, where, value)
    try:
        sc = scenario_from_dict(data, "<fuzz>")
    except ScenarioError as err:
        lines = str(err).splitlines()
        assert lines and all(ln.startswith("<fuzz>: ") for ln in lines), str(err)
        return
    # what passes is finite everywhere
    floats = [v for v in _floats(sc.model_dump())]
    assert all(math.isfinite(v) for v in floats)


def _floats(node: object) -> Iterator[float]:
    if isinstance(node, float):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _floats(v)
    elif isinstance(node, list):
        for v in node:
            yield from _floats(v)
