"""The gateway's data path for real (issue 16 item 2, issue 17 item 1): Traefik Proxy on real
nodes, reached at an address of the LoadBalancer range.

A lab with a control-plane and two worker real nodes in `ndp-proxy` mode, like the journey's
(`test_journey.py`, whose helpers this module reuses), with the gateway on and
`addons.gateway.controller: traefik`; cert-manager and the dashboard stay off (cert-manager's
images cannot be built here: manifest.json `unavailable`), so the Gateway has its plain HTTP
listener only. From the lab's internet host (2001:db8:ffff::10), as the operator:
`kube6 up` (the Traefik image from the lab's docker.io registry, built by build-addons.sh; the
Gateway API bundle from the lab's file server) ends with the Gateway Programmed on the plan's
gateway address, which the real calico-kube-controllers gave Traefik's Service; then,
independently of kube6:

- an application's HTTPRoute answers `curl http://[gateway address]/` with its Host from the
  internet host, over IPv6, through a worker's NDP proxy (the router resolved the address at
  a worker, never at the control plane) and that worker's Traefik pod, and Traefik sees the
  client's own address (externalTrafficPolicy Local: the backend gets it in X-Forwarded-For);
- with the answering worker's NDP proxy stopped, the other worker answers for the address
  and the route still answers;
- an unknown host name gets Traefik's 404; the nodes' own addresses do not answer on port 80
  (no externalIPs any more);
- kube6's policies: Traefik's pods are open from outside on their listener ports only (its
  /ping port is closed), the application's pod stays closed; behind a LoadBalancer Service of
  its own it stays closed too until `kube6 expose` opens it (and `--remove` closes it);
- `kube6 verify` passes (gateway-ipv6 on the planned address) and a second `up` changes nothing.

    sudo bash tests/e2e/build-rootfs.sh && bash tests/e2e/build-artifacts.sh \\
        && bash tests/e2e/build-calico.sh && bash tests/e2e/build-addons.sh traefik images
    flock /work/.e2e.lock sudo uv run pytest -m e2e tests/e2e/test_gateway.py
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from ipaddress import IPv6Address
from typing import Any

import pytest
import yaml

from kube6 import disk_pressure
from kube6.components.gateway import render as gateway
from kube6.components.gateway import traefik
from kube6.lab import Lab, nodes
from kube6.lab.layout import INTERNET_HOST
from kube6.plan import make_plan
from kube6.spec import from_data

from .artifacts import cache_root, read_index
from .test_journey import BUSYBOX, Journey, kube6, kubectl, release, ssh, unready_pods
from .world import LAB_HOST, serve

pytestmark = [pytest.mark.lab, pytest.mark.e2e]

CP, CP_ADDRESS = "cp1", "2001:db8:1234:5678::11"
WORKERS = {"worker1": "2001:db8:1234:5678::12", "worker2": "2001:db8:1234:5678::13"}
"""Two workers: each answers for the gateway address, each runs a Traefik pod."""
WORKER = "worker1"
SPEC: dict[str, Any] = {
    "prefix": "2001:db8:1234:5678::/64",
    "routing": "ndp-proxy",
    "nodes": [
        {"name": CP, "address": CP_ADDRESS, "roles": ["control-plane"], "ssh": f"root@[{CP_ADDRESS}]"},
        *({"name": n, "address": a, "roles": ["worker"], "ssh": f"root@[{a}]"} for n, a in WORKERS.items()),
    ],
    "addons": {
        "gateway": {"enabled": True, "controller": "traefik"},
        "cert_manager": {"enabled": False},
        "dashboard": {"enabled": False},
    },
    "host": LAB_HOST,
}  # fmt: skip
HOST = "app.gateway.lab.example"
APP = "gw-app"
CGI = """#!/bin/sh
echo "Content-Type: text/plain"
echo
echo "app=$HOSTNAME xff=$HTTP_X_FORWARDED_FOR"
"""
"""busybox httpd hands the request's headers to a CGI program as HTTP_* variables."""


