"""What a server holds: the stores requests read, and the projector that follows the log.

The projector runs *inside* the server, in a background thread with its own store and
projection connections (the same `catch_up` as `reputation project --follow`). Requests read
the projections as they are: a long catch-up makes answers older (`/healthz` says by how
much), never a request slower. Stores are opened on first use, so a server started while
PostgreSQL is away answers 503 and recovers when it is back.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time

from projections.service import Projections, open_projections
from reputation import events as ev
from reputation.config import Settings, open_store
from reputation.errors import BadRequest, Unavailable
from reputation.store import EventStore

log = logging.getLogger("engine.serve")

# opening a PostgreSQL store creates its tables and functions: two threads doing it at once
# collide ("tuple concurrently updated"), so the server's threads open one at a time
_opening = threading.Lock()


def _open(settings: Settings) -> tuple[EventStore, Projections]:
    with _opening:
        store = open_store(settings)  # raises Unavailable when unreachable
        try:
            return store, open_projections(settings, store)
        except BaseException:
            store.close()
            raise


def check_configuration(settings: Settings) -> None:
    """At start: a setting that would fail every read (publication days other than those the
    projections were built with, a malformed REPUTATION_PUBLISH_DAYS) is raised now, as the
    typed error the CLI maps to an exit code. An unreachable store is not an error here: the
    server answers 503 until it is back."""
    try:
        store, proj = _open(settings)
    except Unavailable:
        return
    try:
        proj.policy  # noqa: B018 - reading it checks the days against the projections
    finally:
        proj.close()
        store.close()


class Backend:
    """The event store and projections that requests read (thread-safe connection pools)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._pair: tuple[EventStore, Projections] | None = None

    def get(self) -> tuple[EventStore, Projections]:
        pair = self._pair
        if pair is None:
            with self._lock:
                if self._pair is None:
                    self._pair = _open(self.settings)
                pair = self._pair
        return pair

    def close(self) -> None:
        with self._lock:
            if self._pair is not None:
                store, proj = self._pair
                proj.close()
                store.close()
                self._pair = None


class Follower(threading.Thread):
    """`project --follow` in a thread: fold new events every `interval` seconds until stopped."""

    def __init__(self, settings: Settings, interval: float = 0.5):
        super().__init__(name="reputation-projector", daemon=True)
        self.settings = settings
        self.interval = interval
        self.stopping = threading.Event()
        self.last_error: str | None = None
        self.caught_up_at: float | None = None  # time.time() of the last catch-up that ended level
        self.folded = 0

    def run(self) -> None:
        store = proj = None
        while not self.stopping.is_set():
            try:
                if store is None:
                    store, proj = _open(self.settings)
                self.folded += proj.catch_up(store)  # type: ignore[union-attr]
                self.caught_up_at = time.time()
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - reported by /healthz, retried after the interval
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("projector: %s", self.last_error)
                for closing in (proj, store):
                    try:
                        if closing is not None:
                            closing.close()
                    except Exception:  # noqa: BLE001 - already broken
                        pass
                store = proj = None
            self.stopping.wait(self.interval)
        for closing in (proj, store):
            if closing is not None:
                closing.close()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.join(timeout)


def health(backend: Backend, follower: Follower | None) -> dict:
    """Store reachable (or Unavailable raised), and the projector's lag in events and seconds:
    the age of the oldest event not yet projected (0 when level)."""
    store, proj = backend.get()
    last = store.max_position()
    projected = proj.position
    behind = max(0, last - projected)
    lag_seconds = 0.0
    if behind:
        ((_, data),) = store.read(projected, 1)
        recorded = ev.parse_time(ev.decode_recorded(data).recorded_at)
        lag_seconds = max(0.0, time.time() - recorded / 1_000_000)
    return {
        "status": "ok",
        "store": "postgresql" if backend.settings.is_postgres else "sqlite",
        "position": last,
        "projected": projected,
        "lag_events": behind,
        "lag_seconds": round(lag_seconds, 3),
        "projector": None
        if follower is None
        else {
            "running": follower.is_alive(),
            "last_error": follower.last_error,
            "events_folded": follower.folded,
        },
    }


class Audiences:
    """Who sees what: the trust audience only with the configured bearer token (compared in
    constant time); without it a request gets the freelancer audience (what a freelancer may
    know: safe to show a person), or `public` when it asks for it."""

    def __init__(self, known: tuple[str, ...], token: str | None):
        self.known = known
        self.token = token
        self.least = "freelancer"

    def trusted(self, authorization: str | None) -> bool:
        if not self.token or not authorization:
            return False
        scheme, _, given = authorization.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token.encode())

    def resolve(self, asked: str | None, authorization: str | None) -> str:
        """The audience of a request; NotTrusted when it asks for trust without the token."""
        trusted = self.trusted(authorization)
        if asked is None:
            return "trust" if trusted else self.least
        if asked not in self.known:
            raise BadRequest(f"unknown audience {asked!r}; known: {', '.join(self.known)}")
        if asked == "trust" and not trusted:
            raise NotTrusted(
                "the trust audience needs the bearer token configured by REPUTATION_TRUST_TOKEN "
                "(header `Authorization: Bearer <token>`)"
                if self.token
                else "the trust audience is not served: the server has no REPUTATION_TRUST_TOKEN configured"
            )
        return asked


class NotTrusted(Exception):
    """A request asked for the trust audience without a valid bearer token (HTTP 401)."""
