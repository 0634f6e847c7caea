"""Who reads what: the three audiences, the one place where reasons become sentences, and
what of a contract's outcome the freelancer may know.

- `trust`: everything, exact (the words of the ledger and of `explain` as they always were).
- `freelancer`: no private value, and nothing from which one contract's private answer (its
  value, its range, or whether there was one) can be inferred; scores as *published* on a
  schedule (projections.publication).
- `public`: the displayed JSS (or why it is hidden) and the feedback score, nothing else.

A contract is *private-driven* when its outcome or whether it counts could differ for some
private answer of its client (another recommend, another end reason, or none at all); that is
decided from the public facts alone, so the classification itself tells nothing. The
freelancer sees a private-driven contract only inside a group (projections.freelancer_view).
"""

from __future__ import annotations

from typing import Callable, Iterable

from reputation.errors import BadRequest
from reputation.outcome import Reason, Signals, View, is_long_term, outcome, signals
from reputation.rulesets import NEGATIVE_REASONS, RuleSet

AUDIENCES = ("trust", "freelancer", "public")


def audience_named(name: str) -> str:
    if name not in AUDIENCES:
        raise BadRequest(f"unknown audience {name!r}; known: {', '.join(AUDIENCES)}")
    return name


def _stars(x: float) -> str:
    return f"{x:g}"


# code -> the trust sentence (today's words, byte for byte: the native core writes the same)
_TRUST: dict[str, Callable[..., str]] = {
    "reason_negative": lambda reason, rules, private: (
        f"{'private end reason' if private else 'client reason'} {reason} is negative under {rules}"
    ),
    "recommend_low": lambda r: f"private recommend {r} <= 6",
    "stars_low": lambda s: f"public stars {_stars(s)} < 3.0",
    "recommend_high": lambda r: f"private recommend {r} >= 9",
    "stars_high_no_private": lambda s: f"public stars {_stars(s)} >= 4.5 with no private feedback",
    "long_term": lambda: "long-term: payments span 90 days or more",
    "recommend_middle": lambda r: f"private recommend {r} is neither <= 6 nor >= 9",
    "signals_neither": lambda: "client signals are neither negative nor positive",
    "no_feedback": lambda: "no client feedback",
    "client_feedback_removed": lambda basis: f"client feedback removed ({basis})",
    "client_flagged": lambda rules: f"client is flagged; its feedback does not count under {rules}",
    "open": lambda: "open",
    "not_settled": lambda: "not settled yet (feedback window open)",
    "what_if": lambda o: f"what-if: treated as {o}",
    "what_if_left_out": lambda: "what-if: left out",
    "excluded_perk": lambda: "excluded: client feedback removed by the top-rated perk",
    "excluded_no_signal": lambda rules: f"excluded under {rules}: no client signal and not long-term",
    "excluded_zero_no_signal": lambda: "excluded: $0 and no client signal",
    "excluded_zero_not_negative": lambda rules: f"excluded under {rules}: $0 contracts count only when negative",
    # fair-2026 (never in force, so never in the ledger)
    "reason_neutral_close": lambda reason, rules, private: (
        f"{'private end reason' if private else 'client reason'} {reason} is a neutral close under {rules}: no signal"
    ),
    "recommend_usual": lambda r, usual: f"private recommend {r} is not below this client's usual {usual}",
    "stars_usual": lambda s, usual: f"public stars {_stars(s)} are not below this client's usual {_stars(usual)}",
    "engagement": lambda ids: f"one engagement with {', '.join(ids)} (continues)",
    "engagement_part": lambda head: f"part of the engagement judged as {head}",
}


def trust_text(r: Reason) -> str:
    return _TRUST[r.code](*r.args)


def reasons_text(reasons: Iterable[Reason], audience: str = "trust") -> list[str]:
    """The sentences of `reasons` for an audience: the freelancer never reads a private one."""
    if audience == "trust":
        return [trust_text(r) for r in reasons]
    if audience == "freelancer":
        return [trust_text(r) for r in reasons if not r.private]
    return []


# -- what the freelancer may know of one contract ------------------------------------------

_NON_NEGATIVE = "completed_successfully"
_NEGATIVE = sorted(NEGATIVE_REASONS)[0]


def _answers() -> list[tuple[int | None, str | None]]:
    """Every kind of private answer that can change an outcome: none, each recommend band,
    with no / a negative / a non-negative end reason."""
    out: list[tuple[int | None, str | None]] = [(None, None)]
    for recommend in (0, 7, 10):
        for end in (None, _NEGATIVE, _NON_NEGATIVE):
            out.append((recommend, end))
    return out


ANSWERS = _answers()


def _counted(v: View, s: Signals, result: str, rules: RuleSet) -> bool:
    """Whether the contract counts, for the signal-dependent rules of windows.assess."""
    if rules.needs_signal_or_long_term and not (s.any or is_long_term(v)):
        return False
    if not rules.needs_signal_or_long_term and not (v.earnings > 0 or s.any):
        return False
    return not (rules.zero_only_if_negative and v.earnings <= 0 and result != "negative")


def public_outcome(v: View, rules: RuleSet, flagged: bool) -> tuple[str, list[Reason]] | None:
    """The outcome and its (public) reasons if every possible private answer gives the same
    outcome and the same counting; None when the contract is private-driven."""
    seen = set()
    for recommend, end in ANSWERS:
        alt = v._replace(client_recommend=recommend, client_end_reason=end)
        s = signals(alt, rules, flagged)
        result, _ = outcome(alt, s, rules)
        seen.add((result, _counted(alt, s, result, rules)))
        if len(seen) > 1:
            return None
    bare = v._replace(client_recommend=None, client_end_reason=None)
    s = signals(bare, rules, flagged)
    result, why = outcome(bare, s, rules)
    if s.stripped:
        why.insert(0, s.stripped)
    # with no private answer some reasons still say so (stars >= 4.5 "with no private feedback"):
    # the outcome is the same without them, and they would tell whether there was an answer
    return result, [r for r in why if not r.private]
