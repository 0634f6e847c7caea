"""Service functions of the read side: catch up, score, client, explain, history, ledger.

`open_projections(settings)` chooses the projection store by configuration (a SQLite file
next to the event store, or the same PostgreSQL database).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from projections import freelancer_view, published_badge, toprated
from projections.audiences import audience_named
from projections.core_judge import judge_for
from projections.explain import explain
from projections.ledger import ScoreChange
from projections.native import projector_for
from projections.projector import Entry, Freelancer, Projector
from projections.publication import DAYS_KEY, Policy, check_days
from projections.reports import explain_json, known_label, score_json, two_decimals
from projections.rules.fair import ClientFacts
from projections.rules.score import Score, client_score
from projections.store import MemoryRepo, ReadRepo
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


READ_WAIT = 2.0  # seconds a reader waits for another process's catch-up before reading what is committed


def bring_up_to_date(
    store: EventStore, proj: Projections, progress: Callable[[int, int], None] | None = None, wait: float | None = None
) -> int:
    """Fold what the log has beyond the projections; `progress(done, behind)` after each batch.
    `wait`: at most this long for another process's catch-up (then ProjectionsBusy).
    Misconfigured when the projections were built with other publication days."""
    proj.policy  # noqa: B018 - checked before anything is read
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
        # "native" (the default): the Rust core projects (projections.native) and evaluates score
        # and explain (projections.judge); "python": the reference rule code does both
        self.engine = engine
        self._projector: Projector | None = None
        self._policy: Policy | None = None

    @property
    def policy(self) -> Policy:
        """The freelancer-facing publication schedule and k (read when first needed, so a bad
        setting fails only the reads that use it); Misconfigured when the projections were built
        with other days."""
        if self._policy is None:
            self._policy = self._checked(Policy.from_env())
        return self._policy

    @policy.setter
    def policy(self, value: Policy) -> None:
        self._policy = self._checked(value)

    def _checked(self, policy: Policy) -> Policy:
        if self.repo.meta().position > 0:  # else nothing is built yet: the projector records the days
            check_days(policy.days, self.repo.get_cursor(DAYS_KEY))
        return policy

    # -- writing -----------------------------------------------------------------------

    @property
    def projector(self) -> Projector:
        if self._projector is None:
            self._projector = projector_for(self.engine, self.repo, self.policy)
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
                done = p.catch_up(store, progress, batch)
            else:
                done = self._catch_up(p, store, progress, batch or BATCH)
        except BaseException:
            # the batch was rolled back (e.g. another projector committed it first): the
            # in-memory state ran ahead of the store, so start again from what is stored
            self._projector = None
            raise
        if done:
            self.repo.checkpoint()
        return done

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
        cut = Cut(at, INF, INF if known_at is None else known_at)
        return judge_for(self.engine, contracts, flags).score(cut, rules_named(rules))

    def score(
        self,
        freelancer_id: str,
        as_of: int | None = None,
        known_at: int | None = None,
        rules: str | None = None,
        audience: str = "trust",
    ) -> dict:
        at = self.clock if as_of is None else as_of
        known = INF if known_at is None else known_at
        f, contracts, flags = self._freelancer(freelancer_id)
        if audience_named(audience) == "trust":
            score = judge_for(self.engine, contracts, flags).score(Cut(at, INF, known), rules_named(rules))
            out = score_json(freelancer_id, score, known_at, self.clock, audience)
        else:
            published = self.policy.published_at(min(at, self.clock))  # nothing is published ahead of the clock
            score = judge_for(self.engine, contracts, flags).score(Cut(published, INF, known), rules_named(rules))
            if audience == "public":
                out = freelancer_view.public_json(freelancer_id, score, at)
            else:
                looks = freelancer_view.seen(contracts, flags, score, known)
                out = freelancer_view.freelancer_json(freelancer_id, score, at, known_at, looks)
        # the freelancer and the public: nothing evaluated ahead of the clock either
        badge_at = at if audience == "trust" else min(at, self.clock)
        out["top_rated"] = self.top_rated(f, contracts, badge_at, known, audience)
        return out

    def top_rated(self, f, contracts: list, at: int, known: int, audience: str) -> dict:
        """The badge at the last Monday at or before `at` as the ledger says it (written up to
        log position `known`), with the weeks (their published JSS) and earnings behind it
        (projections.toprated)."""
        timeline = f.timeline
        if known < INF and known < self.position:  # the ledger as it stood at K
            timeline = Freelancer(f.id)
            for ch in self.repo.history(f.id):
                if ch.position <= known:
                    timeline.record(Entry(ev.parse_time(ch.effective_at), ch.seq, ch.jss_after, None, None, ch.rules))
            timeline = timeline.timeline
        money = toprated.money_of(contracts, known)
        e = toprated.evaluate(timeline, money, toprated.monday_at_or_before(at), self.policy.published_at)
        return toprated.status(e, audience)

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
            "client_score": two_decimals(value),
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
        judge = judge_for(self.engine, contracts, flags)
        result = explain(contracts, flags, t1, t2, known, rules_named(rules), judge)
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
        which the published score changed, and per Monday at which the badge flipped, up to the
        engine clock (or `upto`)."""
        if audience_named(audience) == "trust":
            raise BadRequest("the trust history is the ledger: history(freelancer_id)")
        f, contracts, flags = self._freelancer(freelancer_id)
        if not contracts:
            return []
        first = min(c.opened_at for c in contracts)
        clock = self.clock if upto is None else upto
        policy = self.policy
        return published_badge.history(contracts, flags, f.timeline, first, clock, INF, policy, freelancer_id, audience)

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
        policy = Policy.from_env() if self._policy is None else self._policy  # unchecked: the new days
        with self.repo.catch_up_lock(None):
            self._projector = None
            self.repo.reset()
            self._policy = policy  # the projector records them

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
