"""The ndppd component: the NDP proxy of `ndp-proxy` routing (installed, configured, running
on the nodes that answer neighbour solicitations). Renderers in `render`, steps in `steps`."""

from __future__ import annotations

from kube6.components.base import Component
from kube6.components.ndppd import render, reset, steps

COMPONENT = Component(
    "ndppd", reset=reset.RESET, renderers={"ndppd": render.render}, up=(steps.STEP,)
)
