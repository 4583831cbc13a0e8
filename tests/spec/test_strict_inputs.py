"""Issue 15, defects 1, 2 and 7: no loose types, bounded reads, only supported Kubernetes minors.

A YAML boolean, float or quoted number where a number is expected is refused (never coerced:
`ssh_port: true` once became `tcp dport 1`), the JSON Schema says the same as the loader, the
read of the spec is bounded whatever the file is, and a minor kube6 has no pinned patch for is
refused by name.
"""

from __future__ import annotations

import io
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kube6 import spec as spec_module
from kube6.components.registry import render_all
from kube6.errors import SpecError
from kube6.plan import make_plan
from kube6.versions import KUBERNETES_PATCHES, SUPPORTED_MINORS

BASE: dict[str, Any] = {
    "prefix": "2001:db8:1234:5678::/64",
    "nodes": [{"name": "node0001", "address": "2001:db8:1234:5678::1"}],
}

# (section path, field, a valid value): every number and switch of the spec.
INT_FIELDS: list[tuple[tuple[str, ...], str, int]] = [
    (("firewall",), "ssh_port", 22),
    (("network",), "node_mask", 120),
    (("network",), "block_size", 120),
    (("network",), "max_pods", 110),
    (("network",), "mtu", 1500),
    (("bgp",), "peer_as", 65000),
    (("bgp",), "as_number", 64512),
]
BOOL_FIELDS: list[tuple[tuple[str, ...], str, bool]] = [
    (("network",), "nat_outgoing", True),
    (("firewall",), "enabled", True),
    (("addons", "gateway"), "enabled", True),
    (("addons", "cert_manager"), "enabled", True),
    (("addons", "dashboard"), "enabled", True),
    (("addons", "dashboard"), "admin", False),
]


def with_value(where: tuple[str, ...], field: str, value: object) -> dict[str, Any]:
    data: dict[str, Any] = {**BASE}
    if where == ("bgp",):
        data["routing"] = "bgp"
        data["bgp"] = {"peer": "2001:db8::ff", "peer_as": 65000}
    section = data
    for part in where:
        section[part] = dict(section.get(part, {}))
        section = section[part]
    section[field] = value
    return data


@pytest.mark.parametrize(("where", "field", "good"), INT_FIELDS)
@pytest.mark.parametrize("bad", [True, False, 22.0, "22", "1500"])
def test_numbers_refuse_booleans_floats_and_text(
    where: tuple[str, ...], field: str, good: int, bad: object
) -> None:
    spec_module.from_data(with_value(where, field, good))  # the good value loads
    with pytest.raises(SpecError) as info:
        spec_module.from_data(with_value(where, field, bad))
    text = str(info.value)
    assert f"{field}: must be a whole number" in text
    assert "Input should" not in text


@pytest.mark.parametrize(("where", "field", "good"), BOOL_FIELDS)
@pytest.mark.parametrize("bad", [1, 0, "true", "yes", 1.0])
def test_switches_refuse_numbers_and_text(
    where: tuple[str, ...], field: str, good: bool, bad: object
) -> None:
    spec_module.from_data(with_value(where, field, good))
    with pytest.raises(SpecError) as info:
        spec_module.from_data(with_value(where, field, bad))
    assert f"{field}: must be true or false" in str(info.value)


def test_ssh_port_true_is_refused_from_yaml() -> None:
    text = "prefix: 2001:db8::/64\nnodes: [{name: a, address: '2001:db8::1'}]\n"
    with pytest.raises(SpecError, match=r"firewall\.ssh_port: must be a whole number"):
        spec_module.parse_text(text + "firewall: {ssh_port: true}\n")
    with pytest.raises(SpecError, match="got the text '2222'"):
        spec_module.parse_text(text + "firewall: {ssh_port: '2222'}\n")


def _schema_field(schema: dict[str, Any], where: tuple[str, ...], field: str) -> dict[str, Any]:
    defs = schema["$defs"]
    model = schema
    for part in where:
        prop = model["properties"][part]
        ref = prop.get("$ref") or next(a["$ref"] for a in prop["anyOf"] if "$ref" in a)
        model = defs[ref.rsplit("/", 1)[-1]]
    prop = model["properties"][field]
    return next((a for a in prop.get("anyOf", []) if a.get("type") != "null"), prop)


