"""One freelancer evaluated again and again (explain's change points, its counterfactuals):
by the Python rule code (`PythonJudge`, the reference) or by the native core
(`CoreJudge`: reputation._core.CoreFreelancer, every rule set including fair-2026), both
answering with projections.rules.score's Score, field by field the same.

`score(cut)` is the whole Score (assessments and their reasons); `glance(cut)` only what a
step of explain compares (rule set, displayed JSS, exact JSS, feedback score), which the core
answers without building any assessment in Python.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple, Protocol

import msgspec

from projections.cache import Cache
from projections.rules.score import Score, WindowScore, evaluate, round_half_up
from projections.rules.windows import Assessment
from reputation.contract import Contract
from reputation.outcome import Cut, Reason
from reputation.rulesets import RuleSet

_enc = msgspec.msgpack.Encoder()


class Glance(NamedTuple):
    rules: str
    at: int
    jss: int | None
    exact: Fraction | None
    feedback: Fraction | None

    @property
    def shown(self) -> tuple[int | None, Fraction | None]:
        return self.jss, round_half_up(self.feedback, 2)


class Judge(Protocol):
    def score(self, cut: Cut, rules: RuleSet | None = None, overrides: dict[str, str] | None = None) -> Score: ...

    def glance(
        self, cut: Cut, rules: RuleSet | None = None, overrides: dict[str, str] | None = None
    ) -> Score | Glance: ...


class PythonJudge:
    """The reference: rules.score.evaluate with a per-contract cache; the last few Scores are
    kept, so a glance and then the whole Score at one cut cost one evaluation."""

    def __init__(self, contracts: list[Contract], flags: dict):
        self.contracts, self.flags, self.cache = contracts, flags, Cache()
        self._last: dict[tuple, Score] = {}

    def score(self, cut: Cut, rules: RuleSet | None = None, overrides: dict[str, str] | None = None) -> Score:
        key = (cut, rules, tuple(sorted((overrides or {}).items())))
        s = self._last.get(key)
        if s is None:
            if len(self._last) > 4:
                self._last.clear()
            s = self._last[key] = evaluate(self.contracts, self.flags, cut, rules, overrides, self.cache)
        return s

    glance = score


def _fraction(x: tuple[int, int] | None) -> Fraction | None:
    return None if x is None else Fraction(*x)


class CoreJudge:
    """The native core on the freelancer's stored state. Under fair-2026 it asks `flags` (a
    projections.rules.fair.ClientFacts) for each client's other contracts."""

    def __init__(self, contracts: list[Contract], flags: dict):
        from projections.native import _core

        contracts_of = getattr(flags, "contracts_of", None)
        load = (lambda k: [_enc.encode(c) for c in contracts_of(k)]) if contracts_of else None
        self._core = _core().CoreFreelancer([_enc.encode(c) for c in contracts], dict(flags), load)

    def _call(self, cut: Cut, rules: RuleSet | None, overrides: dict[str, str] | None, full: bool):
        what_if = None
        if overrides:
            if len(overrides) > 1:
                raise ValueError(f"the core takes one what-if at a time, not {len(overrides)}")
            what_if = next(iter(overrides.items()))
        return self._core.evaluate(cut.at, cut.pos, cut.known, rules.name if rules else None, what_if, full)

    def score(self, cut: Cut, rules: RuleSet | None = None, overrides: dict[str, str] | None = None) -> Score:
        name, jss, exact, window, hidden, fb, windows, assessed = self._call(cut, rules, overrides, True)
        return Score(
            name,
            cut.at,
            jss,
            _fraction(exact),
            window,
            hidden,
            _fraction(fb),
            [WindowScore(*w) for w in windows],
            [Assessment(*a[:5], [Reason(*r) for r in a[5]], *a[6:]) for a in assessed],
        )

    def glance(self, cut: Cut, rules: RuleSet | None = None, overrides: dict[str, str] | None = None) -> Glance:
        name, jss, exact, fb = self._call(cut, rules, overrides, False)
        return Glance(name, cut.at, jss, _fraction(exact), _fraction(fb))


def judge_for(engine: str, contracts: list[Contract], flags: dict) -> Judge:
    """The core for the native engine (the default), the Python rule code for `python`."""
    return CoreJudge(contracts, flags) if engine == "native" else PythonJudge(contracts, flags)
