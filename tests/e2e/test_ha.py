"""A highly available control plane on real nodes: three control-plane nodes behind one name.

A lab with four real nodes (systemd-nspawn, Debian 12): three that are each a control-plane
node and a worker, and a worker of its own, in `ndp-proxy` mode on the lab's on-link /64, like
the journey's (`test_journey.py`, whose helpers this module reuses). `cluster.control_plane_endpoint` is a name in the lab's DNS
with an AAAA record per control-plane node, as the plan's `control-plane-endpoint` rule asks.
From the lab's internet host, as the operator: `kube6 up` (kubeadm init on cp1, then `kubeadm
join --control-plane` on cp2 and cp3 with the certificates init uploaded, `kubeadm join` on w1)
and `kube6 verify`;
then, independently of kube6:

- etcd has three started members, one per control-plane node, at their planned addresses;
- the admin kubeconfigs, kube-proxy and the worker's kubelet reach the API through the
  endpoint's name (each control plane's kubelet through its own API server, as kubeadm writes
  it);
- with cp1's power cut (its processes SIGKILLed, its uplink down: the node kubeadm init ran on,
  the first address of the name), the API still answers through the name from the internet
  host and on the survivors, and at the `kubernetes` Service's address (every control plane's
  NDP proxy answers for the service range), writes succeed (etcd keeps its quorum with two members of
  three), cp1 turns NotReady, a new pod is scheduled onto a survivor and runs, and the worker
  (whose kubelet knows only the name) is Ready and runs a pod pinned to it; `kube6
  verify` then takes the admin kubeconfig from cp2 and fails on cp1, naming it.

    sudo bash tests/e2e/build-rootfs.sh && bash tests/e2e/build-artifacts.sh \\
        && bash tests/e2e/build-calico.sh
    flock /work/.e2e.lock sudo uv run pytest -m e2e tests/e2e/test_ha.py
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from kube6.lab import Lab, nodes
from kube6.plan import make_plan
from kube6.spec import from_data

from .artifacts import cache_root
from .test_journey import BUSYBOX, KUBECONFIG, Journey, kube6, release, ssh, unready_pods
from .world import LAB_HOST, serve

pytestmark = [pytest.mark.lab, pytest.mark.e2e]

ENDPOINT = "api.ha.lab.example"
CONTROL_PLANES = {
    "cp1": "2001:db8:1234:5678::11",
    "cp2": "2001:db8:1234:5678::12",
    "cp3": "2001:db8:1234:5678::13",
}
# A worker of its own: its kubelet reaches the API only through the endpoint's name.
WORKER, WORKER_ADDRESS = "w1", "2001:db8:1234:5678::21"
SPEC: dict[str, Any] = {
    "cluster": {"control_plane_endpoint": ENDPOINT},
    "prefix": "2001:db8:1234:5678::/64",
    "routing": "ndp-proxy",
    "nodes": [
        *(
            {"name": n, "address": a, "roles": ["control-plane", "worker"], "ssh": f"root@[{a}]"}
            for n, a in CONTROL_PLANES.items()
        ),
        {
            "name": WORKER,
            "address": WORKER_ADDRESS,
            "roles": ["worker"],
            "ssh": f"root@[{WORKER_ADDRESS}]",
        },
    ],
    "addons": {
        "gateway": {"enabled": False},
        "cert_manager": {"enabled": False},
        "dashboard": {"enabled": False},
    },
    "host": LAB_HOST,
}
DOWN, SURVIVOR = "cp1", "cp2"


@pytest.fixture(scope="module")
def ha(lab_env: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journey]:
    tarball = nodes.default_rootfs()
    if not tarball.is_file():
        pytest.fail(f"no rootfs tarball at {tarball}: run `sudo bash tests/e2e/build-rootfs.sh`")
    plan = make_plan(from_data(SPEC), source="HA e2e")
    # The endpoint's AAAA records, one per control-plane node, in the lab's DNS: what the
    # operator publishes for the name.
    records = {ENDPOINT: tuple(CONTROL_PLANES.values())}
    lab = Lab(plan, real_nodes=True, rootfs=tarball, records=records)
    lab.up()
    try:
        world = serve(lab, cache_root())
        spec = tmp_path_factory.mktemp("ha") / "kube6.yaml"
        spec.write_text(yaml.safe_dump({**SPEC, "mirrors": world.mirrors()}, sort_keys=False))
        yield Journey("ha", lab, world, plan, spec, {}, {})
    finally:
        release(lab)


def kubectl_on(ha: Journey, node: str, *args: str, stdin: str | None = None) -> str:
    """kubectl with `node`'s own admin kubeconfig (kubeadm writes one on every control plane)."""
    done = ssh(ha, node, "kubectl", "--kubeconfig", KUBECONFIG, *args, stdin=stdin, timeout=120)
    assert done.returncode == 0, f"kubectl {' '.join(args)} on {node}: {done.stderr.strip()}"
    return done.stdout


