"""The lab's stand-in for systemd on namespace nodes: what each systemctl command does there.

Pure: a RecordingExecutor plays the node (its files, and the replies of `kill -0`); the real
daemon under the stand-in runs in tests/steps/test_lab_up.py (`up`, `up` again, `reset` on two
namespace nodes).
"""

from __future__ import annotations

import asyncio

import pytest

from kube6.errors import CommandError
from kube6.execute import RecordingExecutor
from kube6.execute.command import Command, Result
from kube6.lab.systemd import NoSystemdExecutor, namespace_node

ROOT = "/lab/node0001"
PIDFILE = f"{ROOT}/run/kube6-ndppd.pid"
NDPPD = ("ndppd", "-d", "-c", f"{ROOT}/etc/ndppd.conf", "-p", PIDFILE)
WANTS = f"{ROOT}/etc/systemd/system/multi-user.target.wants/"


def node() -> tuple[NoSystemdExecutor, RecordingExecutor]:
    inner = RecordingExecutor(host="node0001", default=Result(0, "", ""))

    def forks(command: Command) -> Result:
        inner.files[PIDFILE] = ("42\n", 0o644)  # what `ndppd -d -p FILE` leaves
        return Result(0, "", "")

    def removes(command: Command) -> Result:
        for path in command.argv[2:]:
            inner.files.pop(path, None)
        return Result(0, "", "")

    inner.replies[NDPPD] = forks
    inner.replies[("rm", "-f", PIDFILE)] = removes
    inner.replies[("rm", "-f", WANTS + "ndppd.service")] = removes
    return namespace_node(inner, ROOT), inner


def systemctl(executor: NoSystemdExecutor, *args: str) -> Result:
    return asyncio.run(executor.run(("systemctl", *args), check=False))


def test_a_daemon_is_enabled_started_restarted_stopped_and_disabled() -> None:
    executor, inner = node()
    assert systemctl(executor, "is-enabled", "ndppd") == Result(1, "disabled\n", "")
    assert systemctl(executor, "is-active", "--quiet", "ndppd").exit_code == 3

    assert systemctl(executor, "enable", "ndppd").ok
    assert inner.files[WANTS + "ndppd.service"][0].startswith("ndppd.service starts at boot")
    assert systemctl(executor, "is-enabled", "ndppd") == Result(0, "enabled\n", "")

    inner.commands.clear()
    assert systemctl(executor, "start", "ndppd").ok
    assert inner.argvs[-3:] == [
        ("mkdir", "-p", f"{ROOT}/run"),
        NDPPD,  # every host path under the node's root
        ("sh", "-c", inner.argvs[-1][2], "kube6-wait", PIDFILE),
    ]
    assert systemctl(executor, "is-active", "--quiet", "ndppd").ok
    assert ("kill", "-0", "42") in inner.argvs

    inner.commands.clear()
    assert systemctl(executor, "restart", "ndppd").ok
    assert [a for a in inner.argvs if a[0] in ("kill", "rm", "ndppd")] == [
        ("kill", "-0", "42"),
        ("kill", "42"),
        ("rm", "-f", PIDFILE),
        NDPPD,
    ]

    inner.commands.clear()
    assert systemctl(executor, "stop", "ndppd").ok
    assert ("kill", "42") in inner.argvs
    assert PIDFILE not in inner.files
    assert systemctl(executor, "is-active", "ndppd").exit_code == 3
    assert systemctl(executor, "disable", "ndppd").ok
    assert systemctl(executor, "is-enabled", "ndppd").stdout == "disabled\n"


def test_a_dead_daemons_pid_file_is_not_active() -> None:
    executor, inner = node()
    inner.files[PIDFILE] = ("42\n", 0o644)
    inner.reply(("kill", "-0", "42"), exit_code=1, stderr="kill: (42) - No such process")
    assert systemctl(executor, "is-active", "--quiet", "ndppd").exit_code == 3
    inner.commands.clear()
    assert systemctl(executor, "start", "ndppd").ok
    assert NDPPD in inner.argvs


def test_a_unit_kube6_wrote_can_be_enabled_but_not_run() -> None:
    executor, inner = node()
    unit = f"{ROOT}/etc/systemd/system/kube6-firewall.service"
    assert systemctl(executor, "enable", "kube6-firewall.service").exit_code == 1
    inner.files[unit] = ("[Unit]\n", 0o644)
    assert systemctl(executor, "enable", "kube6-firewall.service").ok
    assert systemctl(executor, "is-enabled", "kube6-firewall.service").stdout == "enabled\n"
    refused = systemctl(executor, "start", "kube6-firewall.service")
    assert refused.exit_code == 1
    assert "cannot run kube6-firewall.service without an init system" in refused.stderr
    assert systemctl(executor, "daemon-reload").ok


def test_what_the_stand_in_does_not_know_fails_as_systemctl_would() -> None:
    executor, _ = node()
    missing = systemctl(executor, "is-active", "containerd")
    assert missing.exit_code == 1
    assert "Unit containerd.service could not be found" in missing.stderr
    assert "no `systemctl mask`" in systemctl(executor, "mask", "ndppd").stderr
    assert systemctl(executor, "list-units").exit_code == 1
    with pytest.raises(CommandError, match="the lab's stand-in for systemd"):
        asyncio.run(executor.run(("systemctl", "start", "containerd")))


def test_other_commands_and_files_go_to_the_rooted_node() -> None:
    executor, inner = node()
    asyncio.run(executor.run(("nft", "-f", "/etc/kube6/firewall.nft")))
    asyncio.run(executor.put("/etc/ndppd.conf", "proxy eth0 {}\n"))
    assert inner.argvs[0] == ("nft", "-f", f"{ROOT}/etc/kube6/firewall.nft")
    assert asyncio.run(executor.get("/etc/ndppd.conf")) == "proxy eth0 {}\n"
    assert executor.host == "node0001"
