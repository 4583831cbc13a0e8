"""Every fact parser on recorded output (real where possible) and on odd or broken output."""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv6Address, IPv6Network
from pathlib import Path

import pytest

from kube6.errors import FactError
from kube6.facts import (
    discover_nat64,
    extract_ipv4,
    nat64_prefixes,
    parse_addresses,
    parse_cgroup,
    parse_getent,
    parse_ipv6_conf,
    parse_listeners,
    parse_modules,
    parse_os_release,
    parse_packages,
    parse_resolv_conf,
    parse_routes,
    parse_services,
    parse_swaps,
    parse_uname,
)
from kube6.facts.dns import lookup_probe

DATA = Path(__file__).parent / "data"


def data(name: str) -> str:
    return (DATA / name).read_text()


# --- os, kernel -----------------------------------------------------------------------------


def test_os_release_debian_recorded() -> None:
    release = parse_os_release(data("os-release-debian12.txt"))
    assert (release.id, release.version_id, release.codename) == ("debian", "12", "bookworm")
    assert release.pretty_name == "Debian GNU/Linux 12 (bookworm)"


def test_os_release_ubuntu() -> None:
    release = parse_os_release(data("os-release-ubuntu2404.txt"))
    assert (release.id, release.version_id, release.id_like) == ("ubuntu", "24.04", ("debian",))


@pytest.mark.parametrize(
    ("text", "why"),
    [("NAME=x\n", "no ID= line"), ("ID=x\nthis is not\n", "line 2"), ('ID="x\n', "quoting")],
)
def test_os_release_broken(text: str, why: str) -> None:
    with pytest.raises(FactError, match=why):
        parse_os_release(text)


def test_uname_recorded() -> None:
    uname = parse_uname(data("uname-this-vm.txt"))
    assert uname.hostname == "vm"
    assert uname.machine == "x86_64"
    assert uname.kernel_version[:2] == (6, 18)
    assert parse_uname("n 6.8.0-45-generic aarch64").kernel_version == (6, 8, 0)
    with pytest.raises(FactError, match="three words"):
        parse_uname("")


# --- addresses -------------------------------------------------------------------------------


def test_addresses_recorded_several_globals_deprecated_dynamic() -> None:
    interfaces = parse_addresses(data("ip-addr-multi.json"))
    uplink = next(i for i in interfaces if i.name == "uplink0")
    by = {str(a.address): a for a in uplink.addresses}
    assert by["2001:db8:1234:5678::1"].stable
    assert by["2001:db8:1234:5678::99"].deprecated  # preferred_lft 0
    assert not by["2001:db8:1234:5678::99"].stable
    assert by["2001:db8:1234:5678:abcd::7"].dynamic
    assert by["2001:db8:1234:5678:abcd::7"].stable
    assert by["fd00:10::5"].stable
    assert len(uplink.global_addresses) == 4
    link_local = next(a for a in uplink.addresses if a.scope == "link")
    assert link_local.tentative
    assert not link_local.stable
    assert by["2001:db8:1234:5678::1"].network == IPv6Network("2001:db8:1234:5678::/64")


def test_addresses_sorted_whatever_order_the_kernel_lists_them() -> None:
    # The recording lists uplink0's addresses newest first (fd00:10::5 before 2001:db8:...);
    # the same addresses in the opposite order must give the same facts.
    recorded = json.loads(data("ip-addr-multi.json"))
    reversed_ = json.loads(data("ip-addr-multi.json"))
    for entry in reversed_:
        entry["addr_info"].reverse()
    interfaces = parse_addresses(data("ip-addr-multi.json"))
    assert parse_addresses(json.dumps(reversed_)) == interfaces
    assert recorded != reversed_
    uplink = next(i for i in interfaces if i.name == "uplink0")
    assert [str(a.address) for a in uplink.addresses] == [
        "2001:db8:1234:5678::1",
        "2001:db8:1234:5678::99",
        "2001:db8:1234:5678:abcd::7",
        "fd00:10::5",
        "fe80::bcf0:d9ff:fe73:8bfd",
    ]