def app_manifest() -> str:
    """A busybox httpd behind a Service, and its HTTPRoute on the kube6 Gateway for HOST."""
    labels = {"app": APP}
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": APP, "namespace": "default"},
            "data": {"who": CGI},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": APP, "namespace": "default", "labels": labels},
            "spec": {
                "containers": [
                    {
                        "name": "main",
                        "image": BUSYBOX,
                        "command": ["httpd", "-f", "-p", "8080", "-h", "/www"],
                        "volumeMounts": [{"name": "cgi", "mountPath": "/www/cgi-bin"}],
                    }
                ],
                "volumes": [{"name": "cgi", "configMap": {"name": APP, "defaultMode": 0o755}}],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": APP, "namespace": "default"},
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
        },
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": APP, "namespace": "default"},
            "spec": {
                "parentRefs": [
                    {"name": gateway.GATEWAY_NAME, "namespace": gateway.GATEWAY_NAMESPACE}
                ],
                "hostnames": [HOST],
                "rules": [{"backendRefs": [{"name": APP, "port": 80}]}],
            },
        },
    ]
    return yaml.safe_dump_all(objects, sort_keys=False)


@pytest.fixture(scope="module")
def gw(lab_env: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journey]:
    tarball = nodes.default_rootfs()
    if not tarball.is_file():
        pytest.fail(f"no rootfs tarball at {tarball}: run `sudo bash tests/e2e/build-rootfs.sh`")
    cache = cache_root()
    images = {e["ref"] for e in read_index(cache, "images")}
    if traefik.IMAGE not in images:
        pytest.fail(f"{traefik.IMAGE} is not in {cache}: run `bash tests/e2e/build-addons.sh`")
    plan = make_plan(from_data(SPEC), source="gateway e2e")
    lab = Lab(plan, real_nodes=True, rootfs=tarball)
    lab.up()
    try:
        world = serve(lab, cache)
        mirrors = world.mirrors()
        # The Gateway API bundle (a github.com release asset), as build-artifacts.sh cached it.
        mirrors["downloads"].append(
            {"upstream": "https://github.com/", "mirror": world.url("files/github.com/")}
        )
        spec = tmp_path_factory.mktemp("gateway") / "kube6.yaml"
        spec.write_text(yaml.safe_dump({**SPEC, "mirrors": mirrors}, sort_keys=False))
        yield Journey("gateway-traefik", lab, world, plan, spec, {}, {})
    finally:
        release(lab)


def _results(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for rows in report["hosts"].values() for r in rows]


def curl(lab: Lab, address: str, host: str, path: str = "/") -> subprocess.CompletedProcess[str]:
    """An HTTP GET from the lab's internet host: `-w` appends the status code."""
    return lab.run(
        lab.internet,
        ("curl", "-sS", "--max-time", "5", "-H", f"Host: {host}", "-w", "\n%{http_code}",
         f"http://[{address}]{path}"),
        check=False,
        timeout=15,
    )  # fmt: skip


def test_up_installs_traefik_and_programs_the_gateway(gw: Journey) -> None:
    started = time.monotonic()
    done = kube6(gw, "up", "-o", "json")
    print(f"\nkube6 up (gateway: traefik): {time.monotonic() - started:.0f} s")
    assert done.stdout, done.stderr[-3000:]
    results = _results(json.loads(done.stdout))
    broken = [r for r in results if r["status"] not in ("ok", "changed")]
    assert not broken, json.dumps(broken, indent=1) + f"\nunready: {unready_pods(gw)}"
    assert done.returncode == 0, done.stderr[-3000:]
    steps = {r["step"]: r["status"] for r in results if r["host"] == CP}
    for step in ("addons/traefik", "addons/gateway", "addons/gateway-ready"):
        assert steps[step] == "changed", (step, steps)
    for step in ("addons/envoy-gateway", "addons/envoy-gateway-crds"):
        assert steps[step] == "ok", (step, steps)  # not applicable: nothing done


def gateway_address(journey: Journey) -> str:
    address = journey.plan.load_balancers.gateway
    assert address is not None
    assert address in journey.plan.load_balancers.cidr
    return str(address)


