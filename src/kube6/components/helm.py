"""The helm component: the helm binary at kube6's pin, that installs the charts (Calico, the
add-ons); its `up` step runs in the `network` phase."""

from __future__ import annotations

from kube6.components.base import ArtifactHost, Component, Use
from kube6.plan.model import Plan
from kube6.versions import HELM

DOWNLOADS = "https://get.helm.sh/"


def hosts(plan: Plan) -> list[ArtifactHost]:
    return [ArtifactHost("get.helm.sh", f"the helm {HELM.version} binary")]


def uses(plan: Plan) -> list[tuple[str, Use]]:
    return [("get.helm.sh", ("download", DOWNLOADS))]


COMPONENT = Component("helm", hosts=hosts, uses=uses)
