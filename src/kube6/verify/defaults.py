"""The default targets and image of the data-path probes.

Apart from kube6.verify.datapath, so that the command line can show them in `--help` without
loading the probes and the plan.
"""

from __future__ import annotations

from ipaddress import IPv6Address

from kube6.versions import BUSYBOX

DEFAULT_OUTSIDE = IPv6Address("2001:4860:4860::8888")
"""An outside IPv6 address that answers ping (Google Public DNS)."""
DEFAULT_IPV4_ONLY_NAME = "github.com"
"""A name with A records only (still true in 2026): reachable from IPv6 only through NAT64."""
DEFAULT_PROBE_IMAGE = BUSYBOX.version
"""The probe pods' image: busybox has every command the probes run as an applet."""
