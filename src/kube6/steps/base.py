"""The step model: actions (data), a step's plan (actions or a no-op reason), and the context.

A step never runs anything itself. `read(ctx)` gathers the few facts it needs through
`ctx.executor` (read-only probes), `plan(ctx, facts)` is pure and returns a StepPlan, and the
runner (`kube6.steps.runner`) executes the actions, or prints them for a dry run.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from kube6.errors import Kube6Error
from kube6.execute.base import Executor
from kube6.execute.command import MASK, Command
from kube6.plan.model import Plan, PlannedNode
from kube6.render.base import Artifact

F = TypeVar("F")

# Anything shaped like a kubeadm bootstrap token is masked in every error and output we show,
# even when it did not come from us (kubeadm init prints a join command with one).
_TOKEN_SHAPE = re.compile(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b")


def mask_tokens(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` with the given secrets and every bootstrap-token-shaped word replaced by `***`."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return _TOKEN_SHAPE.sub(MASK, text)


@dataclass(frozen=True)
class Exec:
    """Run one command. `capture` names a run-time value (a placeholder such as
    `${KUBE6_JOIN_TOKEN}`) that is set from the command's stdout through `parse`."""

    command: Command
    why: str = ""
    capture: str | None = None
    parse: Callable[[str], str] | None = field(default=None, compare=False)
    secret_output: bool = False
    """The output may hold secrets: it is never shown, not even in a CommandError."""
    shell_filter: str = ""
    """For the dry-run script: a pipe that does what `parse` does (`tail -n 1`)."""
    shell_input: str = ""
    """For the dry-run script: a pipeline whose output is what kube6 gives the command on
    standard input (`tr -d '\n' < FILE`), so that the script does the same."""
    explain: tuple[Command, ...] = ()
    """Read-only commands run when this one fails, their output added to the error: what a
    wait that timed out was up against (the nodes' pressure conditions and taints)."""

    @property
    def display(self) -> str:
        return self.command.display


@dataclass(frozen=True)
class PutFile:
    """Write `content` to `path` (a host path) atomically with `mode`."""

    path: str
    content: str = field(repr=False)
    mode: int = 0o644
    why: str = ""
    secrets: tuple[str, ...] = field(default=(), repr=False)
    filled: bool = False
    """Its ${KUBE6_...} placeholders are replaced by run-time values before it is written
    (by the step's plan when they are known then, else by the runner as it writes the file)."""

    @property
    def display(self) -> str:
        return f"write {self.path} (mode {self.mode:04o}, {len(self.content)} bytes)"

    @property
    def shown_content(self) -> str:
        """The content with its secrets masked: safe to print."""
        return mask_tokens(self.content, self.secrets)


Action = Exec | PutFile


def run(
    *argv: str, why: str = "", secrets: tuple[str, ...] = (), timeout: float | None = None
) -> Exec:
    """Shorthand: `run("systemctl", "restart", "containerd")`."""
    return Exec(Command(tuple(argv), secrets=secrets, timeout=timeout), why=why)


def download(url: str, path: str, *, why: str = "") -> Exec:
    """curl `url` into `path` (a host path): fail on an HTTP error, follow redirects, retry."""
    return run("curl", "-fsSL", "--retry", "3", "-o", path, url, why=why)


@dataclass(frozen=True)
class StepPlan:
    """What one step will do on one host: actions, or a reason why nothing is needed, or a
    refusal (the host stops there, e.g. a failed preflight check)."""

    actions: tuple[Action, ...] = ()
    noop: str | None = None
    refuse: str | None = None
    fix: str = ""
    values: Mapping[str, str] = field(default_factory=dict)
    """Run-time values known when planning (e.g. the CA hash read from the CA certificate)."""
    notes: tuple[str, ...] = ()
    """Said to a reader of the dry-run script (how to do by hand what kube6 computes)."""
    script: tuple[str, ...] = ()
    """Shell lines for the dry-run script only: how to compute by hand a value that kube6
    computes itself (`KUBE6_CA_CERT_HASH="$(openssl ...)"`); never run by kube6."""

    def __post_init__(self) -> None:
        chosen = [bool(self.actions), self.noop is not None, self.refuse is not None]
        if sum(chosen) != 1:
            raise ValueError(
                "a StepPlan has exactly one of actions, a no-op reason or a refusal; "
                f"got actions={len(self.actions)}, noop={self.noop!r}, refuse={self.refuse!r}"
            )

    @classmethod
    def nothing(cls, reason: str) -> StepPlan:
        """Converged: `reason` says why (it is shown as the step's result)."""
        return cls(noop=reason)

    @classmethod
    def do(
        cls,
        *actions: Action,
        values: Mapping[str, str] | None = None,
        notes: tuple[str, ...] = (),
        script: tuple[str, ...] = (),
    ) -> StepPlan:
        return cls(actions=tuple(actions), values=dict(values or {}), notes=notes, script=script)

    @classmethod
    def stop(cls, message: str, fix: str = "") -> StepPlan:
        return cls(refuse=message, fix=fix)


