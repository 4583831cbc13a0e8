"""CoreDNS: the kube-system/coredns ConfigMap, when kube6 must change kubeadm's default.

Rendered only when the plan asks CoreDNS to synthesize AAAA records (`dns64: coredns`) or names
explicit upstream resolvers; otherwise kubeadm's ConfigMap stays as it is (forwarding to the
node's resolv.conf). The Corefile is kubeadm's default server block plus, where needed, the
`dns64` plugin and an explicit `forward`. CoreDNS's `reload` plugin picks the change up within
a few seconds of `kubectl apply --server-side --force-conflicts -f configmap.yaml`.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv6Address, IPv6Network
from typing import Any

from kube6 import yamlio
from kube6.plan.model import Plan
from kube6.render.base import Artifact, cluster_path, header

CONFIGMAP_PATH = cluster_path("coredns/configmap.yaml")


def needed(plan: Plan) -> bool:
    """Whether kubeadm's default Corefile must be replaced for this plan."""
    return plan.dns_settings.coredns_dns64 or bool(plan.dns_settings.resolvers)


def render(plan: Plan) -> Iterator[Artifact]:
    """`cluster/coredns/configmap.yaml` when the plan needs DNS64 in CoreDNS or own resolvers.

    Example: a spec with `dns: {nat64_prefix: 64:ff9b::/96, dns64: coredns}` yields the file;
    the built-in example yields nothing.
    """
    if needed(plan):
        yield Artifact(
            path=CONFIGMAP_PATH,
            content=configmap_yaml(plan),
            description="CoreDNS Corefile with " + _summary(plan),
        )


def _summary(plan: Plan) -> str:
    parts = []
    if plan.dns_settings.coredns_dns64:
        parts.append(f"DNS64 ({plan.dns_settings.nat64_prefix})")
    if plan.dns_settings.resolvers:
        parts.append("forwarding to " + ", ".join(map(str, plan.dns_settings.resolvers)))
    return " and ".join(parts)


def corefile(plan: Plan) -> str:
    """The Corefile text: kubeadm's default block with dns64 and forward adjusted."""
    domain = plan.dns_domain
    resolvers = plan.dns_settings.resolvers
    for resolver in resolvers:
        # Values that end up in the Corefile are typed addresses, never free text.
        assert isinstance(resolver, IPv6Address), resolver
    upstream = " ".join(str(r) for r in resolvers) if resolvers else "/etc/resolv.conf"
    lines = [
        ".:53 {",
        "    errors",
        "    health {",
        "       lameduck 5s",
        "    }",
        "    ready",
        f"    kubernetes {domain} in-addr.arpa ip6.arpa {{",
        "       pods insecure",
        "       fallthrough in-addr.arpa ip6.arpa",
        "       ttl 30",
        "    }",
        "    prometheus :9153",
    ]
    if plan.dns_settings.coredns_dns64:
        prefix = plan.dns_settings.nat64_prefix
        assert isinstance(prefix, IPv6Network), prefix
        # Synthesize only for names that have no AAAA record (no translate_all): names with
        # IPv6 keep their real addresses, IPv4-only names go through the NAT64 at this prefix.
        lines.append(f"    dns64 {prefix}")
    lines += [
        f"    forward . {upstream} {{",
        "       max_concurrent 1000",
        "    }",
        "    cache 30 {",
        f"       disable success {domain}",
        f"       disable denial {domain}",
        "    }",
        "    loop",
        "    reload",
        "    loadbalance",
        "}",
    ]
    return "\n".join(lines) + "\n"


def configmap(plan: Plan) -> dict[str, Any]:
    """The ConfigMap object as plain data."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "coredns", "namespace": "kube-system"},
        "data": {"Corefile": corefile(plan)},
    }


def configmap_yaml(plan: Plan) -> str:
    """The manifest that replaces kubeadm's CoreDNS ConfigMap."""
    what = "CoreDNS configuration (kube-system/coredns) replacing kubeadm's default Corefile."
    notes = ["#"]
    if plan.dns_settings.coredns_dns64:
        notes += [
            f"# dns64: AAAA answers for IPv4-only names are synthesized inside "
            f"{plan.dns_settings.nat64_prefix};",
            "# a NAT64 gateway must route that prefix, or the synthesized addresses lead nowhere.",
        ]
    if plan.dns_settings.resolvers:
        notes.append(
            "# forward: the resolvers named in kube6.yaml instead of the node's resolv.conf."
        )
    else:
        notes.append("# forward: the node's resolv.conf, as kubeadm configures it.")
    return header(plan, what) + "\n".join(notes) + "\n" + yamlio.dump(configmap(plan))
