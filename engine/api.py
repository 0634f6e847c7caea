"""The Python API for services: the engine without the command line.

    import reputation

    with reputation.open("./.reputation") as engine:       # or "postgresql://user@host/db"
        engine.ingest(["{...event...}", ...])               # all or nothing, like the CLI
        s = engine.score("f-000001")                        # a Score (same fields as --json)
        print(s.jss, s.feedback_score, [c.outcome for c in s.contracts])

Results are msgspec Structs with the fields of the CLI's `--json` output; errors are the typed
errors of `reputation.errors` (BadRequest, InvalidInput, NotFound, Unavailable). The reads take
`audience="trust" | "freelancer" | "public"` (docs/audiences.md): the freelancer and public forms
are the Structs of projections.published.
Times are RFC 3339 strings; `known_at` is `@N` (a log position) or a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import msgspec

from projections.audiences import AUDIENCES
from projections.calendar import Calendar
from projections.cuts import as_time, clock_as_known, default_as_of, known_position
from projections.ledger import ScoreChange
from projections.published import (
    FreelancerExplanation,
    FreelancerScoreWithBadge,
    Interval,
    PublicScoreWithBadge,
    PublishedChange,
    TopRated,
)
from projections.service import Projections, bring_up_to_date, open_projections
from reputation.config import Settings, open_store
from reputation.errors import BadRequest, InvalidInput
from reputation.ingest import Result as _IngestResult
from reputation.store import EventStore


class Counted(msgspec.Struct):
    window_months: int
    contracts: int
    positive: int
    neutral: int
    negative: int
    weight: float


class WindowStat(msgspec.Struct):
    contracts: int
    jss_exact: float | None


class ContractScore(msgspec.Struct):
    contract_id: str
    client_id: str
    outcome: str | None
    weight: float
    counted: bool
    in_windows: list[int]
    closed_at: str | None
    settled_at: str | None
    earnings: float
    why: list[str]
    leaves_windows: dict[str, str] | None


class Score(msgspec.Struct, omit_defaults=True):
    """A freelancer's JSS and feedback score at a cut (`reputation score --json`)."""

    freelancer_id: str
    as_of: str
    known_at: str
    rules: str
    jss: int | None
    jss_exact: float | None
    jss_window_months: int | None
    jss_hidden_reason: str | None
    feedback_score: float | None
    counted: Counted
    windows: dict[str, WindowStat]
    contracts: list[ContractScore]
    interval: Interval | None  # null when no JSS is shown (--json always has the key)
    note: str | None = None
    top_rated: TopRated | None = None  # the badge at the last Monday, the 16 weeks, the earnings


class Cause(msgspec.Struct):
    at: str
    kind: str
    contract_id: str | None
    client_id: str | None
    event_id: str | None
    jss_before: float | None
    jss_after: float | None
    jss_delta: float | None
    jss_delta_exact: str
    jss_shown_before: int | None
    jss_shown_after: int | None
    feedback_before: float | None
    feedback_after: float | None
    text: str
    private: bool = False  # the words rest on a private answer (structured: projections.audiences)


class Counterfactual(msgspec.Struct, omit_defaults=True):
    contract_id: str
    outcome: str
    jss_without: float | None
    jss_if_neutral: float | None
    jss_if_positive: float | None
    client_id: str | None = None  # not in the freelancer audience


class Explanation(msgspec.Struct, rename={"start": "from", "end": "to"}):
    """Why the score moved between two times (`reputation explain --json`)."""

    freelancer_id: str
    start: Score
    end: Score
    jss_delta: float
    jss_delta_exact: str
    causes: list[Cause]
    counterfactuals: list[Counterfactual]


class ClientScore(msgspec.Struct, omit_defaults=True):
    client_id: str
    as_of: str
    known_at: str
    client_score: float | None
    client_score_exact: float | None
    contracts: int
    freelancers: int
    flagged: bool | None = None  # trust audience only


class Ingested(msgspec.Struct):
    """What an ingest did (`reputation ingest --json`, without the dead-letter file)."""

    accepted: int
    duplicates: int
    rejected: int
    written: bool
    positions: tuple[int, int] | None
    errors: list[str]


