"""Real servers the tests need: a missing one is a visible skip on a developer's machine and a
failure under CI=true (CI starts PostgreSQL and has the broker wheel, so absence is a bug there)."""

from __future__ import annotations

import os

import pytest

PG_URL = os.environ.get("REPUTATION_TEST_POSTGRES") or "postgresql://postgres@127.0.0.1:5432/test"


def unavailable(what: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} (CI=true: a missing service is a failure, never a skip)", pytrace=False)
    pytest.skip(what)


def pg_admin():
    """An autocommit connection to the test database, or a skip/fail naming why."""
    import psycopg

    try:
        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: the server is missing
        detail = " ".join(str(exc).split())[:200]
        unavailable(f"PostgreSQL at {PG_URL} is unreachable ({type(exc).__name__}: {detail})")
        raise  # unreachable: unavailable() always raises