def test_addresses_temporary_privacy_addresses() -> None:
    (lo, uplink) = parse_addresses(data("ip-addr-temporary.json"))
    assert lo.name == "lo"
    temporary = [a for a in uplink.addresses if a.temporary]
    assert len(temporary) == 2
    assert not any(a.stable for a in temporary)
    stable = [a for a in uplink.addresses if a.stable]
    assert [str(a.address) for a in stable] == ["2001:db8:1234:5678:5054:ff:fe12:3456"]


def test_addresses_recorded_this_vm() -> None:
    interfaces = parse_addresses(data("ip-addr-this-vm.json"))
    assert [i.name for i in interfaces] == ["lo", "eth0"]
    assert interfaces[1].up


@pytest.mark.parametrize("name", ["ip-addr-no-ipv6.json", "ip-addr-no-ipv6-old-iproute2.json"])
def test_addresses_no_ipv6_at_all(name: str) -> None:
    assert parse_addresses(data(name)) == ()
    assert parse_addresses("") == ()


def test_addresses_truncated_or_wrong() -> None:
    with pytest.raises(FactError, match="not JSON"):
        parse_addresses(data("ip-addr-truncated.json"))
    with pytest.raises(FactError, match="JSON list"):
        parse_addresses('{"ifname": "eth0"}')
    with pytest.raises(FactError, match="incomplete"):
        parse_addresses('[{"ifname": "eth0", "addr_info": [{"local": "zz"}]}]')


# --- routes ---------------------------------------------------------------------------------


def test_routes_default_from_ra_recorded() -> None:
    routes = parse_routes(data("ip-route-ra.json"))
    (default,) = [r for r in routes if r.is_default]
    assert default.from_ra
    assert default.gateway == IPv6Address("fe80::1")
    assert default.dev == "uplink0"
    assert default.expires is not None
    on_link = [str(r.dst) for r in routes if r.on_link]
    assert on_link == ["2001:db8:1234:5678::/64", "fd00:10::/64"]  # not fe80::/64, not via


def test_routes_static_default_recorded() -> None:
    routes = parse_routes(data("ip-route-static.json"))
    (default,) = [r for r in routes if r.is_default]
    assert (default.proto, default.from_ra) == ("static", False)


def test_routes_boot_proto_is_implied_recorded() -> None:
    routes = parse_routes(data("ip-route-this-vm.json"))
    (default,) = [r for r in routes if r.is_default]
    assert default.proto == "boot"  # iproute2 omits `protocol` for boot


def test_routes_slaac_prefix_from_ra_is_on_link() -> None:
    routes = parse_routes(data("ip-route-ra-slaac.json"))
    assert [str(r.dst) for r in routes if r.on_link] == ["2001:db8:1234:5678::/64"]
    assert [r.dev for r in routes if r.is_default] == ["enp1s0"]


def test_routes_without_default_and_broken() -> None:
    assert not any(r.is_default for r in parse_routes(data("ip-route-no-default.json")))
    assert parse_routes("") == ()
    with pytest.raises(FactError, match="incomplete"):
        parse_routes('[{"dev": "eth0"}]')
    with pytest.raises(FactError, match="not JSON"):
        parse_routes('[{"dst": "default", "dev"')


def test_routes_host_route_and_unreachable() -> None:
    routes = parse_routes(
        '[{"dst":"2001:db8::5","dev":"cali1"},'
        '{"type":"unreachable","dst":"2001:db8:8:2::/104","dev":"lo","protocol":"bird"}]'
    )
    assert routes[0].dst == IPv6Network("2001:db8::5/128")
    assert not any(r.on_link for r in routes)


# --- sysctls --------------------------------------------------------------------------------


def test_ipv6_conf_recorded() -> None:
    conf = parse_ipv6_conf(data("sysctl-netns.txt"))
    assert conf["all"]["forwarding"] == 1
    assert conf["uplink0"]["accept_ra"] == 2
    this_vm = parse_ipv6_conf(data("sysctl-this-vm.txt"))
    assert this_vm["default"]["forwarding"] == 0
    assert this_vm["eth0"]["accept_ra"] == 0


