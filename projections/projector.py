"""The projector: follows the log, keeps per-freelancer summaries and writes the ledger.

For each event, in log order: first the engine clock moves to the event's time (or a
`ClockAdvanced`'s `to`), and every deadline it passes (feedback-window ends, window exits,
rule switches) takes effect at its own time; then the event is folded into its contract's
summary and the affected freelancers are reconciled over [event time, clock]. A freelancer
is reconciled at a time `c` by evaluating the score at `c` with what is known now and
comparing it with what the ledger says for `c`; a difference is a score change. A late
event (older than the clock) therefore restates the score at every later change point it
alters, so the ledger, read as "the latest entry at or before ts", always gives the score
as of ts as known at its position.
"""

from __future__ import annotations

import bisect
import heapq
from abc import ABC, abstractmethod
from fractions import Fraction
from typing import Iterable, NamedTuple

import msgspec

from projections.badges import Badges, badge_causes, late_cause
from projections.cache import Archive, Cache, archive_of
from projections.ledger import Cause, ScoreChange
from projections.publication import Policy, record_days
from projections.rules.score import Score, evaluate, half_up
from projections.rules.windows import WINDOWS, window_exit
from projections.timeline import (
    INERT,
    Happening,
    contract_happenings,
    deadlines_at,
    describe,
    flag_happenings,
    happenings,
)
from reputation import contract as ct
from reputation import events as ev
from reputation.clock import INF
from reputation.outcome import Cut
from reputation.rulesets import SWITCHES


class Entry(msgspec.Struct, array_like=True):
    """What the ledger says from `at` on (until the next entry): one per score change."""

    at: int
    seq: int
    jss: int | None
    fb: int | None  # displayed feedback score in hundredths
    exact: float | None
    rules: str
    top: bool = False  # the Top Rated badge (projections/toprated.py)


class Freelancer(msgspec.Struct, array_like=True):
    id: str
    contracts: list[str] = []
    timeline: list[Entry] = []  # sorted by (at, seq)

    def lookup(self, at: int) -> Entry | None:
        i = bisect.bisect_right(self.timeline, at, key=lambda e: e.at)
        return self.timeline[i - 1] if i else None

    def record(self, entry: Entry) -> None:
        i = bisect.bisect_right(self.timeline, (entry.at, entry.seq), key=lambda e: (e.at, e.seq))
        self.timeline.insert(i, entry)


class Client(msgspec.Struct, array_like=True):
    """A client's flag history (folded by `reputation.contract.apply_client`) and freelancers."""

    id: str
    flags: list[tuple[int, int, bool]] = []
    last_at: int = 0
    freelancers: list[str] = []


class Meta(NamedTuple):
    position: int = 0
    clock: int = -INF
    seq: int = 0


class Changes(NamedTuple):
    """What one batch writes, atomically with the tracked position."""

    contracts: dict[str, ct.Contract]
    freelancers: dict[str, Freelancer]
    clients: dict[str, Client]
    ledger: list[ScoreChange]
    deadlines: list[tuple[int, str]]
    meta: Meta


class Repo(ABC):
    """Where projection state lives (in memory, SQLite, PostgreSQL)."""

    @abstractmethod
    def meta(self) -> Meta: ...

    @abstractmethod
    def load_contracts(self, ids: list[str]) -> dict[str, ct.Contract]: ...

    @abstractmethod
    def load_freelancers(self, ids: list[str]) -> dict[str, Freelancer]: ...

    @abstractmethod
    def load_clients(self, ids: list[str]) -> dict[str, Client]: ...

    @abstractmethod
    def due_deadlines(self, after: int, upto: int) -> list[tuple[int, str]]:
        """Deadlines with after < at <= upto."""

    @abstractmethod
    def freelancer_ids(self) -> list[str]: ...

    @abstractmethod
    def commit(self, changes: Changes) -> None:
        """Write the changes and the new position in one transaction (exactly once)."""

    def get_cursor(self, name: str) -> int:
        """A named value of the store's meta (relay cursors, the publication days): 0 if unset."""
        raise NotImplementedError

    def set_cursor(self, name: str, value: int) -> None:
        raise NotImplementedError


def fb_hundredths(fb: Fraction | None) -> int | None:
    """The displayed feedback score (rounded half up to 2 decimals), in hundredths."""
    return None if fb is None else half_up(100 * fb.numerator, fb.denominator)


def exact_float(x: Fraction | None) -> float | None:
    return None if x is None else float(x)


