"""One freelancer evaluated again and again (explain's change points, its counterfactuals):
by the Python rule code (`PythonJudge`, the reference) or by the native core
(`CoreJudge`: reputation._core.CoreFreelancer, every rule set including fair-2026), both
answering with projections.rules.score's Score, field by field the same.

`score(cut)` is the whole Score (assessments and their reasons; `only=ids`: the core may leave
out the assessments of other contracts); `glance(cut)` only what a step of explain compares
(rule set, displayed JSS, exact JSS, feedback score), which the core answers without building
any assessment in Python.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple, Protocol

import msgspec

from projections.cache import Cache
from projections.rules.score import Score, WindowScore, evaluate
from projections.rules.windows import Assessment
from projections.timeline import Happening
from reputation.contract import Contract
from reputation.outcome import Cut, Reason
from reputation.rulesets import RuleSet

_enc = msgspec.msgpack.Encoder()


class Glance:
    """What a step of explain compares, as Score has it; the fractions are made when read."""

    __slots__ = ("rules", "at", "jss", "_exact", "_feedback", "_hundredths", "_shown")

    def __init__(self, rules: str, at: int, jss: int | None, exact, feedback, hundredths: int | None):
        self.rules, self.at, self.jss = rules, at, jss
        self._exact, self._feedback, self._hundredths = exact, feedback, hundredths
        self._shown: tuple[int | None, Fraction | None] | None = None

    @property
    def exact(self) -> Fraction | None:
        if isinstance(self._exact, tuple):
            self._exact = Fraction(*self._exact)
        return self._exact

    @property
    def feedback(self) -> Fraction | None:
        if isinstance(self._feedback, tuple):
            self._feedback = Fraction(*self._feedback)
        return self._feedback

    @property
    def shown(self) -> tuple[int | None, Fraction | None]:
        if self._shown is None:
            self._shown = (self.jss, None if self._hundredths is None else Fraction(self._hundredths, 100))
        return self._shown


class Move(NamedTuple):
    """A step of explain that moves the score: its happenings, and the glances at the cuts
    just before and at it."""

    happenings: list[Happening]
    before_cut: Cut
    before: Score | Glance
    after_cut: Cut
    after: Score | Glance


class Judge(Protocol):
    def score(
        self,
        cut: Cut,
        rules: RuleSet | None = None,
        overrides: dict[str, str] | None = None,
        only: list[str] | None = None,
    ) -> Score: ...

    def glance(
        self, cut: Cut, rules: RuleSet | None = None, overrides: dict[str, str] | None = None
    ) -> Score | Glance: ...

    def moves(self, t1: int, t2: int, known: int, rules: RuleSet | None = None) -> list[Move]: ...


class PythonJudge:
    """The reference: rules.score.evaluate with a per-contract cache; the last few Scores are
    kept, so a glance and then the whole Score at one cut cost one evaluation."""

    def __init__(self, contracts: list[Contract], flags: dict):
        self.contracts, self.flags, self.cache = contracts, flags, Cache()
        self._last: dict[tuple, Score] = {}

    def score(
        self,
        cut: Cut,
        rules: RuleSet | None = None,
        overrides: dict[str, str] | None = None,
        only: list[str] | None = None,
    ) -> Score:
        key = (cut, rules, tuple(sorted((overrides or {}).items())))
        s = self._last.get(key)
        if s is None:
            if len(self._last) > 4:
                self._last.clear()
            s = self._last[key] = evaluate(self.contracts, self.flags, cut, rules, overrides, self.cache)
        return s

    def glance(self, cut: Cut, rules: RuleSet | None = None, overrides: dict[str, str] | None = None) -> Score:
        return self.score(cut, rules, overrides)

    def moves(self, t1: int, t2: int, known: int, rules: RuleSet | None = None) -> list[Move]:
        from projections.explain import moves  # (explain takes a judge)

        return moves(self, self.contracts, self.flags, t1, t2, known, rules)


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

    def _call(self, cut: Cut, rules: RuleSet | None, overrides: dict[str, str] | None, full: bool, only=None):
        what_if = None
        if overrides:
            if len(overrides) > 1:
                raise ValueError(f"the core takes one what-if at a time, not {len(overrides)}")
            what_if = next(iter(overrides.items()))
        return self._core.evaluate(cut.at, cut.pos, cut.known, rules.name if rules else None, what_if, full, only)

    def score(
        self,
        cut: Cut,
        rules: RuleSet | None = None,
        overrides: dict[str, str] | None = None,
        only: list[str] | None = None,
    ) -> Score:
        name, jss, exact, window, hidden, fb, windows, assessed = self._call(cut, rules, overrides, True, only)
        return Score(
            name,
            cut.at,
            jss,
            _fraction(exact),
            window,
            hidden,
            _fraction(fb),
            [WindowScore(*w) for w in windows],
            [
                Assessment(cid, kid, counted, outcome, w4, [Reason(*r) for r in why], closed, settled, earned, exits)
                for cid, kid, counted, outcome, w4, why, closed, settled, earned, exits in assessed
            ],
        )

    def glance(self, cut: Cut, rules: RuleSet | None = None, overrides: dict[str, str] | None = None) -> Glance:
        name, jss, exact, fb, hundredths = self._call(cut, rules, overrides, False)
        return Glance(name, cut.at, jss, exact, fb, hundredths)

    def moves(self, t1: int, t2: int, known: int, rules: RuleSet | None = None) -> list[Move]:
        """explain's steps in (t1, t2] that move the score, found by the core."""
        out = []
        for hs, before_cut, before, after_cut, after in self._core.moves(t1, t2, known, rules.name if rules else None):
            b, a = Cut(*before_cut), Cut(*after_cut)
            out.append(
                Move(
                    [Happening(*h) for h in hs],
                    b,
                    Glance(before[0], b.at, *before[1:]),
                    a,
                    Glance(after[0], a.at, *after[1:]),
                )
            )
        return out


def judge_for(engine: str, contracts: list[Contract], flags: dict) -> Judge:
    """The core for the native engine (the default), the Python rule code for `python`."""
    return CoreJudge(contracts, flags) if engine == "native" else PythonJudge(contracts, flags)
