"""Every rendered YAML file reads the same under YAML 1.1 (PyYAML, as kubeadm/Helm/kubectl's
loaders) and YAML 1.2 (ruamel), and rendering is deterministic."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ruamel.yaml import YAML

from kube6.components.registry import render_all
from kube6.plan.model import Plan
from kube6.render.base import Artifact

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _yaml11(text: str) -> list[Any]:
    return list(yaml.safe_load_all(text))


def _yaml12(text: str) -> list[Any]:
    return list(YAML(typ="safe", pure=True).load_all(io.StringIO(text)))


def _same_under_both(text: str) -> tuple[bool, list[Any], list[Any]]:
    one, two = _yaml11(text), _yaml12(text)
    return _strict_equal(one, two), one, two


def _strict_equal(a: Any, b: Any) -> bool:
    """Equal values of equal types (so True != 1 and "1" != 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_strict_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.parametrize(
    "text",
    [
        "address: 2001:0:0:1\n",  # sexagesimal integer in YAML 1.1
        "enabled: on\n",  # boolean in YAML 1.1
        "answer: no\n",
        "mode: 0755\n",  # octal in YAML 1.1, decimal in 1.2
    ],
)
def test_the_comparison_catches_yaml11_misreads(text: str) -> None:
    same, one, two = _same_under_both(text)
    assert not same, f"{text!r} read as {one} and {two}: the comparison would miss a misread"


def test_yaml_files_read_the_same_in_yaml11_and_yaml12(
    scenario: str, scenario_artifacts: list[Artifact]
) -> None:
    yaml_files = [a for a in scenario_artifacts if a.path.endswith((".yaml", ".yml"))]
    assert yaml_files, f"{scenario}: no YAML artifacts rendered"
    for artifact in yaml_files:
        same, one, two = _same_under_both(artifact.content)
        assert same, f"{scenario}: {artifact.path} reads differently:\n1.1: {one}\n1.2: {two}"
        assert all(doc is not None for doc in one), f"{artifact.path} has an empty document"


def test_numbers_are_written_as_numbers(scenario_artifacts: list[Artifact]) -> None:
    """Every number a YAML 1.1 reader finds is written as that decimal literal in the file, so
    no address (2001:0:0:1, sexagesimal) or mode (0755, octal) turned into one."""

    def walk(value: Any, where: str, text: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                assert isinstance(key, str), f"{where}: key {key!r} is not a string"
                walk(item, f"{where}.{key}", text)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{where}[{index}]", text)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            literal = re.compile(rf"(?<![\w.:+-]){re.escape(str(value))}(?![\w.:])")
            assert literal.search(text), f"{where} = {value!r} is not written as {value}"

    for artifact in scenario_artifacts:
        if artifact.path.endswith((".yaml", ".yml")):
            for doc in _yaml11(artifact.content):
                walk(doc, artifact.path, artifact.content)


def test_the_number_check_catches_misreads() -> None:
    text = "address: 2001:0:0:1\nmode: 0755\n"
    doc = _yaml11(text)[0]
    for value in doc.values():
        literal = re.compile(rf"(?<![\w.:+-]){re.escape(str(value))}(?![\w.:])")
        assert not literal.search(text), value


def test_rendering_is_deterministic(scenario: str, plan_of: Any, golden_plan: Any) -> None:
    first: Plan = golden_plan(scenario)
    again = render_all(first)
    # A fresh plan from the same spec text, too: nothing may depend on object identity.
    fresh = render_all(plan_of((GOLDEN / scenario / "kube6.yaml").read_text()))
    assert [(a.path, a.mode, a.content) for a in render_all(first)] == [
        (a.path, a.mode, a.content) for a in again
    ]
    assert [(a.path, a.mode, a.content.encode()) for a in fresh] == [
        (a.path, a.mode, a.content.encode()) for a in again
    ]


_DIGEST_SCRIPT = """
import hashlib, json, sys
from pathlib import Path
from kube6 import spec
from kube6.plan import make_plan
from kube6.components.registry import render_all
out = {}
for folder in sorted(Path(sys.argv[1]).iterdir()):
    if (folder / "kube6.yaml").is_file():
        plan = make_plan(spec.parse_text((folder / "kube6.yaml").read_text()))
        for a in render_all(plan):
            out[folder.name + "/" + a.path] = hashlib.sha256(a.content.encode()).hexdigest()
print(json.dumps(out, sort_keys=True))
"""


def test_rendering_does_not_depend_on_hash_seed() -> None:
    """Set and dict ordering of str keys changes with PYTHONHASHSEED; output must not."""
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", _DIGEST_SCRIPT, str(GOLDEN)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        outputs.append(json.loads(done.stdout))
    assert outputs[0], "no artifacts rendered"
    assert outputs[0] == outputs[1]
