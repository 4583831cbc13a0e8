"""The Python that `kube6 check` runs on a host works with the Python a minimal server has.

A server may carry only python3-minimal (the real nodes' rootfs does, kube6.lab.rootfs), which
lacks much of the standard library (`json`, for one). Each host-side script runs here with
that interpreter and its modules, of each release the lab's nodes run (Debian 12 and 13,
Ubuntu 22.04 and 24.04): chrooted into the nodes' tree, in a network namespace
the test makes (only its loopback, up) and mount and PID namespaces of its own (sysfs, proc).
"""

from __future__ import annotations

import re
import secrets
import subprocess
from collections.abc import Iterator
from ipaddress import IPv6Address, IPv6Network
from pathlib import Path

import pytest

from kube6.facts import bgp, link
from kube6.lab import nodes
from kube6.lab.layout import namespace_name
from kube6.lab.rootfs import OSES, rootfs_tree

pytestmark = [pytest.mark.lab, pytest.mark.e2e]

LOOPBACK = IPv6Address("::1")


@pytest.fixture(scope="module", params=list(OSES))
def tree(lab_env: None, request: pytest.FixtureRequest) -> Path:
    """Each release's tree: its python3-minimal (3.11, 3.13, 3.10, 3.12) lacks other modules."""
    tarball = nodes.default_rootfs(os_name=request.param)
    if not tarball.is_file():
        pytest.fail(f"no rootfs tarball at {tarball}: run `sudo bash tests/e2e/build-rootfs.sh`")
    root = rootfs_tree(tarball)
    installed = re.findall(r"^Package: (\S+)$", (root / "var/lib/dpkg/status").read_text(), re.M)
    assert "python3-minimal" in installed, f"no python3-minimal in {root}"
    # Only the minimal interpreter: not the standard library's package (trixie's minimal
    # carries json, bookworm's and noble's do not: the scripts must not need it).
    assert not [p for p in installed if re.fullmatch(r"libpython3\.\d+-stdlib", p)], installed
    return root


@pytest.fixture(scope="module")
def namespace(lab_env: None) -> Iterator[str]:
    """A network namespace of this test's (`k6-<id>-py`): its loopback up, nothing else."""
    name = namespace_name(secrets.token_hex(2), "py")
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True, timeout=30)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=30)


def on_minimal_python(tree: Path, namespace: str, argv: tuple[str, ...], stdin: str = "") -> str:
    """`argv` (python3 first) in the tree, in the test's network namespace."""
    assert argv[0] == "python3"
    done = subprocess.run(
        [
            *("ip", "netns", "exec", namespace),
            # Mount and PID namespaces of its own: sysfs and proc (the network namespace's
            # interfaces and addresses) are mounted in the tree for this process only.
            *("unshare", "--mount", "--pid", "--fork", "--propagation", "private", "--"),
            "sh",
            "-c",
            'mount -t sysfs sysfs "$0/sys" && mount -t proc proc "$0/proc" && exec chroot "$0" "$@"',
            str(tree),
            "/usr/bin/python3",
            *argv[1:],
        ],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_bgp_speaker_runs_on_python3_minimal(tree: Path, namespace: str) -> None:
    argv = bgp.speaker_argv(LOOPBACK, LOOPBACK, 64512, bgp.probe_router_id("node0001"))
    answer = bgp.parse_answer(on_minimal_python(tree, namespace, argv), LOOPBACK, LOOPBACK)
    assert answer.result == "refused", answer
    # Signed: the kernel takes the key (TCP_MD5SIG), and drops the unsigned reset.
    signed = bgp.parse_answer(
        on_minimal_python(tree, namespace, argv, "pass word"), LOOPBACK, LOOPBACK
    )
    assert signed.result == "timeout", signed
    # A detail with quotes and non-ASCII text stays valid JSON (the speaker writes it itself).
    unbound = bgp.speaker_argv(
        LOOPBACK, IPv6Address("2001:db8::99"), 64512, bgp.probe_router_id("n")
    )
    gone = bgp.parse_answer(on_minimal_python(tree, namespace, unbound), LOOPBACK, LOOPBACK)
    assert gone.result == "unreachable", gone
    assert "cannot send from 2001:db8::99" in gone.detail


def test_the_link_listener_runs_on_python3_minimal(tree: Path, namespace: str) -> None:
    argv = link.listen_argv("lo", IPv6Network("2001:db8::/64"), 0.3)
    lines = on_minimal_python(tree, namespace, argv).splitlines()
    assert lines[0].startswith("listen lo "), lines
    assert lines[-1].startswith("done "), lines
