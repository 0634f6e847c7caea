"""Batch ingest: check every line against the store and the earlier lines, then append.

All-or-nothing by default: if any line is rejected nothing is written. With
`skip_invalid` the valid lines are written and the rejects are returned (the CLI puts them
in a dead-letter file). Validation uses plain state (no aggregate machinery), loaded in
bulk from the store's write-side state table.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

import msgspec

from reputation import contract as ct
from reputation import events as ev
from reputation import native_ingest
from reputation.errors import BadRequest
from reputation.export import unwrap
from reputation.outcome import check_perk_outcome
from reputation.retrying import retrying
from reputation.store import Batch, Conflict, EventStore, NewEvent, digest

PREFETCH = 20_000  # lines decoded before their state is fetched in bulk


class Reject(NamedTuple):
    line: int  # 1-based line number (or Kafka offset)
    event_id: str | None
    reason: str
    raw: bytes
    waiting_for: str | None = None  # with `hold`: what this event waits for (it may still pass)
    contract_id: str | None = None  # the contract the line names, when readable

    def message(self, where: str = "line") -> str:
        ident = f" (event {one_line(self.event_id)})" if self.event_id else ""
        return f"{where} {self.line}{ident}: {one_line(self.reason)}"


def one_line(text: str) -> str:
    """`text` with control characters and line separators escaped (a bad line's id or field
    name may hold any of them): one reject, one line."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class Result(NamedTuple):
    accepted: int
    duplicates: int
    rejects: list[Reject]
    positions: tuple[int, int] | None  # first and last position written
    written: bool


_STATE_TYPES = {"contract": ct.Contract, "client": ct.Client, "freelancer": ct.Freelancer}
_decoders = {k: msgspec.msgpack.Decoder(t) for k, t in _STATE_TYPES.items()}
_decoders["engine"] = msgspec.msgpack.Decoder(type(None))  # the clock stream: a version only
_encoder = msgspec.msgpack.Encoder()


class WriteModel:
    """The latest state of the streams a batch touches (loaded from the store on demand)."""

    def __init__(self, store: EventStore):
        self.store = store
        self.states: dict[str, tuple[int, object | None]] = {}  # key -> (version, state)
        self.digests: dict[str, bytes] = {}
        self.dirty: set[str] = set()
        self.new_ids: dict[str, bytes] = {}

    def prefetch(self, keys: Iterable[str], ids: Iterable[str]) -> None:
        missing = [k for k in set(keys) if k not in self.states]
        loaded = self.store.load_states(missing) if missing else {}
        for k in missing:
            if k in loaded:
                version, blob = loaded[k]
                self.states[k] = (version, _decoders[k.split(":", 1)[0]].decode(blob))
            else:
                self.states[k] = (0, None)
        unknown = [i for i in set(ids) if i not in self.digests and i not in self.new_ids]
        if unknown:
            self.digests.update(self.store.load_digests(unknown))

    def get(self, key: str):
        if key not in self.states:
            self.prefetch([key], [])
        return self.states[key]

    def put(self, key: str, version: int, state: object) -> None:
        self.states[key] = (version, state)
        self.dirty.add(key)

    def known_digest(self, event_id: str) -> bytes | None:
        return self.new_ids.get(event_id) or self.digests.get(event_id)

    def encoded_states(self) -> dict[str, tuple[int, bytes]]:
        return {k: (self.states[k][0], _encoder.encode(self.states[k][1])) for k in self.dirty}


def _keys_of(e: ev.Event) -> list[str]:
    if isinstance(e, ev.ContractOpened):
        keys = ["contract:" + e.contract_id, "freelancer:" + e.freelancer_id]
        if e.continues:
            keys.append("contract:" + e.continues)
        return keys
    stream = ev.stream_of(e)
    return [stream] if not stream.startswith("engine") else []


