"""The verify use case called directly, its world handed in (no module patched)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from kube6 import spec as spec_module
from kube6.plan import make_plan
from kube6.usecases.verify import VerifyRequest, real_world, verify
from kube6.verify import kubeconfig as kubeconfigs
from tests.verify import fixtures as fx
from tests.verify.test_fetch import KUBECONFIG, server


def test_verify_reads_the_world_it_is_given(tmp_path: Path) -> None:
    plan = make_plan(spec_module.example())
    path = tmp_path / "admin.conf"
    path.write_text(json.dumps(KUBECONFIG))
    raw = fx.healthy(plan)
    raw["services"].append(fx.service("default", "legacy", "192.0.2.10", families=("IPv4",)))
    handler = server(raw, [])

    def client_for(kubeconfig: Path, **_: Any) -> Any:
        return kubeconfigs.client_for(kubeconfig, transport=httpx.MockTransport(handler))

    said: list[str] = []
    world = replace(real_world(), client_for=client_for)
    request = VerifyRequest(kubeconfig=path, outside=False, probes=False)
    results = verify(plan, request, world=world, say=said.append)
    assert [r.name for r in results if r.failed] == ["services-ipv6"]
    assert said == [f"kubeconfig: {path}"]
