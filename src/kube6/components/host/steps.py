"""host: kernel settings (sysctl.d, modules-load.d) in place and live, and swap off.

Order matters for hosts whose default route comes from router advertisements: the kernel drops
RA-learned default routes when forwarding is switched on, except on interfaces whose accept_ra
is 2. So `accept_ra=2` is set on the uplink *before* the file that turns forwarding on is
applied, or the host loses its default route (and kube6 its SSH session) on the spot.
"""

from __future__ import annotations

from dataclasses import dataclass

from kube6.components.host.render import MODULES_LOAD, SYSCTL
from kube6.facts.system import MODULES_SCRIPT, parse_modules
from kube6.render.base import NodeFile
from kube6.steps import files, probe
from kube6.steps.base import Action, HostContext, PutFile, Step, StepPlan, run

SYSCTL_PATH = SYSCTL.path
MODULES_PATH = MODULES_LOAD.path
SNAPSHOT_PATH = "/var/lib/kube6/sysctl-before.conf"
"""The values of every setting kube6 changed, as they were before; `kube6 reset` restores them."""
FSTAB = "/etc/fstab"
SWAP_MARK = "#kube6-swap-off# "


def parse_sysctl_conf(text: str) -> dict[str, str]:
    """`key = value` lines of a sysctl.d file, in order (comments and blanks skipped)."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lstrip("-")] = value.strip()
    return values


def optional_keys(text: str) -> frozenset[str]:
    """Keys of a sysctl.d file marked `-`: a host without them (a container) goes on."""
    return frozenset(
        line.strip()[1:].partition("=")[0].strip()
        for line in text.splitlines()
        if line.strip().startswith("-") and "=" in line
    )


def parse_sysctl_output(text: str) -> dict[str, str]:
    """Output of `sysctl -e KEY...` (`key = value` per line)."""
    return parse_sysctl_conf(text)


def parse_default_route_from_ra(text: str) -> bool:
    """Whether `ip -6 route show default` lists a route learned from a router advertisement."""
    return any(
        " proto ra" in f" {line}" for line in text.splitlines() if line.startswith("default")
    )


# sysctl prints `key = value` lines, the sysctl.d format: the file is the snapshot as read on
# the host at that moment (a fixed script; the path and keys are its arguments, never spliced).
# It appends: a later kube6 that sets more keys adds their old values to an existing snapshot.
_SNAPSHOT_SCRIPT = 'f=$1; shift; mkdir -p "${f%/*}" && sysctl -e "$@" >> "$f"'


def snapshot_action(ctx: HostContext, keys: list[str]) -> Action:
    """Save the current values of `keys` for `kube6 reset`, before anything changes them
    (added to the snapshot: keys already in it keep the value from before kube6)."""
    return run(
        "sh",
        "-c",
        _SNAPSHOT_SCRIPT,
        "kube6-snapshot",
        SNAPSHOT_PATH,
        *keys,
        why="save the current values: kube6 reset restores them",
    )


def restore_order(values: dict[str, str]) -> list[tuple[str, str]]:
    """Forwarding first, then the rest: with forwarding back off, accept_ra may drop to 1."""
    return sorted(values.items(), key=lambda kv: (not kv[0].endswith(".forwarding"), kv[0]))


# ---- host/sysctl ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SysctlFacts:
    file: str | None
    """The file on the host, or None."""
    live: dict[str, str]
    """Current values of the settings the rendered file sets (missing: the key does not exist)."""
    default_route_from_ra: bool
    snapshot: str | None


def _rendered(ctx: HostContext, file: NodeFile) -> str | None:
    artifact = files.rendered(ctx, file)
    return artifact.content if artifact is not None else None


async def read_sysctl(ctx: HostContext) -> SysctlFacts:
    wanted = parse_sysctl_conf(_rendered(ctx, SYSCTL) or "")
    live = await probe.stdout(ctx, "sysctl", "-e", *wanted) if wanted else ""
    routes = await probe.stdout(
        ctx, "ip", "-6", "route", "show", "default", "dev", ctx.node.interface
    )
    return SysctlFacts(
        file=await probe.read_text(ctx, SYSCTL_PATH),
        live=parse_sysctl_output(live or ""),
        default_route_from_ra=parse_default_route_from_ra(routes or ""),
        snapshot=await probe.read_text(ctx, SNAPSHOT_PATH),
    )


def fresh_sysctl(ctx: HostContext) -> SysctlFacts:
    # A host never touched: nothing set, and (the cautious guess) a default route from RAs.
    return SysctlFacts(None, {}, True, None)


def plan_sysctl(ctx: HostContext, facts: SysctlFacts) -> StepPlan:
    """Put the sysctl.d file and apply it now, accept_ra=2 on an RA-routed uplink first.

    Example: a fresh host gets `sysctl -w net.ipv6.conf.eth0.accept_ra=2`, the file, and
    `sysctl -e -p /etc/sysctl.d/90-kube6.conf`; a converged one "... settings are live".
    """
    rendered = _rendered(ctx, SYSCTL)
    if rendered is None:
        return files.missing(ctx, SYSCTL)
    wanted = parse_sysctl_conf(rendered)
    # A `-` key the host lacks (the neighbour-table limits inside a container's or a lab
    # node's network namespace: they exist only in the host's own) is not this host's to set.
    absent = {k for k in optional_keys(rendered) if k not in facts.live}
    changing = {k: v for k, v in wanted.items() if facts.live.get(k) != v and k not in absent}
    if not changing and facts.file == rendered:
        return StepPlan.nothing(
            f"{SYSCTL_PATH} is in place and its {len(wanted) - len(absent)} settings are live"
        )
    actions: list[Action] = []
    saved = parse_sysctl_conf(facts.snapshot or "")
    unsaved = [k for k in changing if k not in saved]
    if unsaved:
        actions.append(snapshot_action(ctx, unsaved))
    accept_ra = f"net.ipv6.conf.{ctx.node.interface}.accept_ra"
    if facts.default_route_from_ra and accept_ra in changing:
        actions.append(
            run(
                "sysctl",
                "-w",
                f"{accept_ra}={wanted[accept_ra]}",
                why="keep the RA-learned default route when forwarding goes on (do this first)",
            )
        )
    if facts.file != rendered:
        actions.append(PutFile(SYSCTL_PATH, rendered, 0o644, why="the settings, at every boot"))
    if changing:
        # -e: the `-` keys a host lacks are skipped (procps sysctl -p fails on them).
        actions.append(run("sysctl", "-e", "-p", SYSCTL_PATH, why="the settings, now"))
    return StepPlan.do(*actions)


# ---- host/modules ---------------------------------------------------------------------------


def parse_modules_conf(text: str) -> list[str]:
    return [
        line.strip() for line in text.splitlines() if line.strip() and line.strip()[0] not in "#;"
    ]


@dataclass(frozen=True)
class ModulesFacts:
    file: str | None
    loaded: frozenset[str]
    """Of the modules wanted, those loaded or built into the kernel."""


MODULES_PROBE = ("sh", "-c", MODULES_SCRIPT)


async def read_modules(ctx: HostContext) -> ModulesFacts:
    wanted = parse_modules_conf(_rendered(ctx, MODULES_LOAD) or "")
    # kube6 check's probe: loaded, or built in by any sign (a kernel without loadable modules
    # has no modprobe to run, and a container hides /sys/module and /lib/modules).
    present = parse_modules(await probe.stdout(ctx, *MODULES_PROBE) or "== none\n")
    loaded = {name for name in wanted if name.replace("-", "_") in present}
    return ModulesFacts(await probe.read_text(ctx, MODULES_PATH), frozenset(loaded))


def fresh_modules(ctx: HostContext) -> ModulesFacts:
    return ModulesFacts(None, frozenset())


def plan_modules(ctx: HostContext, facts: ModulesFacts) -> StepPlan:
    """Put the modules-load.d file and `modprobe` every listed module not loaded yet."""
    rendered = _rendered(ctx, MODULES_LOAD)
    if rendered is None:
        return files.missing(ctx, MODULES_LOAD)
    wanted = parse_modules_conf(rendered)
    missing = [m for m in wanted if m not in facts.loaded]
    if not missing and facts.file == rendered:
        return StepPlan.nothing(f"{MODULES_PATH} is in place and {', '.join(wanted)} are loaded")
    actions: list[Action] = []
    if facts.file != rendered:
        actions.append(PutFile(MODULES_PATH, rendered, 0o644, why="the modules, at every boot"))
    actions += [run("modprobe", m, why="the module, now") for m in missing]
    return StepPlan.do(*actions)


# ---- host/swap ------------------------------------------------------------------------------


def active_swaps(proc_swaps: str) -> list[str]:
    """Devices in use from /proc/swaps (its first line is a header)."""
    return [line.split()[0] for line in proc_swaps.splitlines()[1:] if line.strip()]


def fstab_without_swap(fstab: str) -> str:
    """fstab with every active swap line commented out (marked, so a reader sees why)."""
    out = []
    for line in fstab.splitlines(keepends=True):
        fields = line.split()
        if fields and not fields[0].startswith("#") and len(fields) >= 3 and fields[2] == "swap":
            out.append(SWAP_MARK + line)
        else:
            out.append(line)
    return "".join(out)


@dataclass(frozen=True)
class SwapFacts:
    swaps: str
    """/proc/swaps."""
    fstab: str | None


async def read_swap(ctx: HostContext) -> SwapFacts:
    return SwapFacts(await ctx.executor.get("/proc/swaps") or "", await probe.read_text(ctx, FSTAB))


def fresh_swap(ctx: HostContext) -> SwapFacts:
    return SwapFacts("Filename Type Size Used Priority\n", None)


def plan_swap(ctx: HostContext, facts: SwapFacts) -> StepPlan:
    """Swap off now (`swapoff -a`) and at boot (swap lines of /etc/fstab commented out).

    The rendered kubelet configuration keeps `failSwapOn: true`: kubelet refuses to start on
    a host with swap in use.
    """
    active = active_swaps(facts.swaps)
    fstab = facts.fstab or ""
    new_fstab = fstab_without_swap(fstab)
    if not active and new_fstab == fstab:
        return StepPlan.nothing("no swap in use and none in /etc/fstab")
    actions: list[Action] = []
    if active:
        actions.append(
            run("swapoff", "-a", why=f"kubelet will not start with swap on ({', '.join(active)})")
        )
    if new_fstab != fstab:
        actions.append(PutFile(FSTAB, new_fstab, 0o644, why="no swap at the next boot"))
    return StepPlan.do(*actions)


STEP: Step[object] = Step(
    "host",
    "Kernel settings (sysctl.d, modules-load.d) in place and live; swap off.",
    children=(
        Step(
            "sysctl",
            "Forwarding on, accept_ra=2 on the uplink, neighbour-table sizes: file and live.",
            plan_sysctl,
            read_sysctl,
            fresh_sysctl,
        ),
        Step(
            "modules",
            "Kernel modules listed in modules-load.d and loaded now.",
            plan_modules,
            read_modules,
            fresh_modules,
        ),
        Step("swap", "Swap off now and at boot.", plan_swap, read_swap, fresh_swap),
    ),
)
