"""The labs on this machine: found by their namespaces and work directories, and torn down by
their id alone (`kube6 lab status`, `kube6 lab down ID`), also a lab that another process built
or a killed run left behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from kube6.lab import nodes
from kube6.lab.cgroups import lab_cgroups
from kube6.lab.layout import LAB_ID, lab_id_of
from kube6.lab.process import LabError, alive

NETNS_ETC = Path("/etc/netns")
"""`ip netns exec NS` binds /etc/netns/NS/<file> over /etc/<file>: the nodes' resolv.conf."""


def workdir_of(lab_id: str) -> Path:
    """Where a lab keeps configs, keys and daemon logs: /tmp/kube6-lab-<id>."""
    return Path(tempfile.gettempdir()) / f"kube6-lab-{lab_id}"


def free_lab_id() -> str:
    used = {lab_id_of(ns) for ns in list_namespaces()}
    while True:
        candidate = secrets.token_hex(2)
        if candidate not in used and not workdir_of(candidate).exists():
            return candidate


def list_namespaces() -> list[str]:
    """Every network namespace on the machine (names only)."""
    result = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def lab_namespaces(lab_id: str | None = None) -> dict[str, list[str]]:
    """Lab namespaces on the machine, by lab id (all labs, or only `lab_id`)."""
    labs: dict[str, list[str]] = {}
    for ns in list_namespaces():
        found = lab_id_of(ns)
        if found is not None and (lab_id is None or found == lab_id):
            labs.setdefault(found, []).append(ns)
    return labs


def namespace_pids(namespace: str) -> list[int]:
    """Processes that live in `namespace`."""
    result = subprocess.run(
        ["ip", "netns", "pids", namespace], capture_output=True, text=True, check=False
    )
    return [int(word) for word in result.stdout.split() if word.isdigit()]


def teardown_namespaces(namespaces: Sequence[str], *, timeout: float = 3.0) -> None:
    """Kill every process in the lab `namespaces`, then delete them and their /etc/netns files."""
    targets = [ns for ns in namespaces if lab_id_of(ns) is not None]
    pids = {pid for ns in targets for pid in namespace_pids(ns)}
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while pids and time.monotonic() < deadline:
            pids = {pid for pid in pids if alive(pid)}
            time.sleep(0.05)
        if not pids:
            break
    for ns in targets:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        shutil.rmtree(NETNS_ETC / ns, ignore_errors=True)


def lab_folders() -> list[str]:
    """Ids of the labs that have a work directory (/tmp/kube6-lab-<id>), running or left over."""
    prefix = workdir_of("0000").name[: -len("0000")]
    found = {p.name[len(prefix) :] for p in Path(tempfile.gettempdir()).glob(prefix + "*")}
    return sorted(i for i in found if LAB_ID.match(i))


def lab_ids() -> list[str]:
    """Every lab on the machine: by its namespaces, or by the work directory a killed run left."""
    return sorted(set(lab_namespaces()) | set(lab_folders()))


def down(lab_id: str) -> bool:
    """Tear down one lab found by its id (namespaces, their processes, its files), also one that
    another process built. False when there was nothing of it."""
    if not LAB_ID.match(lab_id):
        raise LabError(
            f"{lab_id!r} is not a lab id", fix="use the 4 hex digits of `kube6 lab status`"
        )
    namespaces = lab_namespaces(lab_id).get(lab_id, [])
    workdir = workdir_of(lab_id)
    found = bool(namespaces) or workdir.exists() or bool(lab_cgroups(lab_id))
    try:
        nodes.teardown(lab_id, workdir)  # real nodes first: SIGKILL to their PID 1
    finally:
        teardown_namespaces(namespaces)
    shutil.rmtree(workdir, ignore_errors=True)
    return found


def down_all() -> list[str]:
    """Tear down every lab on the machine, labs that other processes are using included;
    returns their ids. Only for a machine where nothing else runs labs (`kube6 lab down --all`)."""
    removed = lab_ids()
    for lab_id in removed:
        down(lab_id)
    return removed


ABANDONED_AFTER = 600.0
"""Seconds without a process and without a file written before a lab counts as abandoned: a
lab being built has namespaces before its daemons start, but writes its files meanwhile."""


def abandoned_labs(quiet: float = ABANDONED_AFTER) -> list[str]:
    """Labs that a killed run left: no process in any of their namespaces (a real node's
    systemd, the daemons and registries all live there) and nothing written in their work
    directory for `quiet` seconds. A running lab always has processes in its namespaces."""
    found = []
    now = time.time()
    by_lab = lab_namespaces()
    for lab_id in sorted(set(by_lab) | set(lab_folders())):
        if any(namespace_pids(ns) for ns in by_lab.get(lab_id, [])):
            continue
        if now - _last_written(workdir_of(lab_id)) < quiet:
            continue
        found.append(lab_id)
    return found


def down_abandoned(quiet: float = ABANDONED_AFTER) -> list[str]:
    """Tear down the labs that killed runs left (`abandoned_labs`); returns their ids. Safe
    beside running labs: those have processes (`kube6 lab down --abandoned`, the test tiers)."""
    removed = abandoned_labs(quiet)
    for lab_id in removed:
        down(lab_id)
    return removed


def _last_written(workdir: Path) -> float:
    """The newest modification time of the work directory and the files directly in it (logs,
    state), 0 when there is none."""
    try:
        entries = [workdir, *workdir.iterdir()]
    except OSError:
        return 0.0
    times = []
    for entry in entries:
        with contextlib.suppress(OSError):
            times.append(entry.lstat().st_mtime)
    return max(times, default=0.0)
