"""The Calico component: tigera-operator and its Installation (IPv6 pools, no encapsulation),
the BGP resources of `bgp` routing, kube6's default network policies, and the images and
charts they come from. Renderers in `render` and `policies`, `up` steps in `steps` (the
registry places them in the `network` phase, around CoreDNS and the nodes turning Ready),
verify's object checks in `checks` (and `kube6.verify.load_balancers` for the LoadBalancer
Services that its kube-controllers give addresses)."""

from __future__ import annotations

from kube6.components.base import ArtifactHost, Component, Use
from kube6.components.calico import artifacts, checks, policies, render, reset, steps
from kube6.plan.model import Plan
from kube6.verify import load_balancers
from kube6.versions import CALICO

CHARTS = steps.CALICO_REPO


def hosts(plan: Plan) -> list[ArtifactHost]:
    return [
        ArtifactHost("docs.tigera.io", f"Calico {CALICO.version} Helm charts (repository)"),
        # tigera-operator v1.44 pulls every Calico image from quay.io (its CalicoRegistry
        # default, pkg/components/images.go), none from Docker Hub.
        ArtifactHost("quay.io", "the tigera-operator image and Calico images"),
    ]


def uses(plan: Plan) -> list[tuple[str, Use]]:
    return [("docs.tigera.io", ("chart", CHARTS))]


COMPONENT = Component(
    "calico",
    reset=reset.RESET,
    renderers={"calico": render.render, "policies": policies.render},
    up=(*steps.INSTALL, *steps.READY_AND_POLICIES),
    hosts=hosts,
    artifacts=artifacts.artifacts,
    uses=uses,
    # Its kube-controllers give LoadBalancer Services their addresses: their check is here.
    object_checks=(*checks.CHECKS, load_balancers.check_addresses),
    kinds=checks.kinds,
    namespaces=lambda plan: checks.NAMESPACES,
)