def test_the_gateway_is_programmed_on_the_gateway_address(gw: Journey) -> None:
    found = json.loads(
        kubectl(gw, "get", "gateway", gateway.GATEWAY_NAME, "-n", gateway.GATEWAY_NAMESPACE,
                "-o", "json")
    )  # fmt: skip
    conditions = {c["type"]: c["status"] for c in found["status"]["conditions"]}
    assert conditions == {"Accepted": "True", "Programmed": "True"}, found["status"]
    assert [a["value"] for a in found["status"]["addresses"]] == [gateway_address(gw)]
    # The address is Calico's answer to the Service's request, not a copy of node addresses.
    service = json.loads(kubectl(gw, "get", "service", traefik.NAME, "-n", traefik.NAMESPACE,
                                 "-o", "json"))  # fmt: skip
    assert [i["ip"] for i in service["status"]["loadBalancer"]["ingress"]] == [gateway_address(gw)]
    assert not service["spec"].get("externalIPs"), service["spec"]
    listeners = {li["name"]: li for li in found["status"]["listeners"]}
    http = {c["type"]: c["status"] for c in listeners[gateway.HTTP_LISTENER]["conditions"]}
    assert http["Programmed"] == "True", listeners
    gc = json.loads(kubectl(gw, "get", "gatewayclass", gateway.GATEWAY_CLASS, "-o", "json"))
    assert gc["spec"]["controllerName"] == traefik.CONTROLLER_NAME
    assert {c["type"]: c["status"] for c in gc["status"]["conditions"]}["Accepted"] == "True"
    pods = json.loads(
        kubectl(gw, "get", "pods", "-n", traefik.NAMESPACE, "-o", "json")
    )["items"]  # fmt: skip
    assert sorted(p["spec"]["nodeName"] for p in pods) == sorted(WORKERS), "one per worker"
    assert all(IPv6Address(p["status"]["podIP"]) for p in pods)


def test_traefiks_memory_on_the_worker(gw: Journey) -> None:
    """What Traefik uses, for the README's choice of default: its container's working set as
    the worker's kubelet reports it (stats/summary, through the API server); printed."""
    summary = json.loads(kubectl(gw, "get", "--raw", f"/api/v1/nodes/{WORKER}/proxy/stats/summary"))
    [pod] = [p for p in summary["pods"] if p["podRef"]["namespace"] == traefik.NAMESPACE]
    [container] = [c for c in pod["containers"] if c["name"] == "traefik"]
    working_set = int(container["memory"]["workingSetBytes"])
    print(f"\nTraefik's working set on {WORKER}: {working_set / 2**20:.1f} MiB")
    assert working_set > 0


def test_kubelets_keep_the_specs_free_disk_and_the_install_fits_its_room(gw: Journey) -> None:
    """`host.min_free_disk` (world.LAB_HOST) reached every kubelet, as it runs (configz); and
    what `up` put on each node (packages, images) fits disk_pressure.INSTALL_ROOM, the room
    that `check`'s disk-space keeps free on a node without kubelet. Each node's use printed."""
    for node in (CP, *WORKERS):
        configz = kubectl(gw, "get", "--raw", f"/api/v1/nodes/{node}/proxy/configz")
        running = json.loads(configz)["kubeletconfig"]
        assert running["evictionHard"] == {
            "memory.available": "100Mi",
            "nodefs.available": LAB_HOST["min_free_disk"],
            "nodefs.inodesFree": "5%",
            "imagefs.available": LAB_HOST["min_free_disk"],
            "imagefs.inodesFree": "5%",
        }, running["evictionHard"]
        assert running["imageGCHighThresholdPercent"] == 100
        images = ssh(gw, node, "du", "-skx", "/var/lib/containerd", "/var/lib/kubelet")
        packages = ssh(gw, node, "dpkg-query", "-W", "-f", "${Installed-Size}\\n", *PACKAGES)
        assert images.returncode == 0, images.stderr
        assert packages.returncode == 0, packages.stderr
        kib = [int(line.split()[0]) for line in images.stdout.splitlines()]
        kib += [int(size) for size in packages.stdout.split()]
        print(f"\n{node}: {sum(kib) / 2**20:.2f} GiB installed ({kib} KiB)")
        assert sum(kib) * 1024 < disk_pressure.INSTALL_ROOM


PACKAGES = ("containerd.io", "kubelet", "kubeadm", "kubectl", "kubernetes-cni")
"""What `up` installs from the apt repositories (runtime and Kubernetes packages)."""


@pytest.fixture(scope="module")
def app(gw: Journey) -> IPv6Address:
    """The application, its route accepted by Traefik; its pod's address."""
    kubectl(gw, "apply", "-f", "-", stdin=app_manifest())
    kubectl(gw, "wait", "--for=condition=Ready", f"pod/{APP}", "--timeout=180s", timeout=240)
    deadline = time.monotonic() + 60
    while True:
        route = json.loads(kubectl(gw, "get", "httproute", APP, "-o", "json"))
        parents = (route.get("status") or {}).get("parents") or []
        accepted = [
            p
            for p in parents
            if p.get("controllerName") == traefik.CONTROLLER_NAME
            and any(
                c["type"] == "Accepted" and c["status"] == "True" for c in p.get("conditions", [])
            )
        ]
        if accepted:
            break
        assert time.monotonic() < deadline, f"the HTTPRoute is not accepted: {route.get('status')}"
        time.sleep(2)
    pod = json.loads(kubectl(gw, "get", "pod", APP, "-o", "json"))
    return IPv6Address(pod["status"]["podIP"])


