"""What calico-node's confd makes of kube6's BGP objects: the real confd of the Calico snapshot
(`calico component confd`, built by tests/e2e/build-calico.sh) against the tier's API server.

kube6's own steps run for real (`network/calico-bgp`: bgp.yaml's BGPConfiguration, BGPPeer
with the password's secretKeyRef, the Role and RoleBinding for calico-node and the
CalicoNodeStatus objects, into Calico's projectcalico.org/v3 CRDs, which confd reads with
CALICO_API_GROUP=projectcalico.org/v3 as a cluster after Calico's datastore migration does;
`network/calico-bgp-password`: the Secret, and later a new password in place of the old;
`network/calico-bgp-mesh-password`: the mesh's Secret with a random password).
confd then computes, per node, the BGP configuration
it hands BIRD: its peers (the router with the planned AS and password, the other node by the
mesh with the mesh's password), the AS, and the routes it announces (the LoadBalancer range from every node, a Local
Service's address only from a node with a ready endpoint). Calico's own BIRD templates are not
in the snapshot (docs/STATUS.md), so confd renders this test's dump of that configuration
instead (`DUMP`, an inspection, not a BIRD configuration): the BIRD text made from it, and BIRD
announcing it, stay UNVERIFIED.

Stand-ins, each for what no program here does: the two Kubernetes Nodes carry the annotation
that calico-node's startup writes (their IPv6 address, from the kubelet's node IP as kube6's
Installation asks); the LoadBalancer Service's address is written into its status as
calico-kube-controllers writes it (the e2e journey proves that for real); its EndpointSlice
names a ready endpoint on one node, as the endpoint controller does for a running pod.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, IPv6Network
from pathlib import Path
from typing import Any

import pytest

from kube6 import spec
from kube6.components.calico import bgp_password
from kube6.components.registry import UP_STEPS, make_contexts
from kube6.lab.rooted import RootedExecutor
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.steps import Report, RunOptions, Status, run_steps
from tests.conftest import judged_against, unverified
from tests.e2e.artifacts import cache_root, read_manifest
from tests.k8s.controlplane import ControlPlane, TierNode
from tests.k8s.upstream import Installed, Upstream

pytestmark = pytest.mark.k8s

ROUTER = "2001:db8:1234:5678::fffe"
ROUTER_AS = 65001
PASSWORD = "confd's pass|word"
NEW_PASSWORD = "rotated pass"
NODES = {"confd-one": "2001:db8:1234:5678::31", "confd-two": "2001:db8:1234:5678::32"}
SERVICES = "kube6-confd"
"""The namespace of the test's Services."""

TOML = """[template]
src = "kube6-dump6.template"
dest = "{dest}"
prefix = "/calico"
keys = [
    "/bgp/v1/host",
    "/bgp/v1/global",
    "/staticroutesv6",
    "/rejectcidrsv6",
]
"""
DUMP = """{{- $c := getBGPConfig 6 . -}}
{"node": "{{$c.NodeName}}", "as": "{{$c.ASNumber}}", "router_id": "{{$c.RouterID}}",
 "peers": [{{range $i, $p := $c.Peers}}{{if $i}}, {{end}}{"type": "{{$p.Type}}", "ip": "{{$p.IP}}", "as": "{{$p.ASNumber}}", "password": "{{$p.Password}}"}{{end}}],
 "load_balancers": [{{range $i, $l := $c.LoadBalancerIPs}}{{if $i}}, {{end}}"{{$l}}"{{end}}],
 "static": [{{range $i, $r := ls "/staticroutesv6"}}{{if $i}}, {{end}}"{{$r}}"{{end}}]}
"""
"""kube6's inspection template (Go text/template, confd's functions): the configuration that
Calico's own bird6 templates would turn into BIRD's, as JSON. The password never contains a
double quote here."""


def calico_program() -> Path:
    """The combined calico binary of the e2e cache (tests/e2e/build-calico.sh)."""
    cache = cache_root()
    for entry in read_manifest(cache):
        if entry["kind"] == "binary" and entry["name"] == "calico":
            path: Path = cache / str(entry["path"])
            if path.is_file():
                return path
    pytest.fail(f"no calico binary in {cache}: run `bash tests/e2e/build-calico.sh`")


