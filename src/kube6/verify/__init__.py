"""`kube6 verify`: acceptance of a running cluster against its Plan.

Pure checks over fetched objects (`objects`), a thin lightkube fetch layer (`fetch`), getting a
kubeconfig (`kubeconfig`), data-path probes run through an executor (`datapath`), and checks
from outside the cluster (`outside`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kube6.verify.fetch import verify_objects
    from kube6.verify.objects import ClusterObjects, check_objects
    from kube6.verify.result import CheckResult, Status, all_ok

__all__ = ["CheckResult", "ClusterObjects", "Status", "all_ok", "check_objects", "verify_objects"]

# Loaded on first use: importing any kube6.verify module runs this file, and `fetch` would bring
# lightkube and httpx (~1 s) to commands that only need the defaults or the pure checks.
_SOURCE = {
    "verify_objects": "kube6.verify.fetch",
    "ClusterObjects": "kube6.verify.objects",
    "check_objects": "kube6.verify.objects",
    "CheckResult": "kube6.verify.result",
    "Status": "kube6.verify.result",
    "all_ok": "kube6.verify.result",
}


def __getattr__(name: str) -> Any:
    module = _SOURCE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