@dataclass(frozen=True)
class RunOptions:
    dry_run: bool = False
    fresh: bool = False
    """Do not contact the hosts: assume every step starts from a host kube6 never touched."""
    ignore: frozenset[str] = frozenset()
    """Names of preflight checks whose failure does not stop the host."""
    verify: bool = True
    """Re-read the facts after a step changed something and fail when it did not converge."""


@dataclass
class RunState:
    """What hosts share during one run: run-time values (token, CA hash, certificate key) and
    the executors of every node (the join step reads the other nodes)."""

    options: RunOptions
    executors: dict[str, Executor] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)

    def mask(self, text: str) -> str:
        return mask_tokens(text, tuple(self.secrets))


@dataclass
class HostContext:
    """The narrow view a step gets of one host (kubeadm's `InitData`)."""

    plan: Plan
    node: PlannedNode
    executor: Executor
    files: Mapping[str, Artifact]
    """This node's rendered files by host path (`/etc/ndppd.conf`)."""
    cluster_files: Mapping[str, Artifact]
    """Cluster-wide rendered files by path under cluster/ (`calico/values.yaml`)."""
    state: RunState

    @property
    def options(self) -> RunOptions:
        return self.state.options

    @property
    def dry_run(self) -> bool:
        return self.state.options.dry_run

    def value(self, marker: str) -> str:
        """A run-time value; in a dry run an unknown one stays its named placeholder."""
        if marker in self.state.values:
            return self.state.values[marker]
        if self.dry_run:
            return marker
        raise Kube6Error(
            f"{marker} is not known: the step that sets it did not run in this `kube6 up`",
            fix="run without --skip/--only for the step that creates it (control-plane/init "
            "or join/credentials)",
        )


class Targets(StrEnum):
    """Which hosts a step runs on."""

    EACH = "each"
    FIRST_CONTROL_PLANE = "first-control-plane"
    OTHER_CONTROL_PLANES = "other-control-planes"
    WORKERS_ONLY = "workers-only"
    """Nodes that are workers and not control planes (they join as workers)."""

    def nodes(self, plan: Plan) -> tuple[str, ...]:
        if self is Targets.EACH:
            return tuple(n.name for n in plan.nodes)
        first = plan.first_control_plane.name
        if self is Targets.FIRST_CONTROL_PLANE:
            return (first,)
        if self is Targets.OTHER_CONTROL_PLANES:
            return tuple(n.name for n in plan.control_plane_nodes if n.name != first)
        return tuple(n.name for n in plan.nodes if not n.is_control_plane)


async def _no_facts(ctx: HostContext) -> None:
    return None


@dataclass(frozen=True)
class Step(Generic[F]):
    """A named, nestable, idempotent step (kubeadm's phase).

    A leaf has `read` (facts through the executor, read-only), `plan` (pure: facts -> StepPlan)
    and `fresh` (the facts of a host that kube6 never touched, for `--fresh` dry runs). A parent
    has only `children`; their names become `parent/child`.
    """

    name: str
    help: str
    plan: Callable[[HostContext, F], StepPlan] | None = None
    read: Callable[[HostContext], Awaitable[F]] | None = None
    fresh: Callable[[HostContext], F] | None = None
    children: tuple[Step[Any], ...] = ()
    targets: Targets = Targets.EACH
    serial: bool = False
    """Run the hosts one after the other (control planes join one at a time)."""
    needs_cluster: bool = False
    """Blocked when the first control plane failed (its cluster is what this step uses)."""
    verify: bool = True
    """Whether a changed step must plan to nothing afterwards (False for 'always fresh' steps)."""

    def __post_init__(self) -> None:
        if bool(self.children) == (self.plan is not None):
            raise ValueError(f"step {self.name!r} needs either a plan function or children")
        if "/" in self.name or not self.name:
            raise ValueError(f"step name {self.name!r} must be non-empty and without '/'")


@dataclass(frozen=True)
class Leaf:
    """A runnable step with its full name (`host/sysctl`)."""

    name: str
    step: Step[Any]


def leaves(steps: tuple[Step[Any], ...], prefix: str = "") -> list[Leaf]:
    """Every runnable step in order, children inherit nothing but the name prefix."""
    out: list[Leaf] = []
    for step in steps:
        name = f"{prefix}{step.name}"
        if step.children:
            out += leaves(step.children, f"{name}/")
        else:
            out.append(Leaf(name, step))
    return out


def all_names(steps: tuple[Step[Any], ...], prefix: str = "") -> list[str]:
    """Every step name, parents included (`host`, `host/sysctl`, ...)."""
    out: list[str] = []
    for step in steps:
        name = f"{prefix}{step.name}"
        out.append(name)
        out += all_names(step.children, f"{name}/")
    return out


no_facts = _no_facts
"""`read` for steps that need no facts."""
