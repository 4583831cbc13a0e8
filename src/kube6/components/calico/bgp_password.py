"""The BGP session password (routing `bgp` with `bgp.password_file`): read from the operator's
file when a command needs it, and kept in the cluster as the Secret that calico-node reads.

Some providers sign their BGP sessions with a TCP MD5 password (RFC 2385; Vultr requires one).
Calico takes a BGPPeer's password from a Secret in calico-node's own namespace (confd's secret
watcher reads `NAMESPACE`, which the operator sets to calico-system), and calico-node's RBAC
grants no Secret by default: bgp.yaml adds a Role for this one Secret (`secret_access`). The
password is never rendered or planned: `up` hands it to `kubectl create secret` on standard
input, and it is masked in every output.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kube6.errors import Kube6Error
from kube6.execute.command import Command
from kube6.plan.model import Plan
from kube6.routing import strategy
from kube6.steps import probe
from kube6.steps.base import Exec, HostContext, Step, StepPlan, Targets
from kube6.steps.kubectl import kubectl

SECRET_NAME = "kube6-bgp-password"  # noqa: S105 (a name, not a password)
SECRET_KEY = "password"  # noqa: S105 (the key in the Secret)
NAMESPACE = "calico-system"
"""Where calico-node runs (the operator's namespace) and so where it reads the Secret."""
CALICO_NODE_ACCOUNT = "calico-node"
MAX_BYTES = 80
"""The longest TCP MD5 key Linux takes (TCP_MD5SIG_MAXKEYLEN), for BIRD as for kube6's check."""


def read_password(path: str) -> str:
    """The password in the file at `path`: its one line, without the line break."""
    shown = f"bgp.password_file {path}"
    fix = (
        f"put the router's BGP password in {path} (one line, readable only by you: "
        "chmod 600), or remove bgp.password_file from kube6.yaml for a router without one"
    )
    try:
        raw = Path(path).expanduser().read_bytes()[: 4 * MAX_BYTES]
    except OSError as exc:
        raise Kube6Error(f"cannot read {shown}: {exc.strerror or exc}", fix=fix) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Kube6Error(f"{shown} is not UTF-8 text", fix=fix) from None
    lines = text.splitlines()
    password = lines[0] if lines else ""
    if not password or any(line.strip() for line in lines[1:]):
        what = "is empty" if not password else "has more than one line"
        raise Kube6Error(f"{shown} {what}; it holds exactly one line, the password", fix=fix)
    if '"' in password:
        raise Kube6Error(
            f"the password in {shown} holds a double quote (\"), which calico-node's BIRD cannot "
            "take: its configuration strings end at the first one (BIRD's lexer, "
            "conf/cf-lex.l)",
            fix=f"put the router's BGP password in {path} once your provider has set one "
            "without a double quote",
        )
    if len(password.encode()) > MAX_BYTES:
        raise Kube6Error(
            f"the password in {shown} is {len(password.encode())} bytes; a TCP MD5 key is at "
            f"most {MAX_BYTES}",
            fix=fix,
        )
    return password


def password_of(plan: Plan) -> str | None:
    """The BGP password of this plan, or None when its router takes sessions without one."""
    if plan.bgp is None or plan.bgp.password_file is None:
        return None
    return read_password(plan.bgp.password_file)


def peer_password() -> dict[str, Any]:
    """The BGPPeer's `password`: a reference to the Secret, never the password itself."""
    return {"secretKeyRef": {"name": SECRET_NAME, "key": SECRET_KEY}}


def secret_access() -> list[dict[str, Any]]:
    """A Role and RoleBinding that let calico-node read the password's Secret, and no other."""
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": SECRET_NAME, "namespace": NAMESPACE},
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["secrets"],
                "resourceNames": [SECRET_NAME],
                # confd watches the one Secret (a list and watch limited to its name).
                "verbs": ["get", "list", "watch"],
            }
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": SECRET_NAME, "namespace": NAMESPACE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": SECRET_NAME},
        "subjects": [
            {"kind": "ServiceAccount", "name": CALICO_NODE_ACCOUNT, "namespace": NAMESPACE}
        ],
    }
    return [role, binding]


