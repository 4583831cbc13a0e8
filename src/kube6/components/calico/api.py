"""The APIs kube6 writes Calico's resources through (policies.py says why projectcalico.org/v3)."""

from __future__ import annotations

CALICO_CRD_API = "crd.projectcalico.org/v1"
"""The API of the CRD chart's resources: what exists before the operator and its API server."""

CALICO_API = "projectcalico.org/v3"
"""API version of every Calico resource kube6 renders (see policies.py for why)."""

CALICO_API_SERVICE = "v3.projectcalico.org"
"""The APIService of CALICO_API. With the crd.projectcalico.org.v1 CRD chart it is the Calico
API server (pods the operator starts: apiServer is on in the chart's values), so kube6 applies
its Calico resources once this is Available; with Calico's projectcalico.org/v3 CRDs (after a
datastore migration) the Kubernetes API server registers the same name for them."""
