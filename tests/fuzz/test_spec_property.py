"""Issue 15: the property of the spec loader. Any document either loads into a spec whose
rendered files are valid, or is refused with exit 2 and a message: never a crash (exit 1 with
"internal error"), never a silent coercion (a value that loads is the value that was written,
of the type that was written).

The documents are a valid spec with fields overwritten by values of every YAML type: the right
type in and out of range, and the wrong types (booleans, floats and quoted numbers where numbers
go, numbers where text goes, lists, mappings, nothing). The k8s tier runs `kubeadm config
validate` (the pinned kubeadm, built by tests/k8s/build.sh) on the accepted ones.
"""

from __future__ import annotations

import subprocess
from ipaddress import IPv6Address, IPv6Network
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kube6 import spec as spec_module
from kube6.cli import run
from kube6.components.registry import render_all
from kube6.errors import PlanError, SpecError
from kube6.plan import make_plan
from kube6.render.base import CA_CERT_HASH, CERTIFICATE_KEY, JOIN_TOKEN, fill_placeholders
from tests.conftest import k8s_binary

BASE: dict[str, Any] = {
    "prefix": "2001:db8:1234:5678::/64",
    "nodes": [{"name": "node0001", "address": "2001:db8:1234:5678::1"}],
}

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=70_000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.integers(min_value=0, max_value=70_000).map(str),
    st.text(max_size=12),
    st.lists(st.integers(min_value=0, max_value=9), max_size=2),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(min_value=0, max_value=9), max_size=1),
)