def test_up_builds_three_control_planes(ha: Journey) -> None:
    started = time.monotonic()
    done = kube6(ha, "up", "-o", "json")
    print(f"\nkube6 up (three control planes): {time.monotonic() - started:.0f} s")
    report = json.loads(done.stdout)
    results = [r for rows in report["hosts"].values() for r in rows]
    assert not [r for r in results if r["status"] == "skipped"], "a step was skipped"
    broken = [r for r in results if r["status"] not in ("ok", "changed")]
    assert not broken, json.dumps(broken, indent=1) + f"\nunready: {unready_pods_on(ha)}"
    assert done.returncode == 0, done.stderr[-3000:]


def unready_pods_on(ha: Journey) -> list[str]:
    try:
        return unready_pods(ha)
    except AssertionError as exc:  # no API yet: say so instead of hiding the first failure
        return [f"(could not ask: {exc})"]


def test_verify_passes(ha: Journey) -> None:
    done = kube6(ha, "verify", "-o", "json", "--no-probes", timeout=600)
    document = json.loads(done.stdout)
    failed = [r for r in document["results"] if r["status"] == "fail"]
    assert not failed, f"{failed}\nunready: {unready_pods_on(ha)}"
    assert done.returncode == 0


def test_etcd_has_a_member_on_each_control_plane(ha: Journey) -> None:
    # etcd's JSON gateway, with the health-check client certificate kubeadm made.
    pki = "/etc/kubernetes/pki/etcd"
    address = CONTROL_PLANES[SURVIVOR]
    done = ssh(
        ha,
        SURVIVOR,
        "curl", "-sS", "--fail", "-X", "POST", "-d", "{}",
        "--cacert", f"{pki}/ca.crt",
        "--cert", f"{pki}/healthcheck-client.crt",
        "--key", f"{pki}/healthcheck-client.key",
        f"https://[{address}]:2379/v3/cluster/member/list",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    members = {m["name"]: m for m in json.loads(done.stdout)["members"]}
    assert set(members) == set(CONTROL_PLANES), members
    for name, planned in CONTROL_PLANES.items():
        assert members[name]["peerURLs"] == [f"https://[{planned}]:2380"], members[name]
    print(f"\netcd members: {sorted(members)}")


def test_clients_reach_the_api_through_the_endpoint(ha: Journey) -> None:
    """The admin kubeconfigs, kube-proxy (every node) and the worker's kubelet use the
    endpoint's name; a control plane's own kubelet uses its local API server (kubeadm's
    ControlPlaneKubeletLocalMode, found here: kubelet.conf on cp1 named cp1's address), which
    is just as available."""
    server = f"https://{ENDPOINT}:6443"
    kubelet = ssh(ha, WORKER, "grep", "-h", "server:", "/etc/kubernetes/kubelet.conf")
    assert kubelet.stdout.split() == ["server:", server], (WORKER, kubelet)
    for node, address in CONTROL_PLANES.items():
        admin = ssh(ha, node, "grep", "-h", "server:", KUBECONFIG).stdout.split()
        assert admin == ["server:", server], (node, admin)
        kubelet = ssh(ha, node, "grep", "-h", "server:", "/etc/kubernetes/kubelet.conf")
        assert kubelet.stdout.split() == ["server:", f"https://[{address}]:6443"], (node, kubelet)
    proxy = yaml.safe_load(
        kubectl_on(
            ha, SURVIVOR, "-n", "kube-system", "get", "configmap", "kube-proxy",
            "-o", r"jsonpath={.data.kubeconfig\.conf}",
        )
    )  # fmt: skip
    assert [c["cluster"]["server"] for c in proxy["clusters"]] == [server], proxy
    found = json.loads(kubectl_on(ha, SURVIVOR, "get", "nodes", "-o", "json"))
    ready = {
        item["metadata"]["name"]: {c["type"]: c["status"] for c in item["status"]["conditions"]}
        for item in found["items"]
    }
    assert {n: r["Ready"] for n, r in ready.items()} == dict.fromkeys(
        [*CONTROL_PLANES, WORKER], "True"
    )


def api_answers(ha: Journey, url: str | None = None) -> str:
    """What /readyz says from the internet host ('' when nothing answers): through the
    endpoint's name by default."""
    lab = ha.lab
    done = lab.run(
        lab.internet,
        ("curl", "-sS", "-k", "--max-time", "10", url or f"https://{ENDPOINT}:6443/readyz"),
        check=False,
        timeout=30,
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def through_the_service(ha: Journey) -> str:
    """/readyz at the `kubernetes` Service's address, from the internet host: the router
    resolves it at a control-plane node (ndppd's static rule for the service range), whose
    kube-proxy sends it to an API server."""
    return api_answers(ha, f"https://[{ha.plan.api}]/readyz")


def test_the_control_plane_survives_the_loss_of_one_node(ha: Journey) -> None:
    lab = ha.lab
    assert api_answers(ha) == "ok"
    assert through_the_service(ha) == "ok"
    lab.power_off(DOWN)
    cut = time.monotonic()
    # Through the name from outside: the client finds a survivor among the AAAA records.
    deadline = cut + 120
    while (answer := api_answers(ha)) != "ok":
        assert time.monotonic() < deadline, f"/readyz through {ENDPOINT}: {answer!r}"
        time.sleep(2)
    # The service range outlives cp1: the other control planes' ndppd answer for it too (the
    # router's entry at cp1's MAC fails and it asks again), and kube-proxy drops the dead API
    # server from the endpoints once its lease is gone.
    while (answer := through_the_service(ha)) != "ok":
        assert time.monotonic() < deadline, f"/readyz at [{ha.plan.api}]: {answer!r}"
        time.sleep(2)
    print(f"\nthe service range answered {time.monotonic() - cut:.0f} s after the power cut")
    # A write needs etcd's quorum: two of three members.
    kubectl_on(ha, SURVIVOR, "create", "configmap", "ha-after-the-cut", "--from-literal=a=b")
    # The survivors see cp1 go NotReady (kubelet's lease expires), then the pod is scheduled
    # onto a node still up (the scheduler and controller-manager leases moved there if cp1 held
    # them) and runs.
    deadline = cut + 180
    worker_states: set[str] = set()
    while (state := node_ready(ha, DOWN)) == "True":
        worker_states.add(node_ready(ha, WORKER))
        assert time.monotonic() < deadline, (
            f"{DOWN} still Ready {time.monotonic() - cut:.0f} s after"
        )
        time.sleep(5)
    print(f"\n{DOWN} {state} {time.monotonic() - cut:.0f} s after its power cut")
    # Not on the dead node: the unreachable taint keeps the scheduler away from it.
    placed = run_pod(ha, "ha-after-the-cut", {})
    assert placed in {*CONTROL_PLANES, WORKER} - {DOWN}, placed
    print(f"\na pod ran on {placed} {time.monotonic() - cut:.0f} s after the power cut")
    # The worker's kubelet has only the name: a connection to cp1 fails and it dials the name
    # again, finding a survivor. It stays (or is again) Ready and runs a pod pinned to it.
    while (state := node_ready(ha, WORKER)) != "True":
        worker_states.add(state)
        assert time.monotonic() < deadline, f"{WORKER} {state} {time.monotonic() - cut:.0f} s after"
        time.sleep(5)
    placed = run_pod(ha, "ha-on-the-worker", {"kubernetes.io/hostname": WORKER})
    assert placed == WORKER, placed
    print(
        f"\n{WORKER} Ready and running a pod {time.monotonic() - cut:.0f} s after the power cut"
        f" (its Ready states meanwhile: {sorted(worker_states)})"
    )


def node_ready(ha: Journey, node: str) -> str:
    """The node's Ready condition as the survivor's API server has it."""
    found = json.loads(kubectl_on(ha, SURVIVOR, "get", "node", node, "-o", "json"))
    conditions = {c["type"]: str(c["status"]) for c in found["status"]["conditions"]}
    return conditions["Ready"]


def run_pod(ha: Journey, name: str, node_selector: dict[str, str]) -> str:
    """Start a pod (on a node matching `node_selector`), wait until it runs, and say where."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "containers": [{"name": "main", "image": BUSYBOX, "command": ["sleep", "3600"]}],
            "nodeSelector": node_selector,
        },
    }
    kubectl_on(ha, SURVIVOR, "apply", "-f", "-", stdin=yaml.safe_dump(pod))
    kubectl_on(ha, SURVIVOR, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=240s")
    return kubectl_on(ha, SURVIVOR, "get", "pod", name, "-o", "jsonpath={.spec.nodeName}")


def test_verify_runs_with_a_control_plane_down_and_names_it(ha: Journey) -> None:
    """After the power cut (the test before): verify takes the admin kubeconfig from the next
    control plane, says it passed cp1 over, and fails on cp1 itself, not on the fetch."""
    done = kube6(ha, "verify", "-o", "json", "--no-probes", "--no-outside", timeout=600)
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"on {SURVIVOR} over SSH" in done.stderr, done.stderr[-2000:]
    assert f"not from {DOWN} (" in done.stderr, done.stderr[-2000:]
    results = {r["name"]: r for r in json.loads(done.stdout)["results"]}
    assert results["nodes-ready"]["status"] == "fail", results["nodes-ready"]
    assert DOWN in json.dumps(results["nodes-ready"]), results["nodes-ready"]