class Checker:
    """Checks events one by one against a WriteModel and records what to write."""

    def __init__(self, store: EventStore):
        self.model = WriteModel(store)
        self.new_events: list[NewEvent] = []
        self.duplicates = 0
        self.clock_version: int | None = None

    def accept(self, e: ev.Event, canonical: bytes, recorded_at: str) -> bool:
        """Check and stage `e`; False for an idempotent re-send; raise RuleBroken."""
        known = self.model.known_digest(e.event_id)
        d = digest(canonical)
        if known is not None:
            if known == d:
                self.duplicates += 1
                return False
            raise ct.RuleBroken(f"event id {e.event_id} was already accepted with different content (conflict)")
        at = e.at
        stream = ev.stream_of(e)
        if isinstance(e, ev.ContractOpened):
            _, existing = self.model.get(stream)
            continued = self.model.get("contract:" + e.continues)[1] if e.continues else None
            ct.check_opened(e, existing, continued)
            state: object = ct.open_contract(e)
            version = 1
            self._touch_freelancer(e.freelancer_id)
        elif isinstance(e, (ev.ClientFlagged, ev.ClientUnflagged)):
            version, state = self.model.get(stream)
            ct.check_client(state, e, at, e.client_id)  # type: ignore[arg-type]
            state = state or ct.Client(id=e.client_id)
            ct.apply_client(state, e, at)  # type: ignore[arg-type]
            version += 1
        elif isinstance(e, ev.ClockAdvanced):
            if ev.parse_time(e.to) < at:  # compare instants, not text ("00.5Z" < "00Z")
                raise ct.RuleBroken("`to` must not be earlier than `occurred_at`")
            version, state = self.model.get(stream)
            version += 1
        else:
            version, c = self.model.get(stream)
            if c is None:
                raise ct.Missing(f"contract {e.contract_id} does not exist", f"contract {e.contract_id}")
            ct.check(c, e, at)
            if isinstance(e, ev.FeedbackRemoved) and e.basis == "top_rated_perk":
                f = self._freelancer(c.freelancer)
                ct.check_perk_frequency(f, e, at)
                check_perk_outcome(c, at)
                f.perk_removals.append(at)
                self.model.put("freelancer:" + f.id, 0, f)
            ct.apply(c, e, at)
            if isinstance(e, ev.ContractClosed):
                f = self._freelancer(c.freelancer)
                f.closed_at.append(at)
                self.model.put("freelancer:" + f.id, 0, f)
            state, version = c, version + 1
        self.model.put(stream, version, state)
        self.model.new_ids[e.event_id] = d
        self.new_events.append(NewEvent(stream, version, type(e).__name__, ev.encode_recorded(e, recorded_at)))
        return True

    def _freelancer(self, freelancer_id: str) -> ct.Freelancer:
        _, f = self.model.get("freelancer:" + freelancer_id)
        return f if f is not None else ct.Freelancer(id=freelancer_id)

    def _touch_freelancer(self, freelancer_id: str) -> None:
        key = "freelancer:" + freelancer_id
        if self.model.get(key)[1] is None:
            self.model.put(key, 0, ct.Freelancer(id=freelancer_id))

    def batch(self) -> Batch:
        return Batch(self.new_events, self.model.encoded_states(), dict(self.model.new_ids))


class DeadLetterUnusable(BadRequest):
    """The dead-letter path cannot be written, or would overwrite an input; one sentence."""


def check_dead_letter(path: Path, inputs: Iterable[Path | int] = ()) -> None:
    """Raise DeadLetterUnusable unless `path` can be created or overwritten as a file that is
    none of `inputs` (paths, or open file descriptors such as 0 for stdin). Checked before
    anything is written, so that a bad path never leaves a half-done ingest."""
    try:
        target = os.stat(path)
    except FileNotFoundError:
        target = None
    except OSError as exc:  # e.g. a parent that is a file
        raise DeadLetterUnusable(f"dead-letter file {path} cannot be written: {exc.strerror}") from None
    if target is not None:
        for source in inputs:
            try:
                st = os.fstat(source) if isinstance(source, int) else os.stat(source)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
                raise DeadLetterUnusable(f"dead-letter file {path} is the input file: it would overwrite it")
        if stat.S_ISDIR(target.st_mode):
            raise DeadLetterUnusable(f"dead-letter file {path} is a folder")
        where = path
    else:
        where = path.parent
        while not where.exists():  # the folders that will be created (none is a file: stat said so)
            where = where.parent
    if not os.access(where, os.W_OK):
        raise DeadLetterUnusable(f"dead-letter file {path} cannot be written: permission denied on {where}")