def field(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(good, junk)


FIELDS: dict[tuple[str, ...], st.SearchStrategy[Any]] = {
    ("cluster", "name"): field(st.sampled_from(["kube001", "prod", "Bad_Name", "a" * 64])),
    ("cluster", "kubernetes"): field(st.sampled_from(["1.37", "1.36", "1.29", "1.37.2"])),
    ("cluster", "dns_domain"): field(st.sampled_from(["cluster.local", "k8s.example", "-x"])),
    ("routing",): field(st.sampled_from(["ndp-proxy", "routed", "bgp"])),
    ("firewall", "ssh_port"): field(st.integers(min_value=0, max_value=70_000)),
    ("firewall", "enabled"): field(st.booleans()),
    ("network", "max_pods"): field(st.integers(min_value=0, max_value=300)),
    ("network", "mtu"): field(st.integers(min_value=1200, max_value=9100)),
    ("network", "node_mask"): field(st.integers(min_value=60, max_value=128)),
    ("network", "block_size"): field(st.integers(min_value=100, max_value=128)),
    ("network", "nat_outgoing"): field(st.booleans()),
    ("dns", "nat64_prefix"): field(st.sampled_from(["64:ff9b::/96", "2001:db8:64::/96"])),
    ("dns", "dns64"): field(st.sampled_from(["resolvers", "coredns", "off"])),
    ("addons", "gateway", "enabled"): field(st.booleans()),
    ("addons", "dashboard", "admin"): field(st.booleans()),
    ("addons", "cert_manager", "email"): field(st.sampled_from(["a@example.com", "nope"])),
}


@st.composite
def documents(draw: st.DrawFn) -> tuple[dict[str, Any], dict[tuple[str, ...], Any]]:
    data: dict[str, Any] = {**BASE}
    count = draw(st.integers(min_value=1, max_value=4))
    data["nodes"] = [
        {"name": f"node{i:04d}", "address": f"2001:db8:1234:5678::{i}"}
        | ({"roles": draw(st.sampled_from([["worker"], ["control-plane"]]))} if i > 1 else {})
        for i in range(1, count + 1)
    ]
    chosen = draw(st.lists(st.sampled_from(sorted(FIELDS)), min_size=1, max_size=4, unique=True))
    written: dict[tuple[str, ...], Any] = {}
    for path in chosen:
        value = draw(FIELDS[path])
        section = data
        for part in path[:-1]:
            section = section.setdefault(part, {})
        section[path[-1]] = value
        written[path] = value
    if data.get("routing") == "bgp" and draw(st.booleans()):
        data["bgp"] = {"peer": "2001:db8::ff", "peer_as": draw(field(st.just(65000)))}
    return data, written


def loaded_value(spec: spec_module.ClusterSpec, path: tuple[str, ...]) -> Any:
    value: Any = spec
    for part in path:
        value = getattr(value, part)
    return value


def assert_not_coerced(value: Any, loaded: Any, path: tuple[str, ...]) -> None:
    if isinstance(loaded, IPv6Network | IPv6Address):
        assert isinstance(value, str), (path, value)
        return
    if isinstance(loaded, str):  # StrEnums (routing) compare equal to their text
        assert isinstance(value, str), (path, value, loaded)
        assert value == loaded, (path, value, loaded)
        return
    assert type(value) is type(loaded), (path, value, loaded)
    assert value == loaded, (path, value, loaded)


STATS = {"accepted": 0, "refused": 0, "rule": 0}


def judge(tmp: Path, data: dict[str, Any], written: dict[tuple[str, ...], Any]) -> Any:
    """The CLI's verdict on the document, and the plan when it was accepted."""
    path = tmp / "kube6.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    try:
        spec = spec_module.load(path)
    except SpecError as exc:
        assert exc.problems
        assert all(p.strip() for p in exc.problems)
        assert "Input should" not in str(exc)  # the user's terms, not the validator's
        assert run(["plan", "-f", str(path)]) == 2
        STATS["refused"] += 1
        return None
    for key, value in written.items():
        assert_not_coerced(value, loaded_value(spec, key), key)
    try:
        plan = make_plan(spec)
    except PlanError:
        plan = None
    if plan is None or not plan.ok:
        # Loaded, but a planner rule fails: refused by the rule's name (exit 1, not a crash).
        assert run(["plan", "-f", str(path)]) == 1
        STATS["rule"] += 1
        return None
    artifacts = render_all(plan)
    for artifact in artifacts:
        if artifact.path.endswith((".yaml", ".yml")):
            list(yaml.safe_load_all(artifact.content))
    STATS["accepted"] += 1
    return plan


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(documents())
def test_a_document_loads_and_renders_or_is_refused_with_exit_2(
    tmp_path: Path, document: tuple[dict[str, Any], dict[tuple[str, ...], Any]]
) -> None:
    data, written = document
    judge(tmp_path, data, written)


def test_both_outcomes_were_tried() -> None:
    """The property is not vacuous: some documents loaded and rendered, some were refused."""
    print(f"\nspec property: {STATS}")
    assert STATS["accepted"] > 0
    assert STATS["refused"] > 0


VALUES = {JOIN_TOKEN: "abcdef.0123456789abcdef", CA_CERT_HASH: "3" * 64, CERTIFICATE_KEY: "e" * 64}
KUBEADM_STATS = {"validated": 0}


@pytest.mark.k8s
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(documents())
def test_accepted_documents_render_what_kubeadm_accepts(
    tmp_path: Path, document: tuple[dict[str, Any], dict[tuple[str, ...], Any]]
) -> None:
    data, written = document
    plan = judge(tmp_path, data, written)
    if plan is None:
        return
    kubeadm_bin = k8s_binary("kubeadm")
    for artifact in render_all(plan):
        if not artifact.path.endswith(("kubeadm/init.yaml", "kubeadm/join.yaml")):
            continue
        target = tmp_path / artifact.path.replace("/", "_")
        markers = {m: v for m, v in VALUES.items() if m in artifact.content}
        target.write_text(fill_placeholders(artifact.content, markers))
        done = subprocess.run(
            [str(kubeadm_bin), "config", "validate", "--config", str(target)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (data, artifact.path, done.stderr)
        KUBEADM_STATS["validated"] += 1


@pytest.mark.k8s
def test_kubeadm_judged_some_accepted_documents() -> None:
    """Runs after the property above: kubeadm really validated files (not only refusals)."""
    print(f"\nspec property, kubeadm config validate runs: {KUBEADM_STATS['validated']}")
    assert KUBEADM_STATS["validated"] > 0
