"""Short-lived probe pods for the data-path checks in a real cluster, always deleted afterwards.

Two pods, pinned to two different nodes (one when the cluster has one), sleep while kube6 runs
the probes of `kube6.verify.datapath` in the first through `kubectl exec`; the second is the
"pod on another node" target. Both are deleted at the end, after errors and Ctrl-C too. The
image is the pinned busybox (`kube6.versions.BUSYBOX`) unless the caller names another.

    with probe_pods(client, plan, image) as pods:
        results = asyncio.run(run_datapath(pods.executor(kubeconfig), plan, pods.targets()))
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv6Address
from pathlib import Path
from typing import Any

from lightkube import ApiError, Client
from lightkube.resources.core_v1 import Pod

from kube6.errors import Kube6Error
from kube6.execute import BaseExecutor, Command, Executor, LocalExecutor, Result
from kube6.plan.model import Plan
from kube6.verify.datapath import Targets
from kube6.verify.defaults import DEFAULT_PROBE_IMAGE

NAMESPACE = "default"
LABEL = ("app.kubernetes.io/managed-by", "kube6-verify")
READY_TIMEOUT = 180.0
"""Seconds for the image pull and start; a first pull over NAT64 can be slow."""


class ProbePodError(Kube6Error):
    """A probe pod did not start."""


def probe_manifest(name: str, node: str, image: str) -> dict[str, Any]:
    """A pod that only sleeps, pinned to `node`, tolerating every taint (control planes too)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {LABEL[0]: LABEL[1]}},
        "spec": {
            # nodeName, not a selector: no scheduler decision, and the node is known for sure.
            "nodeName": node,
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": False,
            # Deleted by kube6 at the end; if kube6 is killed, it still ends by itself.
            "activeDeadlineSeconds": 900,
            "tolerations": [{"operator": "Exists"}],
            "containers": [
                {
                    "name": "probe",
                    "image": image,
                    "command": ["sleep", "900"],
                    # ping needs raw sockets; nothing else is granted.
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"], "add": ["NET_RAW"]},
                    },
                }
            ],
        },
    }


def probe_nodes(plan: Plan) -> list[str]:
    """The nodes to probe from: two workers on different nodes when possible."""
    order = [*plan.workers, *(n for n in plan.nodes if not n.is_worker)]
    names = list(dict.fromkeys(n.name for n in order))
    return names[:2]


class KubectlExec(BaseExecutor):
    """Runs commands inside a pod through `kubectl exec` (kubectl runs on this machine)."""

    def __init__(
        self,
        pod: str,
        kubeconfig: Path,
        *,
        namespace: str = NAMESPACE,
        local: Executor | None = None,
    ) -> None:
        super().__init__(f"pod {namespace}/{pod}")
        self.pod = pod
        self.namespace = namespace
        self.kubeconfig = kubeconfig
        self.local = local or LocalExecutor()

    def prefix(self) -> tuple[str, ...]:
        return (
            "kubectl",
            "--kubeconfig",
            str(self.kubeconfig),
            "exec",
            "-n",
            self.namespace,
            self.pod,
            "--",
        )

    async def _exec(
        self, argv: tuple[str, ...], stdin: str | None, timeout: float | None
    ) -> Result:
        command = Command((*self.prefix(), *argv), stdin=stdin, timeout=timeout)
        return await self.local.run(command, check=False)


@dataclass(frozen=True)
class ProbePods:
    """The running probe pods: (name, node, address) each."""

    pods: tuple[tuple[str, str, IPv6Address], ...]
    plan: Plan

    def executor(self, kubeconfig: Path, local: Executor | None = None) -> KubectlExec:
        return KubectlExec(self.pods[0][0], kubeconfig, local=local)

    def targets(self, base: Targets | None = None) -> Targets:
        """Probe targets: the first pod's node, and the second pod when there is one."""
        base = base or Targets()
        node = self.plan.node(self.pods[0][1]).address
        other = self.pods[1][2] if len(self.pods) > 1 else None
        return Targets(
            node=node,
            other_pod=other,
            outside=base.outside,
            ipv4_only_name=base.ipv4_only_name,
            ipv4_only_port=base.ipv4_only_port,
            cluster_dns=True,
            resolver=None,
        )


def _pod_state(client: Client, name: str) -> tuple[str, IPv6Address | None, str]:
    pod = client.get(Pod, name, namespace=NAMESPACE)
    status = pod.status
    phase = (status.phase if status else None) or "Pending"
    ips = [p.ip for p in (status.podIPs or [])] if status else []
    address = next((IPv6Address(ip) for ip in ips if ":" in ip), None)
    waiting = [
        f"{c.state.waiting.reason}: {c.state.waiting.message or ''}".strip(": ")
        for c in ((status.containerStatuses or []) if status else [])
        if c.state and c.state.waiting and c.state.waiting.reason
    ]
    return phase, address, "; ".join(waiting)


@contextmanager
def probe_pods(
    client: Client,
    plan: Plan,
    image: str = DEFAULT_PROBE_IMAGE,
    *,
    nodes: Sequence[str] | None = None,
    timeout: float = READY_TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[ProbePods]:
    """Create the probe pods, wait until they run, yield them, and delete them in any case."""
    token = secrets.token_hex(3)
    chosen = list(nodes) if nodes is not None else probe_nodes(plan)
    names = [f"kube6-probe-{token}-{i}" for i in range(len(chosen))]
    created: list[str] = []
    try:
        for name, node in zip(names, chosen, strict=True):
            try:
                client.create(_pod(probe_manifest(name, node, image)))
            except ApiError as exc:
                raise ProbePodError(
                    f"cannot create probe pod {NAMESPACE}/{name} on {node}: "
                    f"{exc.status.message or exc.status.reason}",
                    fix=f"the kubeconfig's user must be allowed to create, exec into and "
                    f"delete pods in {NAMESPACE!r}; or leave the in-cluster probes out with "
                    "--no-probes",
                ) from None
            created.append(name)
        running: list[tuple[str, str, IPv6Address]] = []
        deadline = clock() + timeout
        for name, node in zip(names, chosen, strict=True):
            while True:
                phase, address, why = _pod_state(client, name)
                if phase == "Running" and address is not None:
                    running.append((name, node, address))
                    break
                if phase in ("Failed", "Succeeded") or clock() > deadline:
                    raise ProbePodError(
                        f"probe pod {NAMESPACE}/{name} on {node} is {phase}"
                        + (f" ({why})" if why else "")
                        + f" after {timeout:g} s",
                        fix=f"`kubectl -n {NAMESPACE} describe pod {name}`; the image {image} "
                        "must be pullable from the node (over IPv6 or NAT64)",
                    )
                sleep(1.0)
        yield ProbePods(tuple(running), plan)
    finally:
        for name in created:
            try:
                client.delete(Pod, name, namespace=NAMESPACE, grace_period=0)
            except ApiError as exc:
                if exc.status.code != 404:
                    raise


def _pod(manifest: dict[str, Any], kind: Any = Pod) -> Any:
    # lightkube's from_dict is untyped.
    return kind.from_dict(manifest)
