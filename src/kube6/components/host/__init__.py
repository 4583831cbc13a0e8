"""The host component: kernel settings (sysctl.d: IPv6 forwarding, router advertisements),
kernel modules at boot, swap off. Renderers in `render`, `up` steps in `steps`."""

from __future__ import annotations

from kube6.components.base import Component
from kube6.components.host import render, reset, steps

COMPONENT = Component(
    "host", reset=reset.RESET, renderers={"host": render.render}, up=(steps.STEP,)
)
