"""The firewall component: each node's nftables table (host firewall) and the systemd unit that
loads it at boot. Renderer in `render`, `up` steps in `steps`."""

from __future__ import annotations

from kube6.components.base import Component
from kube6.components.firewall import render, reset, steps

COMPONENT = Component(
    "firewall", reset=reset.RESET, renderers={"firewall": render.render}, up=(steps.STEP,)
)
