"""The native ingest path: the Rust core (reputation._core.CoreIngest) decodes each line
strictly, writes its canonical form and id digest, and checks the batch against the rules of
events.md. Whenever it is not sure (a reject, an export or dead-letter line, a stored state it
does not model, a concurrent writer), the whole batch goes to the Python reference instead,
so every message, and every stored byte, stays the reference's. Nothing is written before the
whole batch passed.
"""

from __future__ import annotations

import gc
import os
from contextlib import contextmanager
from itertools import chain, islice
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from reputation.errors import BadRequest, Unavailable
from reputation.retrying import retrying
from reputation.store import Batch, Conflict, EventStore, NewEvent

if TYPE_CHECKING:
    from reputation.ingest import Result

ENGINES = ("native", "python")
ENV = "REPUTATION_INGEST_ENGINE"
DEFAULT = "native"
CHUNK = 20_000  # raw lines decoded before their state is loaded in bulk (as the reference)


class UnknownIngestEngine(BadRequest):
    """An ingest engine name other than native or python."""


class NativeIngestUnavailable(Unavailable):
    """`native` was asked for, but the Rust extension is not built (pip install -e .)."""


def _core():
    try:
        from reputation import _core
    except ImportError:
        return None
    return getattr(_core, "CoreIngest", None)


def engine_name(engine: str | None = None) -> str:
    """The engine to use: `engine`, else REPUTATION_INGEST_ENGINE, else native when built."""
    name = engine or os.environ.get(ENV) or DEFAULT
    if name not in ENGINES:
        raise UnknownIngestEngine(f"unknown ingest engine {name!r}; known: {', '.join(ENGINES)}")
    if name == "native" and _core() is None:
        if engine or os.environ.get(ENV):
            raise NativeIngestUnavailable(
                "the native ingest engine is not built (reinstall the package: pip install -e .); use --engine python"
            )
        return "python"
    return name


def chosen(engine: str | None, blocked: dict | None) -> bool:
    """Native for this call? Earlier blocks (a stream consumer's) are the reference's alone."""
    return engine_name(engine) == "native" and not blocked


def ingest(
    store: EventStore,
    lines: Iterable[bytes],
    *,
    recorded_at: str,
    reference: Callable[[Iterable[bytes]], Result],
    first_line: int = 1,
    progress: Callable[[int], None] | None = None,
    exports: bool = False,
    **_modes,
) -> Result:
    """reputation.ingest.ingest's result for `lines`, or `reference(lines)`'s when the core is
    not sure. With `exports` (ingest_lines), an export line stands for its event; a dead-letter
    line is no event as it is (the core is not sure of it): the reference unwraps it.
    skip_invalid and hold change nothing while no line is rejected. A Conflict (another writer
    came first; nothing was written) is checked again and retried here, as the reference does."""
    from reputation.ingest import Result

    it: Iterator[bytes] = iter(lines)
    chunks: list[list[bytes]] = []  # every line read so far: for a re-check, or the reference

    def again() -> Iterator[bytes]:
        return chain(chain.from_iterable(chunks), it)

    def read() -> Iterator[list[bytes]]:
        while chunk := list(islice(it, CHUNK)):
            chunks.append(chunk)
            yield chunk

    with _no_gc():  # a million small acyclic objects: the collector would only walk them
        for attempt in retrying(Conflict):
            with attempt:
                first = attempt.retry_state.attempt_number == 1
                core = _core()(recorded_at)
                number = first_line
                for chunk in read() if first else list(chunks):
                    count, unsure = core.feed(chunk, number, exports)
                    number += len(chunk)
                    if unsure is not None or not _check(core, store):
                        return reference(again())
                    if progress and first:
                        progress(count)
                events, states, ids = core.batch()
                duplicates, core = core.duplicates, None  # the core's memory goes before the append's
                if not events:
                    return Result(0, duplicates, [], None, False)
                batch = Batch(list(map(NewEvent._make, events)), states, ids)
                del events
                positions = store.append(batch)
                return Result(len(positions), duplicates, [], (positions[0], positions[-1]), True)
    raise AssertionError("unreachable")


@contextmanager
def _no_gc():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _check(core, store: EventStore) -> bool:
    """Load what the pending lines read, then check them; False at the first line that does
    not pass (or a stored state the core does not model)."""
    keys, ids = core.wanted(True)
    if not core.give(keys, store.load_states(keys) if keys else {}, store.load_digests(ids) if ids else {}):
        return False
    keys, _ = core.wanted(False)  # the freelancers of stored contracts that close or use the perk
    while True:
        if keys and not core.give(keys, store.load_states(keys), {}):
            return False
        status = core.check()
        if status is True or status is False:
            return status
        keys = status