def test_json_schema_and_loader_agree_on_types() -> None:
    schema = spec_module.json_schema()
    for where, field, _ in INT_FIELDS:
        assert _schema_field(schema, where, field)["type"] == "integer", (where, field)
    for where, field, _ in BOOL_FIELDS:
        assert _schema_field(schema, where, field)["type"] == "boolean", (where, field)
    kubernetes = _schema_field(schema, ("cluster",), "kubernetes")
    assert kubernetes["type"] == "string"
    assert kubernetes["enum"] == list(SUPPORTED_MINORS)
    # Every minor the schema offers loads; one it does not offer is refused.
    for minor in kubernetes["enum"]:
        spec_module.from_data({**BASE, "cluster": {"kubernetes": minor}})


def test_long_bad_values_are_shortened() -> None:
    with pytest.raises(SpecError) as info:
        spec_module.from_data({**BASE, "nodes": [{"name": "a" * 1_000_000, "address": "x"}]})
    assert len(str(info.value)) < 500
    assert "(1000002 characters)" in str(info.value)


@pytest.mark.parametrize("minor", ["1.29", "1.35", "1.38", "1.370", "2.0"])
def test_unsupported_minor_is_refused_naming_the_window(minor: str) -> None:
    with pytest.raises(SpecError) as info:
        spec_module.from_data({**BASE, "cluster": {"kubernetes": minor}})
    text = str(info.value)
    assert f"Kubernetes '{minor}' is not a minor kube6 supports" in text
    assert all(f"'{m}'" in text for m in SUPPORTED_MINORS)


@pytest.mark.parametrize("minor", SUPPORTED_MINORS)
def test_supported_minor_renders_its_pinned_patch_never_a_dot_zero(minor: str) -> None:
    plan = make_plan(spec_module.from_data({**BASE, "cluster": {"kubernetes": minor}}))
    assert plan.kubernetes_version == KUBERNETES_PATCHES[minor]
    assert not plan.kubernetes_version.endswith(".0")
    init = next(a for a in render_all(plan) if a.path.endswith("kubeadm/init.yaml"))
    assert f"kubernetesVersion: {KUBERNETES_PATCHES[minor]}" in init.content


def _limit_memory() -> None:
    # Without a bounded read the child would eat this machine's memory; capped, it dies with
    # MemoryError (an internal error, exit 1) instead of the usage error the test expects.
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.parametrize("source", ["/dev/zero", "-"])
def test_reads_of_endless_input_are_bounded(source: str) -> None:
    program = "import sys; from kube6.cli import run; sys.exit(run(sys.argv[1:]))"
    stdin: Any = subprocess.DEVNULL
    if source == "-":
        stdin = open("/dev/zero", "rb")  # noqa: SIM115 - closed below
    try:
        done = subprocess.run(
            [sys.executable, "-c", program, "plan", "-f", source],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=_limit_memory,
            check=False,
        )
    finally:
        if stdin is not subprocess.DEVNULL:
            stdin.close()
    assert done.returncode == 2, done.stderr
    assert "larger than 1048576 bytes" in done.stderr


def test_spec_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "prefix: 2001:db8::/64\nnodes: [{name: a, address: '2001:db8::1'}]\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    assert spec_module.load(Path("-")).nodes[0].name == "a"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cluster": {"dns_domain": "-x"}}, "cluster.dns_domain: '-x' is not a DNS domain (e.g."),
        (
            {"cluster": {"control_plane_endpoint": "api example"}},
            "'api example' is not a DNS name or [address], optional :port (e.g.",
        ),
        (
            {"nodes": [{"name": "a", "address": "2001:db8:1234:5678::1", "interface": "e th0"}]},
            "nodes[0].interface: 'e th0' is not an interface name (e.g. eth0",
        ),
    ],
)
def test_pattern_fields_say_what_is_expected_with_an_example(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(SpecError) as info:
        spec_module.from_data({**BASE, **changes})
    assert message in str(info.value)
    assert "String should match pattern" not in str(info.value)