def bird_programs() -> Path:
    """Calico's BIRD (bird, bird6, birdcl) as tests/e2e/build-calico.sh built it."""
    found = sorted((cache_root() / "build" / "calico").glob("bird-*/bird6"))
    if not found:
        pytest.fail(f"no bird6 under {cache_root()}: run `bash tests/e2e/build-calico.sh`")
    return found[-1].parent


@pytest.fixture
def bgp_plan(tmp_path: Path) -> Plan:
    password_file = tmp_path / "bgp-password"
    password_file.write_text(PASSWORD + "\n")
    data: dict[str, Any] = {
        "prefix": "2001:db8:1234:5678::/64",
        "routing": "bgp",
        "bgp": {"peer": ROUTER, "peer_as": ROUTER_AS, "password_file": str(password_file)},
        "nodes": [
            {
                "name": name,
                "address": address,
                "roles": ["control-plane", "worker"] if i == 0 else ["worker"],
            }
            for i, (name, address) in enumerate(NODES.items())
        ],
    }
    plan = make_plan(spec.from_data(data), source="confd")
    assert plan.ok, plan.failures
    return plan


@dataclass
class Cluster:
    cp: ControlPlane
    plan: Plan
    local_address: IPv6Address
    """The Local Service's LoadBalancer address (its endpoint on confd-one)."""
    node_root: Path
    """The first control-plane node's files (its admin kubeconfig, the rendered bgp.yaml)."""


STEPS = ["network/calico-bgp", "network/calico-bgp-password", "network/calico-bgp-mesh-password"]


def up_steps(plan: Plan, root: Path, only: list[str]) -> Report:
    """`kube6 up --only ...` with this machine as the first control-plane node, for real."""
    node = plan.first_control_plane.name
    executor = RootedExecutor(TierNode(node), root)
    contexts = make_contexts(plan, {node: executor}, RunOptions(verify=True))
    return asyncio.run(run_steps(UP_STEPS, contexts, only=only))


@pytest.fixture
def cluster(
    k8s_control_plane: ControlPlane,
    installed: Installed,
    upstream: Upstream,
    bgp_plan: Plan,
    node_root: Path,
) -> Iterator[Cluster]:
    for component in ("calico", "calico-v3"):
        if component not in installed.crds:
            unverified("confd on kube6's BGP objects", upstream.missing("calico"))
    cp = k8s_control_plane
    lb = bgp_plan.load_balancers.cidr
    local_address = lb[7]
    try:
        for name, address in NODES.items():
            cp.kubectl("apply", "-f", "-", stdin=json.dumps(_node(name, address)))
        cp.kubectl("apply", "-f", "-", stdin=_namespace("calico-system"))
        cp.kubectl("apply", "-f", "-", stdin=_namespace(SERVICES))
        # kube6's own steps, for real: bgp.yaml applied, the password's Secret created, each
        # read back afterwards (converged).
        report = up_steps(bgp_plan, node_root, STEPS)
        assert [r.status for r in report.results] == [Status.CHANGED] * 3, report.results
        _service(cp, "local", local_address, "Local", endpoint_on="confd-one")
        _service(cp, "cluster", lb[8], "Cluster", endpoint_on="confd-two")
        yield Cluster(cp, bgp_plan, local_address, node_root)
    finally:
        for args in (
            ("delete", "namespace", SERVICES, "--wait=false"),
            (
                *("delete", "-n", "calico-system", "secret"),
                *(bgp_password.SECRET_NAME, bgp_password.MESH_SECRET_NAME),
            ),
            ("delete", "-n", "calico-system", "role,rolebinding", bgp_password.ROLE_NAME),
            ("delete", "bgpconfigurations.projectcalico.org", "default"),
            ("delete", "bgppeers.projectcalico.org", "kube6-upstream"),
            ("delete", "bgpfilters.projectcalico.org", "kube6-own-routes"),
            ("delete", "caliconodestatuses.projectcalico.org", "--all"),
            ("delete", "nodes", *NODES),
        ):
            cp.kubectl(*args, check=False)


