"""The spec digest that every rendered file names: sections added later do not change it."""

from __future__ import annotations

import pytest

from kube6 import spec
from kube6.plan import planner


def test_an_unused_later_add_on_leaves_the_digest_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = {
        "prefix": "2001:db8:1234:5678::/64",
        "nodes": [{"name": "n1", "address": "2001:db8:1234:5678::1"}],
    }
    before = planner.spec_digest(spec.from_data(base))
    # As if the dashboard were an add-on that came after the digest was introduced: its default
    # section is left out, so the digest is what it would be without it ...
    monkeypatch.setattr(planner, "DIGESTED_ADDONS", ("gateway", "cert_manager"))
    later = planner.spec_digest(spec.from_data(base))
    assert later != before
    monkeypatch.setattr(planner, "DIGESTED_ADDONS", ("gateway", "cert_manager", "dashboard"))
    assert planner.spec_digest(spec.from_data(base)) == before
    # ... and a section that is set is in it.
    monkeypatch.setattr(planner, "DIGESTED_ADDONS", ("gateway", "cert_manager"))
    used = {**base, "addons": {"dashboard": {"admin": True}}}
    assert planner.spec_digest(spec.from_data(used)) not in (later, before)