def now_utc() -> str:
    return ev.canonical_time(datetime.now(UTC).isoformat())


class _ContractProbe(msgspec.Struct):
    contract_id: object = None


_contract_probe = msgspec.json.Decoder(_ContractProbe)


def contract_id_of(line: bytes) -> str | None:
    """The contract a line names, read even when the line is not a valid event."""
    try:
        cid = _contract_probe.decode(line).contract_id
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    return cid if isinstance(cid, str) else None


def ingest(
    store: EventStore,
    lines: Iterable[bytes],
    *,
    skip_invalid: bool = False,
    recorded_at: str | None = None,
    first_line: int = 1,
    progress: Callable[[int], None] | None = None,
    hold: bool = False,
    blocked: dict[str, str] | None = None,
    engine: str | None = None,
) -> Result:
    """Check all `lines`, then append the accepted events in one transaction.

    With `skip_invalid`, a rejected line blocks the later lines of its contract: they are
    rejected too, with the reason "waiting for rejected event ...", so that the corrected line
    can be sent again followed by them (a reject never makes the events after it a trap);
    all or nothing, every line is checked on its own merits instead. With `hold` (a stream
    consumer), an event refused only because something it depends on is missing (`ct.Missing`)
    comes back with `waiting_for` set, and so do the later events of its contract. `blocked`
    (contract id -> rejected event) carries the blocks from earlier calls and receives the new
    ones.

    If another writer appended to the same streams meanwhile (`Conflict`), nothing was
    written: the lines are checked again against the new state and the append retried.

    `engine` (default REPUTATION_INGEST_ENGINE, else native): native runs the Rust core, which
    hands the batch to this Python reference whenever it is not sure (see native_ingest).
    """
    recorded_at = recorded_at or now_utc()
    if native_ingest.chosen(engine, blocked):

        def reference(again: Iterable[bytes]) -> Result:
            return ingest(
                store,
                again,
                skip_invalid=skip_invalid,
                recorded_at=recorded_at,
                first_line=first_line,
                progress=progress,
                hold=hold,
                blocked=blocked,
                engine="python",
            )

        return native_ingest.ingest(
            store, lines, reference=reference, recorded_at=recorded_at, first_line=first_line, progress=progress
        )
    checker = Checker(store)
    rejects: list[Reject] = []
    pending: list[tuple[int, bytes, ev.Event | None, str | None]] = []
    seen: list[tuple[int, bytes]] = []  # the raw lines, for a re-check (decoded again: less memory)
    earlier = dict(blocked or {})
    blocks: dict[str, tuple[str, bool]] = {c: (i, False) for c, i in earlier.items()}  # -> (by, held)

    def decoded(number: int, raw: bytes) -> tuple[int, bytes, ev.Event | None, str | None]:
        try:
            return number, raw, ev.decode_event(raw), None
        except ev.InvalidEvent as exc:
            return number, raw, None, exc.reason

    def flush(checker: Checker, pending, rejects: list[Reject], progress=progress) -> None:
        decoded = [p[2] for p in pending if p[2] is not None]
        keys = [k for e in decoded for k in _keys_of(e)]
        checker.model.prefetch(keys, [e.event_id for e in decoded])
        for number, raw, e, error in pending:
            if e is None:
                event_id, cid = ev.event_id_of(raw), contract_id_of(raw)
                rejects.append(Reject(number, event_id, error or "invalid", raw, None, cid))
                if cid is not None:
                    blocks.setdefault(cid, (f"event {event_id}" if event_id else f"line {number}", False))
                continue
            cid = getattr(e, "contract_id", None)
            # an opening comes first in its contract: nothing of the contract can be before it
            block = blocks.get(cid) if cid is not None and not isinstance(e, ev.ContractOpened) else None
            if cid is not None and block == (f"event {e.event_id}", False):  # the rejected event itself, sent again
                del blocks[cid]
                block = None
            if block is not None and (skip_invalid or hold) and checker.model.known_digest(e.event_id) is None:
                by, held = block
                reason = f"waiting for {'held' if held else 'rejected'} {by} of contract {cid}"
                rejects.append(Reject(number, e.event_id, reason, raw, by if held else None, cid))
                continue
            try:
                checker.accept(e, ev.encode_event(e), recorded_at)
            except ct.RuleBroken as exc:
                waiting = exc.waiting_for if hold and isinstance(exc, ct.Missing) else None
                rejects.append(Reject(number, e.event_id, str(exc), raw, waiting, cid))
                if cid is not None:
                    blocks.setdefault(cid, (f"event {e.event_id}", waiting is not None))
        if progress:
            progress(len(pending))

    for number, raw in enumerate(lines, start=first_line):
        raw = raw.rstrip(b"\r\n") if isinstance(raw, bytes) else raw.rstrip("\r\n").encode()
        if not raw.strip():
            continue  # blank lines are not events
        pending.append(decoded(number, raw))
        seen.append((number, raw))
        if len(pending) >= PREFETCH:
            flush(checker, pending, rejects)
            pending.clear()
    flush(checker, pending, rejects)
    pending.clear()

    for attempt in retrying(Conflict):
        with attempt:
            if attempt.retry_state.attempt_number > 1:  # nothing was written: check everything again
                checker, rejects = Checker(store), []
                blocks.clear()
                blocks.update((c, (i, False)) for c, i in earlier.items())
                for i in range(0, len(seen), PREFETCH):
                    flush(checker, [decoded(n, raw) for n, raw in seen[i : i + PREFETCH]], rejects, progress=None)
            if blocked is not None:
                blocked.clear()
                blocked.update((c, by) for c, (by, held) in blocks.items() if not held)
            if rejects and not skip_invalid:
                return Result(0, checker.duplicates, rejects, None, False)
            batch = checker.batch()
            if not batch.events:
                return Result(0, checker.duplicates, rejects, None, False)
            positions = store.append(batch)
            return Result(len(positions), checker.duplicates, rejects, (positions[0], positions[-1]), True)
    raise AssertionError("unreachable")


