"""`up` through the mirrors: the same packages, charts, files and images, other sources."""

from __future__ import annotations

from pathlib import Path

from kube6 import spec
from kube6.components import gateway, helm
from kube6.components import kubernetes as packages
from kube6.components.containerd import steps as runtime
from kube6.components.containerd.render import REGISTRY_CONFIG_PATH
from kube6.components.registry import ADDONS_STEP, NETWORK_STEP
from kube6.facts.system import OsRelease
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.steps import StepPlan, probe
from kube6.steps.apt import RepoFacts
from kube6.steps.base import Exec, PutFile
from kube6.steps.cluster import HELM, ReleaseFacts
from kube6.versions import GATEWAY_API

from .conftest import context

LAB = Path(__file__).resolve().parents[1] / "golden" / "mirrors-lab" / "kube6.yaml"
BOOKWORM = OsRelease("debian", "12", "Debian GNU/Linux 12 (bookworm)", codename="bookworm")
KEY = (
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ0000BYJKwYBBAHaRw8BAQdA\n=abcd\n"
    "-----END PGP PUBLIC KEY BLOCK-----\n"
)
ADMIN = "--kubeconfig /etc/kubernetes/admin.conf"


def lab() -> Plan:
    return make_plan(spec.load(LAB), source=str(LAB))


def shown(step_plan: StepPlan) -> list[str]:
    return [a.display for a in step_plan.actions]


def argv(step_plan: StepPlan) -> list[tuple[str, ...]]:
    """The commands as argv (display quotes `[...]` for a shell)."""
    return [a.command.argv for a in step_plan.actions if isinstance(a, Exec)]


def leaf(step: object, name: str) -> object:
    return next(c for c in step.children if c.name == name)  # type: ignore[attr-defined]


def test_kubernetes_packages_from_the_mirror_repository() -> None:
    ctx = context(lab(), "cp1")
    step_plan = packages.plan_repository(ctx, RepoFacts(False, None, True))
    assert argv(step_plan)[1][-1] == "http://[2001:db8:ffff::10]:8080/keys/lab-apt.asc"
    put = step_plan.actions[2]
    assert isinstance(put, PutFile)
    assert put.content.splitlines()[1] == (
        "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.asc] "
        "http://[2001:db8:ffff::10]:8080/apt/kubernetes/ /"
    )


def test_docker_repository_from_the_mirror_with_an_inline_key() -> None:
    data = spec.load(LAB).model_dump(mode="json")
    data["mirrors"]["apt"]["docker"] = {
        "url": "http://[2001:db8:ffff::10]:8080/apt/docker",
        "key": KEY,
    }
    plan = make_plan(spec.from_data(data))
    ctx = context(plan, "cp1")
    step_plan = runtime.plan_repository(
        ctx, runtime.RepoFacts(BOOKWORM, RepoFacts(False, None, False))
    )
    key = step_plan.actions[1]
    assert isinstance(key, PutFile)
    assert (key.path, key.content) == ("/etc/apt/keyrings/docker.asc", KEY)
    assert not any("curl" in a for a in shown(step_plan))  # nothing fetched
    sources = step_plan.actions[2]
    assert isinstance(sources, PutFile)
    assert sources.content.splitlines()[1] == (
        "deb [signed-by=/etc/apt/keyrings/docker.asc] http://[2001:db8:ffff::10]:8080/apt/docker "
        "bookworm stable"
    )
    # converged only when the keyring holds exactly that key
    same = RepoFacts(True, sources.content, True, keyring_text=KEY)
    assert runtime.plan_repository(ctx, runtime.RepoFacts(BOOKWORM, same)).noop is not None
    other = RepoFacts(True, sources.content, True, keyring_text="old key")
    assert shown(runtime.plan_repository(ctx, runtime.RepoFacts(BOOKWORM, other)))[1].startswith(
        "write /etc/apt/keyrings/docker.asc"
    )


NOBLE = OsRelease("ubuntu", "24.04", "Ubuntu 24.04.3 LTS", codename="noble")


def docker_mirror(url: str, key_url: str) -> Plan:
    data = spec.load(LAB).model_dump(mode="json")
    data["mirrors"]["apt"]["docker"] = {"url": url, "key_url": key_url}
    return make_plan(spec.from_data(data))


def test_one_docker_mirror_serves_debian_and_ubuntu_nodes_through_distro() -> None:
    plan = docker_mirror(
        "http://[2001:db8::10]/linux/{distro}", "http://[2001:db8::10]/{distro}/gpg"
    )
    ctx = context(plan, "cp1")
    for release in (BOOKWORM, NOBLE):
        step = runtime.plan_repository(
            ctx, runtime.RepoFacts(release, RepoFacts(False, None, False))
        )
        assert argv(step)[3][-1] == f"http://[2001:db8::10]/{release.id}/gpg"
        sources = step.actions[4]
        assert isinstance(sources, PutFile)
        assert sources.content.splitlines()[1] == (
            f"deb [signed-by=/etc/apt/keyrings/docker.asc] http://[2001:db8::10]/linux/{release.id} "
            f"{release.codename} stable"
        )


