"""The link facts' parsers on recorded output (the lab's two link models, radvd + rdisc6) and on
broken output; the listener's argv is bounded and runs no shell."""

from __future__ import annotations

import asyncio
from ipaddress import IPv6Address, IPv6Network
from pathlib import Path

import pytest

from kube6.errors import FactError
from kube6.execute import RecordingExecutor, Result
from kube6.facts.gather import PROBE_TIMEOUT
from kube6.facts.link import (
    LISTEN_SECONDS,
    LISTENER,
    gather_link,
    listen_argv,
    neighbours_probe,
    parse_listen,
    parse_neighbours,
    parse_rdisc6,
    rdisc6_probe,
)

DATA = Path(__file__).parent / "data"
PREFIX = IPv6Network("2001:db8:1234:5678::/64")
UNASSIGNED = IPv6Address("2001:db8:1234:5678::5ca1:ab1e")


def data(name: str) -> str:
    return (DATA / name).read_text()


def test_listen_on_link_lab_recorded() -> None:
    # node0001 of `Lab(link=on-link, noise=True)`: the router (fe80::1) asks for the address
    # the lab's internet host pings.
    listen = parse_listen(data("link-listen-lab-on-link.txt"))
    assert (listen.interface, listen.mac, listen.seconds, listen.packets) == (
        "eth0",
        "9a:7c:96:2c:b0:7a",
        3.0,
        2,
    )
    (ns,) = listen.solicitations
    assert (ns.source, ns.target, ns.count) == (IPv6Address("fe80::1"), UNASSIGNED, 2)
    assert ns.source_mac == "3e:63:91:54:2a:a0"
    assert listen.deliveries == ()


def test_listen_routed_lab_recorded() -> None:
    listen = parse_listen(data("link-listen-lab-routed.txt"))
    (packet,) = listen.deliveries
    assert packet.source == IPv6Address("2001:db8:ffff::10")
    assert packet.destination == UNASSIGNED
    assert listen.solicitations == ()


def test_listen_radvd_recorded() -> None:
    listen = parse_listen(data("link-listen-radvd.txt"))
    on, off = listen.advertised
    assert (on.prefix, on.on_link, on.autonomous) == (PREFIX, True, True)
    assert (off.prefix, off.on_link, off.autonomous) == (
        IPv6Network("2001:db8:aaaa::/64"),
        False,
        True,
    )
    assert on.router == IPv6Address("fe80::436:e2ff:fe26:4f37")


def test_listen_notes_are_kept() -> None:
    text = "note all-multicast refused (x): y\nlisten eth0 - 4\ndone 0\n"
    listen = parse_listen(text)
    assert listen.notes == ("all-multicast refused (x): y",)
    assert listen.mac == "-"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "`listen` line is missing"),
        ("listen eth0 aa:bb 4\n", "`done` line is missing"),
        ("listen eth0 aa:bb 4\nns aa:bb fe80::1 nope 1\ndone 1\n", "cannot read the line"),
        ("listen eth0 aa:bb 4\nra aa fe80::1 2001:db8::/64 L=2 A=1 1\ndone 1\n", "L=2"),
        ("listen eth0 XX 4\ndone 1\n", "not a MAC"),
        ("listen eth0 aa:bb 4\nsomething else\ndone 1\n", "unexpected line"),
        ("Traceback (most recent call last):\n", "cannot read the line"),
    ],
)
def test_listen_broken(text: str, why: str) -> None:
    with pytest.raises(FactError, match=why):
        parse_listen(text)


def test_listen_argv_is_bounded_and_has_no_shell() -> None:
    argv = listen_argv("eth0", PREFIX, 4)
    assert argv[:3] == ("python3", "-I", "-c")  # a missing python3 is named as such
    assert argv[3] == LISTENER
    assert argv[4:] == ("eth0", "4", str(PREFIX))
    assert PROBE_TIMEOUT > LISTEN_SECONDS + 5  # the probe timeout bounds a hung listener
    assert "sh" not in argv
    assert "bash" not in argv
    compile(LISTENER, "listener", "exec")  # the script is valid Python


def test_rdisc6_recorded() -> None:
    on, off = parse_rdisc6(data("rdisc6-radvd.txt"))
    assert (on.prefix, on.on_link, on.autonomous) == (PREFIX, True, True)
    assert (off.on_link, off.autonomous) == (False, True)
    assert on.router == off.router == IPv6Address("fe80::436:e2ff:fe26:4f37")


def test_rdisc6_timed_out_is_no_answer() -> None:
    assert parse_rdisc6(data("rdisc6-timeout.txt")) == ()
    assert 2 in rdisc6_probe("eth0").ok_codes  # rdisc6's exit code when nobody answers


def test_rdisc6_truncated() -> None:
    text = data("rdisc6-radvd.txt").rsplit(" from ", 1)[0]
    with pytest.raises(FactError, match="without the router"):
        parse_rdisc6(text)


def test_neighbours_recorded() -> None:
    (gateway,) = parse_neighbours(data("ip-neigh-radvd.json"))
    assert gateway.address == IPv6Address("fe80::436:e2ff:fe26:4f37")
    assert gateway.mac == "06:36:e2:26:4f:37"


def test_neighbours_unresolved_and_broken() -> None:
    (entry,) = parse_neighbours('[{"dst":"fe80::9","state":["FAILED"]}]')
    assert entry.mac is None
    assert parse_neighbours("") == ()
    with pytest.raises(FactError, match="not JSON"):
        parse_neighbours("[{")
    with pytest.raises(FactError, match="incomplete"):
        parse_neighbours('[{"lladdr":"aa:bb"}]')


def _recorded(listen: Result, rdisc6: Result) -> RecordingExecutor:
    ex = RecordingExecutor(host="node0001")
    ex.replies[listen_argv("eth0", PREFIX)] = listen
    ex.replies[rdisc6_probe("eth0").argv] = rdisc6
    ex.reply(neighbours_probe("eth0").argv, (DATA / "ip-neigh-radvd.json").read_text())
    return ex


def test_gather_link_from_recorded_replies() -> None:
    ex = _recorded(
        Result(0, data("link-listen-lab-on-link.txt"), ""), Result(0, data("rdisc6-radvd.txt"), "")
    )
    facts = asyncio.run(gather_link(ex, "eth0", PREFIX))
    assert facts.unknown == ()
    assert facts.listen is not None
    assert facts.listen.solicitations[0].target == UNASSIGNED
    assert facts.rdisc6 is not None
    assert len(facts.rdisc6) == 2
    assert facts.neighbours is not None
    # Only these three commands, each an argv (RecordingExecutor refuses unscripted ones).
    assert sorted(a[0] for a in ex.argvs) == ["ip", "python3", "rdisc6"]


def test_missing_tools_are_unknown_evidence_not_a_crash() -> None:
    ex = _recorded(Result(127, "", "python3: not found"), Result(127, "", "rdisc6: not found"))
    facts = asyncio.run(gather_link(ex, "eth0", PREFIX))
    assert (facts.listen, facts.rdisc6) == (None, None)
    assert dict(facts.unknown) == {
        "link listen": "python3 is not installed on node0001",
        "rdisc6": "rdisc6 is not installed on node0001",
    }
