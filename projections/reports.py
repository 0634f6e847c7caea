"""The JSON shapes of `score` and `explain` for the trust audience (the CLI's --json, the API):
what a Score or an Explained becomes on the way out."""

from __future__ import annotations

from functools import lru_cache

from projections.audiences import reasons_text
from projections.explain import Explained
from projections.projector import exact_float
from projections.rules.score import Score, round_half_up
from projections.rules.windows import window_exit
from projections.uncertainty import interval
from reputation import events as ev
from reputation.clock import INF
from reputation.rulesets import rule_set


def known_label(known_at: int | None) -> str:
    return "all" if known_at is None else f"@{known_at}"


def two_decimals(x) -> float | None:
    r = round_half_up(x, 2)
    return None if r is None else float(r)


_f = exact_float
# a freelancer's instants come back in every score and at every step of explain: format once
_time = lru_cache(maxsize=1 << 16)(ev.format_time)


@lru_cache(maxsize=1 << 14)
def _leaves(closed_at: int) -> tuple[tuple[str, str], ...]:
    return tuple((str(m), _time(window_exit(closed_at, m))) for m in (6, 12, 24))


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
        "feedback_score": two_decimals(s.feedback),
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
                "closed_at": _time(a.closed_at) if a.closed_at is not None else None,
                "settled_at": _time(a.settled_at) if a.settled_at is not None else None,
                "earnings": a.earnings / 100,
                "why": reasons_text(a.why),
                "leaves_windows": dict(_leaves(a.closed_at)) if a.closed_at is not None else None,
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
        out["at"] = _time(c["at"])
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
