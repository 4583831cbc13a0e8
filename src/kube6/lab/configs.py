"""Configuration files of the lab's daemons, as pure functions of the lab's addresses.

unbound's dns64 module does not synthesize AAAA records from the same instance's `local-data`,
so the lab runs two unbound instances in the nat64 namespace: an authoritative one on
`[::1]:5353` that serves the lab's names, and the resolver on RESOLVER:53 that forwards
everything to it (with `dns64` in its module chain unless DNS64 is off).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path

from kube6.lab.layout import (
    AUTH_PORT,
    INTERNET_HOST,
    IPV4_HOST,
    IPV4_ONLY_NAME,
    IPV6_NAME,
    LAB_ZONE,
    NAT64_PREFIX,
    RESOLVER,
    TAYGA_ADDRESS,
    TAYGA_POOL,
)

Records = Mapping[str, Sequence[str]]
"""Name -> addresses (IPv4 gives an A record, IPv6 an AAAA record)."""

# RFC 7050: the well-known name whose A records let a client find the DNS64 prefix.
IPV4ONLY_ARPA = {"ipv4only.arpa.": ("192.0.0.170", "192.0.0.171")}


def default_records() -> dict[str, tuple[str, ...]]:
    """The lab's names: an IPv4-only host, an IPv6 host, and ipv4only.arpa."""
    return {
        IPV4_ONLY_NAME: (str(IPV4_HOST),),
        IPV6_NAME: (str(INTERNET_HOST),),
        **IPV4ONLY_ARPA,
    }


def _fqdn(name: str) -> str:
    name = name.strip().lower()
    if not name or any(c.isspace() or c in '";' for c in name):
        raise ValueError(f"{name!r} is not a DNS name for the lab's zone")
    return name if name.endswith(".") else name + "."


def _common(pidfile: Path, directory: Path) -> list[str]:
    return [
        "server:",
        f'  directory: "{directory}"',
        '  chroot: ""',
        '  username: ""',
        f'  pidfile: "{pidfile}"',
        "  use-syslog: no",
        '  logfile: ""',
        "  verbosity: 1",
        "  do-daemonize: no",
        "  num-threads: 1",
        "  so-reuseport: no",
        # Answers in a fixed order, so that two runs of the same check see the same evidence.
        "  rrset-roundrobin: no",
    ]


def unbound_authoritative(records: Records, *, workdir: Path) -> str:
    """The instance that owns the lab's names; everything else is NXDOMAIN at once."""
    data: list[str] = []
    zones = {LAB_ZONE, *IPV4ONLY_ARPA}
    for name, addresses in sorted(records.items()):
        fqdn = _fqdn(name)
        # Names outside the lab zone (e.g. a registry the checks look for) get a zone of their
        # own, or unbound's built-in default zones could shadow them.
        if not fqdn.endswith("." + LAB_ZONE):
            zones.add(fqdn)
        for text in addresses:
            address = ip_address(text)
            kind = "A" if isinstance(address, IPv4Address) else "AAAA"
            data.append(f'  local-data: "{fqdn} 60 IN {kind} {address}"')
    lines = _common(workdir / "unbound-auth.pid", workdir)
    lines += [
        f"  interface: ::1@{AUTH_PORT}",
        "  do-ip4: no",
        "  access-control: ::1/128 allow",
        # Every other name is answered NXDOMAIN, so checks of outside hosts fail fast.
        '  local-zone: "." static',
        *[f'  local-zone: "{zone}" static' for zone in sorted(zones)],
        *data,
    ]
    return "\n".join(lines) + "\n"


def unbound_resolver(*, dns64: bool, workdir: Path) -> str:
    """The lab's recursive resolver: forwards everything to the authoritative instance."""
    lines = _common(workdir / "unbound-resolver.pid", workdir)
    lines += [
        f"  interface: {RESOLVER}",
        "  access-control: ::/0 allow",
        "  do-not-query-localhost: no",
        "  prefer-ip6: yes",
        # The lab's zone is not signed and has no delegation from a real root.
        f'  module-config: "{"dns64 iterator" if dns64 else "iterator"}"',
    ]
    if dns64:
        lines.append(f"  dns64-prefix: {NAT64_PREFIX}")
    lines += [
        "  cache-max-ttl: 5",
        "  cache-max-negative-ttl: 5",
        "forward-zone:",
        '  name: "."',
        f"  forward-addr: ::1@{AUTH_PORT}",
    ]
    return "\n".join(lines) + "\n"


def tayga(*, workdir: Path, device: str = "tayga0") -> str:
    """tayga: the NAT64 prefix onto a dynamic pool of IPv4 addresses."""
    return (
        "\n".join(
            [
                f"tun-device {device}",
                f"ipv4-addr {TAYGA_ADDRESS}",
                f"prefix {NAT64_PREFIX}",
                f"dynamic-pool {TAYGA_POOL}",
                f"data-dir {workdir / 'tayga'}",
            ]
        )
        + "\n"
    )


def resolv_conf() -> str:
    """/etc/resolv.conf for the nodes and the internet host (bound over the machine's by
    `ip netns exec`)."""
    return f"# kube6 lab resolver\nnameserver {RESOLVER}\noptions timeout:1 attempts:2\n"


def sshd(*, address: IPv6Address, host_key: Path, authorized_keys: Path, pidfile: Path) -> str:
    """sshd for one lab node: key login only, on the node's address.

    root logs in with the lab's key. Other users (the sudo tests' throwaway ones) use their own
    ~/.ssh/authorized_keys: sshd reads that file as the user, who cannot enter the lab's
    root-only work directory.
    """
    return (
        "\n".join(
            [
                f"ListenAddress [{address}]:22",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {authorized_keys}",
                f"PidFile {pidfile}",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                # The keys live in a temporary directory, not in ~/.ssh.
                "StrictModes no",
                "MaxStartups 64:30:128",
                # MaxSessions stays OpenSSH's default (10), as on a real server.
                "LogLevel INFO",
                # Last: a Match block runs to the end of the file.
                "Match User *,!root",
                "    AuthorizedKeysFile .ssh/authorized_keys",
            ]
        )
        + "\n"
    )
