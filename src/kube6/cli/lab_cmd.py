"""`kube6 lab up|down|status`: the network-namespace lab, for people who want to try the routing.

Root only. The lab lives in namespaces named `k6-<id>-*` and /tmp/kube6-lab-<id>; it never
touches the machine's own interfaces, routes or sysctls.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kube6.cli import lab_options
from kube6.cli.app import app, stderr, stdout
from kube6.cli.common import Output, SpecOption, load_plan
from kube6.errors import UsageError

if TYPE_CHECKING:
    from kube6.lab.core import Lab
    from kube6.lab.rootfs import NodeOs
    from kube6.plan.model import Plan

lab_app = typer.Typer(
    help=(
        "A hosting provider's network in network namespaces on this machine (root only): an "
        "upstream router that treats each node link's prefix as on-link or routes it to the "
        "node, the internet, NAT64/DNS64, your nodes and a pod on each, with the NDP proxy "
        "config that `kube6 render` writes."
    ),
    no_args_is_help=True,
)
app.add_typer(lab_app, name="lab")


@lab_app.command("up")
def up(
    spec_path: Path | None = SpecOption,
    pods: int | None = typer.Option(
        None, "--pods", min=0, max=50, help="Pods per node (default 1; none with --real-nodes)."
    ),
    ndppd: bool | None = typer.Option(
        None, "--ndppd/--no-ndppd", help="Start the NDP proxy (default on; off with --real-nodes)."
    ),
    nat64: bool = typer.Option(True, "--nat64/--no-nat64", help="Run tayga (NAT64)."),
    dns64: bool = typer.Option(True, "--dns64/--no-dns64", help="Resolver synthesizes AAAA."),
    ssh: bool = typer.Option(False, "--ssh", help="Run sshd on every node's address."),
    link: str | None = typer.Option(
        None,
        "--link",
        help=(
            "The provider's link model: `on-link` (the router solicits every address of the "
            "prefix: routing ndp-proxy) or `routed` (the router routes the prefix to the node: "
            "routing routed). Default: what the spec's routing expects; the other one shows "
            "what `kube6 check` says about a spec that does not fit its provider."
        ),
    ),
    internet_mtu: int | None = typer.Option(
        None,
        "--internet-mtu",
        min=1280,
        max=1500,
        help=(
            "Put the internet behind a hop of this MTU (e.g. 1400, like a tunnel): full-size "
            "packets then need ICMPv6 Packet Too Big, which `kube6 verify`'s path-mtu checks."
        ),
    ),
    noise: bool = typer.Option(
        True,
        "--noise/--no-noise",
        help=(
            "The internet pings an unassigned address of each node link every second, as "
            "scanners do: the evidence `kube6 check` reads to tell on-link from routed."
        ),
    ),
    bgp_router: bool | None = typer.Option(
        None,
        "--bgp-router/--no-bgp-router",
        help=(
            "The provider's router speaks BGP (BIRD 2): every node a neighbour in the spec's "
            "AS, signed with bgp.password_file's password; what the nodes announce goes into "
            "its routes. Default: on for routing bgp (bgp.peer must be the lab router's address: "
            "the error says which)."
        ),
    ),
    real_nodes: bool = typer.Option(
        False,
        "--real-nodes",
        help=(
            "Make every node a real host of --os: systemd booted by systemd-nspawn in the "
            "node's namespace, with sshd and the lab's key for root, nothing of Kubernetes "
            "(`kube6 up` installs it). Needs systemd-container (and mmdebstrap to build the "
            "rootfs, once, into $KUBE6_E2E_CACHE/rootfs, default ~/.cache/kube6-e2e)."
        ),
    ),
    os_names: list[str] = typer.Option(
        ["debian-12"],
        "--os",
        help=(
            "The release of --real-nodes: debian-12, debian-13, ubuntu-22.04 or ubuntu-24.04 (as a "
            "provider's image of it: Ubuntu's resolves through systemd-resolved). NODE=RELEASE "
            "gives one node its own (repeat it: a cluster of Debian and Ubuntu nodes); the "
            "others run the plain RELEASE given, or debian-12."
        ),
    ),
    rootfs: Path | None = typer.Option(
        None,
        "--rootfs",
        envvar="KUBE6_LAB_ROOTFS",
        help="Rootfs tarball for --real-nodes. Default: the cached build, made when missing.",
    ),
) -> None:
    """Build a lab for the spec's nodes and leave it running (`kube6 lab down ID` removes it)."""
    # The lab (and the plan it needs) loads when a lab command runs, not for `kube6 --help`.
    from kube6.lab import nodes
    from kube6.lab.core import Lab
    from kube6.lab.process import require_root
    from kube6.lab.rootfs import build_rootfs

    if real_nodes and (pods or ndppd):
        raise UsageError(
            "--real-nodes with lab pods or the lab's NDP proxy: real nodes get their pods and "
            "ndppd from `kube6 up`",
            fix="drop --pods/--ndppd, or drop --real-nodes",
        )
    if rootfs is not None and not real_nodes:
        raise UsageError(f"--rootfs {rootfs} without --real-nodes", fix="add --real-nodes")
    release, per_node = lab_options.releases(os_names, plan_nodes=None)
    link_model = lab_options.link_model(link)
    pods = 0 if real_nodes else (1 if pods is None else pods)
    ndppd = not real_nodes and ndppd is not False
    require_root()
    plan = load_plan(spec_path)
    lab_options.releases(os_names, plan_nodes=[n.name for n in plan.nodes])
    if per_node and rootfs is not None:
        raise UsageError(
            f"--rootfs {rootfs} with --os NODE=RELEASE: the tarball would be every node's",
            fix="drop --rootfs (each release's cached build is used), or the NODE= forms",
        )
    node_rootfs: dict[str, Path] = {}
    if real_nodes and rootfs is None:

        def built(system: NodeOs) -> Path:
            tarball = nodes.default_rootfs(os_name=system.name)
            if not tarball.exists():
                stderr.print(
                    f"building the nodes' {system.name} rootfs with mmdebstrap into {tarball} ..."
                )
            return build_rootfs(tarball, system)

        rootfs = built(release)
        node_rootfs = {node: built(system) for node, system in per_node.items()}
    lab = Lab(
        plan,
        nat64=nat64,
        dns64=dns64,
        ssh=ssh,
        real_nodes=real_nodes,
        rootfs=rootfs,
        node_rootfs=node_rootfs,
        link=link_model,
        noise=noise,
        internet_mtu=internet_mtu,
        bgp_router=plan.bgp is not None if bgp_router is None else bgp_router,
    )
    if lab.bgp_router and plan.bgp is None:
        raise UsageError(
            f"--bgp-router with routing {plan.routing}: the nodes speak no BGP",
            fix="set routing: bgp (and a bgp: section) in kube6.yaml, or drop --bgp-router",
        )
    lab.up()
    try:
        _populate(lab, plan, pods, ndppd=ndppd)
    except BaseException:
        lab.down()
        raise
    _show_lab(lab, spec_path, ssh=ssh or real_nodes, real_nodes=real_nodes)


