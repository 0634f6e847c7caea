"""Service functions of the read side: catch up, score, client, explain, history, ledger.

`open_projections(settings)` chooses the projection store by configuration (a SQLite file
next to the event store, or the same PostgreSQL database).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from projections import freelancer_view
from projections.audiences import audience_named, reasons_text
from projections.explain import Explained, explain
from projections.ledger import ScoreChange
from projections.native import projector_for
from projections.projector import Projector, exact_float
from projections.publication import Policy
from projections.rules.fair import ClientFacts
from projections.rules.score import Score, client_score, evaluate, round_half_up
from projections.rules.windows import window_exit
from projections.store import MemoryRepo, ReadRepo
from projections.uncertainty import interval
from reputation import events as ev
from reputation.clock import INF
from reputation.config import Settings
from reputation.errors import BadRequest, NotFound
from reputation.outcome import Cut, flagged_at
from reputation.rulesets import RuleSet, rule_set
from reputation.store import EventStore

BATCH = 2000
log = logging.getLogger("projections")


def rules_named(name: str | None) -> RuleSet | None:
    """None: the rule set in force at the cut; a wrong name raises UnknownRules."""
    return None if name is None else rule_set(name)


class ProjectionsBusy(RuntimeError):
    """Another process kept catching the projections up for longer than we would wait;
    what is committed is `behind` events behind the log."""

    def __init__(self, position: int, head: int, waited: float):
        self.position, self.head, self.behind, self.waited = position, head, max(head - position, 0), waited
        super().__init__(
            f"another process is catching the projections up (waited {waited:g} s); what is committed "
            f"is at position @{position}, {self.behind} events behind the log (@{head})"
        )


def as_time(text: str | None, name: str) -> int | None:
    """An RFC 3339 option value -> microseconds (None stays None)."""
    if text is None:
        return None
    try:
        return ev.parse_time(ev.canonical_time(text, name))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def known_position(text: str | None, store: EventStore) -> int | None:
    """`@N` is a log position; a timestamp means the last position recorded by then."""
    if text is None:
        return None
    if text.startswith("@"):
        try:
            return int(text[1:])
        except ValueError:
            raise BadRequest("write a log position as @N") from None
    try:
        when = ev.canonical_time(text, "--known-at")
    except ValueError as exc:
        raise BadRequest(f"{exc}; or a log position written @N") from None
    lo, hi = 0, store.max_position()
    while lo < hi:  # recorded_at grows with the position
        mid = (lo + hi + 1) // 2
        ((_, data),) = store.read(mid - 1, 1)
        if ev.decode_recorded(data).recorded_at <= when:
            lo = mid
        else:
            hi = mid - 1
    return lo


def clock_known_at(store: EventStore, known: int) -> int:
    """The engine clock as the log stood at position `known`: what the engine showed then.

    A scan of the log prefix (the clock is the latest occurred_at or ClockAdvanced.to)."""
    from reputation.export import read_log

    clock = -INF
    for _, data in read_log(store, 0, known, page=5000):
        e = ev.decode_recorded(data).event
        at = max(e.at, ev.parse_time(e.to)) if isinstance(e, ev.ClockAdvanced) else e.at
        clock = max(clock, at)
    return clock


def default_as_of(as_of: int | None, known: int | None, store: EventStore) -> int | None:
    """No --as-of: the engine clock, as known at K when K is given."""
    if as_of is not None or known is None:
        return as_of
    return clock_known_at(store, known)


READ_WAIT = 2.0  # seconds a reader waits for another process's catch-up before reading what is committed


def bring_up_to_date(
    store: EventStore, proj: Projections, progress: Callable[[int, int], None] | None = None, wait: float | None = None
) -> int:
    """Fold what the log has beyond the projections; `progress(done, behind)` after each batch.
    `wait`: at most this long for another process's catch-up (then ProjectionsBusy)."""
    behind = store.max_position() - proj.position
    if behind <= 0:
        return 0
    start = proj.position
    log.info("projecting %d events from @%d", behind, start)
    if progress is None:
        return proj.catch_up(store, wait=wait)
    return proj.catch_up(store, lambda pos, last: progress(pos - start, behind), wait=wait)


