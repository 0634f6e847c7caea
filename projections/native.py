"""The native projector: `reputation._core` (Rust, native/) behind the Python projector's
interface (`run`, `position`, `clock`, `seq`).

The core keeps the whole projection state in memory, decodes the stored rows itself and
returns, per batch, the rows the store writes (state as msgpack, ledger entries as JSON, byte
for byte what the Python projector would write); they are committed here with the tracked
position in one transaction, through the same `Repo.commit_rows` as the Python projector.

State that is already in the projection store (a resumed projector) is loaded lazily: the
core calls back `load`, `due_deadlines` and `freelancer_ids` below, as the Python projector
asks its repo. A store that is empty at start is asked only for what the core let go of.

Memory: the core holds at most REPUTATION_PROJECTOR_HOLD contracts (default HOLD; 0: no
limit). Past it, at the start of a batch, the freelancers used least recently let go of their
state and their contracts' (the store has it: only freelancers the last batch, whose commit
may be in flight, did not touch), and are loaded back when an event, deadline or flag needs
them. Clients and pending deadlines stay in memory.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from threading import Lock
from typing import Callable, Iterator

import msgspec

from projections.ledger import ScoreChange
from projections.projector import Meta
from projections.publication import Policy, record_days
from projections.store import ReadRepo, Rows
from reputation.errors import BadRequest, Unavailable
from reputation.store import EventStore

ENGINES = ("python", "native")
HOLD_ENV = "REPUTATION_PROJECTOR_HOLD"
HOLD = 2_000_000  # contracts, about 1 KB of state each: an 11M-event simulated rebuild (1.28M) stays below it
_enc = msgspec.msgpack.Encoder()
_ledger = msgspec.json.Decoder(list[ScoreChange])


def hold_from_env() -> int:
    """The most contracts the core holds in memory (REPUTATION_PROJECTOR_HOLD; 0: no limit)."""
    raw = os.environ.get(HOLD_ENV, "").strip()
    if not raw:
        return HOLD
    if not raw.isdigit():
        raise BadRequest(f"{HOLD_ENV}={raw!r}: expected a whole number of contracts (0: no limit)")
    return int(raw)


class NativeUnavailable(Unavailable):
    """The Rust extension is not built (reinstall the package: pip install -e .)."""


def _core():
    try:
        from reputation import _core
    except ImportError as exc:
        raise NativeUnavailable(
            f"the native projector (reputation._core) is not built: {exc}; reinstall with `pip install -e .`"
        ) from None
    return _core


class _Loader:
    """What the core asks of the projection store (state as msgpack bytes)."""

    def __init__(self, repo: ReadRepo, lock: Lock):
        self.repo, self.lock = repo, lock

    def load(self, table: str, ids: list[str]) -> list[tuple[str, bytes]]:
        with self.lock:
            found = getattr(self.repo, f"load_{table}")(ids)
        return [(k, _enc.encode(v)) for k, v in found.items()]

    def due_deadlines(self, after: int, upto: int) -> list[tuple[int, str]]:
        with self.lock:
            return self.repo.due_deadlines(after, upto)

    def freelancer_ids(self) -> list[str]:
        with self.lock:
            return self.repo.freelancer_ids()


class NativeProjector:
    # rows per transaction: each batch rewrites the state of every contract and freelancer it
    # touches, so larger batches write less; they start at FIRST (the first commit comes
    # soon, the pipeline fills at once) and double up to BATCH
    FIRST, BATCH = 20_000, 100_000

    def __init__(self, repo: ReadRepo, policy: Policy = Policy()):
        hold = hold_from_env()
        self.repo = repo
        record_days(repo, policy)
        meta = repo.meta()
        empty = meta.position == 0 and not repo.freelancer_ids()
        # one call at a time into the projection store's datastore: eventsourcing's PostgreSQL
        # datastore is not safe to enter from two threads at once (its pool's `wait` asserts)
        self._io = Lock()
        self._core = _core().CoreProjector(
            meta.position, meta.clock, meta.seq, _Loader(repo, self._io), list(policy.days), empty, hold
        )

    @property
    def position(self) -> int:
        return self._core.position

    @property
    def clock(self) -> int:
        return self._core.clock

    @property
    def seq(self) -> int:
        return self._core.seq

    @property
    def held(self) -> int:
        """Contracts the core holds in memory now."""
        return self._core.held

    @property
    def state_bytes(self) -> int:
        """The heap the core's state takes now, counted part by part (no batch in flight)."""
        return self._core.state_bytes

    def run(self, rows: list[tuple[int, bytes]]) -> list[ScoreChange]:
        """Project a batch of log rows and commit it (state + ledger + position)."""
        batch = self._project(rows)
        if batch is None:
            return []
        changes = _rows(batch)
        self.repo.commit_rows(changes)
        return _ledger.decode(b"[" + b",".join(r[5] for r in changes.ledger) + b"]")

    def catch_up(
        self, store: EventStore, progress: Callable[[int, int], None] | None = None, batch: int | None = None
    ) -> int:
        """Project every new log row, batch by batch. The next batch is read and the last one
        committed while the core projects (it lets go of the GIL); commits stay in log order,
        one transaction per batch, and the first failure stops the rest. `batch`: rows per
        batch (default: from FIRST, doubling up to BATCH, and at most half of what is left,
        down to FIRST / 2, so the final commit, which nothing overlaps, is a small one)."""
        sizes = _sizes(batch, batch) if batch else _sizes(self.FIRST, self.BATCH)
        last, done = store.max_position(), 0
        shared = _datastore(store) is _datastore(self.repo)  # one PostgreSQL pool for both
        reading = self._io if shared else Lock()

        def read(after: int) -> list[tuple[int, bytes]]:
            size = next(sizes)
            if not batch:  # the last commit waits for nothing else: taper the tail to keep it short
                size = min(size, max(self.FIRST // 2, (last - after) // 2))
            with reading:
                return store.read(after, size)

        def commit(encoded) -> None:
            changes = _rows(encoded)  # the Python objects are made here, while the core works
            with self._io:
                self.repo.commit_rows(changes)

        with ThreadPoolExecutor(1) as reader, ThreadPoolExecutor(1) as committer:
            ahead = reader.submit(read, self.position)
            pending: Future | None = None
            try:
                while rows := ahead.result():
                    ahead = reader.submit(read, rows[-1][0])
                    changes = self._project(rows)
                    if pending is not None:
                        pending.result()
                    pending = committer.submit(commit, changes) if changes else None
                    done += len(rows)
                    if progress:
                        progress(self.position, max(last, self.position))
            finally:
                if pending is not None:
                    pending.result()
        return done

    def _project(self, rows: list[tuple[int, bytes]]):
        """The core's batch (reputation._core.CoreBatch), or None when it moved nothing."""
        before = self._core.position
        batch = self._core.run(rows)
        return None if batch.meta[0] == before else batch


def _rows(batch) -> Rows:
    contracts, freelancers, clients, ledger, deadlines, meta = batch.rows()
    return Rows(contracts, freelancers, clients, ledger, deadlines, Meta(*meta))


def _sizes(first: int, most: int) -> Iterator[int]:
    size = first
    while True:
        yield size
        size = min(2 * size, most)


def _datastore(x: object) -> object:
    """The eventsourcing datastore under an event store or a projection view (recorders)."""
    return getattr(x, "datastore", x)


def projector_for(engine: str, repo: ReadRepo, policy: Policy = Policy()):
    """The projector of an engine: the Python reference or the native core (`policy`: the
    publication days the Top Rated weeks read the JSS at)."""
    if engine == "native":
        return NativeProjector(repo, policy)
    if engine == "python":
        from projections.projector import Projector

        return Projector(repo, policy)
    raise ValueError(f"unknown projector engine {engine!r}; known: {', '.join(ENGINES)}")
