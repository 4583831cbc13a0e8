"""`kube6 verify`: acceptance of a running cluster against its Plan.

Pure checks over fetched objects (`objects`: Kubernetes' own; each component checks its own
objects, and kube6.components.registry runs them all), a thin lightkube fetch layer (`fetch`),
getting a kubeconfig (`kubeconfig`), data-path probes run through an executor (`datapath`), and
checks from outside the cluster (`outside`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kube6.verify.objects import ClusterObjects
    from kube6.verify.result import CheckResult, Status, all_ok

__all__ = ["CheckResult", "ClusterObjects", "Status", "all_ok"]

# Loaded on first use: importing any kube6.verify module runs this file, and `fetch` would bring
# lightkube and httpx (~1 s) to commands that only need the defaults or the pure checks.
_SOURCE = {
    "ClusterObjects": "kube6.verify.objects",
    "CheckResult": "kube6.verify.result",
    "Status": "kube6.verify.result",
    "all_ok": "kube6.verify.result",
}


def __getattr__(name: str) -> Any:
    module = _SOURCE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