def _populate(lab: Lab, plan: Plan, pods: int, *, ndppd: bool) -> None:
    """`pods` pods on every node, and the NDP proxy where the plan has one."""
    for node in plan.nodes:
        for _ in range(pods):
            lab.add_pod(node.name)
    if ndppd:
        for node in plan.nodes:
            if node.ndp_rules:
                lab.start_ndppd(node.name)


def _show_lab(lab: Lab, spec_path: Path | None, *, ssh: bool, real_nodes: bool) -> None:
    """What is in the lab, and commands to try."""
    from kube6.lab.layout import INTERNET_HOST, IPV4_HOST, IPV4_ONLY_NAME, NAT64_PREFIX, RESOLVER

    internet = lab.internet
    stdout.print(
        f"lab {lab.lab_id} is up (files in {lab.workdir}); provider links {lab.layout.link}"
    )
    for link in lab.layout.nodes:
        kind = "real node" if link.name in lab.real else "node"
        stdout.print(f"  {kind} {link.name}: {link.address} in namespace {link.namespace}")
    for p in lab.pods.values():
        stdout.print(f"  pod {p.name} on {p.node}: {p.address} in namespace {p.namespace}")
    stdout.print(f"  internet host {INTERNET_HOST} in {internet}; IPv4-only host {IPV4_HOST}")
    stdout.print(f"  resolver {RESOLVER}, NAT64 prefix {NAT64_PREFIX}")
    if lab.bgp_router and lab.plan.bgp is not None:
        bgp = lab.plan.bgp
        stdout.print(
            f"  BGP router {bgp.peer} (AS {bgp.peer_as}) in {lab.upstream}, every node a "
            f"neighbour in AS {bgp.as_number}"
        )
    first = next(iter(lab.pods.values()), None)
    node_ns = lab.layout.nodes[0].namespace
    stdout.print("try:")
    if first is not None:
        stdout.print(f"  ip netns exec {internet} ping -c 2 {first.address}")
    if lab.bgp_router:
        control = lab.workdir / "bird-router.ctl"
        stdout.print(f"  ip netns exec {lab.upstream} birdc -s {control} show protocols")
    stdout.print(f"  ip netns exec {node_ns} dig AAAA {IPV4_ONLY_NAME}")
    if ssh:
        stdout.print(
            f"  ip netns exec {internet} ssh -i {lab.ssh_key} -o UserKnownHostsFile="
            f"{lab.known_hosts} root@{lab.layout.nodes[0].address}"
        )
    if real_nodes:
        where = f" --spec {spec_path}" if spec_path is not None else ""
        stdout.print(
            f"  ip netns exec {internet} env HOME={lab.operator_home} kube6 check{where}"
            "   # the spec's nodes need ssh: root@[ADDRESS]"
        )
    stdout.print(f"  kube6 lab down {lab.lab_id}")


