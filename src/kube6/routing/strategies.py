"""The routing modes, one strategy each, in one table keyed by the mode (`STRATEGIES`).

- `ndp-proxy`: the provider treats the prefix as on-link and asks for each address by
  neighbour solicitation; ndppd on the nodes answers for pods and services.
- `routed`: the provider routes the prefix to the hosts; nothing runs on them for it.
- `bgp`: Calico's BGP speaker announces the pod blocks and services to an upstream router.

A new mode is a value of `kube6.modes.RoutingMode` and one strategy here; tests hold the table
to the enum.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv6Network
from typing import TYPE_CHECKING

from kube6.facts.network import Route
from kube6.modes import LinkModel, RoutingMode
from kube6.results import Finding, fail, ok, warn
from kube6.routing.base import RoutingStrategy

if TYPE_CHECKING:  # plan/rules.py asks the strategies: no import cycle at run time
    from kube6.plan.model import Plan, PlannedNode


class NdpProxy(RoutingStrategy):
    mode = RoutingMode.NDP_PROXY
    ndp_proxy = True
    load_balancer_entry = "the worker whose NDP proxy the provider's router heard"
    link_models = frozenset({LinkModel.ON_LINK})
    proposed_for = LinkModel.ON_LINK
    load_balancers_via_link = (
        "the provider's router asks by neighbour solicitation only for addresses of the "
        "on-link prefix, and ndppd answers there"
    )

    @property
    def host_idle(self) -> str | None:
        return None

    def judge_prefix(
        self,
        name: str,
        node: PlannedNode,
        prefix: IPv6Network,
        on_link: Sequence[Route],
        evidence: str,
    ) -> list[Finding]:
        if not on_link:
            return [
                warn(
                    name,
                    f"{prefix} is not on-link here: if the provider routes it to this host, "
                    "routing: routed is simpler and needs no NDP proxy",
                    "set routing: routed in kube6.yaml if the prefix is routed to this host; "
                    f"keep ndp-proxy if {prefix} is really on the link of {node.interface} "
                    "(the link-model check tells which from what the uplink shows)",
                    evidence,
                )
            ]
        devs = {r.dev for r in on_link}
        if node.interface not in devs:
            return [
                fail(
                    name,
                    f"{prefix} is on-link on {', '.join(sorted(devs))}, not on the uplink "
                    f"{node.interface}: the NDP proxy would answer on the wrong link",
                    f"set nodes[{node.name}].interface: {sorted(devs)[0]} in kube6.yaml",
                    evidence,
                )
            ]
        return [
            ok(
                name,
                f"{prefix} is on-link on {node.interface}: routing ndp-proxy is right (the "
                "provider's router asks for each address, so the node must answer for pods)",
                evidence,
            )
        ]

    def judge_link(
        self, name: str, found: LinkModel, why: str, fitting: RoutingMode | None, evidence: str
    ) -> list[Finding]:
        if found is LinkModel.ROUTED:
            return [
                warn(
                    name,
                    f"routed: {why}; routing is ndp-proxy, but nothing needs proxying when the "
                    "provider routes the prefix here (ndppd would answer solicitations that "
                    "never come)",
                    _set_routing(fitting),
                    evidence,
                )
            ]
        return _fits_or_unknown(self, name, found, why, evidence)

    def outside_fix(self, plan: Plan) -> str:
        return (
            "the provider's router finds pod addresses by neighbour solicitation: the NDP proxy "
            "on the pod's node must answer (`systemctl status ndppd`, its rules in "
            "/etc/ndppd.conf), and the node must forward (net.ipv6.conf.all.forwarding=1)"
        )


class Routed(RoutingStrategy):
    mode = RoutingMode.ROUTED
    link_models = frozenset({LinkModel.ROUTED})
    proposed_for = LinkModel.ROUTED
    load_balancers_via_link = "the provider routes only the nodes' own prefixes to them"
    load_balancer_entry = "the node that the provider routes the prefix to"
    # That node may run no gateway pod (a control plane): Local would drop the traffic there.
    keeps_client_address = False

    @property
    def host_idle(self) -> str | None:
        return "routing is routed: the provider routes the prefix to the hosts, nothing to proxy"

    def judge_prefix(
        self,
        name: str,
        node: PlannedNode,
        prefix: IPv6Network,
        on_link: Sequence[Route],
        evidence: str,
    ) -> list[Finding]:
        if on_link:
            # Not a warning: providers that route a /64 to a server tell you to configure the
            # address with /64 (Hetzner's servers), so this route is what a routed host has
            # too (the routed e2e journey's nodes drew this false alarm). What the provider
            # does is what the link-model check hears on the wire.
            return [
                ok(
                    name,
                    f"{prefix} is on-link on {on_link[0].dev}: this host's own configuration, "
                    "as a routed /64 has it too; whether the provider routes the prefix here is "
                    "what the link-model check tells",
                    evidence,
                )
            ]
        return [ok(name, f"{prefix} is not on-link: consistent with routing: routed", evidence)]

    def judge_link(
        self, name: str, found: LinkModel, why: str, fitting: RoutingMode | None, evidence: str
    ) -> list[Finding]:
        if found is LinkModel.ON_LINK:
            return [
                warn(
                    name,
                    f"on-link: {why}; routing is routed, so nothing would answer its "
                    "solicitations for pod and service addresses: they would be unreachable "
                    "from outside",
                    _set_routing(fitting),
                    evidence,
                )
            ]
        return _fits_or_unknown(self, name, found, why, evidence)

    def outside_fix(self, plan: Plan) -> str:
        return (
            f"the provider must route {plan.pods} to the nodes; the node must forward "
            "(net.ipv6.conf.all.forwarding=1)"
        )


class Bgp(RoutingStrategy):
    mode = RoutingMode.BGP
    bgp_peering = True
    link_models = frozenset({LinkModel.ON_LINK, LinkModel.ROUTED})
    # Calico announces a Local Service's address only from the nodes that run its pods.
    load_balancer_entry = "a node that runs the Service's pods (Calico announces it there)"

    @property
    def host_idle(self) -> str | None:
        return "routing is bgp: Calico peers with the router, nothing runs on the host for it"

    def judge_prefix(
        self,
        name: str,
        node: PlannedNode,
        prefix: IPv6Network,
        on_link: Sequence[Route],
        evidence: str,
    ) -> list[Finding]:
        return [ok(name, f"routing is bgp: {prefix} is announced by Calico", evidence)]

    def judge_link(
        self, name: str, found: LinkModel, why: str, fitting: RoutingMode | None, evidence: str
    ) -> list[Finding]:
        # The peer learns pod blocks and services over BGP whatever the link's model.
        return _fits_or_unknown(self, name, found, why, evidence)

    def outside_fix(self, plan: Plan) -> str:
        return (
            "the upstream router must learn the pod blocks over BGP: `calico-bgp-sessions` "
            "(or `kubectl get caliconodestatus -o yaml`) shows each node's session, and TCP 179 "
            "must be open to the peer"
        )


def _set_routing(mode: RoutingMode | None) -> str:
    return f"set routing: {mode} in kube6.yaml" if mode else "choose routing in kube6.yaml"


def _fits_or_unknown(
    strategy: RoutingStrategy, name: str, found: LinkModel, why: str, evidence: str
) -> list[Finding]:
    if found is LinkModel.UNKNOWN:
        # Not a fault of the host: the spec's mode stands, and the evidence says what to try.
        return [
            ok(
                name,
                f"unknown: {why}; routing {strategy.mode} is kept as kube6.yaml says",
                evidence,
            )
        ]
    return [ok(name, f"{found}: {why}; routing {strategy.mode} fits", evidence)]


STRATEGIES: dict[RoutingMode, RoutingStrategy] = {s.mode: s for s in (NdpProxy(), Routed(), Bgp())}
"""Every routing mode's strategy (tests/plan/test_routing_strategies.py: one per mode)."""


def proposed_mode(found: LinkModel) -> RoutingMode | None:
    """The routing mode proposed for a provider link model (None for `unknown`)."""
    for candidate in STRATEGIES.values():
        if candidate.proposed_for is found:
            return candidate.mode
    return None
