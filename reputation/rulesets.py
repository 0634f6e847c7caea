"""The rule sets of rules.md: which one is in force when, and what each one changes.

Both sides need them: the write side to decide a contract's outcome (the perk-removal
rule of events.md), the read side to score.
"""

from __future__ import annotations

from typing import NamedTuple

from reputation.clock import INF, parse_time
from reputation.errors import BadRequest


class TopRated(NamedTuple):
    """The Top Rated badge (rules.md "Top Rated"), evaluated every Monday 00:00 UTC."""

    jss: int = 90  # a week counts when its displayed JSS is at least this
    weeks: int = 13  # ... in at least this many
    of: int = 16  # ... of the last this many weekly evaluations (this one included)
    earnings: int = 1000_00  # cents of payments minus refunds, at least, ...
    months: int = 12  # ... in the last this many months


class RuleSet(NamedTuple):
    name: str
    starts: int  # in force from (valid time, inclusive)
    windows: tuple[int, ...]  # best of these windows (months)
    neutral_reasons: bool  # False: every non-success client reason is negative
    weighted: bool  # by earnings and length; else every contract weighs 1
    zero_only_if_negative: bool  # a $0 contract counts only when negative
    needs_signal_or_long_term: bool  # a contract needs a client signal or to be long-term
    ignores_flagged_clients: bool
    min_contracts: int  # visibility: counted contracts in the 24-month window
    min_clients: int  # ... from at least this many clients
    # fair-2026 only (rules.md, "fair-2026"): never in force, chosen by name
    engagements: bool = False  # contracts linked by `continues` are judged as one engagement
    neutral_closes: bool = False  # NEUTRAL_CLOSES without a negative signal: neutral
    lenient_raters: bool = False  # a harsh client's low answers count only below its own usual
    top_rated: TopRated = TopRated()


JSS_2016 = RuleSet("jss-2016", -INF, (6, 12, 24), False, False, False, False, False, 4, 2)
JSS_2020 = RuleSet("jss-2020", parse_time("2020-03-01T00:00:00Z"), (6, 12, 24), True, True, True, False, False, 4, 2)
JSS_2024 = RuleSet("jss-2024", parse_time("2024-09-03T00:00:00Z"), (24,), True, True, True, True, True, 2, 2)
# a proposal, never in force (starts at INF): selectable by name only
FAIR_2026 = JSS_2024._replace(name="fair-2026", starts=INF, engagements=True, neutral_closes=True, lenient_raters=True)
RULE_SETS: dict[str, RuleSet] = {r.name: r for r in (JSS_2016, JSS_2020, JSS_2024, FAIR_2026)}
SWITCHES: tuple[int, ...] = (JSS_2020.starts, JSS_2024.starts)


class UnknownRules(BadRequest):
    """A rule-set name that is not one of RULE_SETS; the message lists the known names."""


def rule_set(name: str) -> RuleSet:
    """The rule set called `name`, or UnknownRules."""
    try:
        return RULE_SETS[name]
    except KeyError:
        raise UnknownRules(f"unknown rule set {name!r}; known: {', '.join(RULE_SETS)}") from None


def in_force(at: int) -> RuleSet:
    if at >= JSS_2024.starts:
        return JSS_2024
    if at >= JSS_2020.starts:
        return JSS_2020
    return JSS_2016


NEGATIVE_REASONS = frozenset({"freelancer_unresponsive", "freelancer_lacked_skills", "completed_unsuccessfully"})
# fair-2026: closes that say nothing about the work
NEUTRAL_CLOSES = frozenset({"no_longer_needed", "hired_someone_else", "client_unresponsive", "other"})
# fair-2026 rater leniency (rules.md): a client with at least LENIENT_MIN_HISTORY other rated,
# settled contracts whose answers are all <= HARSH_RECOMMEND (or stars all < HARSH_STARS)
LENIENT_MIN_HISTORY = 5
HARSH_RECOMMEND = 6
HARSH_STARS = 4.0


def reason_is_negative(reason: str | None, rules: RuleSet) -> bool:
    if reason is None:
        return False
    if reason in NEGATIVE_REASONS:
        return True
    # jss-2016: the old form had no neutral choice
    return not rules.neutral_reasons and reason != "completed_successfully"