class Table(msgspec.Struct):
    """An audit query's answer."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]


def _audience(audience: str) -> str:
    if audience not in AUDIENCES:
        raise BadRequest(f"unknown audience {audience!r}; known: {', '.join(AUDIENCES)}")
    return audience


def _settings(where: str | Settings | None) -> Settings:
    if isinstance(where, Settings):
        return where
    if where is None:
        return Settings.from_env()
    if where.startswith(("postgresql://", "postgres://")):
        return Settings.from_env(store=where)
    return Settings.from_env(home=str(Path(where)), store="sqlite")


class Engine:
    """One store (SQLite home or PostgreSQL URL) with its projections; reads catch up first."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store: EventStore = open_store(settings)
        try:
            self.projections: Projections = open_projections(settings, self.store)
        except BaseException:
            self.store.close()
            raise

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.projections.close()
        self.store.close()

    # -- writing ---------------------------------------------------------------------

    def ingest(self, lines: Iterable[bytes | str], *, skip_invalid: bool = False) -> Ingested:
        """Append event lines, all or nothing (or the good ones with `skip_invalid`).

        Raises InvalidInput listing the rejects when a line is bad and nothing was written."""
        from reputation.ingest import ingest_lines

        raw = (line.encode() if isinstance(line, str) else line for line in lines)
        result: _IngestResult = ingest_lines(self.store, raw, skip_invalid=skip_invalid)
        out = Ingested(
            result.accepted,
            result.duplicates,
            len(result.rejects),
            result.written,
            result.positions,
            [r.message() for r in result.rejects],
        )
        if result.rejects and not skip_invalid:
            raise InvalidInput(
                "; ".join(out.errors[:10]) + (f" (and {len(out.errors) - 10} more)" if len(out.errors) > 10 else "")
            )
        return out

    def project(self) -> int:
        """Bring the projections and the ledger up to date; return how many events were folded."""
        return bring_up_to_date(self.store, self.projections)

    # -- reading ---------------------------------------------------------------------

    def score(
        self,
        freelancer_id: str,
        *,
        as_of: str | None = None,
        known_at: str | None = None,
        rules: str | None = None,
        audience: str = "trust",
    ) -> Score | FreelancerScoreWithBadge | PublicScoreWithBadge:
        """trust: a Score; freelancer: a FreelancerScore, public: a PublicScore, each with the Top
        Rated badge (docs/audiences.md)."""
        self.project()
        known = known_position(known_at, self.store)
        out = self.projections.score(
            freelancer_id,
            as_of=default_as_of(as_time(as_of, "as_of"), known, self.store, self.projections.repo),
            known_at=known,
            rules=rules,
            audience=_audience(audience),
        )
        return msgspec.convert(
            out, {"trust": Score, "freelancer": FreelancerScoreWithBadge, "public": PublicScoreWithBadge}[audience]
        )

    def explain(
        self,
        freelancer_id: str,
        *,
        start: str,
        end: str | None = None,
        known_at: str | None = None,
        rules: str | None = None,
        audience: str = "trust",
    ) -> Explanation | FreelancerExplanation:
        self.project()
        t1 = as_time(start, "start")
        known = known_position(known_at, self.store)
        t2 = (
            as_time(end, "end")
            if end is not None
            else clock_as_known(known, self.store, self.projections.clock, self.projections.repo)
        )
        out = self.projections.explain(freelancer_id, t1, t2, known, rules, _audience(audience))  # type: ignore[arg-type]
        if audience == "trust":
            return msgspec.convert(out, Explanation)
        return msgspec.convert(out, FreelancerExplanation)

    def calendar(
        self, freelancer_id: str, *, until: str | None = None, rules: str | None = None, audience: str = "trust"
    ) -> Calendar:
        """The dates the JSS would change if nothing new happened (projections.calendar)."""
        self.project()
        out = self.projections.calendar(freelancer_id, as_time(until, "until"), rules, _audience(audience))
        return msgspec.convert(out, Calendar)

    def history(self, freelancer_id: str, *, audience: str = "trust") -> list[ScoreChange] | list[PublishedChange]:
        """trust: the ledger entries; freelancer / public: the changes of the published score."""
        self.project()
        if _audience(audience) == "trust":
            return self.projections.history(freelancer_id)
        return msgspec.convert(self.projections.published_history(freelancer_id, audience), list[PublishedChange])

    def client(
        self, client_id: str, *, as_of: str | None = None, known_at: str | None = None, audience: str = "trust"
    ) -> ClientScore:
        self.project()
        known = known_position(known_at, self.store)
        out = self.projections.client(
            client_id,
            default_as_of(as_time(as_of, "as_of"), known, self.store, self.projections.repo),
            known,
            _audience(audience),
        )
        return msgspec.convert(out, ClientScore)

    def audit(self, sql: str, params: dict[str, Any] | None = None) -> Table:
        """One read-only query over the DuckDB audit database, synced first."""
        from projections import audit

        bound = audit.check_query(sql, params or {})  # refused before any file is touched
        self.project()
        audit.sync(self.store, self.projections, self.settings.audit_path, False, catch_up=False)
        con = audit.open_readonly(self.settings.audit_path)
        try:
            names, types, rows = audit.query(con, sql, bound)
        finally:
            con.close()
        return Table(list(names), [str(t) for t in types], [tuple(r) for r in rows])


def open(where: str | Settings | None = None) -> Engine:  # noqa: A001 - `reputation.open(...)` reads well
    """An engine on a home folder (SQLite), a postgresql:// URL, or Settings (default: the environment)."""
    return Engine(_settings(where))