def _answered(lab: Lab, address: str) -> str:
    """The application's answer through the gateway at `address` (waits for Traefik to load
    the route, a moment after its status says Accepted)."""
    deadline = time.monotonic() + 60
    while True:
        got = curl(lab, address, HOST, "/cgi-bin/who")
        body, _, code = got.stdout.rpartition("\n")
        if code == "200":
            return body.strip()
        assert time.monotonic() < deadline, f"[{address}] {code}: {got.stdout} {got.stderr}"
        time.sleep(2)


def _macs(gw: Journey) -> dict[str, str]:
    """Each node's uplink MAC -> its name."""
    lab = gw.lab
    return {lab.mac(lab.node_ns(n.name), n.interface): n.name for n in gw.plan.nodes}


def test_the_route_answers_from_the_internet_at_the_gateway_address(
    gw: Journey, app: IPv6Address
) -> None:
    lab, address = gw.lab, gateway_address(gw)
    # Through Traefik, which saw the internet host's own address (externalTrafficPolicy
    # Local: no source NAT on the way to the Traefik pod of the worker it came in at).
    assert _answered(lab, address) == f"app={APP} xff={INTERNET_HOST}"
    other = curl(lab, address, "unknown.lab.example")
    assert other.stdout.rpartition("\n")[2] == "404", other.stdout
    # The provider's router resolved the address at a worker's NDP proxy, never at the
    # control plane (it runs no Traefik pod: Local traffic there would be dropped).
    learned = lab.neighbour_mac(lab.upstream, IPv6Address(address))
    assert _macs(gw).get(learned or "") in WORKERS, (learned, _macs(gw))
    # The nodes' own addresses are not the gateway's any more.
    for node in (CP_ADDRESS, *WORKERS.values()):
        assert not lab.connect(lab.internet, IPv6Address(node), 80, wait=3), node
    print(f"\ngateway [{address}]: resolved at {_macs(gw)[learned or '']}")


def test_the_other_worker_answers_while_one_is_down(gw: Journey, app: IPv6Address) -> None:
    """A worker's NDP proxy stops (as when the worker goes down): once the router asks again
    (here: its entry flushed; a real router re-solicits when the entry fails), the other
    worker answers for the address and the route answers through its Traefik pod."""
    lab, address = gw.lab, IPv6Address(gateway_address(gw))
    first = _macs(gw)[lab.neighbour_mac(lab.upstream, address) or ""]
    stopped = ssh(gw, first, "systemctl", "stop", "ndppd")
    assert stopped.returncode == 0, stopped.stderr
    try:
        lab.run(lab.upstream, ("ip", "-6", "neigh", "flush", "to", str(address)), check=False)
        assert _answered(lab, str(address)) == f"app={APP} xff={INTERNET_HOST}"
        second = _macs(gw)[lab.neighbour_mac(lab.upstream, address) or ""]
        assert second in WORKERS
        assert second != first, (first, second)
    finally:
        assert ssh(gw, first, "systemctl", "start", "ndppd").returncode == 0
    print(f"\ngateway [{address}]: {first}'s NDP proxy stopped, {second} answered")


APP_LB = f"{APP}-lb"
APP_LB_MANIFEST = f"""apiVersion: v1
kind: Service
metadata:
  name: {APP_LB}
  namespace: default
spec:
  type: LoadBalancer
  selector:
    app: {APP}
  ports:
    - name: http
      port: 80
      targetPort: 8080
"""


