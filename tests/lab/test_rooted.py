"""The lab's RootedExecutor: a namespace node's files under its own folder, the kernel's not."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kube6.execute import LocalExecutor, RecordingExecutor
from kube6.execute.command import Result
from kube6.lab.rooted import RootedExecutor


def test_paths_in_arguments_move_under_the_root_but_not_the_program_or_the_kernel() -> None:
    inner = RecordingExecutor(host="node0001", default=Result(0, "", ""))
    rooted = RootedExecutor(inner, "/lab/node0001/")
    asyncio.run(rooted.run(("/usr/sbin/nft", "-f", "/etc/kube6/firewall.nft"), check=False))
    asyncio.run(rooted.run(("cat", "/proc/sys/net/ipv6/conf/all/forwarding"), check=False))
    asyncio.run(rooted.run(("sysctl", "-w", "net.ipv6.conf.all.forwarding=1"), check=False))
    asyncio.run(rooted.run(("kubectl", "get", "--raw", "/readyz?verbose"), check=False))
    asyncio.run(rooted.run(("install", "-d", "/usr/local/bin", "/run"), check=False))
    assert [c.argv for c in inner.commands] == [
        ("/usr/sbin/nft", "-f", "/lab/node0001/etc/kube6/firewall.nft"),
        ("cat", "/proc/sys/net/ipv6/conf/all/forwarding"),
        ("sysctl", "-w", "net.ipv6.conf.all.forwarding=1"),
        ("kubectl", "get", "--raw", "/readyz?verbose"),
        ("install", "-d", "/lab/node0001/usr/local/bin", "/lab/node0001/run"),
    ]
    assert rooted.host == "node0001"


def test_files_are_written_and_read_under_the_root(tmp_path: Path) -> None:
    rooted = RootedExecutor(LocalExecutor("node0001"), tmp_path)

    async def go() -> str | None:
        await rooted.run(("mkdir", "-p", "/etc/kube6"))
        await rooted.put("/etc/kube6/x.conf", "x = 1\n", 0o600)
        return await rooted.get("/etc/kube6/x.conf")

    assert asyncio.run(go()) == "x = 1\n"
    written = tmp_path / "etc" / "kube6" / "x.conf"
    assert written.read_text() == "x = 1\n"
    assert written.stat().st_mode & 0o777 == 0o600
