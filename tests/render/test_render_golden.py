"""Golden files: every registered renderer, on every scenario under tests/golden/.

`KUBE6_UPDATE_GOLDEN=1 uv run pytest tests/render` rewrites `tests/golden/<scenario>/out/`
(review the diff, then commit it). Without it, a missing, extra or different file fails. In CI
(`CI` set) goldens are never written: missing ones fail and an update request is refused.
"""

from __future__ import annotations

import difflib
import os
import shutil
import warnings
from pathlib import Path

import pytest

from kube6.render.base import Artifact

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
REQUIRED_SCENARIOS = ("example", "ha-3cp-5w", "own-prefixes-bgp", "own-prefixes-ndp")

UPDATE = os.environ.get("KUBE6_UPDATE_GOLDEN") == "1"
IN_CI = bool(os.environ.get("CI"))
HOW_TO_UPDATE = "run `KUBE6_UPDATE_GOLDEN=1 uv run pytest tests/render -q` and review the diff"


def test_required_scenarios_exist() -> None:
    present = {d.name for d in GOLDEN.iterdir() if (d / "kube6.yaml").is_file()}
    missing = [name for name in REQUIRED_SCENARIOS if name not in present]
    assert not missing, f"golden scenarios missing under {GOLDEN}: {missing}"


def test_example_scenario_is_the_built_in_example() -> None:
    from kube6 import spec

    text = (GOLDEN / "example" / "kube6.yaml").read_text()
    assert spec.parse_text(text) == spec.example(), (
        "tests/golden/example/kube6.yaml differs from the built-in example; copy "
        "kube6.spec.EXAMPLE_YAML into it and update the goldens"
    )


def _existing(out: Path) -> dict[str, str]:
    if not out.is_dir():
        return {}
    return {
        p.relative_to(out).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def _rewrite(out: Path, artifacts: list[Artifact]) -> None:
    if out.exists():
        shutil.rmtree(out)
    for artifact in artifacts:
        target = out / artifact.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(artifact.content, encoding="utf-8")


def test_golden(scenario: str, scenario_artifacts: list[Artifact]) -> None:
    out = GOLDEN / scenario / "out"
    rendered = {a.path: a.content for a in scenario_artifacts}
    if UPDATE:
        if IN_CI:
            pytest.fail(
                "KUBE6_UPDATE_GOLDEN=1 is refused when CI is set: goldens are reviewed input"
            )
        if _existing(out) != rendered:
            _rewrite(out, scenario_artifacts)
            warnings.warn(f"rewrote the goldens of {scenario} under {out}", stacklevel=1)
        return

    expected = _existing(out)
    assert expected, f"no golden files for scenario {scenario!r} under {out}; {HOW_TO_UPDATE}"
    missing = sorted(set(rendered) - set(expected))
    stale = sorted(set(expected) - set(rendered))
    assert not missing, f"{scenario}: rendered files without a golden: {missing}; {HOW_TO_UPDATE}"
    assert not stale, f"{scenario}: golden files that nothing renders: {stale}; {HOW_TO_UPDATE}"
    for path, content in rendered.items():
        if content != expected[path]:
            diff = "".join(
                difflib.unified_diff(
                    expected[path].splitlines(keepends=True),
                    content.splitlines(keepends=True),
                    f"golden/{scenario}/out/{path}",
                    "rendered",
                )
            )
            pytest.fail(
                f"{scenario}: {path} differs from its golden; {HOW_TO_UPDATE}\n{diff[:6000]}"
            )