def test_kube6_expose_opens_a_load_balancer_services_pods_and_only_them(
    gw: Journey, app: IPv6Address
) -> None:
    """A LoadBalancer Service of the application's own, its traffic brought in at the app pod's
    worker (the other worker's NDP proxy stopped): kube6's default policies keep the pod closed
    (Calico judges the client's packet after kube-proxy's DNAT); `kube6 expose` opens it on
    the Service's target port, `--remove` closes it again. The address's other ports stay
    closed."""
    lab = gw.lab
    kubectl(gw, "apply", "-f", "-", stdin=APP_LB_MANIFEST)
    deadline = time.monotonic() + 90
    while True:
        svc = json.loads(kubectl(gw, "get", "service", APP_LB, "-o", "json"))
        ingress = (svc.get("status") or {}).get("loadBalancer", {}).get("ingress") or []
        if ingress:
            break
        assert time.monotonic() < deadline, f"no LoadBalancer address: {svc.get('status')}"
        time.sleep(2)
    address = IPv6Address(ingress[0]["ip"])
    assert address in gw.plan.load_balancers.cidr
    assert str(address) != gateway_address(gw), "the gateway's address is reserved"
    pod = json.loads(kubectl(gw, "get", "pod", APP, "-o", "json"))
    home = pod["spec"]["nodeName"]
    [other] = [w for w in WORKERS if w != home]
    assert ssh(gw, other, "systemctl", "stop", "ndppd").returncode == 0
    try:

        def reached(wait: float) -> bool:
            lab.run(lab.upstream, ("ip", "-6", "neigh", "flush", "to", str(address)), check=False)
            return lab.connect(lab.internet, address, 80, wait=wait)

        assert not reached(5), f"[{address}]:80 answered before kube6 expose"
        assert _macs(gw)[lab.neighbour_mac(lab.upstream, address) or ""] == home
        done = kube6(gw, "expose", f"default/{APP_LB}", timeout=300)
        assert done.returncode == 0, done.stderr
        assert "applied GlobalNetworkPolicy kube6.expose-default-gw-app-lb" in done.stderr
        deadline = time.monotonic() + 60
        while not reached(3):  # Felix programs the policy a moment after the API has it
            assert time.monotonic() < deadline, f"[{address}]:80 still closed after expose"
        got = curl(lab, str(address), "any", "/cgi-bin/who")
        assert got.stdout.rpartition("\n")[2] == "200", got.stdout
        # Only the Service's port: the address's others stay closed (the host firewall).
        assert not lab.connect(lab.internet, address, 8080, wait=3)
        done = kube6(gw, "expose", f"default/{APP_LB}", "--remove", timeout=300)
        assert done.returncode == 0, done.stderr
        deadline = time.monotonic() + 60
        while reached(3):
            assert time.monotonic() < deadline, f"[{address}]:80 still open after --remove"
    finally:
        assert ssh(gw, other, "systemctl", "start", "ndppd").returncode == 0
        kubectl(gw, "delete", "service", APP_LB, "--wait=true")
    print(f"\nkube6 expose: [{address}]:80 closed, opened, closed again (arriving at {home})")


def test_only_traefiks_listener_ports_are_open_from_outside(gw: Journey, app: IPv6Address) -> None:
    lab = gw.lab
    pods = json.loads(kubectl(gw, "get", "pods", "-n", traefik.NAMESPACE, "-o", "json"))["items"]
    assert len(pods) == len(WORKERS)
    for pod in pods:
        address = IPv6Address(pod["status"]["podIP"])
        # The pod's own address, through the upstream router and the worker's NDP proxy.
        assert lab.connect(lab.internet, address, 80, wait=3), f"{address}: Traefik's web"
        assert not lab.connect(lab.internet, address, traefik.PING_PORT, wait=3), "its /ping"
    assert not lab.connect(lab.internet, app, 8080, wait=3), "the application's own port"


def test_verify_passes_and_a_second_up_changes_nothing(gw: Journey, app: IPv6Address) -> None:
    # The pods' outside probe pings the lab's internet host (the default is on the internet).
    done = kube6(gw, "verify", "-o", "json", "--probe-outside", str(INTERNET_HOST), timeout=600)
    document = json.loads(done.stdout)
    print(
        "\n"
        + "\n".join(f"{r['name']}: {r['status']} {r['message'][:110]}" for r in document["results"])
    )
    failed = [r for r in document["results"] if r["status"] == "fail"]
    assert not failed, f"{failed}\nunready: {unready_pods(gw)}"
    by_name = {r["name"]: r for r in document["results"]}
    assert by_name["gateway-ipv6"]["status"] == "ok", by_name["gateway-ipv6"]
    assert gateway_address(gw) in json.dumps(by_name["gateway-ipv6"])
    again = kube6(gw, "up", "-o", "json")
    results = _results(json.loads(again.stdout))
    changed = [(r["host"], r["step"]) for r in results if r["status"] == "changed"]
    assert not [r for r in results if r["status"] not in ("ok", "changed")], again.stderr[-2000:]
    assert changed == [], changed
