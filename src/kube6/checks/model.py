"""Host checks report `kube6.results.Finding` (here under its historical name CheckResult)."""

from __future__ import annotations

from kube6.modes import Grade
from kube6.results import Finding, fail, ok, warn

__all__ = ["CheckResult", "Status", "fail", "ok", "warn"]

Status = Grade
CheckResult = Finding