class Projections:
    def __init__(self, repo: ReadRepo, owns_connection: bool = True, engine: str = "native"):
        self.repo = repo
        self.owns_connection = owns_connection  # False when it shares the event store's pool
        self.engine = engine  # "native" (projections.native, the default) or "python" (the reference)
        self._projector: Projector | None = None
        self._policy: Policy | None = None

    @property
    def policy(self) -> Policy:
        """The freelancer-facing publication schedule and k (read when first needed, so a bad
        setting fails only the reads that use it)."""
        if self._policy is None:
            self._policy = Policy.from_env()
        return self._policy

    @policy.setter
    def policy(self, value: Policy) -> None:
        self._policy = value

    # -- writing -----------------------------------------------------------------------

    @property
    def projector(self) -> Projector:
        if self._projector is None:
            self._projector = projector_for(self.engine, self.repo)
        return self._projector

    def catch_up(
        self,
        store: EventStore,
        progress: Callable[[int, int], None] | None = None,
        batch: int | None = None,
        wait: float | None = None,
    ) -> int:
        """Fold every new log event into the projections and the ledger; return how many.

        One catch-up at a time per store: this waits for another one to finish (at most
        `wait` seconds, else ProjectionsBusy; None: as long as it takes)."""
        with self.repo.catch_up_lock(wait) as got:
            if not got:
                raise ProjectionsBusy(self.repo.meta().position, store.max_position(), wait or 0)
            if self._projector is not None and self._projector.position != self.repo.meta().position:
                self._projector = None  # another process moved the projections on meanwhile
            return self._catch_up_locked(store, progress, batch)

    def lag(self, store: EventStore) -> int:
        """How many log events the committed projections have not folded in yet."""
        return max(store.max_position() - self.repo.meta().position, 0)

    def _catch_up_locked(
        self, store: EventStore, progress: Callable[[int, int], None] | None, batch: int | None
    ) -> int:
        p = self.projector
        try:
            if hasattr(p, "catch_up"):  # the native projector pipelines reads, projection and commits
                return p.catch_up(store, progress, batch)
            return self._catch_up(p, store, progress, batch or BATCH)
        except BaseException:
            # the batch was rolled back (e.g. another projector committed it first): the
            # in-memory state ran ahead of the store, so start again from what is stored
            self._projector = None
            raise

    def _catch_up(self, p: Projector, store: EventStore, progress, batch: int) -> int:
        done = 0
        last = store.max_position()
        while True:
            rows = store.read(p.position, batch)
            if not rows:
                return done
            p.run(rows)
            done += len(rows)
            if progress:
                progress(p.position, max(last, p.position))

    @property
    def position(self) -> int:
        return self._projector.position if self._projector else self.repo.meta().position

    @property
    def clock(self) -> int:
        return self._projector.clock if self._projector else self.repo.meta().clock

    # -- reading -----------------------------------------------------------------------

    def _freelancer(self, freelancer_id: str):
        f = self.repo.load_freelancers([freelancer_id]).get(freelancer_id)
        if f is None:
            raise NotFound(f"unknown freelancer {freelancer_id}")
        contracts = list(self.repo.load_contracts(f.contracts).values())
        clients = self.repo.load_clients(sorted({c.client for c in contracts}))
        # the flag histories; fair-2026 also reads each client's other contracts (loaded if asked)
        flags = ClientFacts({k: v.flags for k, v in clients.items()}, self.repo.contracts_of_client)
        return f, contracts, flags

    def facts(self, freelancer_id: str) -> tuple[list, dict]:
        """A freelancer's contracts and their clients' flag histories (NotFound if unknown)."""
        _, contracts, flags = self._freelancer(freelancer_id)
        return contracts, flags

    def evaluate(self, freelancer_id: str, as_of: int | None, known_at: int | None, rules: str | None) -> Score:
        _, contracts, flags = self._freelancer(freelancer_id)
        at = self.clock if as_of is None else as_of
        return evaluate(contracts, flags, Cut(at, INF, INF if known_at is None else known_at), rules_named(rules))

    def score(
        self,
        freelancer_id: str,
        as_of: int | None = None,
        known_at: int | None = None,
        rules: str | None = None,
        audience: str = "trust",
    ) -> dict:
        if audience_named(audience) == "trust":
            score = self.evaluate(freelancer_id, as_of, known_at, rules)
            return score_json(freelancer_id, score, known_at, self.clock, audience)
        at = self.clock if as_of is None else as_of
        published = self.policy.published_at(min(at, self.clock))  # nothing is published ahead of the clock
        _, contracts, flags = self._freelancer(freelancer_id)
        known = INF if known_at is None else known_at
        score = evaluate(contracts, flags, Cut(published, INF, known), rules_named(rules))
        if audience == "public":
            return freelancer_view.public_json(freelancer_id, score, at)
        looks = freelancer_view.seen(contracts, flags, score, known)
        return freelancer_view.freelancer_json(freelancer_id, score, at, known_at, looks)

    def client(
        self, client_id: str, as_of: int | None = None, known_at: int | None = None, audience: str = "trust"
    ) -> dict:
        contracts = self.repo.contracts_of_client(client_id)
        if not contracts:
            raise NotFound(f"unknown client {client_id}")
        at = self.clock if as_of is None else as_of
        cut = Cut(at, INF, INF if known_at is None else known_at)
        value = client_score(contracts, cut)
        flags = self.repo.load_clients([client_id]).get(client_id)
        return {
            "client_id": client_id,
            "as_of": ev.format_time(at),
            "known_at": known_label(known_at),
            "client_score": _two(value),
            "client_score_exact": None if value is None else float(value),
            # whether the platform flagged a client is its own business (trust only)
            **(
                {"flagged": flagged_at(flags.flags if flags else [], cut)}
                if audience_named(audience) == "trust"
                else {}
            ),
            "contracts": sum(1 for c in contracts if cut.sees(c.opened_at, c.opened_pos)),
            "freelancers": len({c.freelancer for c in contracts if cut.sees(c.opened_at, c.opened_pos)}),
        }

    def calendar(
        self, freelancer_id: str, until: int | None = None, rules: str | None = None, audience: str = "trust"
    ) -> dict:
        """The aging calendar from the engine clock to `until` (projections.calendar)."""
        from projections.calendar import calendar, default_until

        _, contracts, flags = self._freelancer(freelancer_id)
        start = self.clock
        until = default_until(start) if until is None else until
        if until <= start:
            raise BadRequest(f"--until {ev.format_time(until)} is not after the engine clock {ev.format_time(start)}")
        return calendar(
            contracts,
            flags,
            freelancer_id,
            start,
            until,
            INF,
            rules_named(rules),
            audience_named(audience),
            self.policy,
        )

    def explain(
        self,
        freelancer_id: str,
        t1: int,
        t2: int,
        known_at: int | None = None,
        rules: str | None = None,
        audience: str = "trust",
    ) -> dict:
        if t1 > t2:
            raise BadRequest(f"--from {ev.format_time(t1)} is after --to {ev.format_time(t2)}")
        if audience_named(audience) == "public":
            raise BadRequest(
                "the public audience sees the score only (the displayed JSS and the feedback "
                "score): `score --audience public`; explain takes --audience trust or freelancer"
            )
        _, contracts, flags = self._freelancer(freelancer_id)
        known = INF if known_at is None else known_at
        if audience == "freelancer":
            return freelancer_view.explain(
                contracts,
                flags,
                min(t1, self.clock),
                min(t2, self.clock),
                known,
                rules_named(rules),
                self.policy,
                freelancer_id,
                known_at,
            )
        result = explain(contracts, flags, t1, t2, known, rules_named(rules))
        return explain_json(freelancer_id, result, known_at, self.clock, audience)

    def history(self, freelancer_id: str) -> list[ScoreChange]:
        """The trust history: every ledger entry of the freelancer."""
        if not self.repo.load_freelancers([freelancer_id]):
            raise NotFound(f"unknown freelancer {freelancer_id}")
        return self.repo.history(freelancer_id)

    def published_history(
        self, freelancer_id: str, audience: str = "freelancer", upto: int | None = None
    ) -> list[dict]:
        """The freelancer's (or the public's) history: one entry per publication instant at
        which the published score changed, up to the engine clock (or `upto`)."""
        if audience_named(audience) == "trust":
            raise BadRequest("the trust history is the ledger: history(freelancer_id)")
        _, contracts, flags = self._freelancer(freelancer_id)
        if not contracts:
            return []
        first = min(c.opened_at for c in contracts)
        clock = self.clock if upto is None else upto
        return freelancer_view.history(contracts, flags, first, clock, INF, self.policy, freelancer_id, audience)

    def ledger_after(self, seq: int, limit: int) -> list[ScoreChange]:
        return self.repo.ledger_after(seq, limit)

    def max_seq(self) -> int:
        return self.repo.max_seq()

    def freelancers(self) -> list[str]:
        return self.repo.freelancer_ids()

    def get_cursor(self, name: str) -> int:
        return self.repo.get_cursor(name)

    def set_cursor(self, name: str, value: int) -> None:
        self.repo.set_cursor(name, value)

    def rebuild(self) -> None:
        """Forget all projection state (not the relay cursors); the next catch-up replays the log.
        Waits until a running catch-up has finished."""
        with self.repo.catch_up_lock(None):
            self._projector = None
            self.repo.reset()

    def close(self) -> None:
        if self.owns_connection:
            self.repo.close()


