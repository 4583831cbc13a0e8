"""YAML in and out: ruamel.yaml for the user's kube6.yaml, PyYAML for generated files.

Generated files are read by kubeadm, Helm and kubectl, whose loaders follow YAML 1.1, where
`on` is a boolean and `2001:0:0:1` a sexagesimal number. PyYAML's safe dumper resolves plain
scalars with YAML 1.1 rules, so it quotes every string that such a loader would misread;
tests round-trip every rendered file through a YAML 1.1 loader to keep it that way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, ClassVar

import yaml

from kube6.errors import SpecError

MAX_DEPTH = 64
MAX_ITEMS = 200_000


def load_user_yaml(text: str, *, source: str) -> Any:
    """Parse the user's YAML with YAML 1.2 scalar rules; errors become a SpecError with the line.

    PyYAML's C parser with a 1.2 resolver: ruamel.yaml's pure-Python parser is ~10x slower on
    a 5,000-node spec, and PyYAML's own resolver follows 1.1 (`on` -> true,
    `2001:0:0:0:0:0:0:1` -> a sexagesimal integer). Duplicate keys are errors, not overwrites.
    """
    if _flow_depth(text) > MAX_DEPTH:
        raise SpecError([f"the document is nested deeper than {MAX_DEPTH} levels"], source=source)
    try:
        data = yaml.load(text, Loader=_SpecLoader)  # noqa: S506 - a safe loader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError([f"YAML syntax error{where}: {exc.problem}"], source=source) from None
    except yaml.YAMLError as exc:
        raise SpecError([f"YAML error: {str(exc)[:200]}"], source=source) from None
    except RecursionError:
        raise SpecError(["the document is nested too deeply"], source=source) from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise SpecError([f"YAML value error: {str(exc)[:200]}"], source=source) from None
    depth, size = _shape(data, {})
    if depth > MAX_DEPTH:
        raise SpecError([f"the document is nested deeper than {MAX_DEPTH} levels"], source=source)
    if size > MAX_ITEMS:
        raise SpecError(
            [f"the document expands to {size} values (aliases included); the limit is {MAX_ITEMS}"],
            source=source,
        )
    return data


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _SpecLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loading with the YAML 1.2 core schema and duplicate keys refused."""

    yaml_implicit_resolvers: ClassVar[dict[str | None, list[tuple[str, re.Pattern[str]]]]] = {}

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, f"unhashable key {key!r}", key_node.start_mark
                ) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"found duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)  # YAML 1.2: 010 is ten, not eight


_SpecLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)

for _tag, _pattern, _first in [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
]:
    _SpecLoader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _flow_depth(text: str) -> int:
    """Deepest [ { nesting outside quotes: refuses `[[[[…` before the parser recurses on it."""
    depth = deepest = 0
    quote = ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
        elif char == "\n" and depth == 0:
            quote = ""
    return deepest


def _shape(data: Any, seen: dict[int, tuple[int, int]], level: int = 0) -> tuple[int, int]:
    """(depth, expanded size) of a loaded document, linear in its *unexpanded* size.

    Aliases make one object appear many times; memoising by identity keeps a "billion laughs"
    document from costing a billion steps here, while the expanded size is still counted.
    """
    key = id(data)
    if key in seen:
        return seen[key]
    if level > MAX_DEPTH:
        return level, 1
    children: list[Any]
    if isinstance(data, dict):
        children = [*data.keys(), *data.values()]
    elif isinstance(data, list):
        children = data
    else:
        return 0, 1
    seen[key] = (MAX_DEPTH + 1, MAX_ITEMS + 1)  # a cycle counts as too deep and too large
    depth, size = 0, 1
    for child in children:
        child_depth, child_size = _shape(child, seen, level + 1)
        depth = max(depth, child_depth)
        size = min(size + child_size, MAX_ITEMS + 1)
    seen[key] = (depth + 1, size)
    return seen[key]


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