def _namespace(name: str) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def _node(name: str, address: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            # What calico-node's startup writes: the node's IPv6 address (the kubelet's node IP,
            # as kube6's Installation autodetects it) with the link's prefix length.
            "annotations": {"projectcalico.org/IPv6Address": f"{address}/64"},
        },
    }


def _service(
    cp: ControlPlane, name: str, address: IPv6Address, policy: str, *, endpoint_on: str
) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": SERVICES},
        # No selector: the endpoint controller leaves the EndpointSlice below to the test.
        "spec": {
            "type": "LoadBalancer",
            "ipFamilies": ["IPv6"],
            "ports": [{"port": 80, "protocol": "TCP"}],
            "externalTrafficPolicy": policy,
        },
    }
    cp.kubectl("apply", "-f", "-", stdin=json.dumps(service))
    status = {"status": {"loadBalancer": {"ingress": [{"ip": str(address)}]}}}
    cp.kubectl(
        *("-n", SERVICES, "patch", "service", name, "--subresource=status", "--type=merge"),
        "-p",
        json.dumps(status),
    )
    endpoints = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{name}-1",
            "namespace": SERVICES,
            "labels": {"kubernetes.io/service-name": name},
        },
        "addressType": "IPv6",
        "ports": [{"port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {
                # Canonical (RFC 5952), as the API server requires.
                "addresses": [str(IPv6Address("2001:db8:1234:5678:8:2::9"))],
                "conditions": {"ready": True},
                "nodeName": endpoint_on,
            }
        ],
    }
    cp.kubectl("apply", "-f", "-", stdin=json.dumps(endpoints))


def confd_view(cluster: Cluster, node: str, workdir: Path, expect: str) -> dict[str, Any]:
    """confd's configuration for `node`, once its routes hold `expect` (confd renders again on
    every change; the Services' routes come from its route generator, after the first sync)."""
    confdir = workdir / node
    (confdir / "conf.d").mkdir(parents=True)
    (confdir / "templates").mkdir()
    out = confdir / "bgp6.json"
    (confdir / "conf.d" / "kube6-dump6.toml").write_text(TOML.format(dest=out))
    (confdir / "templates" / "kube6-dump6.template").write_text(DUMP)
    data: dict[str, Any] = json.loads(run_confd(cluster, node, confdir, out, expect))
    return data