def test_ipv6_conf_odd() -> None:
    assert parse_ipv6_conf("") == {}
    vlan = parse_ipv6_conf("/proc/sys/net/ipv6/conf/eth0.100/accept_ra:2\n")
    assert vlan == {"eth0.100": {"accept_ra": 2}}
    with pytest.raises(FactError, match="not a number"):
        parse_ipv6_conf("/proc/sys/net/ipv6/conf/all/forwarding:yes\n")
    with pytest.raises(FactError, match="cannot read"):
        parse_ipv6_conf("grep: /proc/sys/net/ipv6/conf: No such file\n")


# --- modules, swap, cgroup ------------------------------------------------------------------


def test_modules_recorded_builtin_kernel() -> None:
    # This VM's kernel has no loadable modules: /proc/modules is missing, /sys/module is not.
    modules = parse_modules(data("modules-this-vm.txt"))
    assert "overlay" in modules


def test_modules_recorded_lab_node_without_sys_module() -> None:
    # A systemd-nspawn node on the same kernel: no /proc/modules, no /sys/module, no
    # /lib/modules; only the kernel's configuration and /proc/filesystems say what is built in.
    modules = parse_modules(data("modules-lab-node.txt"))
    assert {"overlay", "nf_tables"} <= modules


def test_modules_config_and_filesystems() -> None:
    text = (
        "== proc\n== sys\n== builtin\n== config\nCONFIG_NF_TABLES=y\nCONFIG_NF_TABLES_INET=y\n"
        "CONFIG_OVERLAY_FS=m\n== fs\nnodev\tsysfs\n\text4\nnodev\toverlay\n"
    )
    # =m is a loadable module (it counts once loaded, from /proc/modules); unknown symbols are
    # ignored; every filesystem the kernel knows is its module.
    assert parse_modules(text) == {"nf_tables", "sysfs", "ext4", "overlay"}
    assert "overlay" not in parse_modules("== config\nCONFIG_OVERLAY_FS=m\n")


def test_modules_sections() -> None:
    text = (
        "== proc\nnf_tables 348160 0 - Live 0x0\nbr-netfilter 32768 0 - Live 0x0\n"
        "== sys\nip6_tables\n== builtin\nkernel/fs/overlayfs/overlay.ko\n"
    )
    assert parse_modules(text) == {"nf_tables", "br_netfilter", "ip6_tables", "overlay"}
    with pytest.raises(FactError, match="section"):
        parse_modules("overlay\n")


def test_swaps() -> None:
    assert parse_swaps(data("proc-swaps-none.txt")) == ()
    (swap,) = parse_swaps(data("proc-swaps-one.txt"))
    assert (swap.device, swap.kind, swap.size_kib) == ("/swap.img", "file", 4194300)
    with pytest.raises(FactError, match="header"):
        parse_swaps("")
    with pytest.raises(FactError, match="cannot read"):
        parse_swaps("Filename Type Size Used Priority\n/dev/sda2 partition\n")


def test_disks_name_each_path_that_exists_with_its_filesystem() -> None:
    from kube6.facts.system import CONTAINERD_ROOT, KUBELET_ROOT, filesystem_of, parse_disks

    # containerd on its own disk, kubelet's root on the root filesystem (as /var/lib).
    disks = parse_disks(
        "/var/lib/kubelet 1a 4096 1000 250\n"
        "/var/lib/containerd 2b 4096 5000 4000\n"
        "/var/lib 1a 4096 1000 250\n"
    )
    containerd = filesystem_of(disks, CONTAINERD_ROOT)
    assert containerd is not None
    assert (containerd.fs_id, containerd.size, containerd.available) == (
        "2b",
        5000 * 4096,
        4000 * 4096,
    )
    fresh = parse_disks(data("stat-f-fresh.txt"))
    kubelet = filesystem_of(fresh, KUBELET_ROOT)
    assert kubelet is not None
    assert kubelet.path == "/var/lib"
    with pytest.raises(FactError, match="none of"):
        parse_disks("")
    with pytest.raises(FactError, match="cannot read the line"):
        parse_disks("/var/lib 1a 4096 many 250\n")


def test_cgroup() -> None:
    assert parse_cgroup("cgroup2fs\n") == 2
    assert parse_cgroup("tmpfs\n") == 1
    with pytest.raises(FactError, match="cgroup2fs"):
        parse_cgroup("ext2/ext3\n")


# --- listeners ------------------------------------------------------------------------------


