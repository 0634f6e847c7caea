"""Process entry points for the race tests (module level, so that `spawn` can import them).
Each returns a plain dict; an exception is returned as its repr, never raised, so the
parent sees every process's outcome."""

from __future__ import annotations

import hashlib
import time
import traceback

from reputation.config import Settings, open_store


def _settings(kind: str, home: str, schema: str) -> Settings:
    if kind == "postgres":
        from tests.services import PG_URL

        return Settings(home=home, store=PG_URL, pg_schema=schema)
    return Settings(home=home)


def ledger_digest(changes) -> str:
    from projections.ledger import to_json

    return hashlib.sha256(b"\n".join(to_json(c) for c in changes)).hexdigest()


def open_at_once(barrier, kind: str, home: str, schema: str) -> dict:
    """Open the event store and the projections the moment every process is ready."""
    from projections.service import open_projections

    try:
        barrier.wait(timeout=60)
        store = open_store(_settings(kind, home, schema))
        open_projections(_settings(kind, home, schema), store).close()
        store.close()
        return {"ok": True}
    except Exception:  # noqa: BLE001 - reported to the parent
        barrier.abort()  # the others need not wait for this one
        return {"ok": False, "error": traceback.format_exc(limit=3)}


def catch_up(barrier, kind: str, home: str, schema: str, role: str, head: int, batch: int) -> dict:
    """A follower catches up until the log's final `head`; a reader asks for a bounded
    catch-up a few times and reads what is committed when the projections are busy."""
    from projections.service import ProjectionsBusy, open_projections

    out: dict = {"ok": True, "role": role, "busy": [], "snapshots": []}
    try:
        settings = _settings(kind, home, schema)
        store = open_store(settings)
        proj = open_projections(settings, store)
        barrier.wait(timeout=60)
        deadline = time.monotonic() + 120
        if role == "follower":
            while proj.position < head and time.monotonic() < deadline:
                proj.catch_up(store, batch=batch)
                if proj.position < head:
                    store.wait_for_events(proj.position, 0.5)
            out["position"] = proj.position
        else:
            for _ in range(3):
                try:
                    proj.catch_up(store, batch=batch, wait=0.2)
                except ProjectionsBusy as busy:
                    out["busy"].append((busy.position, busy.head, busy.behind))
                committed = proj.ledger_after(0, 10**9)
                out["snapshots"].append((len(committed), ledger_digest(committed)))
                time.sleep(0.05)
        proj.close()
        store.close()
    except Exception:  # noqa: BLE001 - reported to the parent
        barrier.abort()  # the others need not wait for this one
        return {"ok": False, "role": role, "error": traceback.format_exc()}
    return out
