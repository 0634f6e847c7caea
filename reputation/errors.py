"""The engine's typed errors. Services raise these; only the entrypoints map them to exit codes
(2 usage, 3 invalid input, 4 not found, 5 unavailable) or HTTP statuses. Each message is one
sentence that names what is wrong and, where it helps, what to do."""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error a user can cause or meet; never shown with a traceback."""


class BadRequest(EngineError, ValueError):
    """A bad parameter or option: a malformed time, an unknown rule set, a bad store URL (exit 2)."""


class Misconfigured(BadRequest):
    """A setting that disagrees with what the stores were built with (exit 2), e.g.
    REPUTATION_PUBLISH_DAYS against the days the projections were built with."""


class InvalidInput(EngineError, ValueError):
    """Input the engine refuses: bad event lines, a refused audit query, a tick to the past (exit 3)."""


class NotFound(EngineError, LookupError):
    """An unknown freelancer or client, or an empty store (exit 4)."""


class Unavailable(EngineError, RuntimeError):
    """A required service (PostgreSQL, Kafka) cannot be reached or is not configured (exit 5)."""


class Conflict(EngineError, RuntimeError):
    """A concurrent writer appended first (retried by ingest; surfaces only when retries run out)."""