def test_listeners_recorded() -> None:
    listeners = parse_listeners(data("ss-listening.txt"))
    pairs = {(x.address, x.port) for x in listeners}
    assert pairs == {
        ("0.0.0.0", 22),
        ("127.0.0.1", 10250),
        ("*", 6443),
        ("::1", 53),
        ("2001:db8:1234:5678::1", 2380),
        ("::1", 2379),
        ("::", 22),
    }
    by_port = {x.port: x for x in listeners}
    assert by_port[6443].wildcard
    assert by_port[2379].loopback_only
    assert parse_listeners(data("ss-empty.txt")) == ()
    assert parse_listeners(data("ss-this-vm.txt"))[0].port == 2024


def test_listeners_broken() -> None:
    with pytest.raises(FactError, match="cannot read"):
        parse_listeners("State Recv-Q Send-Q Local Address:Port Peer Address:Port\n")
    with pytest.raises(FactError, match="no port"):
        parse_listeners("LISTEN 0 128 [::] [::]:*\n")


# --- packages, services ---------------------------------------------------------------------


def test_packages() -> None:
    recorded = parse_packages(data("dpkg-this-vm.txt"))
    assert recorded["iproute2"] == "6.1.0-3"
    mixed = parse_packages(data("dpkg-mixed.txt"))
    assert mixed == {"containerd": "1.7.24~ds1-6+b1", "libc6": "2.36-9+deb12u10"}  # rc left out
    with pytest.raises(FactError, match="cannot read"):
        parse_packages("ii containerd 1.7\n")


def test_held_packages_are_installed() -> None:
    # `apt-mark hold` (kube6 holds what it installs) turns `ii` into `hi`. Read as absent, every
    # second `kube6 up` found containerd.io missing (runtime/install never converged) and the
    # ports check called the node's own cluster a stranger's. Recorded on a lab node.
    held = "hi \tkubelet\t1.37.2-1.1\nii \tcurl\t7.88.1-10+deb12u14\nrc \tndppd\t0.2.5-6\n"
    assert parse_packages(held) == {"kubelet": "1.37.2-1.1", "curl": "7.88.1-10+deb12u14"}
    assert parse_packages("un \tkubectl\t\n") == {}


def test_services() -> None:
    services = parse_services(data("systemctl-show.txt"))
    assert services["containerd"].running
    assert services["containerd"].enabled == "enabled"
    assert not services["kubelet"].exists
    assert services["ndppd"].active == "failed"
    assert parse_services("") == {}
    with pytest.raises(FactError, match="Id="):
        parse_services("LoadState=loaded\n")
    with pytest.raises(FactError, match="cannot read"):
        parse_services("Id=x.service\ngarbage\n")


# --- resolvers, lookups, NAT64 --------------------------------------------------------------


def test_resolv_conf() -> None:
    stub = parse_resolv_conf(data("resolv-resolved-stub.txt"))
    assert stub.stub
    assert stub.options == ("edns0", "trust-ad")
    upstream = parse_resolv_conf(data("resolv-resolved-upstream.txt"))
    assert upstream.nameservers == ("2001:4860:4860::6464", "2001:4860:4860::64", "fe80::1%enp1s0")
    assert not upstream.stub
    assert upstream.search == ("example.com",)
    assert parse_resolv_conf("").nameservers == ()
    with pytest.raises(FactError, match="not an address"):
        parse_resolv_conf("nameserver dns.example\n")


def test_getent_dns64_answer_gives_the_well_known_prefix() -> None:
    lookup = parse_getent("ipv4only.arpa", data("getent-dns64.txt"))
    assert lookup.ipv6 == (IPv6Address("64:ff9b::c000:aa"), IPv6Address("64:ff9b::c000:ab"))
    assert lookup.ipv4 == ()
    nat64 = discover_nat64(lookup)
    assert nat64.dns64
    assert nat64.prefix == IPv6Network("64:ff9b::/96")


def test_getent_a_only_means_no_dns64() -> None:
    lookup = parse_getent("ipv4only.arpa", data("getent-a-only.txt"))
    assert lookup.ipv6 == ()
    assert lookup.ipv4 == (IPv4Address("192.0.0.170"), IPv4Address("192.0.0.171"))
    assert not discover_nat64(lookup).dns64
    with pytest.raises(FactError, match="not an address"):
        parse_getent("x", "garbage STREAM x\n")


