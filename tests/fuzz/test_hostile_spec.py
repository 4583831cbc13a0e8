"""Hostile kube6.yaml input: a clear SpecError or a valid spec, never a traceback or a hang.

Each case runs under a time bound. Values that are accepted must not be able to carry a shell
word, a YAML key or an nftables statement into what kube6 renders.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kube6 import spec as spec_module
from kube6.components.registry import render_all
from kube6.errors import Kube6Error, SpecError
from kube6.plan import make_plan

TIME_BOUND = 5.0  # seconds per input
STATS = {"cases": 0, "crashes": 0}


@contextmanager
def bounded(seconds: float = TIME_BOUND) -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"input took longer than {seconds}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def parse_or_refuse(text: str) -> spec_module.ClusterSpec | None:
    STATS["cases"] += 1
    with bounded():
        try:
            return spec_module.parse_text(text)
        except SpecError as exc:
            assert str(exc).strip()
            return None
        except Exception:
            STATS["crashes"] += 1
            raise


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=2000))
def test_random_text(text: str) -> None:
    parse_or_refuse(text)


yaml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True)
    | st.text(max_size=200),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=30,
)
keys = st.sampled_from(
    ["cluster", "prefix", "routing", "bgp", "nodes", "network", "dns", "addons", "firewall", "x"]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys, yaml_values, max_size=8))
def test_random_structures(data: dict[str, Any]) -> None:
    parse_or_refuse(yaml.safe_dump(data))


def test_pathological_documents() -> None:
    laughs = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{k}: &{k} [{', '.join(['*' + p] * 10)}]\n"
        for p, k in zip("abcdefgh", "bcdefghi", strict=True)
    )
    cases = [
        "[" * 100_000,
        "{a: " * 50_000,
        "- " * 20_000 + "x",
        laughs + "nodes: *i\n",
        "prefix: " + "2001:db8::/64" * 50_000,
        "prefix: 2001:db8::/64\nnodes: [{name: " + "a" * 1_000_000 + ", address: '2001:db8::1'}]",
        "prefix: 2001:db8::/64\nnodes: [{name: a, address: '2001:db8::1'}]\nnetwork: {max_pods: "
        + "9" * 5000
        + "}",
        "prefix: \u202e2001:db8::/64\nnodes: [{name: \u00e9, address: '\u0662\u0660\u0660\u0661::1'}]",
        "prefix: !!python/object/apply:os.system ['true']\n",
        "\x00\x01\x02",
        "a: b\n" * 100_000,
        "nodes: " + "[{name: a, address: '2001:db8::1'}," * 1 + "]" * 2,
    ]
    for text in cases:
        start = time.perf_counter()
        parse_or_refuse(text)
        assert time.perf_counter() - start < TIME_BOUND


INJECTIONS = [
    "a; reboot",
    "$(reboot)",
    "`reboot`",
    "a\nb: c",
    "a: b",
    "a}\nadd rule inet x y accept #",
    "'quoted'",
    '"dq"',
    "a b",
    "--flag",
    "a|b",
    "\\",
    "{{x}}",
    "a\x00b",
]
STRING_FIELDS = [
    ("cluster", "name"),
    ("cluster", "dns_domain"),
    ("cluster", "control_plane_endpoint"),
    ("node", "name"),
    ("node", "ssh"),
    ("node", "interface"),
    ("cert_manager", "email"),
    ("dashboard", "host"),
]


def with_field(where: str, field: str, value: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "prefix": "2001:db8:1234:5678::/64",
        "nodes": [{"name": "node0001", "address": "2001:db8:1234:5678::1"}],
    }
    if where == "node":
        data["nodes"][0][field] = value
    elif where == "cluster":
        data["cluster"] = {field: value}
    else:
        data["addons"] = {where: {field: value}}
    return data


def test_no_value_injects_into_rendered_files() -> None:
    for where, field in STRING_FIELDS:
        for payload in INJECTIONS:
            STATS["cases"] += 1
            try:
                spec = spec_module.from_data(with_field(where, field, payload))
            except SpecError:
                continue
            # Accepted: then it must be harmless everywhere it lands.
            for bad in (";", "$", "`", "\n", "{", "}", "|", "\x00", '"', "'", " "):
                assert bad not in payload, f"{where}.{field} accepted {payload!r}"
            try:
                artifacts = render_all(make_plan(spec))
            except Kube6Error:
                continue
            for artifact in artifacts:
                if artifact.path.endswith((".yaml", ".yml")):
                    list(yaml.safe_load_all(artifact.content))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(STRING_FIELDS), st.text(min_size=1, max_size=80))
def test_string_fields_refuse_or_stay_plain(target: tuple[str, str], value: str) -> None:
    STATS["cases"] += 1
    where, field = target
    try:
        spec_module.from_data(with_field(where, field, value))
    except SpecError:
        return
    assert not any(c in value for c in ";$`\n\r\x00{}|\"' \t"), value


def test_report_fuzz_figures() -> None:
    """Printed for the record (issue 7 asks for the figures): cases tried, crashes."""
    print(f"\nhostile spec input: {STATS['cases']} cases tried, {STATS['crashes']} crashes")
    assert STATS["crashes"] == 0