def dead_letter_original(raw: bytes) -> bytes:
    """A dead-letter line (of `ingest --skip-invalid` or of `consume`) -> the line it holds;
    other lines unchanged. So a corrected dead-letter file can be ingested as it is. A
    truncated dead letter (too big for Kafka) is left as it is: it is no event."""
    if not raw.lstrip().startswith(b"{") or b'"original' not in raw:
        return raw
    try:
        record = json.loads(raw)
    except ValueError:
        return raw
    if not isinstance(record, dict) or "type" in record or "error" not in record or record.get("truncated"):
        return raw
    if isinstance(record.get("original"), str):
        return record["original"].encode()
    if isinstance(record.get("original_b64"), str):
        try:
            return base64.b64decode(record["original_b64"], validate=True)
        except ValueError:
            return raw
    return raw


def ingest_lines(store: EventStore, lines: Iterable[bytes], engine: str | None = None, **kwargs) -> Result:
    """`ingest` over raw lines, which may also be `export` lines or dead-letter lines."""
    if native_ingest.chosen(engine, kwargs.get("blocked")):
        kwargs["recorded_at"] = kwargs.get("recorded_at") or now_utc()
        return native_ingest.ingest(
            store, lines, exports=True, reference=lambda again: ingest_lines(store, again, "python", **kwargs), **kwargs
        )
    return ingest(store, (dead_letter_original(unwrap(line)) for line in lines), engine="python", **kwargs)


def write_dead_letters(path: Path, rejects: list[Reject]) -> None:
    """The rejects of `--skip-invalid`, one JSON object a line: line, event id, error, original text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        for r in rejects:
            record = {
                "line": r.line,
                "event_id": r.event_id,
                "error": r.reason,
                "original": r.raw.decode("utf-8", "replace"),
            }
            f.write(json.dumps(record).encode() + b"\n")