def test_a_docker_mirror_of_debian_stops_on_an_ubuntu_node_with_the_fix() -> None:
    plan = docker_mirror("http://[2001:db8::10]/linux/debian", "http://[2001:db8::10]/gpg")
    ctx = context(plan, "cp1")
    step = runtime.plan_repository(ctx, runtime.RepoFacts(NOBLE, RepoFacts(False, None, False)))
    assert step.refuse is not None
    assert step.refuse == (
        "cp1 runs Ubuntu 24.04.3 LTS, but mirrors.apt.docker.url "
        "(http://[2001:db8::10]/linux/debian) is debian's"
    )
    assert "'http://[2001:db8::10]/linux/{distro}'" in step.fix
    fine = runtime.plan_repository(ctx, runtime.RepoFacts(BOOKWORM, RepoFacts(False, None, False)))
    assert fine.refuse is None


def test_helm_tarball_and_checksum_from_the_download_mirror() -> None:
    step_plan = helm.plan_helm(context(lab(), "cp1"), helm.HelmFacts(None, "amd64"))
    fetched = [a[-1] for a in argv(step_plan) if a[0] == "curl"]
    prefix = "http://[2001:db8:ffff::10]:8080/files/get.helm.sh/helm-v"
    assert all(url.startswith(prefix) for url in fetched)
    assert fetched[1].endswith(".tar.gz.sha256sum")


def test_gateway_api_bundle_from_the_download_mirror() -> None:
    step = leaf(ADDONS_STEP, "gateway-api")
    step_plan = step.plan(context(lab(), "cp1"), gateway.BundleFacts(None))  # type: ignore[attr-defined]
    assert argv(step_plan)[0][-1] == (
        "http://[2001:db8:ffff::10]:8080/files/github.com/kubernetes-sigs/gateway-api/"
        f"releases/download/{GATEWAY_API.version}/standard-install.yaml"
    )


def test_charts_from_the_oci_mirror_keep_their_names_and_versions() -> None:
    ctx = context(lab(), "cp1")
    calico = leaf(NETWORK_STEP, "calico").plan(ctx, ReleaseFacts(None, None, None))  # type: ignore[attr-defined]
    command = argv(calico)[-1]
    assert command[:10] == (
        HELM,
        *ADMIN.split(),
        "upgrade",
        "--install",
        "calico",
        "oci://[2001:db8:ffff::10]:5000/charts/tigera-operator",
        "--plain-http",
        "--version",
        "v3.33.1",
    )
    assert "--repo" not in command
    cm = leaf(ADDONS_STEP, "cert-manager").plan(ctx, ReleaseFacts(None, None, None))  # type: ignore[attr-defined]
    assert argv(cm)[-1][6:8] == (
        "oci://[2001:db8:ffff::10]:5000/charts/cert-manager",
        "--plain-http",
    )
    headlamp = leaf(ADDONS_STEP, "dashboard").plan(ctx, ReleaseFacts(None, None, None))  # type: ignore[attr-defined]
    assert argv(headlamp)[-1][6:8] == (
        "oci://[2001:db8:ffff::10]:5000/charts/headlamp",
        "--plain-http",
    )


def test_a_chart_mirror_with_a_private_ca_gets_its_ca_file() -> None:
    data = spec.load(LAB).model_dump(mode="json")
    ca = data["mirrors"]["acme"]["staging"]["ca"]
    data["mirrors"]["charts"] = [
        {"upstream": "oci://quay.io/jetstack/charts", "mirror": "https://charts.example/", "ca": ca}
    ]
    ctx = context(make_plan(spec.from_data(data)), "cp1")
    cm = leaf(ADDONS_STEP, "cert-manager").plan(ctx, ReleaseFacts(None, None, None))  # type: ignore[attr-defined]
    put = cm.actions[0]
    assert isinstance(put, PutFile)
    assert put.path.startswith("/etc/kube6/mirrors/")
    assert put.content == ca
    assert shown(cm)[-1].startswith(
        f"{HELM} {ADMIN} upgrade --install cert-manager cert-manager --repo https://charts.example/ "
        f"--ca-file {put.path} --version"
    )


def test_containerd_config_step_puts_the_registry_mirrors() -> None:
    ctx = context(lab(), "w1")
    files = sorted(p for p in ctx.files if p.startswith(REGISTRY_CONFIG_PATH))
    assert len(files) == 4
    config = ctx.files[runtime.CONFIG_PATH].content
    running = probe.ServiceFacts(True, True)
    fresh = runtime.plan_config(
        ctx, runtime.ConfigFacts(config, running, tuple((p, None) for p in files))
    )
    # hosts.toml is read at every pull: no restart for it
    assert shown(fresh) == [
        f"write {p} (mode 0644, {len(ctx.files[p].content)} bytes)" for p in files
    ]
    done = tuple((p, ctx.files[p].content) for p in files)
    assert runtime.plan_config(ctx, runtime.ConfigFacts(config, running, done)).noop == (
        "/etc/containerd/config.toml and 4 registry mirror(s) in /etc/containerd/certs.d are the "
        "rendered ones"
    )
