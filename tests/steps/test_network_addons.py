"""network/* and addons/*: helm (pinned), Helm releases, manifests, readiness waits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kube6 import spec
from kube6.components import coredns, gateway, helm
from kube6.components.calico import steps as calico_steps
from kube6.components.registry import ADDONS_STEP, NETWORK_STEP, check_objects
from kube6.execute import RecordingExecutor
from kube6.plan import make_plan
from kube6.plan.model import Plan
from kube6.steps import StepPlan, cluster, verify
from kube6.steps.cluster import ManifestFacts, ReleaseFacts

from .conftest import arun, context

HELM = "/usr/local/bin/helm --kubeconfig /etc/kubernetes/admin.conf"
KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf"


def shown(step_plan: StepPlan) -> list[str]:
    return [a.display for a in step_plan.actions]


def leaf(step: object, name: str) -> object:
    return next(c for c in step.children if c.name == name)  # type: ignore[attr-defined]


def test_helm_binary(plan: Plan) -> None:
    ctx = context(plan)
    step_plan = helm.plan_helm(ctx, helm.HelmFacts("v3.19.0", "arm64"))
    assert shown(step_plan)[-1] == (
        "tar -xzf /var/lib/kube6/helm/helm-v4.3.1-linux-arm64.tar.gz -C /usr/local/bin "
        "--strip-components=1 linux-arm64/helm"
    )
    assert shown(step_plan)[3] == (
        'sh -c \'cd "$1" && sha256sum -c "$2"\' kube6-verify /var/lib/kube6/helm '
        "helm-v4.3.1-linux-arm64.tar.gz.sha256sum"
    )
    assert helm.plan_helm(ctx, helm.HelmFacts("v4.3.1", "amd64")).noop == "helm v4.3.1 is installed"


def test_calico_release(plan: Plan) -> None:
    ctx = context(plan)
    step = leaf(NETWORK_STEP, "calico")
    values = ctx.cluster_files["calico/values.yaml"]
    step_plan = step.plan(ctx, ReleaseFacts(None, None, None))  # type: ignore[attr-defined]
    assert shown(step_plan) == [
        f"write /etc/kube6/cluster/calico/values.yaml (mode 0644, {len(values.content)} bytes)",
        f"{HELM} upgrade --install calico tigera-operator --repo https://docs.tigera.io/calico/charts "
        "--version v3.33.1 --namespace tigera-operator --create-namespace "
        "--values /etc/kube6/cluster/calico/values.yaml --wait --timeout 10m",
    ]
    deployed = ReleaseFacts("deployed", "v3.33.1", values.content)
    assert step.plan(ctx, deployed).noop == "Helm release calico v3.33.1 is deployed"  # type: ignore[attr-defined]
    changed_values = ReleaseFacts("deployed", "v3.33.1", "old")
    assert len(step.plan(ctx, changed_values).actions) == 2  # type: ignore[attr-defined]
    failed = ReleaseFacts("failed", "v3.33.1", values.content)
    assert len(step.plan(ctx, failed).actions) == 2  # type: ignore[attr-defined]


DATA = Path(__file__).parent / "data"


def test_helm_status_parser() -> None:
    # Recorded from helm v4.3.1 on a lab node (the tigera-operator release of the e2e journey).
    metadata = (DATA / "helm-get-metadata.json").read_text()
    assert cluster.parse_helm_status(metadata) == ("deployed", "v3.33.1")
    # helm 4's `status -o json` has no chart: reading it left every release unconverged.
    status = (DATA / "helm-v4-status.json").read_text()
    assert "chart" not in json.loads(status)
    assert cluster.parse_helm_status(None) == (None, None)
    assert cluster.parse_helm_status("Error: release: not found") == (None, None)
    assert cluster.parse_helm_status("[]") == (None, None)


def test_release_read(plan: Plan) -> None:
    ex = RecordingExecutor(host="node0001")
    metadata = json.dumps({"name": "calico", "status": "deployed", "version": "v3.33.1"})
    ex.reply(
        (
            "/usr/local/bin/helm",
            "--kubeconfig",
            "/etc/kubernetes/admin.conf",
            "get",
            "metadata",
            "calico",
            "-n",
            "tigera-operator",
            "-o",
            "json",
        ),
        stdout=metadata,
    )
    ex.files["/etc/kube6/cluster/calico/values.yaml"] = (
        context(plan).cluster_files["calico/values.yaml"].content,
        0o644,
    )
    ctx = context(plan, executor=ex)
    step = leaf(NETWORK_STEP, "calico")
    facts = arun(step.read(ctx))  # type: ignore[attr-defined]
    assert facts.status == "deployed"
    assert facts.chart_version == "v3.33.1"
    assert step.plan(ctx, facts).noop == "Helm release calico v3.33.1 is deployed"  # type: ignore[attr-defined]


def test_manifests_step(plan: Plan) -> None:
    ctx = context(plan)
    step = leaf(ADDONS_STEP, "issuers")
    issuers = ctx.cluster_files["cert-manager/issuers.yaml"]
    assert shown(step.plan(ctx, ManifestFacts(frozenset()))) == [  # type: ignore[attr-defined]
        f"write /etc/kube6/cluster/cert-manager/issuers.yaml (mode 0644, {len(issuers.content)} bytes)",
        f"{KUBECTL} apply --server-side --field-manager kube6 -f /etc/kube6/cluster/cert-manager/issuers.yaml",
    ]
    current = ManifestFacts(frozenset({"cert-manager/issuers.yaml"}))
    assert step.plan(ctx, current).noop == "1 manifest file(s) applied and unchanged"  # type: ignore[attr-defined]


def test_manifests_read_uses_server_side_diff(plan: Plan) -> None:
    ex = RecordingExecutor(host="node0001")
    ctx = context(plan, executor=ex)
    rendered = ctx.cluster_files["cert-manager/issuers.yaml"].content
    ex.files["/etc/kube6/cluster/cert-manager/issuers.yaml"] = (rendered, 0o644)
    diff = (
        *KUBECTL.split(),
        "diff",
        "--server-side",
        "--field-manager",
        "kube6",
        "-f",
        "/etc/kube6/cluster/cert-manager/issuers.yaml",
    )
    ex.reply(diff, exit_code=1, stdout="-  email: old@example.com")
    step = leaf(ADDONS_STEP, "issuers")
    assert arun(step.read(ctx)) == ManifestFacts(frozenset())  # type: ignore[attr-defined]
    ex.reply(diff, exit_code=0)
    assert arun(step.read(ctx)) == ManifestFacts(frozenset({"cert-manager/issuers.yaml"}))  # type: ignore[attr-defined]


def test_steps_that_do_not_apply_say_why(plan: Plan) -> None:
    ctx = context(plan)
    assert leaf(NETWORK_STEP, "calico-bgp").plan(ctx, ManifestFacts(frozenset())).noop == (  # type: ignore[attr-defined]
        "routing is ndp-proxy, not bgp"
    )
    assert leaf(NETWORK_STEP, "coredns").plan(ctx, ManifestFacts(frozenset())).noop == (  # type: ignore[attr-defined]
        "CoreDNS keeps its defaults (DNS64: off)"
    )


def test_calico_ready_waits_for_the_operators_statuses(plan: Plan) -> None:
    ctx = context(plan)
    ready = calico_steps.CalicoReadiness
    waits = [
        f"{KUBECTL} wait --for=create --for=condition=Available tigerastatus/calico "
        "tigerastatus/apiserver --timeout=10m",
        *(
            f"{KUBECTL} -n calico-system rollout status {w} --timeout=10m"
            for w in ("daemonset/calico-node", "deployment/calico-typha",
                      "deployment/calico-kube-controllers", "deployment/calico-apiserver")
        ),
    ]  # fmt: skip
    assert (
        shown(calico_steps.plan_calico_ready(ctx, ready(frozenset({"calico"}), frozenset())))
        == waits
    )
    # Available, but a second Typha still starting (three nodes or more): the rollouts too.
    settling = ready(frozenset({"calico", "apiserver"}), frozenset({"deployment/calico-typha"}))
    assert shown(calico_steps.plan_calico_ready(ctx, settling)) == waits
    assert calico_steps.plan_calico_ready(
        ctx, ready(frozenset({"calico", "apiserver"}), frozenset())
    ).noop == (
        "the operator reports calico, apiserver Available, and daemonset/calico-node, "
        "deployment/calico-typha, deployment/calico-kube-controllers, deployment/calico-apiserver "
        "are rolled out"
    )
    assert calico_steps.fresh_calico_ready(ctx).settling == frozenset(calico_steps.CALICO_WORKLOADS)
    statuses = {
        "items": [
            {
                "metadata": {"name": "calico"},
                "status": {"conditions": [{"type": "Available", "status": "True"}]},
            },
            {
                "metadata": {"name": "apiserver"},
                "status": {
                    "conditions": [
                        {"type": "Available", "status": "False"},
                        {"type": "Progressing", "status": "True"},
                    ]
                },
            },
            {"metadata": {"name": "tiers"}},
        ]
    }
    assert calico_steps.parse_available(json.dumps(statuses)) == frozenset({"calico"})
    assert calico_steps.parse_available("not json") == frozenset()


def test_calico_workloads_are_rolled_out_when_every_replica_is_updated_and_ready() -> None:
    def deployment(name: str, replicas: int, ready: int, generation: int = 1) -> dict[str, Any]:
        return {
            "kind": "Deployment",
            "metadata": {"name": name, "generation": generation},
            "spec": {"replicas": replicas},
            "status": {"observedGeneration": 1, "updatedReplicas": replicas,
                       "readyReplicas": ready, "availableReplicas": ready},
        }  # fmt: skip

    node = {
        "kind": "DaemonSet",
        "metadata": {"name": "calico-node", "generation": 1},
        "status": {"observedGeneration": 1, "desiredNumberScheduled": 3,
                   "updatedNumberScheduled": 3, "numberReady": 3, "numberAvailable": 3},
    }  # fmt: skip
    items = [
        node,
        deployment("calico-typha", 2, 1),  # the second Typha still starting
        deployment("calico-kube-controllers", 1, 1),
        deployment("calico-apiserver", 2, 2, generation=2),  # a change not yet looked at
    ]
    text = json.dumps({"items": items})
    assert calico_steps.parse_settling(text) == frozenset(
        {"deployment/calico-typha", "deployment/calico-apiserver"}
    )
    # Missing or unreadable: not rolled out.
    assert calico_steps.parse_settling(json.dumps({"items": [node]})) == frozenset(
        calico_steps.CALICO_WORKLOADS
    ) - {"daemonset/calico-node"}
    assert calico_steps.parse_settling("not json") == frozenset(calico_steps.CALICO_WORKLOADS)


def test_nodes_ready_and_coredns(plan: Plan) -> None:
    ctx = context(plan)
    assert shown(coredns.plan_ready(ctx, coredns.ReadyFacts(frozenset(), 0))) == [
        f"{KUBECTL} wait --for=condition=Ready node --all --timeout=10m",
        f"{KUBECTL} -n kube-system rollout status deployment/coredns --timeout=10m",
    ]
    assert coredns.plan_ready(ctx, coredns.ReadyFacts(frozenset({"node0001"}), 2)).noop == (
        "1 node(s) Ready, CoreDNS available"
    )
    nodes = {
        "items": [
            {
                "metadata": {"name": "a"},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]},
            },
            {
                "metadata": {"name": "b"},
                "status": {"conditions": [{"type": "Ready", "status": "False"}]},
            },
        ]
    }
    assert coredns.parse_ready_nodes(json.dumps(nodes)) == frozenset({"a"})


def test_gateway_api_bundle(plan: Plan) -> None:
    ctx = context(plan)
    assert shown(gateway.plan_bundle(ctx, gateway.BundleFacts(None)))[0] == (
        f"{KUBECTL} apply --server-side --force-conflicts --field-manager kube6 -f "
        "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.6.3/standard-install.yaml"
    )
    assert (
        gateway.plan_bundle(ctx, gateway.BundleFacts("v1.6.3")).noop
        == "Gateway API CRDs v1.6.3 are installed"
    )


def test_cert_manager_release_pins_and_enables_crds(plan: Plan) -> None:
    ctx = context(plan)
    step_plan = leaf(ADDONS_STEP, "cert-manager").plan(ctx, ReleaseFacts(None, None, None))  # type: ignore[attr-defined]
    assert shown(step_plan)[-1] == (
        f"{HELM} upgrade --install cert-manager oci://quay.io/jetstack/charts/cert-manager "
        "--version v1.21.2 --namespace cert-manager --create-namespace "
        "--values /etc/kube6/cluster/cert-manager/values.yaml --set crds.enabled=true --wait --timeout 10m"
    )


def test_envoy_gateway_crds_have_one_source_each() -> None:
    """Envoy Gateway's own CRDs from gateway-crds-helm (Gateway API ones off: they come from
    the gateway-api step), and the controller chart with its bundled CRDs switched off."""
    data = spec.example().model_dump(mode="json", exclude_none=True)
    data["addons"]["gateway"]["controller"] = "envoy-gateway"
    ctx = context(make_plan(spec.from_data(data), source="test"))
    crds = leaf(ADDONS_STEP, "envoy-gateway-crds").plan(ctx, ReleaseFacts(None, None, None))  # type: ignore[attr-defined]
    assert shown(crds) == [
        f"{HELM} upgrade --install envoy-gateway-crds oci://docker.io/envoyproxy/gateway-crds-helm "
        "--version v1.9.1 --namespace envoy-gateway-system --create-namespace "
        "--set crds.envoyGateway.enabled=true --set crds.gatewayAPI.enabled=false "
        "--wait --timeout 10m"
    ]
    names = [c.name for c in ADDONS_STEP.children]
    assert (
        names.index("gateway-api")
        < names.index("envoy-gateway-crds")
        < names.index("envoy-gateway")
    )
    values = ctx.cluster_files["gateway/values.yaml"].content
    assert "crds:\n  enabled: false\n" in values


def test_coredns_step_takes_the_corefile_over_from_kubeadm(plan: Plan) -> None:
    """kubeadm made the ConfigMap: kube6 takes its fields (--force-conflicts, also in the diff
    that decides whether it is converged); other manifest steps never force (see above)."""
    data = spec.example().model_dump(mode="json", exclude_none=True)
    data["dns"] = {"nat64_prefix": "64:ff9b::/96", "dns64": "coredns"}
    ctx = context(make_plan(spec.from_data(data)))
    step_plan = leaf(NETWORK_STEP, "coredns").plan(ctx, ManifestFacts(frozenset()))  # type: ignore[attr-defined]
    assert shown(step_plan)[-1] == (
        f"{KUBECTL} apply --server-side --field-manager kube6 --force-conflicts "
        "-f /etc/kube6/cluster/coredns/configmap.yaml"
    )


def test_verify_refuses_an_unready_api_server(plan: Plan) -> None:
    ctx = context(plan)
    refused = verify.plan_verify(ctx, verify.VerifyFacts(None, "[-]etcd failed"), check_objects)
    assert refused.refuse == "the API server on node0001 is not ready: [-]etcd failed"


def test_verify_runs_the_object_checks(plan: Plan) -> None:
    ctx = context(plan)
    # No nodes at all: the registration check of kube6 verify fails and stops the host.
    refused = verify.plan_verify(
        ctx,
        verify.VerifyFacts(verify.to_objects({"nodes": (), "services": (), "pods": ()})),
        check_objects,
    )
    assert refused.refuse is not None
    assert "acceptance check(s) failed" in refused.refuse
    assert verify.parse_items('{"items": [{"a": 1}]}') == ({"a": 1},)
    assert verify.parse_items("error") is None


def test_preflight_stops_on_a_failed_check(plan: Plan) -> None:
    from kube6.checks import CheckResult, Status
    from kube6.steps import preflight

    ctx = context(plan)
    ok = CheckResult("cgroup-v2", Status.OK, "cgroup v2")
    bad = CheckResult("ipv6-forwarding", Status.FAIL, "forwarding is 0", fix="sysctl -w ...")
    warn = CheckResult("swap", Status.WARN, "swap is on (ignored)")
    refused = preflight.plan_preflight(ctx, preflight.PreflightFacts((ok, bad)))
    assert refused.refuse == (
        "1 preflight check(s) failed on node0001:\n"
        "  [ipv6-forwarding] forwarding is 0\n      fix: sysctl -w ..."
    )
    passed = preflight.plan_preflight(ctx, preflight.PreflightFacts((ok, warn)))
    assert passed.noop == "2 checks passed (warnings: swap)"
    fresh = context(plan, fresh=True)
    assert preflight.plan_preflight(fresh, preflight.PreflightFacts(())).noop is not None


def test_calico_resources_wait_for_the_calico_api(plan: Plan) -> None:
    """projectcalico.org/v3 is served by the Calico API server (pods): the policies are applied
    only once its APIService exists (the operator makes it after its install: found by the bgp
    journey on real nodes, where `network/calico-bgp` runs that early) and is Available."""
    ctx = context(plan)
    step = leaf(NETWORK_STEP, "policies")
    policies = ctx.cluster_files["policies/default.yaml"]
    assert shown(step.plan(ctx, ManifestFacts(frozenset()))) == [  # type: ignore[attr-defined]
        f"{KUBECTL} wait --for=create --for=condition=Available apiservice/v3.projectcalico.org "
        "--timeout=10m",
        f"write /etc/kube6/cluster/policies/default.yaml (mode 0644, {len(policies.content)} bytes)",
        f"{KUBECTL} apply --server-side --field-manager kube6 -f /etc/kube6/cluster/policies/default.yaml",
    ]
    current = ManifestFacts(frozenset({"policies/default.yaml"}))
    assert step.plan(ctx, current).noop == "1 manifest file(s) applied and unchanged"  # type: ignore[attr-defined]


def test_calico_crds_are_applied_server_side_not_as_a_release(plan: Plan) -> None:
    # Found on the lab's real nodes: as a Helm release the chart failed with `Secret
    # "sh.helm.release.v1.calico-crds.v1" is invalid: data: Too long` (1 MiB cap).
    ctx = context(plan)
    step = leaf(NETWORK_STEP, "calico-crds")
    folder = f"{cluster.CLUSTER_DIR}/charts/calico-crds-v3.33.1"
    assert [a.display for a in step.plan(ctx, cluster.ChartCrdsFacts(False)).actions] == [  # type: ignore[attr-defined]
        f"rm -rf {folder}",
        "/usr/local/bin/helm --kubeconfig /etc/kubernetes/admin.conf template calico-crds "
        "crd.projectcalico.org.v1 --repo https://docs.tigera.io/calico/charts --version v3.33.1 "
        f"--namespace tigera-operator --output-dir {folder}",
        "kubectl --kubeconfig /etc/kubernetes/admin.conf apply --server-side --field-manager "
        f"kube6 --force-conflicts -R -f {folder}",
    ]
    assert step.plan(ctx, cluster.ChartCrdsFacts(True)).noop == (  # type: ignore[attr-defined]
        "crd.projectcalico.org.v1 v3.33.1 is applied, unchanged"
    )
    ex = RecordingExecutor(host="node0001")
    ex.reply(("test", "-e", folder), exit_code=0)
    ex.reply(
        (
            "kubectl",
            "--kubeconfig",
            "/etc/kubernetes/admin.conf",
            "diff",
            "--server-side",
            "--field-manager",
            "kube6",
            "--force-conflicts",
            "-R",
            "-f",
            folder,
        ),
        exit_code=1,
    )
    assert arun(step.read(context(plan, executor=ex))) == cluster.ChartCrdsFacts(False)  # type: ignore[attr-defined]
