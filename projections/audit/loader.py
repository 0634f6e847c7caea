"""The SQL of the audit database, kept as resource files in `sql/` (shipped as package data).

A file may hold `${name}` placeholders (`string.Template`) for what is computed from the rule
sets in Python; a missing or unknown placeholder is an error, never an empty string.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Template


@cache
def _text(name: str) -> str:
    return resources.files(__package__).joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")


def sql(file: str, /, **values: object) -> str:
    """The text of `sql/<file>.sql` with its placeholders filled from `values`."""
    template = Template(_text(file))
    wanted = set(template.get_identifiers())
    if wanted != set(values):
        raise KeyError(f"sql/{file}.sql needs {sorted(wanted)}, was given {sorted(values)}")
    return template.substitute({k: str(v) for k, v in values.items()})
