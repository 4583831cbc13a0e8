"""The Lab: network namespaces with real daemons that act out a hosting provider's network.

    with Lab(plan) as lab:                      # builds everything, tears it all down on exit
        pod = lab.add_pod("node0001")
        assert not lab.ping(lab.internet, pod.address)
        lab.start_ndppd("node0001")             # the config `kube6 render` produced
        assert lab.ping(lab.internet, pod.address)

Every command is an argv confined to the lab's own namespaces (`commands.confined`); nothing
touches the machine's interfaces, routes or sysctls. Teardown kills the lab's daemons, every
process left in its namespaces, deletes the namespaces, their /etc/netns files and the work
directory, even after a failure halfway through `up`.

Longer than 400 lines: the Lab is one object whose daemons (router, resolver, NAT64, sshd,
ndppd, real nodes) share one lifetime and one teardown. What is not the Lab object is
elsewhere: the pure addresses and configs (layout.py, configs.py), running programs and
daemons (process.py), the real nodes (nodes.py and the modules it names), and finding and
removing labs by id (machine.py).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from types import TracebackType

from kube6.components.ndppd.render import render as render_ndppd
from kube6.execute import NetnsExecutor, SshExecutor
from kube6.lab import bgp_router, configs, nodes, rootfs
from kube6.lab.commands import confined, mesh_commands, pod_commands, setup_commands, tayga_commands
from kube6.lab.layout import (
    AUTH_PORT,
    LISTEN_PORTS,
    RESOLVER,
    Layout,
    NodeLink,
    Pod,
    lab_id_of,
    layout,
    pod,
)
from kube6.lab.machine import NETNS_ETC, free_lab_id, teardown_namespaces, workdir_of
from kube6.lab.process import (
    INSTALL_HINT,
    Daemon,
    LabError,
    absolute,
    keygen,
    missing_programs,
    program,
    require_root,
    wait_for,
)
from kube6.modes import LinkModel
from kube6.plan.model import Plan

log = logging.getLogger("kube6.lab")

Address = IPv6Address | IPv4Address | str


@dataclass
class Lab:
    """A lab for `plan`: upstream router, internet, nat64 (tayga + unbound), one namespace per node.

    Options: `nat64=False` runs no tayga (the NAT64 prefix leads nowhere), `dns64=False` runs the
    resolver without its dns64 module, `ssh=True` runs sshd on every node's address (key in
    `ssh_key`, host keys in `known_hosts`), `ndppd=True` starts the NDP proxy on every node at
    once, `records` adds names to the lab's DNS (name -> addresses). Daemons run in sessions of
    their own, so a lab built by `up()` without `down()` outlives the process (`kube6 lab up`).

    `link` is the provider's link model of every node link (`kube6.modes.LinkModel`:
    on-link or routed; default what the plan's routing mode expects), and `noise=True` has the
    internet host ping an unassigned address of each link's prefix every second, as scanners do
    on a real provider network: an on-link router then solicits it on the link, a routed one
    sends it to the node. `internet_mtu` makes the router's link to the internet a smaller-MTU
    hop (e.g. 1400): full-size packets from the nodes and pods then need ICMPv6 Packet Too Big.

    `bgp_router=True` runs BIRD 2 on the upstream router as the provider's BGP speaker for a
    plan with routing bgp (`kube6.lab.bgp_router`: every node a neighbour, the spec's password).

    `real_nodes=True` boots each node as a real Debian host (`kube6.lab.nodes`: systemd,
    its own sshd with the lab's key, nothing of Kubernetes) from the rootfs tarball `rootfs`
    (default: the cached one, `nodes.default_rootfs`), or a node named in `node_rootfs` from
    its own (a cluster of Debian and Ubuntu nodes); kube6 then reaches it over SSH like a
    server, and `kube6 up` installs everything else. The lab runs no sshd or ndppd of its own
    in such nodes.
    """

    plan: Plan
    nat64: bool = True
    dns64: bool = True
    ssh: bool = False
    ndppd: bool = False
    records: Mapping[str, Sequence[str]] = field(default_factory=dict)
    lab_id: str = ""
    real_nodes: bool = False
    rootfs: Path | None = None
    node_rootfs: Mapping[str, Path] = field(default_factory=dict)
    """Node name -> the rootfs tarball of that real node, in place of `rootfs`."""
    link: LinkModel | None = None
    noise: bool = False
    internet_mtu: int | None = None
    bgp_router: bool = False
    layout: Layout = field(init=False)
    workdir: Path = field(init=False)
    daemons: dict[str, Daemon] = field(init=False, default_factory=dict)
    pods: dict[str, Pod] = field(init=False, default_factory=dict)
    real: dict[str, nodes.RealNode] = field(init=False, default_factory=dict)
    """The booted real nodes, by name."""
    _created: list[str] = field(init=False, default_factory=list)
    _chosen: bool = field(init=False, default=False)
    _trees: dict[str, Path] = field(init=False, default_factory=dict)
    """Node name -> the extracted rootfs it boots."""

    def __post_init__(self) -> None:
        self._chosen = bool(self.lab_id)
        self._use_id(self.lab_id or free_lab_id())

    def _use_id(self, lab_id: str) -> None:
        self.lab_id = lab_id
        self.layout = layout(self.plan, lab_id, self.link, internet_mtu=self.internet_mtu)
        self.workdir = workdir_of(lab_id)

    # ---- names -------------------------------------------------------------------------------

    @property
    def upstream(self) -> str:
        return self.layout.upstream

    @property
    def internet(self) -> str:
        return self.layout.internet

    @property
    def nat64_ns(self) -> str:
        return self.layout.nat64

    def node(self, name: str) -> NodeLink:
        return self.layout.node(name)

    def node_ns(self, name: str) -> str:
        return self.layout.node(name).namespace

    @property
    def namespaces(self) -> tuple[str, ...]:
        """Every namespace of this lab, pods included."""
        return (*self.layout.namespaces, *(p.namespace for p in self.pods.values()))

    @property
    def ssh_key(self) -> Path:
        """The private key that sshd on every node accepts for root."""
        return self.workdir / "ssh" / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.workdir / "ssh" / "known_hosts"

    def executor(self, node: str) -> NetnsExecutor | nodes.NodeExecutor:
        """kube6's executor for `node`, running commands inside its namespace (inside the node
        itself when it is a real one)."""
        if node in self.real:
            return nodes.NodeExecutor(self.real[node].leader, host=node)
        return NetnsExecutor(self.node_ns(node), host=node)

    @property
    def operator_home(self) -> Path:
        """A HOME for an operator on the lab's internet: ~/.ssh holds the lab's key and the
        nodes' host keys, so `kube6` and `ssh` run there reach the nodes as root."""
        return self.workdir / "home"

    def ssh_executor(self, node: str) -> SshExecutor:
        """kube6's SSH executor for `node` (needs `ssh=True` or real nodes; use it from
        `in_namespace`)."""
        if not (self.ssh or self.real_nodes):
            raise LabError("this lab runs no sshd", fix="build it with Lab(plan, ssh=True)")
        return SshExecutor(
            f"root@[{self.node(node).address}]",
            host=node,
            known_hosts=self.known_hosts,
            client_keys=(str(self.ssh_key),),
            connect_timeout=5,
        )

    # ---- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Lab:
        return self.up()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()

    def up(self) -> Lab:
        """Build the lab; on any failure tear down what was built and re-raise."""
        require_root()
        missing = missing_programs()
        if missing:
            raise LabError(f"the lab needs {', '.join(missing)}, not installed", fix=INSTALL_HINT)
        if self.real_nodes:
            missing = nodes.missing_programs()
            if missing:
                raise LabError(
                    f"real nodes need {', '.join(missing)}, not installed", fix=nodes.NODES_HINT
                )
            if self.ndppd:
                raise LabError(
                    "real nodes run their own NDP proxy (`kube6 up` installs it)",
                    fix="build the lab with ndppd=False (`kube6 lab up --real-nodes` does)",
                )
            # Before anything is built: a missing rootfs is a clear error, not a teardown.
            unknown = sorted(set(self.node_rootfs) - {n.name for n in self.plan.nodes})
            if unknown:
                raise LabError(
                    f"node_rootfs names {', '.join(unknown)}, not nodes of the plan",
                    fix=f"name nodes of kube6.yaml: {', '.join(n.name for n in self.plan.nodes)}",
                )
            default = self.rootfs or nodes.default_rootfs()
            self._trees = {
                n.name: rootfs.rootfs_tree(self.node_rootfs.get(n.name, default))
                for n in self.plan.nodes
            }
        while True:
            try:
                # The work directory is the lock on the id: mkdir is atomic.
                self.workdir.mkdir(mode=0o700)
                break
            except FileExistsError:
                if self._chosen:
                    raise LabError(
                        f"{self.workdir} already exists: lab {self.lab_id} is running or was "
                        "not cleaned",
                        fix=f"run `kube6 lab down {self.lab_id}` as root",
                    ) from None
                self._use_id(free_lab_id())  # another process took it a moment ago
        try:
            self._build()
        except BaseException:
            self.down()
            raise
        self._save_state()
        return self

    def _build(self) -> None:
        for argv in setup_commands(self.layout, real_nodes=self.real_nodes):
            if argv[:3] == ("ip", "netns", "add"):
                self._created.append(argv[3])
            self._run(argv)
        # The nodes and the internet host (where the operator runs kube6) resolve through the
        # lab's resolver: a cluster's names (a control-plane endpoint) resolve for both.
        for namespace in (*(node.namespace for node in self.layout.nodes), self.internet):
            etc = NETNS_ETC / namespace
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "resolv.conf").write_text(configs.resolv_conf())
        self._start_dns()
        if self.nat64:
            self._start_tayga()
        self.start(
            "listener",
            self.internet,
            (
                sys.executable,
                "-m",
                "kube6.lab.listener",
                *(a for p in LISTEN_PORTS for a in ("--port", str(p))),
            ),
            ready=lambda: self.listening(self.internet, LISTEN_PORTS[0]),
        )
        if self.noise:
            self._start_noise()
        if self.bgp_router:
            self._start_bgp_router()
        if self.real_nodes:
            self._start_real_nodes()
        elif self.ssh:
            self._start_sshd()
        if self.ndppd:
            # Only where the plan has an NDP proxy (routing ndp-proxy): what `kube6 up` runs.
            for planned in self.plan.nodes:
                if planned.ndp_rules:
                    self.start_ndppd(planned.name)

    def down(self) -> None:
        """Stop every daemon, kill what is left in the namespaces, delete them. Idempotent."""
        failed: nodes.NodeError | None = None
        if self.real_nodes:
            # First, and by SIGKILL to each node's PID 1: killing the namespaces' processes
            # one by one would SIGTERM the nodes' systemd, which waits up to 90 s.
            try:
                nodes.teardown(self.lab_id, self.workdir)
            except nodes.NodeError as exc:
                failed = exc
            for real in self.real.values():
                with contextlib.suppress(subprocess.SubprocessError):
                    real.process.wait(5)  # reap nspawn, our child
            self.real.clear()
        for daemon in reversed(list(self.daemons.values())):
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                daemon.stop()
        self.daemons.clear()
        names = [*self._created, *(p.namespace for p in self.pods.values())]
        teardown_namespaces([n for n in dict.fromkeys(names) if lab_id_of(n) == self.lab_id])
        self.pods.clear()
        self._created.clear()
        if failed is not None:
            # A node's root may still be mounted in the work directory: leave it for
            # `kube6 lab down ID` rather than delete through a live node's files.
            raise failed
        shutil.rmtree(self.workdir, ignore_errors=True)

    def power_off(self, name: str) -> None:
        """Real node `name` dies as a server whose power is cut: its processes are killed (no
        shutdown) and its uplink goes down, so that nothing answers at its address any more
        (the namespace would otherwise still answer NDP and reset connections)."""
        real = self.real.get(name)
        if real is None:
            raise LabError(
                f"no running real node named {name!r}; running: {', '.join(self.real) or 'none'}"
            )
        nodes.power_off(real)
        link = self.node(name)
        self._run(("ip", "-n", link.namespace, "link", "set", link.interface, "down"))
        del self.real[name]
        self._save_state()

    # ---- running things ----------------------------------------------------------------------

    def _run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float = 20.0
    ) -> subprocess.CompletedProcess[str]:
        if not confined(argv, self.namespaces):
            raise LabError(
                f"refusing to run {list(argv)}: it is not confined to the lab's namespaces"
            )
        log.debug("lab: %s", " ".join(argv))
        try:
            result = subprocess.run(
                absolute(argv), capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"{' '.join(argv)} did not finish within {timeout:g}s") from exc
        if check and result.returncode != 0:
            raise LabError(
                f"lab command failed (exit {result.returncode}): {' '.join(argv)}\n"
                f"{(result.stdout + result.stderr).strip()}"
            )
        return result

    def run(
        self, namespace: str, argv: Sequence[str], *, check: bool = True, timeout: float = 20.0
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` inside `namespace` (`ip netns exec`); check=True raises on failure."""
        return self._run(("ip", "netns", "exec", namespace, *argv), check=check, timeout=timeout)

    def start(
        self,
        name: str,
        namespace: str,
        argv: Sequence[str],
        *,
        ready: Callable[[], bool] | None = None,
        timeout: float = 10.0,
    ) -> Daemon:
        """Start a daemon in the foreground under the lab's control; wait until `ready()`."""
        if name in self.daemons and self.daemons[name].alive():
            raise LabError(f"daemon {name!r} is already running in the lab")
        full = ("ip", "netns", "exec", namespace, *argv)
        if not confined(full, self.namespaces):
            raise LabError(f"refusing to start {list(argv)} outside the lab's namespaces")
        log_path = self.workdir / f"{name}.log"
        with log_path.open("ab") as out:
            process = subprocess.Popen(
                absolute(full),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        daemon = Daemon(name, namespace, tuple(argv), process, log_path)
        self.daemons[name] = daemon
        deadline = time.monotonic() + timeout
        while True:
            if not daemon.alive():
                raise LabError(
                    f"{name} exited at once (code {process.returncode}) in {namespace}: "
                    f"{' '.join(argv)}\n{daemon.output()}"
                )
            if ready is None or ready():
                return daemon
            if time.monotonic() > deadline:
                raise LabError(f"{name} was not ready after {timeout:g}s:\n{daemon.output()}")
            time.sleep(0.05)

    def stop(self, name: str) -> None:
        """Stop one daemon (no error when it is not running)."""
        daemon = self.daemons.pop(name, None)
        if daemon is not None:
            daemon.stop()

    def listening(self, namespace: str, port: int, proto: str = "tcp") -> bool:
        """True when something in `namespace` listens on `port` (`proto` tcp or udp)."""
        flag = {"tcp": "t", "udp": "u"}[proto]
        result = self.run(namespace, ("ss", "-Hln" + flag), check=False)
        return any(
            line.split()[3].rsplit(":", 1)[-1] == str(port)
            for line in result.stdout.splitlines()
            if len(line.split()) > 3
        )

    # ---- daemons -----------------------------------------------------------------------------

    def _start_dns(self) -> None:
        records = {**configs.default_records(), **{k: tuple(v) for k, v in self.records.items()}}
        auth = self.workdir / "unbound-auth.conf"
        auth.write_text(configs.unbound_authoritative(records, workdir=self.workdir))
        resolver = self.workdir / "unbound-resolver.conf"
        resolver.write_text(configs.unbound_resolver(dns64=self.dns64, workdir=self.workdir))
        for conf in (auth, resolver):
            self.run(self.nat64_ns, ("unbound-checkconf", str(conf)))
        self.start(
            "unbound-auth",
            self.nat64_ns,
            ("unbound", "-d", "-c", str(auth)),
            ready=lambda: self.listening(self.nat64_ns, AUTH_PORT, "udp"),
        )
        self.start(
            "unbound-resolver",
            self.nat64_ns,
            ("unbound", "-d", "-c", str(resolver)),
            ready=lambda: self.listening(self.nat64_ns, 53, "udp"),
        )

    def _start_noise(self) -> None:
        for seg in self.layout.segments:
            if seg.unassigned is not None:
                self.start(
                    f"noise-{seg.bridge}",
                    self.internet,
                    ("ping", "-6", "-n", "-q", "-i", "1", str(seg.unassigned)),
                )

    def _start_bgp_router(self) -> None:
        from kube6.components.calico.bgp_password import password_of

        conf = self.workdir / "bird-router.conf"
        conf.touch(mode=0o600)  # the password: private before it is written
        conf.write_text(bgp_router.bird_config(self.plan, self.layout, password_of(self.plan)))
        self.run(self.upstream, (program("bird"), "-p", "-c", str(conf)))
        control = self.workdir / "bird-router.ctl"
        self.start(
            "bird-router",
            self.upstream,
            (program("bird"), "-f", "-c", str(conf), "-s", str(control)),
            ready=lambda: self.listening(self.upstream, 179),
        )

    def _start_tayga(self) -> None:
        conf = self.workdir / "tayga.conf"
        conf.write_text(configs.tayga(workdir=self.workdir))
        (self.workdir / "tayga").mkdir(exist_ok=True)
        self.run(self.nat64_ns, ("tayga", "--mktun", "-c", str(conf)))
        for argv in tayga_commands(self.layout):
            self._run(argv)
        self.start("tayga", self.nat64_ns, ("tayga", "-d", "-c", str(conf)), ready=None)

    def _start_real_nodes(self) -> None:
        keys = self.workdir / "ssh"
        keys.mkdir(mode=0o700)
        keygen(self.ssh_key)
        authorized = self.ssh_key.with_suffix(".pub").read_text()
        known: list[str] = []
        for link in self.layout.nodes:  # all boot at once
            tree = self._trees[link.name]
            real = nodes.start(self.lab_id, self.workdir, link, tree, authorized)
            self.real[link.name] = real  # from now on `down()` reaps its nspawn
        for link in self.layout.nodes:
            real = self.real[link.name]
            nodes.ready(real)
            self._save_state()
            host_key = real.dirs.root / "etc" / "ssh" / "ssh_host_ed25519_key.pub"
            public = host_key.read_text().split()
            known.append(f"{link.address} {public[0]} {public[1]}")
            if not wait_for(functools.partial(self.listening, link.namespace, 22), 30):
                raise LabError(f"sshd of node {link.name} is not listening:\n{real.output()}")
        self.known_hosts.write_text("\n".join(known) + "\n")
        home = self.operator_home / ".ssh"
        home.mkdir(parents=True, mode=0o700)
        shutil.copy(self.ssh_key, home / "id_ed25519")
        shutil.copy(self.known_hosts, home / "known_hosts")

    def _start_sshd(self) -> None:
        keys = self.workdir / "ssh"
        keys.mkdir(mode=0o700)
        keygen(self.ssh_key)
        authorized = keys / "authorized_keys"
        authorized.write_text(self.ssh_key.with_suffix(".pub").read_text())
        known: list[str] = []
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
        for node in self.layout.nodes:
            host_key = keys / f"host-{node.name}"
            keygen(host_key)
            public = host_key.with_suffix(".pub").read_text().split()
            known.append(f"{node.address} {public[0]} {public[1]}")
            conf = keys / f"sshd-{node.name}.conf"
            conf.write_text(
                configs.sshd(
                    address=node.address,
                    host_key=host_key,
                    authorized_keys=authorized,
                    pidfile=keys / f"sshd-{node.name}.pid",
                )
            )
            # sshd re-executes itself and insists on an absolute path.
            sshd = program("sshd")
            self.start(
                f"sshd-{node.name}",
                node.namespace,
                (sshd, "-D", "-e", "-f", str(conf)),
                ready=functools.partial(self.listening, node.namespace, 22),
            )
        self.known_hosts.write_text("\n".join(known) + "\n")

    def ndppd_config(self, node: str) -> str:
        """The NDP proxy config for `node`: what `kube6 render` writes."""
        for artifact in render_ndppd(self.plan):
            if artifact.path.startswith(f"nodes/{node}/") and artifact.path.endswith("ndppd.conf"):
                return str(artifact.content)
        raise ValueError(f"the plan gives {node} no NDP proxy (routing is {self.plan.routing})")

    def start_ndppd(self, node: str, config: str | None = None) -> Daemon:
        """Run ndppd on `node` with `config` (default: `ndppd_config(node)`)."""
        link = self.node(node)
        path = self.workdir / f"ndppd-{node}.conf"
        path.write_text(config if config is not None else self.ndppd_config(node))
        name = f"ndppd-{node}"
        # ndppd 0.2.x aborts (ndppd::invalid_pointer, from `route::find(taddr)->ifname()`)
        # when a solicitation for an `auto` target arrives before it has read the routing
        # table. So the lab lets the router's pending resolutions finish first (as on a quiet
        # link) and waits for the debug line "reading routes" before calling ndppd ready.
        self.wait_quiet(self.upstream)
        return self.start(
            name,
            link.namespace,
            ("ndppd", "-vvv", "-c", str(path)),
            ready=lambda: (
                "reading routes" in self.daemons[name].output(limit=1_000_000)
                and self._allmulti(link)
            ),
        )

    def stop_ndppd(self, node: str) -> None:
        self.stop(f"ndppd-{node}")

    def _allmulti(self, link: NodeLink) -> bool:
        # ndppd switches the proxied interface to all-multicast once its proxy is listening.
        result = self._run(
            ("ip", "-n", link.namespace, "link", "show", link.interface), check=False
        )
        return "ALLMULTI" in result.stdout

    # ---- pods --------------------------------------------------------------------------------

    def add_pod(self, node: str, address: IPv6Address | None = None) -> Pod:
        """A pod namespace on `node`, attached as Calico attaches one; returns where it is."""
        index = sum(1 for p in self.pods.values() if p.node == node)
        new = pod(self.layout, node, index, address)
        self.pods[new.name] = new
        self._save_state()
        commands = pod_commands(self.layout, new)
        if index == 0:
            commands += mesh_commands(self.layout, node)
        for argv in commands:
            self._run(argv)
        return new

    # ---- probes ------------------------------------------------------------------------------

    def ping(
        self, namespace: str, address: Address, *, wait: float = 1.0, deadline: float | None = None
    ) -> bool:
        """True when `address` answers an ICMP echo from `namespace`.

        One echo, waiting `wait` seconds for the reply; with `deadline`, try again until a reply
        comes or `deadline` seconds pass, which rides out a neighbour entry that failed a moment
        ago (ping itself gives up at the first "address unreachable").
        """
        argv = ("ping", "-n", "-q", "-c", "1", "-W", f"{wait:g}", str(address))
        end = time.monotonic() + (deadline or 0)
        while True:
            if self.run(namespace, argv, check=False, timeout=wait + 10).returncode == 0:
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.2)

    def connect(self, namespace: str, address: Address, port: int, *, wait: float = 2.0) -> bool:
        """True when a TCP connection from `namespace` to `[address]:port` is accepted."""
        result = self.run(
            namespace,
            ("nc", "-z", "-n", "-w", f"{max(1, round(wait))}", str(address), str(port)),
            check=False,
            timeout=wait + 10,
        )
        return result.returncode == 0

    def resolve(self, namespace: str, name: str, rtype: str = "AAAA") -> list[str]:
        """The answers the lab resolver gives `namespace` for `name`."""
        result = self.run(
            namespace,
            ("dig", "+short", "+time=2", "+tries=2", f"@{RESOLVER}", name, rtype),
            check=False,
        )
        return [line for line in result.stdout.split() if not line.startswith(";")]

    def neighbour(self, namespace: str, address: Address) -> str | None:
        """The neighbour-cache state (REACHABLE, STALE, FAILED...) for `address`, or None."""
        result = self._run(
            ("ip", "-n", namespace, "-6", "neigh", "show", str(address)), check=False
        )
        words = result.stdout.split()
        return words[-1] if words else None

    def neighbour_mac(self, namespace: str, address: Address) -> str | None:
        """The link-layer address that `namespace` learned for `address`, or None."""
        result = self._run(
            ("ip", "-n", namespace, "-6", "neigh", "show", str(address)), check=False
        )
        words = result.stdout.split()
        return words[words.index("lladdr") + 1] if "lladdr" in words else None

    def mac(self, namespace: str, interface: str) -> str:
        """The MAC address of `interface` in `namespace`."""
        result = self._run(("ip", "-n", namespace, "-o", "link", "show", "dev", interface))
        words = result.stdout.split()
        return words[words.index("link/ether") + 1]

    def wait_quiet(self, namespace: str, timeout: float = 5.0) -> None:
        """Wait until `namespace` resolves no neighbour (no INCOMPLETE entry left)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            result = self._run(("ip", "-n", namespace, "-6", "neigh", "show"), check=False)
            if "INCOMPLETE" not in result.stdout:
                return
            time.sleep(0.1)

    def sysctl(self, namespace: str, key: str, value: str | int) -> None:
        """Set a sysctl inside `namespace` (never on the machine itself)."""
        self.run(namespace, ("sysctl", "-q", "-w", f"{key}={value}"))

    # ---- state for `kube6 lab status/down` ---------------------------------------------------

    def _save_state(self) -> None:
        if not self.workdir.exists():
            return
        state = {
            "id": self.lab_id,
            "plan": self.plan.digest,
            "namespaces": list(self.namespaces),
            "nodes": {n.name: str(n.address) for n in self.layout.nodes},
            "pods": {p.name: str(p.address) for p in self.pods.values()},
            "nat64": self.nat64,
            "link": str(self.layout.link),
            "dns64": self.dns64,
            "real_nodes": {name: real.leader for name, real in self.real.items()},
        }
        (self.workdir / "state.json").write_text(json.dumps(state, indent=2) + "\n")
