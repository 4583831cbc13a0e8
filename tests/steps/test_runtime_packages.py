"""runtime/* and packages/*: apt repositories, pinned packages, config, services."""

from __future__ import annotations

from kube6.components import kubernetes as packages
from kube6.components.containerd import steps as runtime
from kube6.execute import RecordingExecutor
from kube6.facts.system import PACKAGES_FORMAT, OsRelease
from kube6.plan.model import Plan
from kube6.steps import StepPlan, probe
from kube6.steps.apt import PackageFacts, RepoFacts

from .conftest import arun, context

NOBLE = OsRelease("ubuntu", "24.04", "Ubuntu 24.04", codename="noble")
BOOKWORM = OsRelease("debian", "12", "Debian GNU/Linux 12 (bookworm)", codename="bookworm")
DPKG = ("dpkg-query", "-W", "-f", PACKAGES_FORMAT)


def shown(step_plan: StepPlan) -> list[str]:
    return [a.display for a in step_plan.actions]


def test_docker_repository_fresh(plan: Plan) -> None:
    ctx = context(plan)
    step_plan = runtime.plan_repository(ctx, runtime.RepoFacts(NOBLE, RepoFacts(False, None, True)))
    assert shown(step_plan) == [
        "install -d -m 0755 /etc/apt/keyrings",
        "curl -fsSL --retry 3 -o /etc/apt/keyrings/docker.asc https://download.docker.com/linux/ubuntu/gpg",
        "write /etc/apt/sources.list.d/docker.list (mode 0644, 163 bytes)",
        "env DEBIAN_FRONTEND=noninteractive apt-get update",
    ]
    assert step_plan.actions[2].content.splitlines()[1] == (  # type: ignore[union-attr]
        "deb [signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/ubuntu noble stable"
    )


def test_docker_repository_converged_and_refused(plan: Plan) -> None:
    ctx = context(plan)
    line = runtime.docker_line(BOOKWORM)
    content = f"# Written by kube6 up: Docker's apt repository (containerd.io).\n{line}\n"
    facts = runtime.RepoFacts(BOOKWORM, RepoFacts(True, content, True))
    assert runtime.plan_repository(ctx, facts).noop == (
        "Docker's apt repository (containerd.io): /etc/apt/sources.list.d/docker.list and its key are in place"
    )
    refused = runtime.plan_repository(
        ctx,
        runtime.RepoFacts(OsRelease("fedora", "41", "Fedora 41"), RepoFacts(True, None, True)),
    )
    assert (
        refused.refuse
        == "node0001 runs Fedora 41; kube6 installs packages on Debian and Ubuntu only"
    )


def test_containerd_install(plan: Plan) -> None:
    ctx = context(plan)
    assert shown(
        runtime.plan_install(ctx, PackageFacts({"containerd.io": "1.7.28-1"}, frozenset()))
    ) == [
        "env DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-change-held-packages 'containerd.io=2.4.2-*'",
        "apt-mark hold containerd.io",
    ]
    converged = PackageFacts(
        {"containerd.io": "2.4.2-1~ubuntu.24.04~noble"}, frozenset({"containerd.io"})
    )
    assert runtime.plan_install(ctx, converged).noop == (
        "containerd 2.4.2: containerd.io 2.4.2-1~ubuntu.24.04~noble installed and held"
    )


def test_containerd_config_restarts_a_running_containerd(plan: Plan) -> None:
    ctx = context(plan)
    running = probe.ServiceFacts(True, True)
    assert shown(runtime.plan_config(ctx, runtime.ConfigFacts("old", running)))[1:] == [
        "systemctl restart containerd"
    ]
    stopped = probe.ServiceFacts(False, False)
    assert len(runtime.plan_config(ctx, runtime.ConfigFacts(None, stopped)).actions) == 1
    current = ctx.files[runtime.CONFIG_PATH].content
    assert runtime.plan_config(ctx, runtime.ConfigFacts(current, running)).noop == (
        "/etc/containerd/config.toml is the rendered one"
    )


