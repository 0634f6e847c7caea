"""The aging calendar (rules.md, "The aging calendar"): from a start instant (the engine clock)
to `until`, every future instant at which the JSS would change if nothing new happened, with
what causes each step, in the audience's terms.

- `trust`: the instants are the deadlines that move a score -- a contract settling (its
  feedback window ends), a counted contract leaving one of the rule set's windows or the
  24-month window (visibility), a rule switch; each step names its contracts and the words of
  their outcome.
- `freelancer`: the instants are publications (projections.publication) at which the published
  JSS changes; the causes are those of the freelancer's `explain` over the period, so a
  private answer is never betrayed.
- `public`: the publications at which the shown JSS changes, no causes.
"""

from __future__ import annotations

from typing import Any

import msgspec

from projections import freelancer_view
from projections.audiences import reasons_text
from projections.cache import Cache
from projections.projector import exact_float
from projections.publication import Policy
from projections.rules.score import Score, evaluate
from projections.rules.windows import WINDOWS, Assessment
from reputation import clock
from reputation import events as ev
from reputation.clock import INF
from reputation.contract import Contract
from reputation.outcome import Cut
from reputation.rulesets import SWITCHES, RuleSet, in_force

HORIZON_MONTHS = 25  # by default: past the 24-month window of everything counted now


class CalendarCause(msgspec.Struct, omit_defaults=True):
    kind: str  # contract, rules_changed; freelancer: also private_feedback, other
    text: str
    contract_id: str | None = None


class CalendarStep(msgspec.Struct, omit_defaults=True):
    rules: str
    jss_before: int | None
    jss: int | None
    jss_hidden_reason: str | None
    at: str | None = None  # trust: the instant of the change
    published_at: str | None = None  # freelancer, public: the publication that shows it
    jss_exact: float | None = None  # trust only
    causes: list[CalendarCause] = []


class Calendar(msgspec.Struct, rename={"start": "from"}):
    """`reputation calendar --json`."""

    freelancer_id: str
    audience: str
    start: str
    until: str
    rules: str | None
    steps: list[CalendarStep]


def default_until(start: int) -> int:
    return clock.to_micros(clock.add_months(clock.to_datetime(start), HORIZON_MONTHS))


def _deadlines(
    s: Score, start: int, until: int, rules: RuleSet | None
) -> dict[int, list[tuple[str, Assessment | None]]]:
    """Instant -> what happens then: (kind, assessment)."""
    out: dict[int, list] = {}
    for a in s.assessments:
        if a.settled_at is not None and start < a.settled_at <= until and a.outcome is None:
            out.setdefault(a.settled_at, []).append(("settles", a))
        for m, exit_at in zip(WINDOWS, a.exits):
            if start < exit_at <= until:
                out.setdefault(exit_at, []).append((f"leaves the {m}-month window", a))
    if rules is None:
        for t in SWITCHES:
            if start < t <= until:
                out.setdefault(t, []).append((f"rule switch to {in_force(t).name}", None))
    return out


def _trust(
    contracts: list[Contract], flags: dict, start: int, until: int, known: int, rules: RuleSet | None
) -> list[dict]:
    cache = Cache()
    before = evaluate(contracts, flags, Cut(start, INF, known), rules, cache=cache)
    steps, done = [], set()
    pending = _deadlines(before, start, until, rules)
    while pending:
        t = min(pending)
        causes = pending.pop(t)
        done.add(t)
        after = evaluate(contracts, flags, Cut(t, INF, known), rules, cache=cache)
        # a contract that settles now has window exits of its own: they are deadlines too
        for at, more in _deadlines(after, t, until, rules).items():
            if at not in done:
                merged = pending.setdefault(at, [])
                known_ones = {(kind, a and a.contract_id) for kind, a in merged}
                merged += [m for m in more if (m[0], m[1] and m[1].contract_id) not in known_ones]
        if (after.jss, after.exact, after.hidden_reason) != (before.jss, before.exact, before.hidden_reason):
            steps.append(
                {
                    "at": ev.format_time(t),
                    "rules": after.rules,
                    "jss_before": before.jss,
                    "jss": after.jss,
                    "jss_exact": exact_float(after.exact),
                    "jss_hidden_reason": after.hidden_reason,
                    "causes": [_trust_cause(kind, a, after) for kind, a in causes],
                }
            )
        before = after
    return steps


def _trust_cause(kind: str, a: Assessment | None, after: Score) -> dict:
    if a is None:
        return {"kind": "rules_changed", "text": kind}
    now = next((x for x in after.assessments if x.contract_id == a.contract_id), a)
    state = f"counted as {now.outcome}" if now.counted else "not counted"
    return {
        "kind": "contract",
        "contract_id": a.contract_id,
        "text": f"contract {a.contract_id} {kind} ({state}: {'; '.join(reasons_text(now.why))})",
    }


def _published(
    contracts: list[Contract],
    flags: dict,
    start: int,
    until: int,
    known: int,
    rules: RuleSet | None,
    policy: Policy,
    freelancer_id: str,
    audience: str,
) -> list[dict]:
    cache = Cache()
    last = policy.published_at(start)
    before = evaluate(contracts, flags, Cut(last, INF, known), rules, cache=cache)
    steps = []
    for p in policy.instants(last, until):
        after = evaluate(contracts, flags, Cut(p, INF, known), rules, cache=cache)
        if (after.jss, after.hidden_reason) != (before.jss, before.hidden_reason):
            step: dict[str, Any] = {
                "published_at": ev.format_time(p),
                "rules": after.rules,
                "jss_before": before.jss,
                "jss": after.jss,
                "jss_hidden_reason": after.hidden_reason,
            }
            if audience == "freelancer":
                why = freelancer_view.explain(contracts, flags, last, p, known, rules, policy, freelancer_id, None)
                step["causes"] = [{k: c[k] for k in ("kind", "text", "contract_id") if k in c} for c in why["causes"]]
            steps.append(step)
            last = p
        before = after
    return steps


def calendar(
    contracts: list[Contract],
    flags: dict,
    freelancer_id: str,
    start: int,
    until: int,
    known: int,
    rules: RuleSet | None,
    audience: str,
    policy: Policy,
) -> dict:
    """The steps of the JSS from `start` to `until` if nothing new happened."""
    if audience == "trust":
        steps = _trust(contracts, flags, start, until, known, rules)
    else:
        steps = _published(contracts, flags, start, until, known, rules, policy, freelancer_id, audience)
    return {
        "freelancer_id": freelancer_id,
        "audience": audience,
        "from": ev.format_time(start),
        "until": ev.format_time(until),
        "rules": rules.name if rules else None,
        "steps": steps,
    }
