"""Read-only host probes: an argv plus a pure parser each, gathered into HostFacts.

facts = await gather(LocalExecutor(), "node0001", lookups=["registry.k8s.io"])
"""

from kube6.facts.dns import (
    Lookup,
    Nat64,
    ResolvConf,
    discover_nat64,
    extract_ipv4,
    nat64_prefixes,
    parse_getent,
    parse_resolv_conf,
)
from kube6.facts.gather import HostFacts, gather, run_probe
from kube6.facts.network import (
    Address,
    Interface,
    Listener,
    Route,
    parse_addresses,
    parse_ipv6_conf,
    parse_listeners,
    parse_routes,
)
from kube6.facts.probe import Probe
from kube6.facts.system import (
    OsRelease,
    Service,
    Swap,
    Uname,
    parse_cgroup,
    parse_modules,
    parse_os_release,
    parse_packages,
    parse_services,
    parse_swaps,
    parse_uname,
)

__all__ = [
    "Address",
    "HostFacts",
    "Interface",
    "Listener",
    "Lookup",
    "Nat64",
    "OsRelease",
    "Probe",
    "ResolvConf",
    "Route",
    "Service",
    "Swap",
    "Uname",
    "discover_nat64",
    "extract_ipv4",
    "gather",
    "nat64_prefixes",
    "parse_addresses",
    "parse_cgroup",
    "parse_getent",
    "parse_ipv6_conf",
    "parse_listeners",
    "parse_modules",
    "parse_os_release",
    "parse_packages",
    "parse_resolv_conf",
    "parse_routes",
    "parse_services",
    "parse_swaps",
    "parse_uname",
    "run_probe",
]
