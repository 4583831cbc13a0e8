"""Shared by the runtime, packages and routing steps: an apt repository and pinned packages.

Keys are stored ASCII-armoured as `/etc/apt/keyrings/<name>.asc` and named by `signed-by`, so no
`gpg --dearmor` (and no shell pipeline) is needed; apt reads `.asc` keyrings since apt 1.4.
"""

from __future__ import annotations

from dataclasses import dataclass

from kube6 import mirrors
from kube6.facts.system import OsRelease
from kube6.plan.model import Plan
from kube6.steps import probe
from kube6.steps.base import Action, HostContext, PutFile, StepPlan, download, run

KEYRINGS = "/etc/apt/keyrings"
APT_ENV = ("env", "DEBIAN_FRONTEND=noninteractive")


def apt_get(*args: str, why: str = "") -> Action:
    return run(*APT_ENV, "apt-get", *args, why=why, timeout=1800)


@dataclass(frozen=True)
class RepoFacts:
    keyring: bool
    sources: str | None
    curl: bool
    keyring_text: str | None = None
    """The keyring's text (compared when the key is given inline, by `mirrors.apt`)."""


async def read_repo(ctx: HostContext, keyring: str, sources: str) -> RepoFacts:
    text = await probe.read_text(ctx, keyring)
    return RepoFacts(
        keyring=text is not None,
        keyring_text=text,
        sources=await probe.read_text(ctx, sources),
        curl=await probe.exit_code(ctx, "test", "-x", "/usr/bin/curl") == 0,
    )


FRESH_REPO = RepoFacts(False, None, False)

ASSUMED_OS = OsRelease("ubuntu", "24.04", "Ubuntu 24.04", codename="noble")
ASSUMED_OSES = {
    "ubuntu": ASSUMED_OS,
    "debian": OsRelease("debian", "12", "Debian GNU/Linux 12 (bookworm)", codename="bookworm"),
}


def assumed_os(ctx: HostContext) -> OsRelease:
    """The release a `--fresh` dry run takes the hosts to run (assumed_release)."""
    return assumed_release(ctx.plan)


def assumed_release(plan: Plan) -> OsRelease:
    """The release a `--fresh` dry run takes the hosts to run (they are not contacted):
    Ubuntu 24.04, or Debian 12 when the Docker or archive mirror's URL names debian."""
    apt = plan.mirrors.apt
    urls = (apt.docker.url if apt.docker else "", apt.distribution or "")
    named = next((n for n in map(mirrors.named_distro, urls) if n), "")
    return ASSUMED_OSES.get(named, ASSUMED_OS)


def plan_repo(
    ctx: HostContext,
    facts: RepoFacts,
    *,
    what: str,
    key_url: str,
    keyring: str,
    sources: str,
    line: str,
    key: str | None = None,
) -> StepPlan:
    """Key in /etc/apt/keyrings, the sources list, `apt-get update` when either changed.

    `key` is the key itself (a mirror's, given inline in kube6.yaml): written, never fetched."""
    content = f"# Written by kube6 up: {what}.\n{line}\n"
    key_ok = facts.keyring_text == key if key is not None else facts.keyring
    if key_ok and facts.sources == content:
        return StepPlan.nothing(f"{what}: {sources} and its key are in place")
    actions: list[Action] = []
    if key is not None and not key_ok:
        actions += [
            run("install", "-d", "-m", "0755", KEYRINGS),
            PutFile(keyring, key, 0o644, why=f"the signing key of {what} (from kube6.yaml)"),
        ]
    elif not facts.keyring:
        if not facts.curl:
            actions += [
                # A fresh host's package lists may be empty or stale: install needs them.
                apt_get("update", why="the package lists, before the first install"),
                apt_get("install", "-y", "ca-certificates", "curl", why="to fetch the key"),
            ]
        actions += [
            run("install", "-d", "-m", "0755", KEYRINGS),
            download(key_url, keyring, why=f"the signing key of {what}"),
        ]
    if facts.sources != content:
        actions.append(PutFile(sources, content, 0o644, why=what))
    actions.append(apt_get("update", why="read the new repository"))
    return StepPlan.do(*actions)


@dataclass(frozen=True)
class PackageFacts:
    versions: dict[str, str | None]
    held: frozenset[str]


async def read_packages(ctx: HostContext, names: tuple[str, ...]) -> PackageFacts:
    versions = {name: await probe.package_version(ctx, name) for name in names}
    held = await probe.stdout(ctx, "apt-mark", "showhold") or ""
    return PackageFacts(versions, frozenset(held.split()))


def plan_packages(
    facts: PackageFacts, wanted: dict[str, str], *, hold: bool, what: str
) -> StepPlan:
    """Install `name=version-*` for each package not at `version`; hold them when asked.

    `wanted` maps a package to an upstream version prefix (`1.37.2`); the Debian revision
    (`-1.1`) is left to the repository.
    """
    stale = [
        name
        for name, version in wanted.items()
        if not (facts.versions.get(name) or "").startswith(f"{version}-" if version else "")
        or facts.versions.get(name) is None
    ]
    unheld = [name for name in wanted if name not in facts.held] if hold else []
    if not stale and not unheld:
        installed = ", ".join(f"{n} {facts.versions[n]}" for n in wanted)
        return StepPlan.nothing(f"{what}: {installed} installed" + (" and held" if hold else ""))
    actions: list[Action] = []
    if stale:
        specs = [f"{n}={wanted[n]}-*" if wanted[n] else n for n in stale]
        extra = ["--allow-change-held-packages"] if hold else []
        actions.append(apt_get("install", "-y", *extra, *specs, why=what))
    if hold:
        actions.append(
            run("apt-mark", "hold", *wanted, why="upgrade these only on purpose, with kube6")
        )
    return StepPlan.do(*actions)
