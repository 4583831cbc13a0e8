"""A hosting provider's network in Linux network namespaces, with real daemons (needs root).

`Lab(plan)` builds it; see `kube6.lab.core` for the API and `kube6.lab.layout` for the addresses.
"""

from kube6.lab.core import Lab
from kube6.lab.layout import (
    INTERNET_HOST,
    IPV4_HOST,
    IPV4_ONLY_NAME,
    IPV6_NAME,
    LISTEN_PORTS,
    NAT64_PREFIX,
    RESOLVER,
    Layout,
    NodeLink,
    Pod,
)
from kube6.lab.machine import down, lab_namespaces
from kube6.lab.process import Daemon, LabError, in_namespace, missing_programs

__all__ = [
    "INTERNET_HOST",
    "IPV4_HOST",
    "IPV4_ONLY_NAME",
    "IPV6_NAME",
    "LISTEN_PORTS",
    "NAT64_PREFIX",
    "RESOLVER",
    "Daemon",
    "Lab",
    "LabError",
    "Layout",
    "NodeLink",
    "Pod",
    "down",
    "in_namespace",
    "lab_namespaces",
    "missing_programs",
]
