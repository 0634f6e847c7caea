"""The native ingest path: the Rust core (reputation._core.CoreIngest) decodes each line
strictly, writes its canonical form and id digest, and checks the batch against the rules of
events.md. Whenever it is not sure (a reject, an export or dead-letter line, a stored state it
does not model, a concurrent writer), the whole batch goes to the Python reference instead,
so every message, and every stored byte, stays the reference's. The batch is written in
chunks into one transaction of the store, committed once the whole batch passed.
"""

from __future__ import annotations

import gc
import os
import struct
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from itertools import chain, islice
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, cast

from reputation.errors import BadRequest, Unavailable
from reputation.retrying import retrying
from reputation.store import Batch, Conflict, EventStore, NewEvent
from reputation.store.port import NAMESPACE, TOPIC_PREFIX, RowWriter, Writer

if TYPE_CHECKING:
    from reputation.ingest import Result

ENGINES = ("native", "python")
ENV = "REPUTATION_INGEST_ENGINE"
DEFAULT = "native"
CHUNK = 20_000  # lines checked and written at a time (their states loaded in bulk)
CHUNK_ENV = "REPUTATION_INGEST_CHUNK"  # another chunk size (the benchmark's memory figure)
KEEP_STATES = 50_000  # stream states the core keeps (and writes later) from one chunk to the next


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


class _Unsure(Exception):
    """The core is not sure of a line: roll back what was written, ask the reference."""


class _Tape:
    """The input, read once in chunks; each chunk read is kept in a temporary file (not in
    memory) so that a retry or the reference can read the lines again."""

    def __init__(self, lines: Iterable[bytes]):
        self.it: Iterator[bytes] = iter(lines)
        self.size = int(os.environ.get(CHUNK_ENV) or CHUNK)
        self.file = tempfile.TemporaryFile()
        self.spilled = 0  # chunks in the file
        self.held: list = []  # a chunk with an item that is not bytes (the core is not sure of it)
        self.fresh = False  # whether the last chunk came from the input (not the file)

    def chunks(self) -> Iterator[list[bytes]]:
        self.file.seek(0)
        for _ in range(self.spilled):
            self.fresh = False
            yield [self.file.read(n) for n in _lengths(self.file)]
        self.file.seek(0, os.SEEK_END)
        while not self.held and (chunk := list(islice(self.it, self.size))):
            if all(type(x) is bytes for x in chunk):
                self.file.write(struct.pack(f">I{len(chunk)}I", len(chunk), *map(len, chunk)))
                self.file.write(b"".join(chunk))
                self.spilled += 1
            else:
                self.held = chunk
            self.fresh = True
            yield chunk

    def again(self) -> Iterator[bytes]:
        """Every line: those read so far, then the rest of the input."""
        return chain(chain.from_iterable(self.chunks()), self.held, self.it)

    def close(self) -> None:
        self.file.close()


def _lengths(f) -> tuple[int, ...]:
    (n,) = struct.unpack(">I", f.read(4))
    return struct.unpack(f">{n}I", f.read(4 * n))


_new_event = partial(tuple.__new__, NewEvent)  # NewEvent._make without its checks


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
    skip_invalid and hold change nothing while no line is rejected.

    Streamed: one transaction of the store (store.writer) takes the batch chunk by chunk,
    each chunk checked against the store as that transaction sees it (so against the chunks
    before it too) and written before the next is read; a line the core is not sure of rolls
    the whole transaction back. A Conflict (another writer came first; nothing was written)
    is checked again and retried here, as the reference does."""
    from reputation.ingest import Result

    tape = _Tape(lines)
    try:
        with _no_gc():  # a million small acyclic objects: the collector would only walk them
            for attempt in retrying(Conflict):
                with attempt:
                    try:
                        return _stream(store, tape, recorded_at, first_line, progress, exports, Result)
                    except _Unsure:
                        pass
            return reference(tape.again())
    finally:
        tape.close()


def _stream(store: EventStore, tape: _Tape, recorded_at: str, number: int, progress, exports: bool, Result) -> Result:
    core = _core()(recorded_at, KEEP_STATES, NAMESPACE.bytes, TOPIC_PREFIX)
    count = 0
    chunks = tape.chunks()

    def feed(first: int):
        """The next chunk read and decoded, and what its lines read from the store (the core
        does both without the GIL): (size, whether it came from the input, non-blank lines,
        the first line not surely valid, (state keys, event ids) to load), or None at the end."""
        chunk = next(chunks, None)
        if chunk is None:
            return None
        lines, unsure = core.feed(chunk, first, exports)
        return len(chunk), tape.fresh, lines, unsure, core.wanted(True)

    # the next chunk is read and decoded while this one is written (SQLite and the core both
    # let go of the GIL); the core is called from one thread at a time
    with store.writer() as w, ThreadPoolExecutor(1) as feeder:
        fed = feeder.submit(feed, number)
        while (got := fed.result()) is not None:
            size, fresh, lines, unsure, wanted = got
            number += size
            if unsure is not None or not _check(core, w, wanted):
                raise _Unsure
            if progress and fresh:
                progress(lines)
            events, states, ids = core.batch(False, w.originators)
            fed = feeder.submit(feed, number)
            if events or states:
                count += len(events)
                _write(w, events, states, ids)
            del events, states, ids
        events, states, ids = core.batch(True, w.originators)  # the states the core still holds, changed
        if states:
            _write(w, events, states, ids)
    if w.first is None or w.last is None:
        return Result(0, core.duplicates, [], None, False)
    return Result(count, core.duplicates, [], (w.first, w.last), True)


def _write(w: Writer, events, states, ids) -> None:
    """The core's batch: the recorder's own rows when the writer takes them (core.batch made
    them for `w.originators`), else a Batch of NewEvents."""
    if w.originators:
        cast(RowWriter, w).insert(events, states, ids)
    else:
        w.append(Batch(list(map(_new_event, events)), states, ids))


@contextmanager
def _no_gc():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _check(core, store: Writer, wanted: tuple[list[str], list[str]]) -> bool:
    """Load what the pending lines read (`wanted`: core.wanted(True) after they were fed),
    then check them; False at the first line that does not pass (or a stored state the core
    does not model)."""
    keys, ids = wanted
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
