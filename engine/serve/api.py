"""The JSON API: the fields of the CLI's `--json`, errors as JSON with the exit codes' meanings
(400 bad parameter, 401 trust audience without the token, 404 unknown freelancer or client,
503 store unreachable)."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from engine import api as engine_api
from engine.whatif import WhatIf, whatif
from projections.calendar import Calendar
from projections.cuts import as_time, clock_as_known, default_as_of, known_position
from projections.ledger import ScoreChange, entries_json
from projections.published import (
    FreelancerExplanation,
    FreelancerScoreWithBadge,
    PublicScoreWithBadge,
    PublishedChange,
)
from projections.service import Projections
from reputation.rulesets import rule_set

_encoder = msgspec.json.Encoder()


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encoder.encode(content)


class HistoryEntry(ScoreChange):
    restated_by: int | None = None  # the seq of the entry that restated this one (a late event)


class Health(msgspec.Struct):
    status: str
    store: str
    position: int
    projected: int
    lag_events: int
    lag_seconds: float
    projector: dict[str, Any] | None


class Error(msgspec.Struct):
    error: str
    status: int


SCHEMAS = {
    "Score": engine_api.Score,
    "Explanation": engine_api.Explanation,
    "ClientScore": engine_api.ClientScore,
    "HistoryEntry": HistoryEntry,
    "WhatIf": WhatIf,
    "Health": Health,
    "Error": Error,
    "Calendar": Calendar,
    # the freelancer and public audiences' shapes (docs/audiences.md)
    "FreelancerScoreWithBadge": FreelancerScoreWithBadge,
    "PublicScoreWithBadge": PublicScoreWithBadge,
    "FreelancerExplanation": FreelancerExplanation,
    "PublishedChange": PublishedChange,
}


def components() -> dict[str, Any]:
    """OpenAPI component schemas of the response types (msgspec's JSON Schema of the Structs)."""
    _, defs = msgspec.json.schema_components(list(SCHEMAS.values()), ref_template="#/components/schemas/{name}")
    return defs


def _ref(name: str, many: bool = False) -> dict:
    """`name` may be several, `A|B`: one of them, by audience."""
    refs = [{"$ref": f"#/components/schemas/{n}"} for n in name.split("|")]
    schema: dict = refs[0] if len(refs) == 1 else {"oneOf": refs}
    if many:
        schema = {"type": "array", "items": schema}
    return {"content": {"application/json": {"schema": schema}}}


def responses(name: str, *codes: int, many: bool = False) -> dict:
    out: dict[int | str, dict] = {
        200: {"description": "OK (the shape of the audience)" if "|" in name else "OK", **_ref(name, many)}
    }
    words = {
        400: "bad parameter",
        401: "trust audience without the bearer token",
        404: "unknown freelancer or client",
        503: "store unreachable",
    }
    for code in codes:
        out[code] = {"description": words[code], **_ref("Error")}
    return out


router = APIRouter()

AUDIENCE = Query(
    None,
    description="trust (needs the bearer token), freelancer or public (the score only; explain refuses it); "
    "default: trust with the token, else freelancer",
)
AS_OF = Query(None, description="Valid time T (RFC 3339); default: the engine clock.")
KNOWN_AT = Query(None, description="Transaction time K: RFC 3339 or a log position @N; default: all.")


def read(request: Request) -> tuple[Any, Projections]:
    return request.app.state.backend.get()


def audience(request: Request, asked: str | None) -> str:
    return request.app.state.audiences.resolve(asked, request.headers.get("authorization"))


def check_rules(name: str | None) -> None:
    if name is not None:
        rule_set(name)  # UnknownRules is a BadRequest: 400


@router.get(
    "/freelancers/{freelancer_id}/score",
    response_class=JSON,
    responses=responses("Score|FreelancerScoreWithBadge|PublicScoreWithBadge", 400, 401, 404, 503),
    summary="A freelancer's JSS and feedback score at T, as known at K (`reputation score --json`)",
)
def score(
    request: Request,
    freelancer_id: str,
    as_of: str | None = AS_OF,
    known_at: str | None = KNOWN_AT,
    rules: str | None = Query(None, description="Evaluate under this rule set (what-if)."),
    audience_: str | None = Query(None, alias="audience", description=AUDIENCE.description),
) -> JSON:
    who = audience(request, audience_)
    check_rules(rules)
    t = as_time(as_of, "as_of")
    store, proj = read(request)
    known = known_position(known_at, store)
    return JSON(proj.score(freelancer_id, default_as_of(t, known, store, proj.repo), known, rules, who))


@router.get(
    "/freelancers/{freelancer_id}/explain",
    response_class=JSON,
    responses=responses("Explanation|FreelancerExplanation", 400, 401, 404, 503),
    summary="Why the score moved between two times (`reputation explain --json`)",
)
def explain(
    request: Request,
    freelancer_id: str,
    start: str = Query(..., alias="from", description="T1 (RFC 3339)."),
    end: str | None = Query(None, alias="to", description="T2 (RFC 3339); default: the engine clock."),
    known_at: str | None = KNOWN_AT,
    rules: str | None = Query(None, description="A fixed rule set instead of the one in force at each time."),
    audience_: str | None = Query(None, alias="audience", description=AUDIENCE.description),
) -> JSON:
    who = audience(request, audience_)
    check_rules(rules)
    t1, t2 = as_time(start, "from"), as_time(end, "to")
    store, proj = read(request)
    known = known_position(known_at, store)
    if t2 is None:
        t2 = clock_as_known(known, store, proj.clock, proj.repo)
    return JSON(proj.explain(freelancer_id, t1, t2, known, rules, who))  # type: ignore[arg-type]


@router.get(
    "/freelancers/{freelancer_id}/calendar",
    response_class=JSON,
    responses=responses("Calendar", 400, 401, 404, 503),
    summary="The dates the JSS would change if nothing new happened (`reputation calendar --json`)",
)
def calendar(
    request: Request,
    freelancer_id: str,
    until: str | None = Query(None, description="Up to T (RFC 3339); default: 25 months after the clock."),
    rules: str | None = Query(None, description="A fixed rule set instead of the one in force at each date."),
    audience_: str | None = Query(None, alias="audience", description=AUDIENCE.description),
) -> JSON:
    who = audience(request, audience_)
    check_rules(rules)
    _store, proj = read(request)
    return JSON(proj.calendar(freelancer_id, as_time(until, "until"), rules, who))


@router.get(
    "/freelancers/{freelancer_id}/history",
    response_class=JSON,
    responses=responses("HistoryEntry|PublishedChange", 400, 401, 404, 503, many=True),
    summary="The score-change ledger (trust), or the published changes (freelancer, public) (`reputation history --json`)",
)
def history(
    request: Request,
    freelancer_id: str,
    all_: bool = Query(False, alias="all", description="Also the entries that late events restated."),
    audience_: str | None = Query(None, alias="audience", description=AUDIENCE.description),
) -> JSON:
    who = audience(request, audience_)
    _, proj = read(request)
    return JSON(history_entries(proj, freelancer_id, who, all_))


def history_entries(proj: Projections, freelancer_id: str, who: str, everything: bool = False) -> list[dict]:
    """As `history --json` prints them: the ledger entries for trust (restated ones only with
    `everything`), the published changes for the other audiences."""
    if who != "trust":
        return proj.published_history(freelancer_id, who)
    return entries_json(proj.history(freelancer_id), everything)


@router.get(
    "/clients/{client_id}",
    response_class=JSON,
    responses=responses("ClientScore", 400, 404, 503),
    summary="A client's score (`reputation client --json`)",
)
def client(request: Request, client_id: str, as_of: str | None = AS_OF, known_at: str | None = KNOWN_AT) -> JSON:
    t = as_time(as_of, "as_of")
    store, proj = read(request)
    known = known_position(known_at, store)
    return JSON(proj.client(client_id, default_as_of(t, known, store, proj.repo), known))


@router.get(
    "/whatif",
    response_class=JSON,
    responses=responses("WhatIf", 400, 404, 503),
    summary="Every freelancer's displayed JSS at T under the rule set in force and under R (`reputation whatif --json`)",
)
def what_if(
    request: Request,
    rules: str = Query(..., description="The rule set R: jss-2016, jss-2020, jss-2024, fair-2026."),
    at: str | None = Query(None, description="T (RFC 3339); default: the engine clock."),
) -> JSON:
    check_rules(rules)
    t = as_time(at, "at")
    store, proj = read(request)
    return JSON(whatif(store, proj, request.app.state.settings.audit_path, rules, t))


@router.get(
    "/healthz",
    response_class=JSON,
    responses=responses("Health", 503),
    summary="Store reachable, and the projector's lag in events and seconds",
)
def healthz(request: Request) -> JSON:
    from engine.serve.state import health

    return JSON(health(request.app.state.backend, request.app.state.follower))
