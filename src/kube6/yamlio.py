"""YAML in and out: ruamel.yaml for the user's kube6.yaml, PyYAML for generated files.

Generated files are read by kubeadm, Helm and kubectl, whose loaders follow YAML 1.1, where
`on` is a boolean and `2001:0:0:1` a sexagesimal number. PyYAML's safe dumper resolves plain
scalars with YAML 1.1 rules, so it quotes every string that such a loader would misread;
tests round-trip every rendered file through a YAML 1.1 loader to keep it that way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from kube6.errors import SpecError

MAX_DEPTH = 64


def load_user_yaml(text: str, *, source: str) -> Any:
    """Parse the user's YAML (1.2, safe); syntax errors become a SpecError with the line."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    parser = YAML(typ="safe", pure=True)
    try:
        data = parser.load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError([f"YAML syntax error{where}: {problem}"], source=source) from None
    except RecursionError:
        raise SpecError(["the document is nested too deeply"], source=source) from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise SpecError([f"YAML value error: {str(exc)[:200]}"], source=source) from None
    if _depth(data) > MAX_DEPTH:
        raise SpecError([f"the document is nested deeper than {MAX_DEPTH} levels"], source=source)
    return data


def _depth(data: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(data, dict):
        return max((_depth(v, level + 1) for v in data.values()), default=level + 1)
    if isinstance(data, list):
        return max((_depth(v, level + 1) for v in data), default=level + 1)
    return level


class _Dumper(yaml.SafeDumper):
    """Block style, indented lists, no aliases: what people expect to read in /etc."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_representer)


def dump(data: Any) -> str:
    """One YAML document, safe for YAML 1.1 and 1.2 readers alike."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        width=4096,
        allow_unicode=False,
    )


def dump_all(documents: Iterable[Any]) -> str:
    """Several documents separated by `---`."""
    return yaml.dump_all(
        list(documents),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        width=4096,
        explicit_start=True,
        allow_unicode=False,
    )