def run_confd(cluster: Cluster, node: str, confdir: Path, out: Path, expect: str) -> str:
    """Calico's confd for `node` with the templates of `confdir`: the text of `out` once it
    holds `expect`."""
    env = {
        # BIRD's own programs for the templates' check commands (`bird6 -p`).
        "PATH": f"{bird_programs()}:{os.environ['PATH']}",
        "DATASTORE_TYPE": "kubernetes",
        "KUBECONFIG": str(cluster.cp.kubeconfig),
        "NODENAME": node,
        "NAMESPACE": bgp_password.NAMESPACE,
        "CALICO_API_GROUP": "projectcalico.org/v3",
        # What the operator sets for IPv6-only nodes with BGP (a router ID from the name).
        "CALICO_ROUTER_ID": "hash",
    }
    log = (confdir / "confd.log").open("w")
    confd = subprocess.Popen(
        [str(calico_program()), "component", "confd", "--confdir", str(confdir)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert confd.poll() is None, (confdir / "confd.log").read_text()[-3000:]
            if out.is_file() and expect in out.read_text():
                return out.read_text()
            time.sleep(0.5)
        shown = out.read_text() if out.is_file() else "(no output)"
        pytest.fail(
            f"confd for {node}: {expect!r} not in {shown}\n"
            + (confdir / "confd.log").read_text()[-3000:]
        )
    finally:
        confd.kill()
        confd.wait(timeout=10)
        log.close()


def _secret_password(cp: ControlPlane, name: str) -> str:
    """The `password` of the Secret `name` in calico-system, decoded."""
    encoded = cp.kubectl(
        *("-n", bgp_password.NAMESPACE, "get", "secret", name),
        *("-o", "jsonpath={.data.password}"),
    )
    return base64.b64decode(encoded).decode()


def _route(network: IPv6Network | IPv6Address) -> str:
    """A static route's key under /staticroutesv6: the prefix with `-` for `/`."""
    net = IPv6Network(network)
    return f"{net.network_address}-{net.prefixlen}"


def test_confd_peers_with_the_router_and_announces_the_load_balancers(
    cluster: Cluster, tmp_path: Path, installed: Installed
) -> None:
    plan = cluster.plan
    assert plan.bgp is not None
    lb = plan.load_balancers.cidr
    local = _route(cluster.local_address)
    mesh_password = _secret_password(cluster.cp, bgp_password.MESH_SECRET_NAME)
    assert len(mesh_password) == 40, "a generated password of 40 characters"
    one = confd_view(cluster, "confd-one", tmp_path, local)
    # The Local Service's address comes from the node with its endpoint, not from the other.
    two = confd_view(cluster, "confd-two", tmp_path, _route(lb))
    shown = json.dumps({"confd-one": one, "confd-two": two}, indent=1)
    print(shown.replace(PASSWORD, "***").replace(mesh_password, "***"))
    for view, node, other in ((one, "confd-one", "confd-two"), (two, "confd-two", "confd-one")):
        assert view["node"] == node
        assert view["as"] == str(plan.bgp.as_number)
        peers = {p["ip"]: p for p in view["peers"]}
        # The provider's router, with its AS and the password from kube6's Secret.
        assert peers[ROUTER]["as"] == str(ROUTER_AS), peers
        assert peers[ROUTER]["password"] == PASSWORD
        # The other node through the node-to-node mesh, in the cluster's AS, signed with the
        # mesh's password (the Secret's, generated by kube6's step).
        assert peers[NODES[other]]["as"] == str(plan.bgp.as_number), peers
        assert peers[NODES[other]]["type"] != peers[ROUTER]["type"]
        assert peers[NODES[other]]["password"] == mesh_password
        assert view["load_balancers"] == [str(lb)]
        # Announced from every node: the LoadBalancer range and the service range.
        assert _route(lb) in view["static"], view["static"]
        assert _route(plan.services) in view["static"], view["static"]
    assert local in one["static"]
    assert local not in two["static"]
    # The Cluster Service's address only within the range (every node can serve it).
    cluster_address = _route(lb[8])
    assert cluster_address not in one["static"] + two["static"]
    # IPv6-only nodes: a router ID from each node's name (CALICO_ROUTER_ID=hash), distinct.
    ids = {one["router_id"], two["router_id"]}
    assert len(ids) == 2, ids
    assert all(IPv4Address(i) != IPv4Address(0) for i in ids)
    # calico-node, as its service account, may read those Secrets and no other.
    for args, expected in (
        (("get", f"secret/{bgp_password.SECRET_NAME}"), "yes"),
        (("watch", f"secret/{bgp_password.SECRET_NAME}"), "yes"),
        (("get", f"secret/{bgp_password.MESH_SECRET_NAME}"), "yes"),
        (("watch", f"secret/{bgp_password.MESH_SECRET_NAME}"), "yes"),
        (("get", "secret/other"), "no"),
        (("update", f"secret/{bgp_password.SECRET_NAME}"), "no"),
        (("update", f"secret/{bgp_password.MESH_SECRET_NAME}"), "no"),
    ):
        calico_node = "--as=system:serviceaccount:calico-system:calico-node"
        # can-i exits 1 for "no": its answer is the output.
        answer = cluster.cp.kubectl(
            "auth", "can-i", *args, "-n", "calico-system", calico_node, check=False
        )
        assert answer.strip() == expected, args
    # A new password in the file: `up` replaces the Secret's in place, confd signs with it.
    assert plan.bgp.password_file is not None
    Path(plan.bgp.password_file).write_text(NEW_PASSWORD + "\n")
    (changed,) = up_steps(plan, cluster.node_root, ["network/calico-bgp-password"]).results
    assert changed.status is Status.CHANGED, changed.detail
    assert NEW_PASSWORD not in repr(changed)
    rotated = confd_view(cluster, "confd-one", tmp_path / "rotated", NEW_PASSWORD)
    assert {p["ip"]: p for p in rotated["peers"]}[ROUTER]["password"] == NEW_PASSWORD
    (again,) = up_steps(plan, cluster.node_root, ["network/calico-bgp-password"]).results
    assert again.status is Status.OK, again.detail
    # The mesh's password stays as it is on a later `up` (every node signs with it).
    (kept,) = up_steps(plan, cluster.node_root, ["network/calico-bgp-mesh-password"]).results
    assert kept.status is Status.OK, kept.detail
    assert _secret_password(cluster.cp, bgp_password.MESH_SECRET_NAME) == mesh_password
    for note in sorted(set(installed.notes.values())):
        judged_against("confd on kube6's BGP objects", note)
    print(
        "\nUNVERIFIED: the BIRD configuration that Calico's bird6 templates make of this "
        "(the snapshot lacks them), and BIRD announcing it"
    )


STAND_IN = Path(__file__).parents[1] / "e2e" / "calico-confd"
"""The e2e tier's stand-in for Calico's BIRD templates (its README says why)."""


def test_the_e2e_stand_in_templates_make_a_bird_configuration_bird6_takes(
    cluster: Cluster, tmp_path: Path
) -> None:
    """What the e2e tier's calico-node runs in place of Calico's templates (absent): the real
    confd renders it from kube6's objects, its check command (Calico's bird6 and bird, `-p`)
    accepts it, or confd would not write it; the peers carry their passwords, the node
    announces the ranges and keeps them out of the kernel."""
    node = "confd-one"
    confdir = tmp_path / node
    shutil.copytree(STAND_IN, confdir)
    for toml in (confdir / "conf.d").glob("*.toml"):
        # The image's paths, here under the test's folder.
        toml.write_text(toml.read_text().replace("/etc/calico/confd/config", str(confdir)))
    local = _route(cluster.local_address).replace("-", "/")
    text = run_confd(cluster, node, confdir, confdir / "bird6.cfg", local)
    plan = cluster.plan
    assert plan.bgp is not None
    lb, services = plan.load_balancers.cidr, plan.services
    mesh_password = _secret_password(cluster.cp, bgp_password.MESH_SECRET_NAME)
    print(text.replace(PASSWORD, "***").replace(mesh_password, "***"))
    assert f"neighbor {ROUTER} as {ROUTER_AS};" in text
    assert f'password "{PASSWORD}";' in text
    assert f"neighbor {NODES['confd-two']} as {plan.bgp.as_number};" in text
    assert f'password "{mesh_password}";' in text
    for announced in (lb, services, cluster.local_address):
        assert f"route {IPv6Network(announced)} blackhole;" in text
    for kept_out in (lb, services):  # of the kernel (the Local address is within the range)
        assert f"if (net ~ {kept_out}) then {{ reject; }}" in text
    # The router hears only the node's own routes: the BGPFilter's function, which confd
    # writes from kube6's BGPFilter, rejects what BIRD learned from peers; the router's
    # export filter calls it, the mesh's does not.
    function = "'bgp_kube6-own-routes_exportFilterV6'()"
    assert f"function {function} {{" in text
    assert "source ~ [ RTS_BGP ]" in text.split(f"function {function}")[1].split("}")[0]
    router_block = text.split(f"neighbor {ROUTER} as")[1].split("\nprotocol ")[0]
    assert f"{function};" in router_block
    mesh_block = text.split(f"neighbor {NODES['confd-two']} as")[1].split("\nprotocol ")[0]
    assert function not in mesh_block
    assert (confdir / "bird.cfg").read_text().startswith("# Written by Calico's confd")
    # bird6 parses it again here, as calico-node's bird6 reads it.
    bird6 = bird_programs() / "bird6"
    subprocess.run([str(bird6), "-p", "-c", str(confdir / "bird6.cfg")], check=True)
