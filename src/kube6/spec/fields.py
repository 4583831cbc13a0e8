"""The building blocks of kube6.yaml's sections: strict scalar types, checked text, the base model.

Every section (kube6.spec and each add-on's in kube6.spec.addons) is a `StrictModel`: unknown
keys are errors, values are frozen, and each field's docstring is what `kube6 schema` shows.
"""

from __future__ import annotations

import re
from ipaddress import IPv6Address
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    Strict,
    WithJsonSchema,
)

from kube6 import net

DNS_NAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$"
)
EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")

# Strict: `ssh_port: true` must not become port 1, nor "22" or 22.0 pass as 22. A YAML boolean,
# float or quoted number where a number is expected is a mistake to report, never to coerce.
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
Str = Annotated[str, Strict()]  # no bytes (`!!binary`) taken as text
SHOWN = 60  # characters of a bad value quoted back; a 1 MB name is not echoed whole


def shorten(value: object) -> str:
    """repr(value), cut to SHOWN characters with the length said."""
    text = repr(value)
    if len(text) <= SHOWN:
        return text
    return f"{text[: SHOWN - 10]}...{text[-6:]} ({len(text)} characters)"


def as_text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text, got {shorten(value)}")
    return value


DISK_UNITS = {"Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
DISK_SIZE = re.compile(r"^([1-9][0-9]{0,5})(Mi|Gi|Ti)$")
MIN_DISK_SIZE = 100 * 2**20
"""Below kubelet's own floor for memory (100Mi): a smaller disk reserve is a typo."""


def disk_bytes(text: str) -> int:
    """Bytes of a DISK_SIZE (`2Gi`), the Kubernetes quantity notation kubelet reads."""
    match = DISK_SIZE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a disk size")
    return int(match[1]) * DISK_UNITS[match[2]]


def disk_size(value: object) -> str:
    text = as_text(value, "a disk size")
    if text.endswith("%"):
        raise ValueError(
            f"{shorten(text)} is a share of the disk; give an amount such as '10Gi' (a share is "
            "what kubelet does by default, and what this setting replaces)"
        )
    if not DISK_SIZE.match(text):
        raise ValueError(
            f"{shorten(text)} is not a disk size: a whole number with Mi, Gi or Ti "
            "(for example '10Gi')"
        )
    if disk_bytes(text) < MIN_DISK_SIZE:
        raise ValueError(f"{shorten(text)} is less than 100Mi; kubelet needs more room than that")
    return text


def pattern(regex: re.Pattern[str], what: str, example: str) -> Any:
    """A before-validator: text that matches `regex`, else an error quoting it with `example`."""

    def check(value: object) -> str:
        text = as_text(value, what)
        if not regex.match(text):
            raise ValueError(f"{shorten(text)} is not {what} (for example {example!r})")
        return text

    return check


def _address(value: object) -> IPv6Address:
    if isinstance(value, IPv6Address):
        return value
    return net.parse_address(as_text(value, "an IPv6 address"))


Address = Annotated[
    IPv6Address,
    BeforeValidator(_address),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "format": "ipv6", "examples": ["2001:db8:1234:5678::1"]}),
]
DnsName = Annotated[
    str,
    BeforeValidator(pattern(DNS_NAME, "a DNS name", "dashboard.example.com")),
    WithJsonSchema({"type": "string", "pattern": DNS_NAME.pattern}),
]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
