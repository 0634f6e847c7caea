"""One freelancer evaluated again and again (explain's change points, its counterfactuals):
by the Python rule code (`PythonJudge`, the reference) or by the native core
(projections.core_judge.CoreJudge: every rule set including fair-2026), both answering with
projections.rules.score's Score, field by field the same.

`score(cut)` is the whole Score (assessments and their reasons; `only=ids`: the core may leave
out the assessments of other contracts); `glance(cut)` only what a step of explain compares
(rule set, displayed JSS, exact JSS, feedback score), which the core answers without building
any assessment in Python.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple, Protocol

from projections.cache import Cache
from projections.rules.score import Score, evaluate
from projections.timeline import Happening
from reputation.contract import Contract
from reputation.outcome import Cut
from reputation.rulesets import RuleSet


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

    def what_ifs(self, cut: Cut, rules: RuleSet | None, ids: list[str]) -> list[tuple[Fraction | None, ...]]: ...


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

    def what_ifs(self, cut: Cut, rules: RuleSet | None, ids: list[str]) -> list[tuple[Fraction | None, ...]]:
        """Per contract: the exact JSS without it, with it neutral, with it positive."""
        alts = ("exclude", "neutral", "positive")
        return [tuple(self.score(cut, rules, {i: o}).exact for o in alts) for i in ids]
