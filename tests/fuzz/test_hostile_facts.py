"""Hostile host output: every fact parser returns a value or raises FactError, quickly.

Inputs: random text, random JSON documents, and recorded real outputs (tests/facts/data)
truncated at every length and mutated byte by byte. A host we do not control (or a broken
tool) must never crash kube6 with a traceback or hang it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kube6.errors import FactError
from kube6.facts import dns, network, system
from tests.fuzz.test_hostile_spec import bounded

DATA = Path(__file__).resolve().parents[1] / "facts" / "data"
STATS = {"cases": 0, "crashes": 0}

PARSERS: dict[str, Callable[[str], Any]] = {
    "addresses": network.parse_addresses,
    "routes": network.parse_routes,
    "ipv6_conf": network.parse_ipv6_conf,
    "listeners": network.parse_listeners,
    "resolv_conf": dns.parse_resolv_conf,
    "getent": partial(dns.parse_getent, "example.org"),
    "os_release": system.parse_os_release,
    "uname": system.parse_uname,
    "modules": system.parse_modules,
    "swaps": system.parse_swaps,
    "disks": system.parse_disks,
    "cgroup": system.parse_cgroup,
    "packages": system.parse_packages,
    "services": system.parse_services,
}


def feed(name: str, text: str) -> None:
    STATS["cases"] += 1
    start = time.perf_counter()
    with bounded(2.0):
        try:
            PARSERS[name](text)
        except FactError as exc:
            assert exc.message
        except Exception:
            STATS["crashes"] += 1
            raise
    assert time.perf_counter() - start < 2.0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "ifname",
                    "addr_info",
                    "local",
                    "prefixlen",
                    "dst",
                    "dev",
                    "gateway",
                    "protocol",
                    "flags",
                    "scope",
                    "temporary",
                    "metric",
                    "x",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=25,
)


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=500))
def test_random_text(name: str, text: str) -> None:
    feed(name, text)


@pytest.mark.parametrize("name", ["addresses", "routes"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=json_values)
def test_unexpected_json(name: str, document: Any) -> None:
    feed(name, json.dumps(document))


RECORDED = {
    "addresses": ["ip-addr-multi.json", "ip-addr-temporary.json", "ip-addr-this-vm.json"],
    "routes": ["ip-route-ra-slaac.json", "ip-route-static.json", "ip-route-this-vm.json"],
    "listeners": ["ss-listening.txt"],
    "resolv_conf": ["resolv-resolved-upstream.txt"],
    "os_release": ["os-release-ubuntu2404.txt"],
    "swaps": ["proc-swaps-one.txt"],
    "packages": ["dpkg-mixed.txt"],
    "services": ["systemctl-show.txt"],
    "ipv6_conf": ["sysctl-netns.txt"],
    "getent": ["getent-dns64.txt"],
}


@pytest.mark.parametrize(("name", "file"), [(n, f) for n, files in RECORDED.items() for f in files])
def test_recorded_output_truncated_and_mutated(name: str, file: str) -> None:
    text = (DATA / file).read_text()
    step = max(1, len(text) // 150)
    for cut in range(0, len(text), step):
        feed(name, text[:cut])
    for position in range(0, len(text), max(1, len(text) // 60)):
        for junk in ("\x00", "}", "\n", '"', "9" * 30, "-1"):
            feed(name, text[:position] + junk + text[position + 1 :])


def test_huge_output_is_bounded() -> None:
    for name in PARSERS:
        feed(name, "x" * 2_000_000)
        feed(name, "[" * 100_000)


def test_report_fuzz_figures() -> None:
    print(f"\nhostile host output: {STATS['cases']} cases tried, {STATS['crashes']} crashes")
    assert STATS["crashes"] == 0