@lab_app.command("down")
def down(
    lab_id: str | None = typer.Argument(
        None, help="The lab to remove (4 hex digits, from `kube6 lab up` or `kube6 lab status`)."
    ),
    all_labs: bool = typer.Option(
        False, "--all", help="Remove every lab on this machine, also labs that others are using."
    ),
    abandoned: bool = typer.Option(
        False,
        "--abandoned",
        help="Remove only the labs that killed runs left: no process in their namespaces and "
        "no file written for 10 minutes. Safe beside labs in use.",
    ),
) -> None:
    """Kill a lab's daemons and delete its namespaces and files.

    Needs the lab's id, --abandoned or --all: labs of other users and of running test suites
    share the machine, and removing them breaks those runs. --abandoned removes what killed
    runs left (a real-node lab keeps gigabytes in /tmp/kube6-lab-<id>); --all removes every
    lab (`k6-<id>-*` namespaces, /tmp/kube6-lab-<id>), labs in use included.
    """
    from kube6.lab import machine, process
    from kube6.lab.layout import LAB_ID

    chosen = [f"a lab id ({lab_id})"] if lab_id is not None else []
    chosen += [flag for flag, on in (("--all", all_labs), ("--abandoned", abandoned)) if on]
    if len(chosen) > 1:
        raise UsageError(
            f"both {' and '.join(chosen)}", fix="give one lab id, --abandoned or --all alone"
        )
    if not chosen:
        listed, example = _labs_here()
        raise UsageError(
            f"`kube6 lab down` needs the id of the lab to remove; labs on this machine: {listed}",
            fix=f"give an id (`kube6 lab down {example}`), `kube6 lab down --abandoned` for the "
            "labs killed runs left, or `kube6 lab down --all` to remove every lab, including "
            "labs that running tests use",
        )
    # Checked before root: a mistyped id is a usage error whoever runs it.
    if lab_id is not None and not LAB_ID.match(lab_id):
        listed, example = _labs_here()
        raise UsageError(
            f"{lab_id!r} is not a lab id (4 hex digits); labs on this machine: {listed}",
            fix=f"give an id that `kube6 lab status` lists (`kube6 lab down {example}`)",
        )
    process.require_root()
    if lab_id is None:
        removed = machine.down_abandoned() if abandoned else machine.down_all()
        if removed:
            stdout.print("removed lab(s): " + ", ".join(removed))
        else:
            stderr.print("no lab to remove")
    elif machine.down(lab_id):
        stdout.print(f"removed lab(s): {lab_id}")
    else:
        stderr.print(f"no lab {lab_id} on this machine: nothing to remove")


