"""`kube6 expose`: open one Service's pods to the outside on its declared ports (or close them).

The policy is `kube6.components.calico.expose.open_service_policy` of the Service as the API
server has it; the cluster is found as `kube6 verify` finds it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kube6.errors import UsageError

if TYPE_CHECKING:
    from kube6.plan.model import Plan
    from kube6.usecases.verify import World


@dataclass(frozen=True)
class ExposeRequest:
    target: str
    """The Service: NAMESPACE/NAME, or NAME in `default`."""
    remove: bool = False
    """Delete the Service's policy instead (its pods closed to the outside again)."""
    dry_run: bool = False
    """Read the Service and build the policy, change nothing."""
    kubeconfig: Path | None = None
    fetch: bool = True


@dataclass(frozen=True)
class Exposed:
    policy: dict[str, Any]
    done: str
    """What happened, for the operator: applied, removed, nothing to remove, or would apply."""


def expose(
    plan: Plan,
    request: ExposeRequest,
    *,
    world: World | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> Exposed:
    import httpx
    from lightkube import ApiError, codecs
    from lightkube.generic_resource import create_global_resource
    from lightkube.resources.core_v1 import Service

    from kube6.components.calico import expose as core
    from kube6.usecases.verify import cluster_client, real_world

    namespace, name = core.parse_target(request.target)
    policies = create_global_resource(
        "projectcalico.org", "v3", "GlobalNetworkPolicy", "globalnetworkpolicies"
    )
    world = world or real_world()
    with ExitStack() as stack:
        client = cluster_client(plan, request.kubeconfig, request.fetch, world, stack, say)
        try:
            found: Any = client.get(Service, name=name, namespace=namespace)
        except ApiError as exc:
            if exc.status.code == 404:
                raise UsageError(
                    f"there is no Service {namespace}/{name}",
                    fix="name an existing Service: `kubectl get services -A`",
                ) from None
            raise _refused(exc) from None
        except httpx.HTTPError as exc:
            raise _unreachable(exc) from None
        policy = core.open_service_policy(found.to_dict())
        label = policy["metadata"]["name"]
        if request.dry_run:
            verb = "would remove" if request.remove else "would apply"
            return Exposed(policy, f"{verb} GlobalNetworkPolicy {label}")
        try:
            if request.remove:
                client.delete(policies, label)
                return Exposed(policy, f"removed GlobalNetworkPolicy {label}")
            client.apply(codecs.from_dict(policy), field_manager="kube6", force=True)
            return Exposed(policy, f"applied GlobalNetworkPolicy {label}")
        except ApiError as exc:
            if request.remove and exc.status.code == 404:
                return Exposed(policy, f"GlobalNetworkPolicy {label} was not there")
            raise _refused(exc) from None
        except httpx.HTTPError as exc:
            raise _unreachable(exc) from None


def _refused(exc: Any) -> UsageError:
    return UsageError(
        f"the API server refused: {exc.status.message}",
        fix="Calico's API server must be up (`kubectl get apiservice v3.projectcalico.org`) "
        "and the kubeconfig allowed to read Services and write GlobalNetworkPolicies",
    )


def _unreachable(exc: Exception) -> UsageError:
    return UsageError(
        f"cannot reach the API server: {exc}",
        fix="check the kubeconfig's server and that the control plane is up",
    )
