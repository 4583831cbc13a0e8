"""Hand `kube6 verify` a world of the test's making: a fake API server, DNS answers, pods."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from kube6.usecases import verify as usecase


def use_world(monkeypatch: pytest.MonkeyPatch, **changes: Any) -> None:
    """From here on, the world that `kube6 verify` gets has `changes` (`client_for=...`) on
    top of the one it had; everything else is real."""
    current = usecase.real_world()
    monkeypatch.setattr(usecase, "real_world", lambda: replace(current, **changes))
