"""kube6's host firewall, loaded by a node's own nft, stays readable by an older nft.

kube-proxy (nftables mode) and calico-node (nftables dataplane) run the nft of their images on
the host's ruleset, and nft reads every table when it loads its own. An nft older than the
one that loaded kube6's table must not crash on it: on Debian 13 nodes (nft 1.1.3) a set
declared `type ipv6_addr` made nft 1.0.6 (Debian 12's, the lab's kube-proxy and calico-node
images) segfault at every kube-proxy sync, and the cluster never came up. Each release's nft
loads the rendered table here (chrooted into the nodes' tree, in a network namespace the test
makes) and this machine's nft 1.0.6 reads the ruleset back.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kube6.components.firewall import render as firewall
from kube6.lab import nodes
from kube6.lab.layout import namespace_name
from kube6.lab.rootfs import OSES, rootfs_tree
from kube6.plan import make_plan
from kube6.spec import from_data

pytestmark = [pytest.mark.lab, pytest.mark.e2e]

SPEC = {
    "prefix": "2001:db8:1234:5678::/64",
    "nodes": [
        {"name": "cp1", "address": "2001:db8:1234:5678::11", "roles": ["control-plane"]},
        {"name": "w1", "address": "2001:db8:1234:5679::12", "prefix": "2001:db8:1234:5679::/64"},
    ],
    "routing": "routed",
}
OLD_NFT = "nftables v1.0.6"
"""This machine's nft (Debian 12): the version in the lab's kube-proxy and calico-node images."""


@pytest.fixture
def namespace(lab_env: None) -> Iterator[str]:
    name = namespace_name(secrets.token_hex(2), "nft")
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=30)


def nft(namespace: str, *argv: str, root: Path | None = None, stdin: str = "") -> str:
    """nft in the test's namespace: this machine's, or the tree's (chrooted, with a /proc of
    its own mount namespace for /dev/stdin)."""
    chroot: tuple[str, ...] = ()
    if root:
        chroot = (
            *("unshare", "--mount", "--pid", "--fork", "--propagation", "private", "--"),
            *("sh", "-c", 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"', str(root)),
        )
    done = subprocess.run(
        ["ip", "netns", "exec", namespace, *chroot, "nft", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"nft {' '.join(argv)} (exit {done.returncode}): {done.stderr}"
    return done.stdout


@pytest.mark.parametrize("release", list(OSES))
def test_an_older_nft_reads_the_firewall_that_each_releases_nft_loaded(
    namespace: str, release: str
) -> None:
    tarball = nodes.default_rootfs(os_name=release)
    if not tarball.is_file():
        pytest.fail(f"no rootfs tarball at {tarball}: run `sudo bash tests/e2e/build-rootfs.sh`")
    tree = rootfs_tree(tarball)
    assert nft(namespace, "--version").startswith(OLD_NFT)
    print(f"\n{release}: {nft(namespace, '--version', root=tree).strip()} loads, {OLD_NFT} reads")
    plan = make_plan(from_data(SPEC), source="firewall readers")
    nft(namespace, "-f", "/dev/stdin", root=tree, stdin=firewall.ruleset(plan, plan.node("cp1")))
    listed = nft(namespace, "list", "ruleset")
    assert "table ip6 kube6" in listed
    assert "2001:db8:1234:5679:8:2::/104" in listed  # the pods set, read back whole