def open_projections(settings: Settings, store: EventStore | None = None) -> Projections:
    """The projection store named by the settings."""
    if settings.is_postgres:
        from projections.store import postgres_repo
        from reputation.store.postgres import PostgresEventStore

        shared = isinstance(store, PostgresEventStore)
        owner = store if shared else PostgresEventStore(settings.store, schema=settings.pg_schema)
        return Projections(postgres_repo(owner.datastore), owns_connection=not shared)  # type: ignore[union-attr]
    from projections.store import sqlite_repo

    Path(settings.projections_path).parent.mkdir(parents=True, exist_ok=True)
    return Projections(sqlite_repo(settings.projections_path))


def memory_projections(engine: str = "native") -> Projections:
    return Projections(MemoryRepo(), engine=engine)


# -- JSON shapes (interfaces.md) --------------------------------------------------------


def known_label(known_at: int | None) -> str:
    return "all" if known_at is None else f"@{known_at}"


def _two(x) -> float | None:
    r = round_half_up(x, 2)
    return None if r is None else float(r)


_f = exact_float


def score_json(freelancer_id: str, s: Score, known_at: int | None, clock: int, audience: str = "trust") -> dict:
    # the stats are those of the window the JSS uses (the 24-month one when there is none)
    months = s.window or 24
    counted = [a for a in s.assessments if a.counted and a.in_window(s.at, months)]
    out = {
        "freelancer_id": freelancer_id,
        "as_of": ev.format_time(s.at),
        "known_at": known_label(known_at),
        "rules": s.rules,
        "jss": s.jss,
        "jss_exact": _f(s.exact),
        "jss_window_months": s.window,
        "jss_hidden_reason": s.hidden_reason,
        "feedback_score": _two(s.feedback),
        "interval": interval(s, rule_set(s.rules)),
        "counted": {
            "window_months": months,
            "contracts": len(counted),
            "positive": sum(a.outcome == "positive" for a in counted),
            "neutral": sum(a.outcome == "neutral" for a in counted),
            "negative": sum(a.outcome == "negative" for a in counted),
            "weight": sum(a.weight4 for a in counted) / 4,
        },
        "windows": {str(w.months): {"contracts": w.contracts, "jss_exact": _f(w.exact)} for w in s.windows},
        "contracts": [
            {
                "contract_id": a.contract_id,
                "client_id": a.client_id,
                "outcome": a.outcome,
                "weight": a.weight4 / 4,
                "counted": a.counted,
                "in_windows": [m for m in (6, 12, 24) if a.counted and a.in_window(s.at, m)],
                "closed_at": ev.format_time(a.closed_at) if a.closed_at is not None else None,
                "settled_at": ev.format_time(a.settled_at) if a.settled_at is not None else None,
                "earnings": a.earnings / 100,
                "why": reasons_text(a.why),
                "leaves_windows": (
                    {str(m): ev.format_time(window_exit(a.closed_at, m)) for m in (6, 12, 24)}
                    if a.closed_at is not None
                    else None
                ),
            }
            for a in s.assessments
        ],
    }
    if s.at > clock:
        out["note"] = (
            f"as_of is after the engine clock ({ev.format_time(clock) if clock > -INF else 'no events yet'}): "
            "answered with the events known now (none after the clock); deadlines up to as_of (feedback "
            "windows ending, contracts leaving a window, rule switches) are applied"
        )
    return out


def explain_json(freelancer_id: str, r: Explained, known_at: int | None, clock: int, audience: str) -> dict:
    def cause(c: dict) -> dict:
        out = dict(c)
        out["at"] = ev.format_time(c["at"])
        for k in ("jss_before", "jss_after", "jss_delta", "feedback_before", "feedback_after"):
            out[k] = _f(c[k])
        out["jss_delta_exact"] = str(c["jss_delta"])
        return out

    return {
        "freelancer_id": freelancer_id,
        "from": score_json(freelancer_id, r.start, known_at, clock, audience),
        "to": score_json(freelancer_id, r.end, known_at, clock, audience),
        "jss_delta": float(r.delta),
        "jss_delta_exact": str(r.delta),
        "causes": [cause(c) for c in r.causes],
        "counterfactuals": [
            {
                "contract_id": c["contract_id"],
                "outcome": c["outcome"],
                "jss_without": _f(c["jss_without"]),
                "jss_if_neutral": _f(c["jss_if_neutral"]),
                "jss_if_positive": _f(c["jss_if_positive"]),
                "client_id": c["client_id"],
            }
            for c in r.counterfactuals
        ],
    }
