"""The host's resolvers as CoreDNS and the pods will use them: IPv6 resolvers to forward to, and
DNS64 (whether the resolvers synthesize AAAA records, with which NAT64 prefix)."""

from __future__ import annotations

from kube6.checks.context import Context, fail, ok, unknown, warn
from kube6.checks.model import CheckResult
from kube6.facts import dns


def check_resolvers(ctx: Context) -> list[CheckResult]:
    """CoreDNS forwards to dns.resolvers, or else to the node's resolv.conf servers: IPv6-only
    pods reach only IPv6 ones (an IPv4 resolver would leave every outside name unresolved)."""
    plan, facts = ctx.plan, ctx.facts
    if plan.dns_settings.resolvers:
        listed = ", ".join(map(str, plan.dns_settings.resolvers))
        return [ok(f"CoreDNS forwards to dns.resolvers of kube6.yaml: {listed}", listed)]
    if facts.resolv_conf is None:
        return [unknown(facts, dns.RESOLV_CONF.name)]
    conf = facts.resolv_conf
    if conf.stub and facts.resolved_conf is not None:
        conf = facts.resolved_conf
    ipv6, ipv4 = conf.addresses()
    seen = ", ".join(conf.nameservers) or "(none)"
    if ipv6:
        listed = ", ".join(map(str, ipv6))
        return [ok(f"the host's resolvers include IPv6 ones: {listed}", seen)]
    fix = (
        "set dns.resolvers in kube6.yaml to IPv6 resolvers (your provider's, or a DNS64 "
        "service when pods need IPv4-only names), e.g. dns: {resolvers: [2001:db8::53]}; or "
        "give the host an IPv6 nameserver"
    )
    if ipv4:
        return [
            fail(
                f"the host resolves through IPv4 only ({', '.join(ipv4)}) and kube6.yaml sets no "
                "dns.resolvers: CoreDNS would forward there, which IPv6-only pods cannot reach",
                fix,
                seen,
            )
        ]
    return [fail("the host has no nameserver that pods could use", fix, seen)]


def check_dns64(ctx: Context) -> list[CheckResult]:
    plan, facts = ctx.plan, ctx.facts
    planned = plan.dns_settings
    if facts.nat64 is None:
        return [unknown(facts, "lookup ipv4only.arpa")]
    found = facts.nat64.prefixes
    evidence = "AAAA ipv4only.arpa: " + (
        ", ".join(str(a) for a in facts.nat64.lookup.ipv6) or facts.nat64.lookup.error or "none"
    )
    if found:
        text = ", ".join(str(p) for p in found)
        if planned.nat64_prefix is not None and planned.nat64_prefix not in found:
            return [
                warn(
                    f"the resolvers synthesize with {text}, but kube6.yaml says "
                    f"dns.nat64_prefix: {planned.nat64_prefix}",
                    f"set dns.nat64_prefix: {found[0]} in kube6.yaml (or fix the resolvers)",
                    evidence,
                )
            ]
        return [ok(f"the host's resolvers do DNS64 with prefix {text}", evidence)]
    if planned.dns64 == "resolvers":
        return [
            fail(
                "kube6.yaml says the resolvers do DNS64 (dns64: resolvers), but they do not "
                "synthesize AAAA records for ipv4only.arpa",
                "point the host at DNS64 resolvers, or set dns.dns64 to coredns or off",
                evidence,
            )
        ]
    if not facts.nat64.lookup.resolved:
        return [
            warn(
                "ipv4only.arpa does not resolve at all (it has A records everywhere): the "
                "host's resolvers may not work, so DNS64 is unknown",
                "check /etc/resolv.conf (and resolvectl status); `getent ahostsv6 "
                "ipv4only.arpa` must print addresses",
                evidence,
            )
        ]
    return [ok("no DNS64: the host's resolvers return no synthesized AAAA", evidence)]