@dataclass(frozen=True)
class PasswordFacts:
    password: str | None = field(repr=False)
    """The file's password, or None when it could not be read (`problem` says why)."""
    problem: Kube6Error | None
    stored: str | None = field(repr=False)
    """The Secret's `data.password` (base64), or None when there is no such Secret."""


def _applies(ctx: HostContext) -> str | None:
    if not strategy(ctx.plan.routing).bgp_peering:
        return f"routing is {ctx.plan.routing}, not bgp"
    if ctx.plan.bgp is None or ctx.plan.bgp.password_file is None:
        return "the router takes BGP sessions without a password (no bgp.password_file)"
    return None


async def read_facts(ctx: HostContext) -> PasswordFacts:
    """The file's password (as `fresh_facts`) and the Secret's, when the step applies."""
    facts = fresh_facts(ctx)
    if _applies(ctx):
        return facts
    stored = await probe.stdout(
        ctx,
        *kubectl(ctx, "-n", NAMESPACE, "get", "secret", SECRET_NAME, "-o", "jsonpath={.data}"),
    )
    return replace(facts, stored=_stored_password(stored))


def _stored_password(text: str | None) -> str | None:
    """`data.password` of the Secret from kubectl's `{.data}` (a JSON object), if any."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    value = data.get(SECRET_KEY) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def fresh_facts(ctx: HostContext) -> PasswordFacts:
    """The file's password (or why it cannot be read), no Secret yet."""
    if _applies(ctx):
        return PasswordFacts(None, None, None)
    try:
        return PasswordFacts(password_of(ctx.plan), None, None)
    except Kube6Error as exc:
        return PasswordFacts(None, exc, None)


def plan_password(ctx: HostContext, facts: PasswordFacts) -> StepPlan:
    reason = _applies(ctx)
    if reason:
        return StepPlan.nothing(reason)
    if facts.problem is not None:
        return StepPlan.stop(facts.problem.message, facts.problem.fix)
    assert facts.password is not None
    encoded = base64.b64encode(facts.password.encode()).decode()
    if facts.stored == encoded:
        return StepPlan.nothing(f"the Secret {NAMESPACE}/{SECRET_NAME} holds the password")
    secrets = (facts.password, encoded)
    by_hand = (
        "kube6 gives the password of bgp.password_file on standard input: by hand, copy the "
        "file here and add `< FILE` (remove the copy afterwards), or type the password and "
        "press Ctrl-D",
    )
    if facts.stored is None:
        create = Command(
            kubectl(
                ctx,
                *("-n", NAMESPACE, "create", "secret", "generic", SECRET_NAME),
                f"--from-file={SECRET_KEY}=/dev/stdin",
            ),
            stdin=facts.password,
            secrets=secrets,
        )
        why = "the Secret that calico-node's BGP sessions are signed with"
        return StepPlan.do(Exec(create, why=why), notes=by_hand)
    # In place (no moment without the Secret, when confd would drop the password), the new
    # value on standard input as well.
    patch = Command(
        kubectl(
            ctx,
            *("-n", NAMESPACE, "patch", "secret", SECRET_NAME),
            *("--type", "merge", "--patch-file", "/dev/stdin"),
        ),
        stdin=json.dumps({"data": {SECRET_KEY: encoded}}),
        secrets=secrets,
    )
    why = "the Secret holds another password (the file changed)"
    return StepPlan.do(Exec(patch, why=why), notes=by_hand)


STEP: Step[PasswordFacts] = Step(
    "calico-bgp-password",
    "The BGP password (bgp.password_file) in the Secret calico-node reads (bgp mode).",
    plan_password,
    read_facts,
    fresh_facts,
    targets=Targets.FIRST_CONTROL_PLANE,
    needs_cluster=True,
)
