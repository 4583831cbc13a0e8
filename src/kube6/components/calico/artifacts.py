"""What Calico's install fetches: its two charts, and the images the tigera-operator deploys.

The operator image is the tigera-operator chart's default (`tigeraOperator` in the chart's
values; kube6 renders none): its tag is the operator release Calico's chart names
(kube6.versions.TIGERA_OPERATOR). The Calico images are the operator's defaults (registry
`quay.io/`, image path `calico/`, tigera/operator pkg/components/images.go) unless the rendered
Installation (cluster/calico/values.yaml) sets `registry` or `imagePath`, at Calico's pin.
"""

from __future__ import annotations

from kube6.checks.model import UpstreamArtifact
from kube6.components.calico import render
from kube6.components.calico.steps import CALICO_REPO
from kube6.plan.model import Plan
from kube6.versions import CALICO, TIGERA_OPERATOR

OPERATOR_REGISTRY = "quay.io/"
"""The operator's default registry for Calico's images (pkg/components/images.go)."""
IMAGES = ("calico", "node", "third-party-cni-plugins")
"""The images operator v1.44 deploys for Calico v3.33 on Linux (its pkg/components/calico.go;
the combined `calico` image runs kube-controllers, typha, the API server and the CSI driver)."""


def artifacts(plan: Plan) -> list[UpstreamArtifact]:
    installation = render.installation(plan)
    registry = installation.get("registry", OPERATOR_REGISTRY).rstrip("/") + "/"
    path = installation.get("imagePath", "calico").strip("/")
    set_here = "registry" in installation or "imagePath" in installation
    where = (
        "registry/imagePath of the rendered Installation (cluster/calico/values.yaml)"
        if set_here
        else "the operator's default registry (the rendered Installation sets none)"
    )
    charts = [
        UpstreamArtifact("chart", name, "pin kube6.versions.CALICO", CALICO.version, CALICO_REPO)
        for name in ("crd.projectcalico.org.v1", "tigera-operator")
    ]
    operator = UpstreamArtifact(
        "image",
        f"quay.io/tigera/operator:{TIGERA_OPERATOR.version}",
        "the tigera-operator chart's default image (kube6 renders no tigeraOperator values); "
        "pin kube6.versions.TIGERA_OPERATOR",
    )
    images = [
        UpstreamArtifact(
            "image", f"{registry}{path}/{name}:{CALICO.version}", f"{where}; pin Calico version"
        )
        for name in IMAGES
    ]
    return [*charts, operator, *images]
