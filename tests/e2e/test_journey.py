"""The journey: `kube6 up` builds a real IPv6-only cluster on real nodes, as an operator runs it.

A lab with one control-plane and one worker real node (systemd-nspawn), in three scenarios
(SCENARIOS), on every release that kube6 supports (NODE_OS): `ndp-proxy` on the lab's on-link
/64 with an Ubuntu 24.04 control plane (systemd-resolved's stub in /etc/resolv.conf, ndppd from
universe) and a Debian 12 worker (ndppd from Debian's archive: each through one `{distro}`
mirror URL), `routed` with each node on its own /64 that the lab's provider routes to it, on
Debian 13, and `bgp` on the on-link /64 with the provider's router speaking BGP (BIRD 2, TCP
MD5 with the spec's password_file), on a Debian 12 control plane and an Ubuntu 22.04 worker
(clusters of two distributions: Docker's repository through one `{distro}` mirror URL);
the lab's internet host
serves the e2e cache (tests/e2e/world.py) and kube6.yaml's `mirrors` point there, as on an
air-gapped site. From the internet host, with the lab's SSH key, the CLI runs `kube6 check` ->
`kube6 up` (no step skipped) -> `kube6 verify`; then the test checks the cluster itself,
independently of kube6's verify, runs a second `up` (which must change nothing) and `kube6
reset` (each node back to its starting facts, packages aside: reset keeps them).

    sudo bash tests/e2e/build-rootfs.sh && bash tests/e2e/build-artifacts.sh \\
        && bash tests/e2e/build-calico.sh          # the cache (warm: ~30 s)
    sudo uv run pytest tests/e2e/test_journey.py  # ~4–6 min a scenario, warm, on 2 cores

The tests run in file order on one lab per scenario (module fixtures, parametrized); each later
one needs the earlier. Calico runs without BIRD in ndp-proxy (Felix programs the routes to the
other node's blocks) and routed (nodes on two links: no such routes, the provider's router).
In bgp, calico-node's BIRD peers with the router and the other node (signed) and announces
the blocks, the service and LoadBalancer ranges; its configuration comes from kube6's
stand-in for Calico's BIRD templates (tests/e2e/calico-confd/README.md: Calico's are not in
the snapshot), rendered by Calico's real confd: everything else is real.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network, ip_address
from pathlib import Path
from typing import Any

import pytest
import yaml

from kube6.components.calico.policies import EXAMPLE_OPEN_PORT
from kube6.lab import Lab, bgp_router, nodes
from kube6.lab.layout import INTERNET_HOST, IPV4_HOST, IPV4_ONLY_NAME, NAT64_PREFIX, layout
from kube6.lab.rootfs import node_os
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.spec import from_data

from .artifacts import cache_root
from .world import LAB_HOST, World, serve

pytestmark = [pytest.mark.lab, pytest.mark.e2e]

CP, WORKER = "cp1", "worker1"


def scenario(
    routing: str, cp: str, worker: str, worker_prefix: str | None = None
) -> dict[str, Any]:
    """kube6.yaml of a journey: one control-plane and one worker node, reached over SSH."""
    worker_node: dict[str, Any] = {
        "name": WORKER,
        "address": worker,
        "roles": ["worker"],
        "ssh": f"root@[{worker}]",
    }
    if worker_prefix is not None:
        worker_node["prefix"] = worker_prefix
    return {
        "prefix": "2001:db8:1234:5678::/64",
        "routing": routing,
        "nodes": [
            {"name": CP, "address": cp, "roles": ["control-plane"], "ssh": f"root@[{cp}]"},
            worker_node,
        ],
        "dns": {"nat64_prefix": str(NAT64_PREFIX)},
        # gateway, cert-manager and dashboard are issue 16 (Envoy and cert-manager's images
        # cannot be built here: manifest.json `unavailable`).
        "addons": {
            "gateway": {"enabled": False},
            "cert_manager": {"enabled": False},
            "dashboard": {"enabled": False},
        },
        "host": LAB_HOST,
    }


def bgp_scenario() -> dict[str, Any]:
    """Both nodes on the on-link /64, peering with the lab's router (BIRD 2, `Lab(bgp_router=
    True)`) at its address on the link, which the tests read from the lab's layout."""
    data = scenario("bgp", "2001:db8:1234:5678::11", "2001:db8:1234:5678::12")
    plain = make_plan(from_data({**data, "routing": "ndp-proxy"}))  # the same addresses
    router = bgp_router.peer_address(layout(plain, "0000"))
    data["bgp"] = {"peer": str(router), "peer_as": ROUTER_AS}
    return data


ROUTER_AS = 65001
BGP_PASSWORD = "journey's bgp pass"
"""The router's TCP MD5 password (bgp.password_file, written beside kube6.yaml)."""

SCENARIOS: dict[str, dict[str, Any]] = {
    # The guide's case: both nodes on one on-link /64, ndppd answers for pods and services.
    "ndp-proxy": scenario("ndp-proxy", "2001:db8:1234:5678::11", "2001:db8:1234:5678::12"),
    # Each node on its own /64 that the provider routes to it (Hetzner's servers): a Calico
    # pool per node link, nothing proxied, pods across nodes through the provider's router.
    "routed": scenario(
        "routed", "2001:db8:1234:5678::11", "2001:db8:1234:5679::12", "2001:db8:1234:5679::/64"
    ),
    # The provider's router speaks BGP (signed): calico-node's BIRD announces the pods' blocks,
    # the service and LoadBalancer ranges; nothing proxied. BIRD's configuration comes from
    # kube6's stand-in templates (tests/e2e/calico-confd: Calico's are not in the snapshot).
    "bgp": bgp_scenario(),
}
NODE_OS: dict[str, dict[str, str]] = {
    # Clusters of two distributions: Docker's repository through one `{distro}` mirror URL,
    # and in ndp-proxy each node's ndppd from its own distribution's archive through another.
    "ndp-proxy": {CP: "ubuntu-24.04", WORKER: "debian-12"},
    "routed": {CP: "debian-13", WORKER: "debian-13"},
    "bgp": {CP: "debian-12", WORKER: "ubuntu-22.04"},
}
"""The release of each scenario's nodes (kube6.lab.rootfs.OSES): every one kube6 runs on here."""
INTERNET_MTU = 1400
BUSYBOX = "docker.io/library/busybox:1.37.0"
KUBECONFIG = "/etc/kubernetes/admin.conf"


@dataclass
class Journey:
    scenario: str
    """A key of SCENARIOS: the routing mode, and the lab's provider link model with it."""
    lab: Lab
    world: World
    plan: Plan
    spec: Path
    before: dict[str, dict[str, str]]
    """Each node's facts before kube6 touched it (see `node_facts`)."""
    state: dict[str, Any]


def unready_pods(journey: Journey) -> list[str]:
    """namespace/name of every pod (not finished) with a container that is not ready (for a
    failure's message: the API server's own failure instead when it does not answer)."""
    listed = ssh(
        journey, CP, "kubectl", "--kubeconfig", KUBECONFIG, "get", "pods", "-A", "-o", "json"
    )
    if listed.returncode != 0:
        return [f"(no pods listed: {listed.stderr.strip()[-300:]})"]
    found = json.loads(listed.stdout)
    unready = []
    for pod in found["items"]:
        if pod["status"].get("phase") in ("Succeeded", "Failed"):
            continue
        statuses = pod["status"].get("containerStatuses") or []
        if not statuses or not all(c.get("ready") for c in statuses):
            unready.append(f"{pod['metadata']['namespace']}/{pod['metadata']['name']}")
    return unready


def ssh(
    journey: Journey, node: str, *argv: str, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """argv on `node` over SSH from the lab's internet, as the operator would."""
    lab = journey.lab
    return subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            lab.internet,
            "ssh",
            "-i",
            str(lab.ssh_key),
            "-o",
            f"UserKnownHostsFile={lab.known_hosts}",
            "-o",
            "BatchMode=yes",
            f"root@{journey.plan.node(node).address}",
            # ssh hands the remote shell one string: quote each word, as kube6's executor does.
            shlex.join(argv),
        ],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def kubectl(journey: Journey, *args: str, stdin: str | None = None, timeout: float = 120) -> str:
    done = ssh(
        journey, CP, "kubectl", "--kubeconfig", KUBECONFIG, *args, stdin=stdin, timeout=timeout
    )
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr.strip()}"
    return done.stdout


def kube6(journey: Journey, *args: str, timeout: float = 1500) -> subprocess.CompletedProcess[str]:
    """The CLI as the operator runs it on the lab's internet host, with the lab's SSH key.

    Its output goes to files beside the spec: when the test is stopped while kube6 still runs
    (pytest-timeout, Ctrl-C), kube6 and its SSH sessions are killed and its progress so far
    (stderr) is printed, which pytest shows with the failure: what `up` was waiting for."""
    program = Path(sys.executable).with_name("kube6")
    argv = [
        "ip", "netns", "exec", journey.lab.internet, "env", f"HOME={journey.lab.operator_home}",
        str(program), *args, "--spec", str(journey.spec),
    ]  # fmt: skip
    out, err = (journey.spec.with_name(f"kube6-{args[0]}.{name}") for name in ("stdout", "stderr"))
    with out.open("w+") as stdout, err.open("w+") as stderr:
        child = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, start_new_session=True
        )
        try:
            code = child.wait(timeout=timeout)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, 9)
            child.wait()
            stderr.seek(0)
            print(f"kube6 {shlex.join(args)} was stopped; its stderr:", file=sys.stderr)
            print(stderr.read()[-20000:], file=sys.stderr)
            raise
        stdout.seek(0)
        stderr.seek(0)
        return subprocess.CompletedProcess(argv, code, stdout.read(), stderr.read())


NODE_FACTS = {
    "sysctls": "sysctl -n net.ipv6.conf.all.forwarding net.ipv6.conf.default.forwarding "
    "net.ipv6.conf.eth0.accept_ra",
    "addresses": "ip -6 -o addr show scope global | awk '{print $2, $4}' | sort",
    "routes": "ip -6 route show | sort",
    "kube6-nft": "nft list tables | grep -E 'kube6|kube-proxy|calico' || true",
    "services": "systemctl is-active kubelet ndppd kube6-firewall 2>/dev/null; true",
    "kube6-files": "ls /etc/kube6/cluster /etc/kubernetes/kubeadm /etc/ndppd.conf "
    "/etc/sysctl.d/90-kube6.conf 2>/dev/null; true",
    "listeners": "ss -Hltn | awk '{print $4}' | grep -E ':(2379|2380|6443|10250|10257|10259)$' "
    "| sort -u; true",
}
"""What `kube6 reset` promises to restore (its help: kubeadm reset, kube6's files, the NDP
proxy, the firewall table, the sysctls it changed; packages stay installed)."""
LEFT_BY_DESIGN = {
    "all-nft": "nft list tables",
    "containerd": "systemctl is-active containerd; true",
    "folders": "ls -d /etc/kubernetes/* /var/lib/kubelet /var/lib/etcd /etc/cni/net.d 2>/dev/null; true",
}
"""Shown, not compared: containerd stays (a package), kubeadm reset leaves empty folders, and
kubelet's and Calico's iptables-nft tables (ip/ip6 filter, nat, mangle) stay."""


def node_facts(journey: Journey, node: str, facts: dict[str, str] = NODE_FACTS) -> dict[str, str]:
    return {name: ssh(journey, node, "sh", "-c", script).stdout for name, script in facts.items()}


@pytest.fixture(scope="module", params=list(SCENARIOS))
def journey(
    lab_env: None, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Journey]:
    name: str = request.param
    systems = {node: node_os(release) for node, release in NODE_OS[name].items()}
    tarballs = {node: nodes.default_rootfs(os_name=s.name) for node, s in systems.items()}
    for tarball in tarballs.values():
        if not tarball.is_file():
            pytest.fail(
                f"no rootfs tarball at {tarball}: run `sudo bash tests/e2e/build-rootfs.sh`"
            )
    data = copy.deepcopy(SCENARIOS[name])
    folder = tmp_path_factory.mktemp("journey")
    if "bgp" in data:
        password_file = folder / "bgp-password"
        password_file.write_text(BGP_PASSWORD + "\n")
        password_file.chmod(0o600)
        data["bgp"]["password_file"] = str(password_file)
    plan = make_plan(from_data(data), source=f"journey {name}")
    started = time.monotonic()
    # The internet behind a 1400-byte hop, as behind a tunnel: verify's path-mtu then proves
    # that ICMPv6 Packet Too Big reaches the pods through kube6's firewall and Calico.
    # And with the internet's noise (a scanner knocking at an unassigned address of each
    # link), from which `kube6 check` tells the provider's link model.
    lab = Lab(
        plan,
        real_nodes=True,
        node_rootfs=tarballs,
        internet_mtu=INTERNET_MTU,
        noise=True,
        bgp_router=plan.bgp is not None,
    )
    lab.up()
    try:
        world = serve(lab, cache_root())
        spec = folder / "kube6.yaml"
        mirrors = world.mirrors(*systems.values())
        spec.write_text(yaml.safe_dump({**data, "mirrors": mirrors}, sort_keys=False))
        partial = Journey(name, lab, world, plan, spec, {}, {})
        partial.before = {n.name: node_facts(partial, n.name) for n in plan.nodes}
        print(
            f"\n{name}: lab {lab.lab_id} ({lab.layout.link} links, nodes "
            f"{', '.join(f'{n} {s.name}' for n, s in systems.items())}) with the world served in "
            f"{time.monotonic() - started:.1f} s"
        )
        yield partial
    finally:
        release(lab)


def release(lab: Lab) -> None:
    """The end of an e2e lab: down, unless KUBE6_JOURNEY_KEEP asks to leave it up for a look
    at the cluster afterwards (`kube6 lab down ID` removes it)."""
    if os.environ.get("KUBE6_JOURNEY_KEEP"):
        print(f"\nKUBE6_JOURNEY_KEEP: lab {lab.lab_id} left up")
    else:
        lab.down()


def _step_results(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for rows in report["hosts"].values() for r in rows]


def test_check_passes(journey: Journey) -> None:
    done = kube6(journey, "check", "-o", "json", timeout=300)
    document = json.loads(done.stdout)
    failed = [r for r in document["results"] if r["status"] == "fail"]
    assert not failed, failed
    assert done.returncode == 0, done.stderr
    names = {(r["node"], r["name"]): r for r in document["results"]}
    # Each node's release, as its /etc/os-release says it, is one kube6 supports, and the apt
    # mirrors serve its distribution (Docker's through `{distro}`).
    for name, release in NODE_OS[journey.scenario].items():
        system = node_os(release)
        version = system.name.split("-")[1]
        shown = {"debian": f"Debian GNU/Linux {version} ", "ubuntu": f"Ubuntu {version}"}
        found = names[(name, "os-supported")]
        assert found["status"] == "ok", found
        assert found["message"].startswith(shown[system.id]), found
        found = names[(name, "apt-mirrors-distribution")]
        assert found["status"] == "ok", found
        assert f"/download.docker.com-linux-{system.id}" in found["evidence"], found
        if len({node_os(r).id for r in NODE_OS[journey.scenario].values()}) > 1:
            assert f"/apt/archive-{system.id}" in found["evidence"], found
    # The provider's link model, found on each real node by listening on its uplink.
    expected = str(journey.lab.layout.link)
    for node in journey.plan.nodes:
        found = names[(node.name, "link-model")]
        assert found["status"] == "ok", found
        assert found["message"].startswith(f"{expected}:"), found
    # The mirror, not the upstream hosts, is what the nodes must reach (air-gapped).
    assert "2001:db8:ffff::10" in names[(CP, "artifact-hosts-reachable")]["message"] + names[
        (CP, "artifact-hosts-reachable")
    ].get("evidence", "")


def test_up_builds_the_cluster(journey: Journey) -> None:
    started = time.monotonic()
    done = kube6(journey, "up", "-o", "json")
    journey.state["up_seconds"] = time.monotonic() - started
    print(f"\nkube6 up: {journey.state['up_seconds']:.0f} s")
    report = json.loads(done.stdout)
    results = _step_results(report)
    journey.state["up"] = report
    assert not [r for r in results if r["status"] == "skipped"], "a step was skipped"
    broken = [r for r in results if r["status"] not in ("ok", "changed")]
    assert not broken, json.dumps(broken, indent=1) + f"\nunready: {unready_pods(journey)}"
    assert done.returncode == 0, done.stderr[-3000:]


def test_verify_passes(journey: Journey) -> None:
    done = kube6(
        journey,
        "verify",
        "-o",
        "json",
        "--probe-outside",
        str(INTERNET_HOST),
        "--ipv4-only-name",
        IPV4_ONLY_NAME.rstrip("."),
        timeout=600,
    )
    document = json.loads(done.stdout)
    failed = [r for r in document["results"] if r["status"] == "fail"]
    journey.state["verify"] = document
    print(
        "\n"
        + "\n".join(f"{r['name']}: {r['status']} {r['message'][:100]}" for r in document["results"])
    )
    assert not failed, f"{failed}\nunready: {unready_pods(journey)}"
    assert done.returncode == 0
    # Full-size packets crossed the 1400-byte hop: Packet Too Big reached the probe pod.
    (mtu,) = [r for r in document["results"] if r["name"] == "path-mtu"]
    assert mtu["status"] == "ok", mtu
    assert "1500-byte packets" in mtu["message"], mtu


def test_nodes_ready_with_planned_addresses(journey: Journey) -> None:
    found = json.loads(kubectl(journey, "get", "nodes", "-o", "json"))
    addresses = {}
    for item in found["items"]:
        ready = {c["type"]: c["status"] for c in item["status"]["conditions"]}["Ready"]
        assert ready == "True", item["metadata"]["name"]
        internal = [a["address"] for a in item["status"]["addresses"] if a["type"] == "InternalIP"]
        addresses[item["metadata"]["name"]] = internal
    assert addresses == {n.name: [str(n.address)] for n in journey.plan.nodes}


POD = """apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: default, labels: {{app: journey, pod: {name}}}}}
spec:
  nodeName: {node}
  tolerations: [{{operator: Exists}}]
  containers:
  - name: main
    image: {image}
    command: [sh, -c, "echo journey-{name}; httpd -f -p 8080 -h /etc & sleep 3600"]
---
"""
SERVICE = """apiVersion: v1
kind: Service
metadata: {name: journey, namespace: default}
spec:
  selector: {app: journey}
  ports: [{port: 80, targetPort: 8080}]
"""


@pytest.fixture(scope="module")
def pods(journey: Journey) -> dict[str, IPv6Address]:
    """Two busybox pods, one per node, and a Service in front of them."""
    manifest = (
        POD.format(name="p-cp", node=CP, image=BUSYBOX)
        + POD.format(name="p-worker", node=WORKER, image=BUSYBOX)
        + SERVICE
    )
    kubectl(journey, "apply", "-f", "-", stdin=manifest)
    kubectl(
        journey,
        "wait",
        "--for=condition=Ready",
        "pod/p-cp",
        "pod/p-worker",
        "--timeout=180s",
        timeout=240,
    )
    found = json.loads(kubectl(journey, "get", "pods", "-l", "app=journey", "-o", "json"))
    return {p["metadata"]["name"]: IPv6Address(p["status"]["podIP"]) for p in found["items"]}


def in_pod(journey: Journey, pod: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return ssh(journey, CP, "kubectl", "--kubeconfig", KUBECONFIG, "exec", pod, "--", *argv)


def test_pods_get_addresses_from_the_planned_pool(
    journey: Journey, pods: dict[str, IPv6Address]
) -> None:
    pools = [p.cidr for p in journey.plan.pools]
    for name, address in pods.items():
        assert any(address in pool for pool in pools), (name, address, pools)
    blocks = json.loads(
        kubectl(journey, "get", "blockaffinities.crd.projectcalico.org", "-o", "json")
    )
    cidrs = [IPv6Network(b["spec"]["cidr"]) for b in blocks["items"]]
    assert cidrs
    assert all(c.prefixlen == journey.plan.block_size for c in cidrs), cidrs
    assert all(any(address in c for c in cidrs) for address in pods.values())


def test_pod_to_pod_across_nodes(journey: Journey, pods: dict[str, IPv6Address]) -> None:
    done = in_pod(journey, "p-cp", "ping", "-c", "3", "-W", "2", str(pods["p-worker"]))
    assert done.returncode == 0, done.stdout + done.stderr
    done = in_pod(
        journey,
        "p-worker",
        "wget",
        "-q",
        "-O",
        "-",
        "-T",
        "5",
        f"http://[{pods['p-cp']}]:8080/hostname",
    )
    assert done.returncode == 0, done
    assert done.stdout.strip() == "p-cp", done


def test_pod_to_service_and_cluster_dns(journey: Journey, pods: dict[str, IPv6Address]) -> None:
    service = kubectl(
        journey, "get", "service", "journey", "-o", "jsonpath={.spec.clusterIP}"
    ).strip()
    assert ip_address(service) in journey.plan.services
    name = "journey.default.svc.cluster.local"
    done = in_pod(journey, "p-cp", "nslookup", name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert service in done.stdout, done.stdout
    seen = set()
    for _ in range(8):
        got = in_pod(journey, "p-cp", "wget", "-q", "-O", "-", "-T", "5", f"http://{name}/hostname")
        assert got.returncode == 0, got.stderr
        seen.add(got.stdout.strip())
    assert seen, seen
    assert seen <= {"p-cp", "p-worker"}, seen


LOAD_BALANCER = """apiVersion: v1
kind: Service
metadata: {name: journey-lb, namespace: default}
spec:
  type: LoadBalancer
  selector: {app: journey}
  ports: [{port: 80, targetPort: 8080}]
"""


def load_balancer_address(
    journey: Journey, service: str = "journey-lb", timeout: float = 90
) -> IPv6Address:
    """The address calico-kube-controllers gave the journey's LoadBalancer `service`."""
    deadline = time.monotonic() + timeout
    while True:
        found = kubectl(
            journey,
            "get",
            "service",
            service,
            "-o",
            "jsonpath={.status.loadBalancer.ingress[*].ip}",
        ).split()
        if found:
            (address,) = found
            return IPv6Address(address)
        assert time.monotonic() < deadline, (
            f"no LoadBalancer address after {timeout:g} s; calico-kube-controllers: "
            + kubectl(journey, "-n", "calico-system", "logs", "deploy/calico-kube-controllers")[
                -3000:
            ]
        )
        time.sleep(2)


def router_routes(journey: Journey, address: IPv6Address) -> list[IPv6Address]:
    """The next hops of the lab router's BGP route (proto bird) for `address`; a route of
    several nodes lists each (multipath)."""
    lab = journey.lab
    found = lab.run(
        lab.upstream, ("ip", "-6", "route", "show", "match", str(address), "proto", "bird")
    )
    # The most specific route first, as the kernel chooses: its own line and its nexthops.
    lines = found.stdout.splitlines()
    best = max(
        (i for i, line in enumerate(lines) if line and not line[0].isspace()),
        key=lambda i: IPv6Network(lines[i].split()[0]).prefixlen,
        default=None,
    )
    assert best is not None, f"the router has no BGP route for {address}: {found.stdout!r}"
    hops: list[IPv6Address] = []
    for i, line in enumerate(lines[best:]):
        if i and not line[:1].isspace():
            break  # the next route
        words = line.split()
        if "via" in words:
            hops.append(IPv6Address(words[words.index("via") + 1]))
    return hops


def open_port_policy(port: int) -> str:
    """The README's way to open a pod port to the internet (render/policies.py
    EXAMPLE_OPEN_PORT, taken from the rendered file's comment as a user would), for the journey's
    pods and `port`."""
    lines = [
        line.removeprefix("#   ").split("  #")[0]
        for line in EXAMPLE_OPEN_PORT.splitlines()
        if line.startswith("#   ")
    ]
    policy = yaml.safe_load("\n".join(lines))
    assert policy["kind"] == "GlobalNetworkPolicy", policy
    policy["metadata"]["name"] = "kube6.open-journey"
    policy["spec"]["selector"] = 'app == "journey" && projectcalico.org/namespace == "default"'
    policy["spec"]["ingress"][0]["destination"]["ports"] = [port]
    return yaml.safe_dump(policy)


def test_pods_are_closed_to_the_internet_until_a_port_is_opened(
    journey: Journey, pods: dict[str, IPv6Address]
) -> None:
    """kube6's default policies, enforced by the real Calico: from the internet host a pod's
    port is closed while the nodes' SSH and the API server answer; the documented open-port
    policy opens that port on the pods' global addresses (upstream router -> the pod's node,
    found by ndppd's answer or by the routed prefix -> the pod); pods reach the internet all
    along."""
    lab = journey.lab
    for address in pods.values():
        assert not lab.connect(lab.internet, address, 8080, wait=3), f"{address}:8080 is open"
    for node in journey.plan.nodes:
        assert lab.connect(lab.internet, node.address, 22), f"SSH on {node.address}"
    assert lab.connect(lab.internet, journey.plan.node(CP).address, 6443), "the API server"
    done = in_pod(journey, "p-worker", "ping", "-c", "3", "-W", "2", str(INTERNET_HOST))
    assert done.returncode == 0, done.stdout + done.stderr

    kubectl(journey, "apply", "-f", "-", stdin=open_port_policy(8080))
    for address in pods.values():
        deadline = time.monotonic() + 30
        while not lab.connect(lab.internet, address, 8080, wait=3):
            assert time.monotonic() < deadline, f"{address}:8080 still closed after the policy"
            time.sleep(1)
    # Only the opened port: the pods' other traffic from outside stays closed.
    assert not any(lab.ping(lab.internet, a, wait=2, deadline=3) for a in pods.values())
    # And the way in was the planned one: with ndp-proxy the router learned each pod at its
    # node's link-layer address (ndppd answered); with routed it never asked.
    for name, address in pods.items():
        node = journey.plan.node(CP if name == "p-cp" else WORKER)
        learned = lab.neighbour_mac(lab.upstream, address)
        if node.ndp_rules:
            assert learned == lab.mac(lab.node_ns(node.name), node.interface), (name, learned)
        else:
            assert learned is None, (name, learned)
        if journey.plan.bgp is not None:
            # bgp: the router's route to the pod's block, learned by BGP from its node only
            # (kube6's BGPFilter: no node passes on what it learned from the mesh; without
            # it the first run here had the other node as a second next hop).
            hops = router_routes(journey, address)
            assert hops == [node.address], (name, address, hops)


def test_a_load_balancer_service_gets_a_global_address_that_the_internet_reaches(
    journey: Journey, pods: dict[str, IPv6Address]
) -> None:
    """Issue 17 item 1 on real nodes: a `type: LoadBalancer` Service in front of the journey's
    pods gets an address from the plan's LoadBalancer range from the real Calico LoadBalancer
    controller, and the lab's internet host reaches both pods through its declared port
    (ndp-proxy: every worker's ndppd answers the router for the range; routed: the control-plane
    node's prefix is routed to it), through the real kube-proxy and kube6's firewall, the pods'
    port opened by the documented open-port policy (the test before): kube6's default
    policies keep pods closed to the internet, and Calico judges a Service's packet before
    kube-proxy's masquerade (a first run here, before the policy, got only the pod on the
    other node). The address's other ports stay closed (the firewall)."""
    lab, plan = journey.lab, journey.plan
    kubectl(journey, "apply", "-f", "-", stdin=LOAD_BALANCER)
    address = load_balancer_address(journey)
    assert address in plan.load_balancers.cidr, (address, plan.load_balancers.cidr)
    seen: set[str] = set()
    answers = 0
    deadline = time.monotonic() + 60
    while len(seen) < 2 and answers < 20 and time.monotonic() < deadline:
        done = lab.run(
            lab.internet,
            ("curl", "-sS", "-m", "5", f"http://[{address}]/hostname"),
            check=False,
            timeout=15,
        )
        if done.returncode == 0:
            seen.add(done.stdout.strip())
            answers += 1
        else:
            time.sleep(1)
    assert seen, f"[{address}]:80 never answered the internet host: {done.stderr}"
    assert seen == {"p-cp", "p-worker"}, seen
    # Nothing else of the address: the pods' port 8080 is not a port of the Service.
    assert not lab.connect(lab.internet, address, 8080, wait=3), f"[{address}]:8080 is open"
    # The way in, as planned: ndp-proxy's router resolved the address at a node (ndppd's
    # static rule); routed, it never solicited it (the prefix is routed to the node).
    learned = lab.neighbour_mac(lab.upstream, address)
    if any(r.cidr == plan.load_balancers.cidr for n in plan.nodes for r in n.ndp_rules):
        macs = {lab.mac(lab.node_ns(n.name), n.interface) for n in plan.nodes}
        assert learned in macs, (learned, macs)
    else:
        assert learned is None, learned
    if plan.bgp is not None:
        # bgp: the range (announced by every node, serviceLoadBalancerIPs) from each node.
        via = router_routes(journey, address)
        assert sorted(via) == sorted(n.address for n in plan.nodes), via
        local_service_from_its_node_only(journey)
    # kube6 verify sees it too: the address in the range, the port answering from outside.
    done = kube6(journey, "verify", "-o", "json", "--no-probes", timeout=600)
    results = {r["name"]: r for r in json.loads(done.stdout)["results"]}
    for name in ("load-balancer-addresses", "load-balancer-reachable"):
        assert results[name]["status"] == "ok", results[name]
        assert str(address) in results[name]["evidence"], results[name]
    journey.state["load-balancer"] = {"address": str(address), "answered by": sorted(seen)}
    print(
        f"\nLoadBalancer journey-lb: [{address}]:80 answered by {sorted(seen)}, router: {learned}"
    )


LOCAL_LOAD_BALANCER = """apiVersion: v1
kind: Service
metadata: {name: journey-local, namespace: default}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {pod: p-worker}
  ports: [{port: 80, targetPort: 8080}]
"""


def local_service_from_its_node_only(journey: Journey) -> None:
    """bgp: a Service with externalTrafficPolicy Local, its one pod on the worker: its address
    is announced only from the worker (confd's static route; the gateway relies on it), so the
    router's most specific route for it goes there, and the internet host gets that pod."""
    lab, plan = journey.lab, journey.plan
    kubectl(journey, "apply", "-f", "-", stdin=LOCAL_LOAD_BALANCER)
    address = load_balancer_address(journey, "journey-local")
    worker = plan.node(WORKER).address
    deadline = time.monotonic() + 60
    while (via := router_routes(journey, address)) != [worker]:
        assert time.monotonic() < deadline, f"the router's route for {address}: via {via}"
        time.sleep(2)
    done = lab.run(
        lab.internet,
        ("curl", "-sS", "-m", "5", f"http://[{address}]/hostname"),
        check=False,
        timeout=15,
    )
    assert done.stdout.strip() == "p-worker", done.stdout + done.stderr
    print(f"\nLocal LoadBalancer journey-local: [{address}] routed via {worker} only")


def test_a_pod_reaches_the_ipv4_only_host_by_name_through_dns64_nat64(
    journey: Journey, pods: dict[str, IPv6Address]
) -> None:
    done = in_pod(journey, "p-cp", "nslookup", "-type=AAAA", IPV4_ONLY_NAME.rstrip("."))
    assert done.returncode == 0, done.stdout + done.stderr
    synthesized = [
        a for a in done.stdout.split() if a.startswith(str(NAT64_PREFIX.network_address)[:-1])
    ]
    assert synthesized, done.stdout
    assert IPv6Address(synthesized[-1]) in NAT64_PREFIX
    # The IPv4-only host's listener (port 80 of the lab) answers through tayga.
    # Debian's busybox has no `nc -z`: connect, run `true`, close (as kube6's probes do).
    got = in_pod(journey, "p-cp", "nc", "-w", "5", IPV4_ONLY_NAME.rstrip("."), "80", "-e", "true")
    assert got.returncode == 0, got.stdout + got.stderr + f" ({IPV4_HOST})"


def test_kubectl_logs_and_exec_work(journey: Journey, pods: dict[str, IPv6Address]) -> None:
    # Both go through the kubelets' serving certificates (serverTLSBootstrap, approved by
    # join/serving-certs); the worker's is the one a stale CSR would break.
    assert kubectl(journey, "logs", "p-worker").startswith("journey-p-worker")
    done = in_pod(journey, "p-worker", "hostname")
    assert done.returncode == 0, done
    assert done.stdout.strip() == "p-worker", done


def test_a_second_up_changes_nothing(journey: Journey, pods: dict[str, IPv6Address]) -> None:
    done = kube6(journey, "up", "-o", "json")
    report = json.loads(done.stdout)
    changed = [(r["host"], r["step"]) for r in _step_results(report) if r["status"] == "changed"]
    failed = [r for r in _step_results(report) if r["status"] not in ("ok", "changed")]
    assert not failed, json.dumps(failed, indent=1)
    assert changed == [], changed


def test_reset_returns_each_node_to_its_starting_facts(journey: Journey) -> None:
    done = kube6(journey, "reset", "--yes", "-o", "json", timeout=900)
    bad = [r for r in _step_results(json.loads(done.stdout)) if r["status"] == "failed"]
    assert done.returncode == 0, json.dumps(bad, indent=1) + done.stderr[-2000:]
    for node in journey.plan.nodes:
        after = node_facts(journey, node.name)
        left = node_facts(journey, node.name, LEFT_BY_DESIGN)
        print(f"\n{node.name} after reset, not compared: {json.dumps(left, indent=1)}")
        # Pods' interfaces, Felix's routes and sandbox namespaces are gone too (reset's
        # pod-network step): the routes and links compared here would show them.
        assert after == journey.before[node.name], node.name


KILLED_AFTER = (CP, "firewall/boot")
"""The progress line after which the interrupted `up` is killed: `control-plane/init` (kubeadm
init, ~30-60 s) is then running on the control plane, the worst place to lose the operator."""


def test_an_up_killed_halfway_finishes_when_run_again(journey: Journey) -> None:
    """From the reset nodes: `up` is killed with its SSH sessions (SIGKILL to its process group,
    as a dropped laptop or terminal would) a few seconds into kubeadm init; `up` run again
    converges and its verify step passes."""
    program = Path(sys.executable).with_name("kube6")
    argv = ["ip", "netns", "exec", journey.lab.internet, "env",
            f"HOME={journey.lab.operator_home}", str(program), "up", "--spec", str(journey.spec)]  # fmt: skip
    first = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    seen: list[str] = []
    try:
        assert first.stderr is not None
        for line in first.stderr:
            seen.append(line.rstrip())
            words = line.split()
            if words[:2] == list(KILLED_AFTER):
                time.sleep(6)
                break
        assert first.poll() is None, "up ended before it could be killed:\n" + "\n".join(seen)
    finally:
        with contextlib.suppress(ProcessLookupError):  # already ended: the assertion says why
            os.killpg(first.pid, 9)
        first.wait(timeout=30)
    print("\nkilled after:\n" + "\n".join(seen[-3:]))

    done = kube6(journey, "up", "-o", "json")
    results = _step_results(json.loads(done.stdout))
    broken = [r for r in results if r["status"] not in ("ok", "changed")]
    assert not broken, json.dumps(broken, indent=1) + f"\nunready: {unready_pods(journey)}"
    assert done.returncode == 0, done.stderr[-3000:]
    steps = {(r["host"], r["step"]): r["status"] for r in results}
    assert steps[(CP, "verify")] in ("ok", "changed"), steps
