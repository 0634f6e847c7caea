"""The HTML pages: Jinja2 templates and server-rendered SVG, no JavaScript.

- `/ui/freelancers/{id}`: the displayed JSS and feedback score over time (one clickable step
  per change: a ledger entry for trust, a published change for freelancer; the public's steps
  link nowhere), rule-set switches marked, and the contracts table;
- `/ui/freelancers/{id}/changes/{n}`: the explain view of one change (causes, counterfactuals);
- `/ui/whatif`: the population under another rule set.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from engine.serve import charts
from engine.serve.api import audience, check_rules, history_entries, read
from engine.whatif import whatif
from projections.cuts import as_time
from reputation import events as ev
from reputation.clock import INF
from reputation.errors import NotFound
from reputation.rulesets import RULE_SETS

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)


def is_page(request: Request) -> bool:
    path = request.url.path
    return path == "/" or path.startswith("/ui")


def error_page(request: Request, code: int, message: str) -> HTMLResponse:
    return templates.TemplateResponse(request, "error.html", {"code": code, "message": message}, status_code=code)


def freelancer_url(fid: str, audience_: str | None = None) -> str:
    return f"/ui/freelancers/{quote(fid)}" + (f"?audience={quote(audience_)}" if audience_ else "")


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    _, proj = read(request)
    ids = proj.freelancers()
    return templates.TemplateResponse(
        request,
        "index.html",
        {
            "count": len(ids),
            "ids": ids[:60],
            "clock": _clock(proj.clock),
            "rule_sets": list(RULE_SETS),
        },
    )


@router.get("/ui/freelancers")
def find(id: str = Query(..., description="A freelancer id.")) -> RedirectResponse:
    return RedirectResponse(freelancer_url(id.strip()), status_code=303)


def chart_entries(proj, freelancer_id: str, who: str, everything: bool = False) -> list[dict]:
    """The score changes the page draws, in one shape: the ledger entries for trust; for the
    other audiences the published changes (a step at each publication, numbered 1, 2, ...)."""
    if who == "trust":
        return history_entries(proj, freelancer_id, who, everything)
    return [
        {**e, "seq": n, "effective_at": e["published_at"]}
        for n, e in enumerate(proj.published_history(freelancer_id, who), start=1)
    ]


@router.get("/ui/freelancers/{freelancer_id}", response_class=HTMLResponse)
def freelancer(
    request: Request,
    freelancer_id: str,
    start: str | None = Query(None, alias="from"),
    end: str | None = Query(None, alias="to"),
    audience_: str | None = Query(None, alias="audience"),
) -> HTMLResponse:
    who = audience(request, audience_)
    _, proj = read(request)
    score = proj.score(freelancer_id, None, None, None, who)
    entries = sorted(chart_entries(proj, freelancer_id, who), key=lambda e: (e["effective_at"], e["seq"]))
    clock = proj.clock
    times = [ev.parse_time(e["effective_at"]) for e in entries]
    t0 = as_time(start, "from")
    t1 = as_time(end, "to")
    if t1 is None:
        t1 = max([clock, *times]) if times else clock
    if t0 is None:
        first = times[0] if times else t1 - 365 * ev.DAY
        t0 = first - max(ev.DAY, (t1 - first) // 50)
    shown = [e for e, t in zip(entries, times) if t0 <= t <= t1]
    suffix = f"?audience={quote(audience_)}" if audience_ else ""

    def href(e: dict) -> str | None:
        if who == "public":  # the public audience sees no explanation (explain refuses it)
            return None
        return f"/ui/freelancers/{quote(freelancer_id)}/changes/{e['seq']}{suffix}"

    window = score["counted"]["window_months"] if "counted" in score else None  # public: the score only
    return templates.TemplateResponse(
        request,
        "freelancer.html",
        {
            "fid": freelancer_id,
            "score": score,
            "audience": who,
            "entries": shown,
            "window": window,
            "calendar": proj.calendar(freelancer_id, None, None, who),
            "range": (ev.format_time(t0), ev.format_time(t1)),
            "href": href,
            "jss": charts.step_chart(shown, "jss_before", "jss_after", t0, t1, 0, 100, href, [0, 25, 50, 75, 100]),
            "feedback": charts.step_chart(
                shown, "feedback_before", "feedback_after", t0, t1, 0, 5, href, [0, 1, 2, 3, 4, 5]
            ),
        },
    )


@router.get("/ui/freelancers/{freelancer_id}/changes/{seq}", response_class=HTMLResponse)
def change(
    request: Request, freelancer_id: str, seq: int, audience_: str | None = Query(None, alias="audience")
) -> HTMLResponse:
    """The explain view of one change: a ledger entry from just before its effective time to it;
    a published change from the previous one (the span in which the published score moved)."""
    who = audience(request, audience_)
    _, proj = read(request)
    entries = chart_entries(proj, freelancer_id, who, everything=True)
    entry = next((e for e in entries if e["seq"] == seq), None)
    if entry is None:
        raise NotFound(f"freelancer {freelancer_id} has no score change #{seq}")
    at = ev.parse_time(entry["effective_at"])
    # a ledger entry is one instant; a published change covers the span since the last publication
    earlier = [ev.parse_time(e["effective_at"]) for e in entries if e["seq"] < seq]
    start = at - 1 if who == "trust" or not earlier else max(earlier)
    out = proj.explain(freelancer_id, start, at, None, None, who)
    cfs = sorted(out["counterfactuals"], key=lambda c: -abs((c["jss_without"] or 0) - (out["to"]["jss_exact"] or 0)))
    return templates.TemplateResponse(
        request,
        "change.html",
        {
            "fid": freelancer_id,
            "entry": entry,
            "out": out,
            "counterfactuals": cfs,
            "audience": who,
            "back": freelancer_url(freelancer_id, audience_),
        },
    )


@router.get("/ui/whatif", response_class=HTMLResponse)
def what_if(request: Request, rules: str | None = None, at: str | None = None) -> HTMLResponse:
    result = chart = None
    if rules:
        check_rules(rules)
        t = as_time(at, "at")
        store, proj = read(request)
        result = whatif(store, proj, request.app.state.settings.audit_path, rules, t)
        chart = charts.histogram_chart([{"lo": b.lo, "hi": b.hi, "count": b.count} for b in result.histogram])
    return templates.TemplateResponse(
        request,
        "whatif.html",
        {
            "rules": rules,
            "at": at or "",
            "rule_sets": list(RULE_SETS),
            "result": result,
            "chart": chart,
            "freelancer_url": freelancer_url,
        },
    )


def _clock(clock: int) -> str | None:
    return ev.format_time(clock) if clock > -INF else None
