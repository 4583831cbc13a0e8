"""`kube6 expose`: open one Service's pods to the outside on its declared ports."""

from __future__ import annotations

from pathlib import Path

import typer

from kube6.cli.app import app, stderr, stdout
from kube6.cli.common import SpecOption, load_plan
from kube6.cli.verify_cmd import FETCH_OPTION, KUBECONFIG_OPTION

SERVICE_ARGUMENT = typer.Argument(
    ..., help="The Service: NAMESPACE/NAME (or NAME, in the default namespace).", metavar="SERVICE"
)
REMOVE_OPTION = typer.Option(
    False, "--remove", help="Delete the Service's policy: its pods are closed to the outside again."
)
DRY_RUN_OPTION = typer.Option(
    False, "--dry-run", help="Read the Service and print the policy; change nothing."
)


@app.command()
def expose(
    service: str = SERVICE_ARGUMENT,
    spec_path: Path | None = SpecOption,
    kubeconfig: Path | None = KUBECONFIG_OPTION,
    fetch_: bool = FETCH_OPTION,
    remove: bool = REMOVE_OPTION,
    dry_run: bool = DRY_RUN_OPTION,
) -> None:
    """Open a Service's pods to the internet on the Service's own ports, and nothing else.

    kube6's default policies keep every pod closed to the outside, also behind a
    `type: LoadBalancer` Service (Calico sees the pod's port after kube-proxy's translation,
    not the Service). This writes a Calico GlobalNetworkPolicy `kube6.expose-NAMESPACE-NAME`
    in the kube6 tier that lets outside traffic reach the pods the Service selects on its
    target ports (per protocol) and passes it on to your own NetworkPolicies. The policy is
    printed. Example: `kube6 expose web/shop`, later `kube6 expose web/shop --remove`.
    """
    from kube6.components.calico.expose import policy_yaml
    from kube6.usecases import expose as usecase
    from kube6.usecases.verify import real_world

    plan = load_plan(spec_path)
    request = usecase.ExposeRequest(
        target=service, remove=remove, dry_run=dry_run, kubeconfig=kubeconfig, fetch=fetch_
    )
    done = usecase.expose(plan, request, world=real_world(), say=stderr.print)
    stdout.print(policy_yaml(done.policy), end="", markup=False, highlight=False)
    stderr.print(done.done)
