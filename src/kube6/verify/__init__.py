"""`kube6 verify`: acceptance of a running cluster against its Plan.

Pure checks over fetched objects (`objects`), a thin lightkube fetch layer (`fetch`), data-path
probes run through an executor (`datapath`), and checks from outside the cluster (`outside`).
"""

from kube6.verify.fetch import verify_objects
from kube6.verify.objects import ClusterObjects, check_objects
from kube6.verify.result import CheckResult, Status, all_ok

__all__ = ["CheckResult", "ClusterObjects", "Status", "all_ok", "check_objects", "verify_objects"]
