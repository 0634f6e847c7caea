"""The write side and the domain: the event catalogue, the rules of events.md, ingest, the store.

`reputation.open(home_or_url)` is the public face of the whole engine (see `engine.api`): it is
looked up when called, so this package itself never imports the floors above it.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["open"]


def open(where: Any = None) -> Any:  # noqa: A001 - `reputation.open(...)` reads well
    """An `engine.api.Engine` on a home folder (SQLite), a postgresql:// URL, or Settings."""
    return importlib.import_module("engine.api").open(where)
