"""Errors of the audit database: plain exceptions carrying a one-line message for the user.

The CLI maps them to exit codes: `ParameterError` (and `MalformedParameter`) is a usage error (2); `QueryRefused` and
every other `AuditError` are invalid requests (3).
"""

from __future__ import annotations

from reputation.errors import BadRequest, InvalidInput


class AuditError(InvalidInput):
    """A clean failure of the audit database or of a query (message for the user, no traceback)."""


class QueryRefused(AuditError):
    """A statement that `reputation audit` does not run (anything but a read of the audit tables)."""


class ParameterError(AuditError, BadRequest):
    """A parameter the query does not use, or a `$name` of the query given no value."""


class MalformedParameter(ParameterError):
    """A `--param` item that is not NAME=VALUE."""
