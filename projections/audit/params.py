"""`--param NAME=VALUE` items as values to bind to `$NAME`."""

from __future__ import annotations

import re
from typing import Any

from projections.audit.errors import MalformedParameter

_PARAM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INT = re.compile(r"^[+-]?\d{1,18}$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")


def parse_params(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """`name=value` pairs; integers and decimals become numbers, the rest stays text
    (write `$name::VARCHAR` in the query to compare a number-like value as text)."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().lstrip("$")
        if not sep or not _PARAM.match(name):
            raise MalformedParameter(f"{item!r} is not NAME=VALUE")
        if _INT.match(value):
            out[name] = int(value)
        elif _FLOAT.match(value):
            out[name] = float(value)
        else:
            out[name] = value
    return out