def test_getent_answers_sorted_whatever_order_the_resolver_gives() -> None:
    # A round-robin name: two resolver answers that differ only in order.
    first = (
        "2001:db8:20::10 STREAM ghcr.io\n2001:db8:3::1 STREAM\n2001:db8:20::9 STREAM\n"
        "2001:db8:3::1 DGRAM\n"
    )
    second = "2001:db8:20::9 STREAM ghcr.io\n2001:db8:20::10 STREAM\n2001:db8:3::1 STREAM\n"
    lookup = parse_getent("ghcr.io", first)
    assert lookup == parse_getent("ghcr.io", second)
    assert [str(a) for a in lookup.ipv6] == ["2001:db8:3::1", "2001:db8:20::9", "2001:db8:20::10"]
    mapped = "::ffff:192.0.2.9 STREAM x\n::ffff:192.0.2.10 STREAM\n::ffff:192.0.2.9 DGRAM\n"
    assert [str(a) for a in parse_getent("x", mapped).ipv4] == ["192.0.2.9", "192.0.2.10"]


def test_lookup_probe_empty_answer_is_no_such_name() -> None:
    probe = lookup_probe("ghcr.io")
    assert probe.argv == ("getent", "ahostsv6", "ghcr.io")
    assert 2 in probe.ok_codes
    assert "no such name" in probe.parse("").error


# RFC 6052 section 2.4: 192.0.2.33 embedded with each prefix length.
RFC6052 = [
    (32, "2001:db8::/32", "2001:db8:c000:221::"),
    (40, "2001:db8:100::/40", "2001:db8:1c0:2:21::"),
    (48, "2001:db8:122::/48", "2001:db8:122:c000:2:2100::"),
    (56, "2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"),
    (64, "2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0"),
    (96, "2001:db8:122:344::/96", "2001:db8:122:344::192.0.2.33"),
]


@pytest.mark.parametrize(("length", "prefix", "address"), RFC6052)
def test_extract_ipv4_rfc6052_examples(length: int, prefix: str, address: str) -> None:
    assert extract_ipv4(IPv6Address(address), length) == IPv4Address("192.0.2.33")


@pytest.mark.parametrize(("length", "prefix", "address"), RFC6052)
def test_nat64_prefix_of_every_rfc6052_length(length: int, prefix: str, address: str) -> None:
    # The same layout with ipv4only.arpa's 192.0.0.170 in place of 192.0.2.33.
    synthesized = _embed(IPv6Network(prefix), IPv4Address("192.0.0.170"))
    assert nat64_prefixes((synthesized,)) == (IPv6Network(prefix),)


def _embed(prefix: IPv6Network, v4: IPv4Address) -> IPv6Address:
    from kube6.facts.dns import _EMBEDDING

    data = bytearray(prefix.network_address.packed)
    for offset, byte in zip(_EMBEDDING[prefix.prefixlen], v4.packed, strict=True):
        data[offset] = byte
    return IPv6Address(bytes(data))


def test_nat64_ignores_unrelated_and_mapped_addresses() -> None:
    assert nat64_prefixes((IPv6Address("2001:db8::1"), IPv6Address("::ffff:192.0.0.170"))) == ()
    lab = (IPv6Address("2001:db8:64::c000:aa"), IPv6Address("2001:db8:64::c000:ab"))
    assert nat64_prefixes(lab) == (IPv6Network("2001:db8:64::/96"),)


def test_nat64_prefixes_sorted_whatever_order_the_answers_came_in() -> None:
    # Two DNS64 prefixes (RFC 7050 allows several): the first is what `kube6 init` proposes.
    high = _embed(IPv6Network("2001:db8:64::/96"), IPv4Address("192.0.0.170"))
    low = _embed(IPv6Network("2001:db8:1::/64"), IPv4Address("192.0.0.171"))
    expected = (IPv6Network("2001:db8:1::/64"), IPv6Network("2001:db8:64::/96"))
    assert nat64_prefixes((high, low)) == expected
    assert nat64_prefixes((low, high)) == expected
