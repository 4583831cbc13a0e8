"""Named, nestable, idempotent steps: facts in, commands (argv) out, or a no-op reason.

    contexts = make_contexts(plan, {"node0001": executor}, RunOptions(dry_run=True))
    report = await run_steps(UP_STEPS, contexts, skip=("addons",))

This package is the steps' toolkit (Step, the runner, helm and manifest steps, probes);
`UP_STEPS`, `RESET_STEPS` and `make_contexts` are assembled from the components in
`kube6.components.registry`. `host_script` turns a dry run into the shell script an operator
could follow by hand.
"""

from kube6.steps.base import (
    Exec,
    HostContext,
    PutFile,
    RunOptions,
    RunState,
    Step,
    StepPlan,
    Targets,
    all_names,
    leaves,
    mask_tokens,
)
from kube6.steps.runner import Report, Status, StepResult, run_steps, select
from kube6.steps.script import host_script

__all__ = [
    "Exec",
    "HostContext",
    "PutFile",
    "Report",
    "RunOptions",
    "RunState",
    "Status",
    "Step",
    "StepPlan",
    "StepResult",
    "Targets",
    "all_names",
    "host_script",
    "leaves",
    "mask_tokens",
    "run_steps",
    "select",
]
