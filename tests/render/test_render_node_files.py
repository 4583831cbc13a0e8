"""containerd config.toml, sysctl.d, modules-load.d and ndppd.conf."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from kube6.components.containerd import render as containerd
from kube6.components.host import render as host
from kube6.components.ndppd import render as ndppd
from kube6.modes import RoutingMode
from kube6.plan.model import Plan
from kube6.render.base import Artifact

# ---- containerd --------------------------------------------------------------------------


def test_containerd_config_parses_as_toml(golden_plan: Callable[[str], Plan]) -> None:
    config = tomllib.loads(containerd.config_toml(golden_plan("example")))
    assert config["version"] == 3
    images = config["plugins"]["io.containerd.cri.v1.images"]
    assert images["pinned_images"]["sandbox"] == containerd.PAUSE_IMAGE
    assert images["registry"]["config_path"] == "/etc/containerd/certs.d"
    assert images["snapshotter"] == "overlayfs"
    runc = config["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]["runc"]
    assert runc["runtime_type"] == "io.containerd.runc.v2"
    assert runc["options"] == {"SystemdCgroup": True}
    # Nothing outside what we mean to set: a typo in a table name would show up here.
    assert set(config) == {"version", "plugins"}
    assert set(config["plugins"]) == {
        "io.containerd.cri.v1.images",
        "io.containerd.cri.v1.runtime",
    }


def test_pause_image_is_a_pinned_tag() -> None:
    assert re.fullmatch(r"registry\.k8s\.io/pause:\d+\.\d+(\.\d+)?", containerd.PAUSE_IMAGE)


def test_every_node_gets_containerd_config(scenario_plan: Plan) -> None:
    paths = [a.path for a in containerd.render(scenario_plan)]
    configs = [p for p in paths if p.endswith("/config.toml")]
    assert configs == [f"nodes/{n.name}/etc/containerd/config.toml" for n in scenario_plan.nodes]
    # the only other files are the registry mirrors' (certs.d), one set per node
    mirrors = len(containerd.list_registry_files(scenario_plan))
    assert len(paths) == len(configs) * (1 + mirrors)


@pytest.mark.parametrize("bad", ['a"b', "a\\b", "caf\u00e9", "a\nb"])
def test_toml_strings_are_escaped_or_refused(bad: str) -> None:
    try:
        quoted = containerd._toml_string(bad)
    except ValueError:
        return
    assert tomllib.loads(f"x = {quoted}")["x"] == bad


# ---- sysctl.d and modules-load.d --------------------------------------------------------


def _settings(text: str) -> dict[str, str]:
    """sysctl.d(5): `key = value` lines; `#` and `;` start comments."""
    found = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        found[key] = value
    return found


def test_sysctl_forwarding_and_accept_ra_on_the_uplink(golden_plan: Callable[[str], Plan]) -> None:
    plan = golden_plan("ha-3cp-5w")
    files = {a.path: a.content for a in host.render(plan)}
    for node in plan.nodes:
        settings = _settings(files[f"nodes/{node.name}/etc/sysctl.d/90-kube6.conf"])
        assert settings["net.ipv6.conf.all.forwarding"] == "1"
        assert settings["net.ipv6.conf.default.forwarding"] == "1"
        ra = [key for key in settings if key.endswith("accept_ra")]
        assert len(ra) == 1
        assert settings[ra[0]] == "2"
        # sysctl.d: with `/` separators a dot inside the interface name is literal.
        if "." in node.interface:
            assert ra[0] == f"net/ipv6/conf/{node.interface}/accept_ra"
        else:
            assert ra[0] == f"net.ipv6.conf.{node.interface}.accept_ra"
        assert not any("proxy_ndp" in key for key in settings)
    assert {n.interface for n in plan.nodes} >= {"eth0", "ens3", "eth0.100"}


def test_modules(golden_plan: Callable[[str], Plan]) -> None:
    text = host.modules_conf(golden_plan("example"))
    modules = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith(("#", ";"))
    ]
    assert modules == ["overlay", "nf_tables"]
    assert "br_netfilter" not in modules


# ---- ndppd ---------------------------------------------------------------------------------


def _parse_ndppd(text: str) -> dict[str, Any]:
    """A small reader of the ndppd.conf subset kube6 writes: proxy blocks with options and
    rule blocks holding one method. Fails on anything else."""
    tokens = re.sub(r"#[^\n]*", "", text).split()
    proxies: dict[str, Any] = {}
    position = 0

    def take() -> str:
        nonlocal position
        position += 1
        return tokens[position - 1]

    while position < len(tokens):
        word = take()
        if word in ("route-ttl", "address-ttl"):  # global options: a number of milliseconds
            assert take().isdigit()
            continue
        assert word == "proxy"
        interface = take()
        assert take() == "{"
        proxy: dict[str, Any] = {"rules": []}
        while (word := take()) != "}":
            if word == "rule":
                cidr = take()
                assert take() == "{"
                method = take()
                assert take() == "}"
                proxy["rules"].append((cidr, method))
            else:
                proxy[word] = take()
        proxies[interface] = proxy
    return proxies


def test_ndppd_follows_the_plan(scenario_plan: Plan) -> None:
    files = {a.path: a.content for a in ndppd.render(scenario_plan)}
    for node in scenario_plan.nodes:
        path = f"nodes/{node.name}/etc/ndppd.conf"
        if not node.ndp_rules:
            assert path not in files
            continue
        proxies = _parse_ndppd(files[path])
        assert list(proxies) == [node.interface]
        proxy = proxies[node.interface]
        assert proxy["router"] == "yes"
        assert proxy["timeout"] == "500"
        assert proxy["ttl"] == str(ndppd.TTL_MS)
        assert proxy["rules"] == [(str(r.cidr), r.method) for r in node.ndp_rules]


def test_no_ndppd_without_ndp_proxy_routing(golden_plan: Callable[[str], Plan]) -> None:
    plan = golden_plan("own-prefixes-bgp")
    assert plan.routing is RoutingMode.BGP
    assert list(ndppd.render(plan)) == []


def test_ndppd_comment_cannot_break_the_file(golden_plan: Callable[[str], Plan]) -> None:
    plan = golden_plan("example")
    node = plan.nodes[0]
    rule = replace(node.ndp_rules[0], why="two\nlines } {")
    odd = replace(plan, nodes=(replace(node, ndp_rules=(rule,)),))
    proxies = _parse_ndppd(ndppd.ndppd_conf(odd, odd.nodes[0]))
    assert proxies[node.interface]["rules"] == [(str(rule.cidr), rule.method)]


def test_every_file_starts_with_the_header(
    scenario_plan: Plan, scenario_artifacts: list[Artifact]
) -> None:
    for artifact in scenario_artifacts:
        lines = artifact.content.splitlines()
        # An interpreter line (#!/usr/sbin/nft -f) must stay first; the header follows it.
        first = lines[1] if lines[0].startswith("#!") else lines[0]
        assert first.startswith(("# Written by kube6", "// Written by kube6")), artifact.path
        assert scenario_plan.digest in first, artifact.path
        assert artifact.content.endswith("\n"), artifact.path
