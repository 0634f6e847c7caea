"""How sure a JSS is (rules.md, "Uncertainty"): a Beta posterior over the counted outcomes of
the JSS's window, with a Jeffreys prior, and what one more contract would do.

A contract's outcome is read as a share of a success: positive 1, neutral 1/2, negative 0,
counted with its weight (the weights are the pseudo-counts). The posterior is then
Beta(1/2 + P + U/2, 1/2 + N + U/2) for positive, neutral and negative weights P, U, N; its mean
share p maps to the score as 100 * max(0, 2p - 1), which at the observed shares is exactly the
window's JSS. Since alpha - beta = P - N and alpha + beta = 1 + P + U + N, the interval tells
nothing beyond the exact score and the total weight (both shown to the freelancer already).

The quantiles are scipy's (`scipy.special.betaincinv`, what `scipy.stats.beta.ppf` computes):
the inverse regularized incomplete beta function is numerics better left to a maintained library.
It is imported when an interval is asked for, not with this module: scipy takes 0.4-1.3 s to
import, and every command that opens the projections imports this module.
"""

from __future__ import annotations

from projections.rules.score import Score, half_up, jss
from projections.rules.windows import Assessment
from reputation.clock import INF
from reputation.rulesets import RuleSet

LEVEL = 0.8
ONE_MORE_WEIGHT4 = 4  # the lightest contract: weight 1 (quarters)


def _posterior(s: Score) -> tuple[float, float] | None:
    months = s.window
    if months is None:
        return None
    p = n = t = 0
    for a in s.assessments:
        if a.counted and a.in_window(s.at, months):
            t += a.weight4
            p += a.weight4 if a.outcome == "positive" else 0
            n += a.weight4 if a.outcome == "negative" else 0
    return 0.5 + (t + p - n) / 8, 0.5 + (t - p + n) / 8  # quarters -> weights, halves for neutrals


def _score(share: float) -> float:
    return round(100 * max(0.0, 2 * share - 1), 2)


def one_more(s: Score, rules: RuleSet, outcome: str) -> int | None:
    """The JSS (rounded, shown or not) with one more settled contract of weight 1 from a new
    client, in every window, with this outcome."""
    extra = Assessment(
        "(one more)", "(a new client)", True, outcome, ONE_MORE_WEIGHT4, [], None, None, 0, (INF, INF, INF)
    )
    _, exact, *_ = jss(s.assessments + [extra], s.at, rules)
    return None if exact is None else half_up(exact.numerator, exact.denominator)


def interval(s: Score, rules: RuleSet) -> dict | None:
    """The 80% equal-tailed interval of the JSS, and the JSS after one more negative or
    positive contract; None when no window holds a counted contract."""
    post = _posterior(s)
    if post is None:
        return None
    from scipy.special import betaincinv  # see the module's docstring

    a, b = post
    lo, hi = betaincinv(a, b, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return {
        "level": LEVEL,
        "prior": "jeffreys",
        "window_months": s.window,
        "alpha": a,
        "beta": b,
        "low": _score(float(lo)),
        "high": _score(float(hi)),
        "one_more_negative": one_more(s, rules, "negative"),
        "one_more_positive": one_more(s, rules, "positive"),
    }