@lab_app.command("rootfs")
def rootfs_cmd(
    os_name: str = typer.Option(
        "debian-12", "--os", help="The release: debian-12, debian-13, ubuntu-22.04 or ubuntu-24.04."
    ),
    output: Output = typer.Option(Output.TABLE, "--output", "-o", help="table or json."),
) -> None:
    """Build the real nodes' rootfs tarball of a release unless it is cached, and say where.

    mmdebstrap makes it from the release's packages (systemd, openssh-server, apt, iproute2,
    nftables, ...; nothing of Kubernetes) into $KUBE6_E2E_CACHE/rootfs (default
    ~/.cache/kube6-e2e), named by the release and its package list. Ubuntu's archive key
    comes from Debian's ubuntu-keyring package. `kube6 lab up --real-nodes` does this too.
    """
    from kube6.lab import rootfs
    from kube6.lab.process import require_root

    release = lab_options.release(os_name)
    require_root()
    cache = rootfs.cache_dir()
    tarball = rootfs.rootfs_tarball(cache, release)
    built = not tarball.exists()
    rootfs.build_rootfs(tarball, release)
    keyring = rootfs.archive_keyring(cache, release)
    info = {
        "os": release.name,
        "path": str(tarball),
        "key": rootfs.rootfs_key(release),
        "suite": release.suite,
        "packages": list(release.packages),
        "sources": list(release.sources),
        "keyring": str(keyring) if keyring else release.keyring_file,
        "built": built,
    }
    if output is Output.JSON:
        stdout.print_json(json.dumps(info))
    else:
        stdout.print(f"{'built' if built else 'cached'}: {tarball}")


def _labs_here() -> tuple[str, str]:
    """The lab ids on this machine for a message ("none"), and one for an example command."""
    from kube6.lab import machine

    present = machine.lab_ids()
    return (", ".join(present) if present else "none"), (present[0] if present else "1a2b")


@lab_app.command("status")
def status() -> None:
    """List the labs on this machine: namespaces and the processes in each, and the folders
    that interrupted runs left (`kube6 lab down ID` removes both)."""
    from kube6.lab import machine, process

    process.require_root()
    labs = machine.lab_namespaces()
    folders = machine.lab_folders()
    if not labs and not folders:
        stdout.print("no lab is running")
        return
    for lab_id in sorted(set(labs) | set(folders)):
        namespaces = labs.get(lab_id, [])
        if not namespaces:
            # A killed run, or a lab whose `up` has taken its id but not built anything yet.
            stdout.print(
                f"lab {lab_id}: leftover folder, no namespaces ({machine.workdir_of(lab_id)}; "
                f"`kube6 lab down {lab_id}` removes it)"
            )
            continue
        state = _state(machine.workdir_of(lab_id) / "state.json")
        nodes = ", ".join(f"{k} {v}" for k, v in state.get("nodes", {}).items())
        stdout.print(f"lab {lab_id}" + (f": {nodes}" if nodes else ""))
        for ns in sorted(namespaces):
            stdout.print(f"  {ns}: {_processes(machine.namespace_pids(ns)) or '-'}")


def _processes(pids: list[int]) -> str:
    if not pids:
        return ""
    result = subprocess.run(
        ["ps", "-o", "pid=,comm=", "-p", ",".join(map(str, pids))],
        capture_output=True,
        text=True,
        check=False,
    )
    return ", ".join(" ".join(line.split()) for line in result.stdout.splitlines())


def _state(path: Path) -> dict[str, Any]:
    """A lab's state file, or {} while it is being written or torn down by another process."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