def test_containerd_service_and_crictl(plan: Plan) -> None:
    ctx = context(plan)
    assert shown(runtime.plan_service(ctx, probe.ServiceFacts(False, True))) == [
        "systemctl enable containerd"
    ]
    assert shown(runtime.plan_service(ctx, probe.ServiceFacts(False, False))) == [
        "systemctl enable containerd",
        "systemctl start containerd",
    ]
    assert (
        runtime.plan_service(ctx, probe.ServiceFacts(True, True)).noop
        == "containerd is enabled and running"
    )
    wanted = runtime.crictl_config(ctx)
    assert "runtime-endpoint: unix:///run/containerd/containerd.sock" in wanted
    assert shown(runtime.plan_crictl(ctx, None)) == [
        f"write /etc/crictl.yaml (mode 0644, {len(wanted)} bytes)"
    ]
    assert (
        runtime.plan_crictl(ctx, wanted).noop
        == "/etc/crictl.yaml points at unix:///run/containerd/containerd.sock"
    )


def test_service_probe_reads_systemd(plan: Plan) -> None:
    ex = RecordingExecutor(host="node0001")
    ex.reply(("systemctl", "is-enabled", "containerd"), stdout="enabled\n")
    ex.reply(("systemctl", "is-active", "--quiet", "containerd"), exit_code=3)
    assert arun(runtime.read_service(context(plan, executor=ex))) == probe.ServiceFacts(True, False)


def test_kubernetes_repository_names_the_minor(plan: Plan) -> None:
    ctx = context(plan)
    step_plan = packages.plan_repository(ctx, RepoFacts(False, None, False))
    assert shown(step_plan)[:4] == [
        "env DEBIAN_FRONTEND=noninteractive apt-get update",
        "env DEBIAN_FRONTEND=noninteractive apt-get install -y ca-certificates curl",
        "install -d -m 0755 /etc/apt/keyrings",
        "curl -fsSL --retry 3 -o /etc/apt/keyrings/kubernetes-apt-keyring.asc "
        "https://pkgs.k8s.io/core:/stable:/v1.37/deb/Release.key",
    ]
    put = step_plan.actions[4]
    assert put.content.endswith(  # type: ignore[union-attr]
        "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.asc] https://pkgs.k8s.io/core:/stable:/v1.37/deb/ /\n"
    )
    assert packages.plan_repository(ctx, RepoFacts(True, put.content, True)).noop is not None  # type: ignore[union-attr]


def test_kubernetes_packages_at_the_planned_patch(plan: Plan) -> None:
    ctx = context(plan)
    facts = PackageFacts(
        {"kubelet": "1.37.1-1.1", "kubeadm": "1.37.2-1.1", "kubectl": None}, frozenset({"kubeadm"})
    )
    assert shown(packages.plan_install(ctx, facts)) == [
        "env DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-change-held-packages "
        "'kubelet=1.37.2-*' 'kubectl=1.37.2-*'",
        "apt-mark hold kubelet kubeadm kubectl",
    ]
    done = PackageFacts(
        dict.fromkeys(packages.PACKAGES, "1.37.2-1.1"), frozenset(packages.PACKAGES)
    )
    assert packages.plan_install(ctx, done).noop == (
        "Kubernetes 1.37.2 (kubelet, kubeadm, kubectl): kubelet 1.37.2-1.1, kubeadm 1.37.2-1.1, "
        "kubectl 1.37.2-1.1 installed and held"
    )


def test_package_probe_parses_dpkg(plan: Plan) -> None:
    ex = RecordingExecutor(host="node0001")
    ex.reply((*DPKG, "kubelet"), stdout="hi \tkubelet\t1.37.2-1.1\n")
    ex.reply((*DPKG, "kubeadm"), stdout="rc \tkubeadm\t1.36.0-1.1\n")
    ex.reply(
        (*DPKG, "kubectl"), exit_code=1, stderr="dpkg-query: no packages found matching kubectl"
    )
    ex.reply(("apt-mark", "showhold"), stdout="kubelet\n")
    facts = arun(packages.read_install(context(plan, executor=ex)))
    assert facts == PackageFacts(
        {"kubelet": "1.37.2-1.1", "kubeadm": None, "kubectl": None}, frozenset({"kubelet"})
    )
