"""The `mirrors` section applied: which URL, chart source or ACME directory kube6 uses.

Pure functions of the spec's `Mirrors`; the steps, renderers and checks call them so that every
artifact is fetched through its mirror exactly as it would be from the real source (the same
image references, package names, chart names and versions, file names).

    download_url(mirrors, "https://get.helm.sh/helm-v4.1.0-linux-amd64.tar.gz")
    -> "http://[2001:db8:ffff::10]:8080/files/get.helm.sh/helm-v4.1.0-linux-amd64.tar.gz"
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from kube6 import spec
from kube6.spec import AcmeDirectory, AptMirror, ChartMirror, Mirrors

MIRROR_CA_DIR = "/etc/kube6/mirrors"
"""Where `up` puts the CA bundles of chart mirrors for helm --ca-file."""


def download_url(mirrors: Mirrors, url: str) -> str:
    """`url` with the longest matching `downloads` upstream prefix replaced by its mirror."""
    matches = [m for m in mirrors.downloads if url.startswith(m.upstream)]
    if not matches:
        return url
    best = max(matches, key=lambda m: len(m.upstream))
    return best.mirror + url.removeprefix(best.upstream)


def apt_repository(mirrors: Mirrors, which: Literal["kubernetes", "docker"]) -> AptMirror | None:
    return mirrors.apt.kubernetes if which == "kubernetes" else mirrors.apt.docker


DISTRO = spec.DISTRO
"""Written in the path of `mirrors.apt.docker`'s URLs or of `mirrors.apt.distribution`, it is
replaced per host by the host's distribution (ID= of /etc/os-release: `debian`, `ubuntu`):
Docker's repository and the distributions' archives differ per distribution, so one setting
then serves a cluster of Debian and Ubuntu nodes."""
DISTROS = ("debian", "ubuntu")


def for_distro(url: str, distro: str) -> str:
    """`url` with DISTRO replaced by this host's distribution."""
    return url.replace(DISTRO, distro)


def named_distro(url: str) -> str | None:
    """The distribution a mirror URL without DISTRO names in its path (`.../linux/debian`)."""
    if DISTRO in url:
        return None
    named = [part for part in urlsplit(url).path.split("/") if part in DISTROS]
    return named[-1] if named else None


def other_distro(url: str, distro: str) -> str | None:
    """The other distribution that a mirror URL without DISTRO names in its path (a mirror of
    `.../linux/debian` cannot serve an Ubuntu host), or None when it names none or this one."""
    named = named_distro(url)
    return named if named != distro else None


def wrong_distro(setting: str, url: str, distro: str) -> tuple[str, str] | None:
    """(what is wrong, the fix) when the mirror at `url` (kube6.yaml `setting`, `{distro}`
    already put in) is another distribution's than `distro`, the host's; else None."""
    named = other_distro(url, distro)
    if named is None:
        return None
    return f"{setting} ({url}) is {named}'s", _distro_fix(setting, url, named)


def _distro_fix(setting: str, url: str, named: str) -> str:
    """How to make the mirror at `url` (kube6.yaml `setting`) serve every distribution."""
    parts = urlsplit(url)
    at = parts.path.rfind(f"/{named}")
    path = parts.path[:at] + f"/{DISTRO}" + parts.path[at + len(named) + 1 :]
    better = parts._replace(path=path).geturl()
    return (
        f"write {DISTRO} where the distribution goes in kube6.yaml {setting} (here "
        f"{better!r}: each host gets its own distribution's path), and have the mirror serve "
        "each of your nodes' distributions"
    )


def acme_directory(
    mirrors: Mirrors, which: Literal["staging", "production"]
) -> AcmeDirectory | None:
    return mirrors.acme.staging if which == "staging" else mirrors.acme.production


def ca_file(pem: str) -> str:
    """The host path where `up` puts a mirror's CA bundle (named by its content)."""
    return f"{MIRROR_CA_DIR}/{hashlib.sha256(pem.encode()).hexdigest()[:16]}.crt"


@dataclass(frozen=True)
class ChartSource:
    """How helm gets a chart: `helm upgrade --install NAME <chart> [--repo <repo>] <flags>`."""

    chart: str
    repo: str | None = None
    flags: tuple[str, ...] = ()
    """`--plain-http` for an OCI mirror without TLS."""
    ca: str | None = None
    """PEM of the mirror's CA: `up` puts it at `ca_file(ca)` and passes `--ca-file`."""
    mirror: ChartMirror | None = None


def _join(prefix: str, rest: str) -> str:
    return prefix.rstrip("/") + "/" + rest.lstrip("/")


def chart_source(mirrors: Mirrors, chart: str, repo: str | None) -> ChartSource:
    """The chart reference kube6 uses (`chart` in repository `repo`, or an `oci://` `chart`)
    as it is fetched through the matching `charts` mirror, if any."""
    upstream_full = _join(repo, chart) if repo else chart
    name = chart.rstrip("/").rsplit("/", 1)[-1]
    for mirror in mirrors.charts:
        source = mirror.upstream.rstrip("/")
        if repo is not None and repo.rstrip("/") == source:
            rest = name
        elif upstream_full.startswith(source + "/"):
            rest = upstream_full.removeprefix(source + "/")
        else:
            continue
        flags = ("--plain-http",) if mirror.plain_http else ()
        if mirror.mirror.startswith("oci://"):
            return ChartSource(_join(mirror.mirror, rest), None, flags, mirror.ca, mirror)
        # A classic repository serves charts by name from its index.yaml.
        return ChartSource(name, mirror.mirror, flags, mirror.ca, mirror)
    return ChartSource(chart, repo)