class Projector(Badges):
    def __init__(self, repo: Repo, policy: Policy = Policy()):
        self.repo = repo
        self.published = policy.published_at
        record_days(repo, policy)
        meta = repo.meta()
        self.position, self.clock, self.seq = meta.position, meta.clock, meta.seq
        self.contracts: dict[str, ct.Contract] = {}
        self.freelancers: dict[str, Freelancer] = {}
        self.clients: dict[str, Client] = {}
        self.missing: set[str] = set()  # keys known not to exist in the repo
        self._all_freelancers: set[str] | None = None
        self.cache = Cache()
        self.archives: dict[str, Archive | None] = {}  # per freelancer, rebuilt as time passes
        self._archive_built: dict[str, int] = {}
        self.heap: list[tuple[int, str]] = []  # deadlines to process, loaded up to `horizon`
        self.money: dict[str, list[tuple[int, int]]] = {}  # per freelancer (projections.badges)
        self._scheduled: dict[str, int] = {}  # per freelancer: the badge deadline last scheduled
        self._due: list[tuple[int, str]] = []  # while the clock moves: the deadlines up to _target
        self._target = -INF
        self.horizon = self.clock
        self._reset_batch()

    def _reset_batch(self) -> None:
        self.dirty_contracts: set[str] = set()
        self.dirty_freelancers: set[str] = set()
        self.dirty_clients: set[str] = set()
        self.ledger: list[ScoreChange] = []
        self.new_deadlines: list[tuple[int, str]] = []  # to commit

    # -- state access (lazy, cached) ----------------------------------------------

    def _load(self, cache: dict, prefix: str, ids: Iterable[str], loader) -> None:
        """Load the ids not in `cache` from the repo, remembering those it does not have."""
        need = [i for i in ids if i not in cache and prefix + i not in self.missing]
        if need:
            got = loader(need)
            cache.update(got)
            self.missing.update(prefix + i for i in need if i not in got)

    def _prefetch(self, events: list[ev.Event]) -> None:
        cids = {e.contract_id for e in events if hasattr(e, "contract_id")}
        self._load(self.contracts, "c:", cids, self.repo.load_contracts)
        known = [c for c in (self.contracts.get(i) for i in cids) if c is not None]
        fids = {c.freelancer for c in known} | {e.freelancer_id for e in events if isinstance(e, ev.ContractOpened)}
        self._load_freelancers(fids)
        kids = {e.client_id for e in events if hasattr(e, "client_id")} | {c.client for c in known}
        self._load(self.clients, "k:", kids, self.repo.load_clients)

    def _load_freelancers(self, fids: Iterable[str]) -> None:
        fids = list(fids)
        self._load(self.freelancers, "f:", fids, self.repo.load_freelancers)
        # a freelancer's score needs all its contracts
        cids = [c for f in fids if f in self.freelancers for c in self.freelancers[f].contracts]
        self._load(self.contracts, "c:", cids, self.repo.load_contracts)

    def freelancer(self, fid: str) -> Freelancer:
        if fid not in self.freelancers:
            self._load_freelancers([fid])
        f = self.freelancers.get(fid)
        if f is None:
            f = self.freelancers[fid] = Freelancer(fid)
            if self._all_freelancers is not None:
                self._all_freelancers.add(fid)
        return f

    def client(self, kid: str) -> Client:
        self._load(self.clients, "k:", [kid], self.repo.load_clients)
        return self.clients.setdefault(kid, Client(kid))

    def contracts_of(self, f: Freelancer) -> list[ct.Contract]:
        return [self.contracts[c] for c in f.contracts]

    def flags_of(self, contracts: list[ct.Contract]) -> dict[str, list[tuple[int, int, bool]]]:
        out = {}
        for c in contracts:
            if c.client not in out:
                out[c.client] = (self.clients.get(c.client) or self.client(c.client)).flags
        return out

    def all_freelancers(self) -> list[str]:
        if self._all_freelancers is None:
            self._all_freelancers = set(self.repo.freelancer_ids()) | set(self.freelancers)
        return sorted(self._all_freelancers)

    # -- the fold --------------------------------------------------------------------

    def run(self, rows: list[tuple[int, bytes]]) -> list[ScoreChange]:
        """Project a batch of log rows and commit it (state + ledger + position)."""
        if not rows:
            return []
        recorded = [(pos, ev.decode_recorded(data)) for pos, data in rows if pos > self.position]
        if not recorded:
            return []
        self._prefetch([r.event for _, r in recorded])
        for pos, rec in recorded:
            self.apply(pos, rec)
        ledger = self.ledger
        self.repo.commit(
            Changes(
                {c: self.contracts[c] for c in self.dirty_contracts},
                {f: self.freelancers[f] for f in self.dirty_freelancers},
                {k: self.clients[k] for k in self.dirty_clients},
                ledger,
                list(self.new_deadlines),
                Meta(self.position, self.clock, self.seq),
            )
        )
        self._reset_batch()
        return ledger

    def apply(self, pos: int, rec: ev.Recorded) -> None:
        e = rec.event
        at = e.at
        self._n = 0
        target = e.clock_to
        if target > self.clock:
            self._advance(target, pos, rec)
        affected: list[str] = []
        trigger: Happening | None = None
        earner: Happening | None = None  # a payment or refund: the earnings move even if the JSS does not
        earner_fid = ""
        if isinstance(e, ev.ContractOpened):
            c = ct.open_contract(e, pos)
            self.contracts[c.id] = c
            self.dirty_contracts.add(c.id)
            f = self.freelancer(c.freelancer)
            f.contracts.append(c.id)
            self.dirty_freelancers.add(f.id)
            k = self.client(c.client)
            if f.id not in k.freelancers:
                k.freelancers.append(f.id)
                self.dirty_clients.add(k.id)
        elif isinstance(e, (ev.ClientFlagged, ev.ClientUnflagged)):
            k = self.client(e.client_id)
            ct.apply_client(k, e, at, pos)  # type: ignore[arg-type]
            self.dirty_clients.add(k.id)
            affected = list(k.freelancers)
            kind = "client_flagged" if isinstance(e, ev.ClientFlagged) else "client_unflagged"
            trigger = Happening(at, pos, kind, None, k.id, e.event_id)
        elif not isinstance(e, ev.ClockAdvanced):
            found = self.contracts.get(e.contract_id)
            if found is None:  # cannot happen for a log the write side accepted
                raise RuntimeError(f"position {pos}: unknown contract {e.contract_id}")
            c = found
            ct.apply(c, e, at, pos)
            self.cache.forget(c.id)
            self.archives.pop(c.freelancer, None)  # a new fact: rebuild it next time
            self._archive_built.pop(c.freelancer, None)
            self.dirty_contracts.add(c.id)
            if isinstance(e, (ev.PaymentMade, ev.PaymentRefunded)):
                earner, earner_fid = Happening(at, pos, type(e).__name__, c.id, c.client, e.event_id), c.freelancer
                sign = 1 if isinstance(e, ev.PaymentMade) else -1
                self._earned(c.freelancer, at, sign * ct.cents(e.amount))
            late_close = False
            if isinstance(e, ev.ContractClosed):
                for d in [at + ct.FEEDBACK_WINDOW] + [window_exit(at, m) for m in WINDOWS]:
                    if d > self.clock:
                        heapq.heappush(self.heap, (d, c.freelancer))
                        self.new_deadlines.append((d, c.freelancer))
                    else:
                        late_close = True  # its deadlines already passed: reconcile them now
            moving = (
                late_close
                or not isinstance(e, (ev.ContractOpened, ev.ScopeChanged, ev.FeedbackEditAllowed, ev.ContractClosed))
                and not (isinstance(e, (ev.PaymentMade, ev.PaymentRefunded)) and c.closed is None)
            )
            if moving:
                affected = [c.freelancer]
                trigger = Happening(at, pos, type(e).__name__, c.id, c.client, e.event_id)
        self.position = pos
        for fid in affected:
            grown = len(self.freelancer(fid).timeline)
            self._reconcile(fid, at, self.clock, pos, rec, trigger)
            if len(self.freelancers[fid].timeline) != grown or earner is not None:
                self._badges(self.freelancers[fid], at, self.clock, pos, rec, trigger or earner)
        if earner is not None and not affected:  # a payment before the close: only the earnings moved
            self._badges(self.freelancer(earner_fid), at, self.clock, pos, rec, earner)

    def _advance(self, target: int, pos: int, rec: ev.Recorded) -> None:
        """Move the clock to `target`; deadlines passed take effect at their own times."""
        if target > self.horizon:  # load the next stretch of stored deadlines
            upto = max(target, self.horizon + 60 * ev.DAY)
            self.heap.extend(self.repo.due_deadlines(self.horizon, upto))
            heapq.heapify(self.heap)
            self.horizon = upto
        due: set[tuple[int, str]] = set()
        while self.heap and self.heap[0][0] <= target:
            d = heapq.heappop(self.heap)
            if d[0] > self.clock:
                due.add(d)
        for s in SWITCHES:
            if self.clock < s <= target:
                due.update((s, fid) for fid in self.all_freelancers())
        if due:
            self._load_freelancers({fid for _, fid in due})
        self._pass_deadlines(sorted(due), target, pos, rec)
        self.clock = target

    def _reconcile(self, fid: str, lo: int, hi: int, pos: int, rec: ev.Recorded, trigger: Happening | None) -> None:
        f = self.freelancer(fid)
        if lo >= hi:
            self._reconcile_at(f, lo, pos, pos, rec, trigger)
            return
        contracts = self.contracts_of(f)
        times = {h.at for h in happenings(contracts, self.flags_of(contracts), pos, lo, hi) if h.kind not in INERT}
        times.add(lo)
        times.update(e.at for e in f.timeline if lo <= e.at <= hi)
        for at in sorted(times):
            self._reconcile_at(f, at, pos, pos, rec, trigger)

    def _reconcile_at(
        self, f: Freelancer, at: int, known: int, pos: int, rec: ev.Recorded, trigger: Happening | None
    ) -> None:
        contracts = self.contracts_of(f)
        flags = self.flags_of(contracts)
        score = evaluate(
            contracts, flags, Cut(at, INF, known), cache=self.cache, archive=self._archive(f, contracts, at, known)
        )
        jss, fb = score.jss, fb_hundredths(score.feedback)
        prev = f.lookup(at)
        if (jss, fb) == ((prev.jss, prev.fb) if prev else (None, None)):
            return
        self.seq += 1
        top = prev.top if prev else False
        entry = Entry(at, self.seq, jss, fb, exact_float(score.exact), score.rules, top)
        f.record(entry)
        badge = self._badge_at(f, at)  # an entry carries the badge of its time
        entry.top = badge.top
        self.dirty_freelancers.add(f.id)
        # the words need every contract's assessment: evaluate in full (same values, no archive)
        score = evaluate(contracts, flags, Cut(at, INF, known), cache=self.cache)
        before_cut = (
            Cut(at, trigger.pos - 1, known) if trigger is not None and trigger.at == at else Cut(at - 1, INF, known)
        )
        before = evaluate(contracts, flags, before_cut, cache=self.cache)
        causes = self._causes(contracts, flags, at, known, before, score, trigger, prev)
        if entry.top != top:
            causes.extend(badge_causes(badge))
        self._append_change(f.id, prev, entry, pos, rec, causes)

    ARCHIVE_AFTER = 12  # contracts; below this a freelancer is evaluated in full
    ARCHIVE_EVERY = 90 * ev.DAY

    def _archive(self, f: Freelancer, contracts: list[ct.Contract], at: int, known: int) -> Archive | None:
        """The freelancer's archive, rebuilt at most every 90 days of clock; `evaluate` uses
        it only for cuts it applies to, so an older archive is never wrong, just smaller."""
        if len(contracts) < self.ARCHIVE_AFTER:
            return None
        built = self._archive_built.get(f.id)
        if built is not None and at < built + self.ARCHIVE_EVERY:
            return self.archives.get(f.id)
        self._archive_built[f.id] = at
        archive = self.archives[f.id] = archive_of(contracts, self.cache, at, known)
        return archive

    def _causes(self, contracts, flags, at, known, before: Score, after: Score, trigger, prev) -> list[Cause]:
        causes = []
        if trigger is None:  # the clock passed deadlines
            here = deadlines_at(contracts, at, known)
        elif trigger.at == at:  # the event itself
            if trigger.contract_id is not None:
                source = contract_happenings(self.contracts[trigger.contract_id], known)
            else:
                source = flag_happenings(trigger.client_id, flags.get(trigger.client_id, []), known)
            here = [h for h in source if h.pos == trigger.pos and h.kind not in INERT]
        else:  # a late event restates a later point: it carries the change
            causes.append(late_cause(trigger, (prev.exact if prev else None, exact_float(after.exact))))
            here = deadlines_at(contracts, at, known)
        for h in here:
            kind, text, private = describe(h, before, after)
            causes.append(
                Cause(
                    at=ev.format_time(h.at),
                    kind=kind,
                    text=text,
                    contract_id=h.contract_id,
                    client_id=h.client_id,
                    event_id=h.event_id,
                    private=private,
                )
            )
        if causes and causes[0].kind != "late_event":
            b, a = exact_float(before.exact), exact_float(after.exact)
            causes[-1].jss_before, causes[-1].jss_after = b, a
            causes[-1].jss_delta = (a or 0.0) - (b or 0.0)
        return causes
