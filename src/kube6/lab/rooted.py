"""The lab's executor for namespace nodes: every file path under the node's own folder.

Namespace nodes share this machine's file system, so each keeps the files kube6 writes and
reads (its /etc, /run, /var/lib, ...) in a folder of its own:

    executor = RootedExecutor(lab.executor("node0001"), tmp / "node0001")
    await executor.get("/etc/kubernetes/admin.conf")    # reads tmp/node0001/etc/kubernetes/...

`get`, `put` and every argument that is a path in the file trees kube6 configures (/etc, /var,
/run, /usr/local, /root, /home, /opt) move under the root; programs, the kernel's views (/proc,
/sys: the namespace's own) and arguments that only look like paths (`kubectl get --raw
/readyz`) stay as they are. This is the lab's business: the product reads and writes host paths.

A node's own system files in those trees move too: /etc/os-release is absent under a fresh
root, which the steps read as an unknown release (the lab tier runs no step that needs it).
The k8s tier's stand-in of a control-plane node keeps its files the same way. A namespace node
also has no systemd: `kube6.lab.systemd.namespace_node` adds the lab's stand-in for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from kube6.execute.base import Executor
from kube6.execute.command import Command, Result, as_command

FILE_TREES = ("/etc/", "/var/", "/run/", "/usr/local/", "/root/", "/home/", "/opt/")


class RootedExecutor:
    """`inner` with host paths placed under `root`."""

    def __init__(self, inner: Executor, root: str | Path) -> None:
        self.inner = inner
        self.root = str(root).rstrip("/")
        self.host = inner.host

    def path(self, host_path: str) -> str:
        """Where `host_path` is for this node: under the root when it is in one of the
        FILE_TREES (or is one), else as it is."""
        if host_path.startswith(FILE_TREES) or host_path + "/" in FILE_TREES:
            return self.root + host_path
        return host_path

    async def run(self, cmd: Command | Sequence[str], *, check: bool = True) -> Result:
        command = as_command(cmd)
        program, *args = command.argv
        rooted = replace(command, argv=(program, *(self.path(a) for a in args)))
        return await self.inner.run(rooted, check=check)

    async def put(self, path: str, content: str, mode: int = 0o644) -> None:
        await self.inner.put(self.path(path), content, mode)

    async def get(self, path: str) -> str | None:
        return await self.inner.get(self.path(path))

    async def close(self) -> None:
        await self.inner.close()

    def __repr__(self) -> str:
        return f"RootedExecutor({self.inner!r}, {self.root!r})"
