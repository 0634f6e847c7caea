"""The native core as a judge (projections.judge): one freelancer's stored state evaluated by
reputation._core.CoreFreelancer, answered with the Python rule code's Score and Glance."""

from __future__ import annotations

from fractions import Fraction

import msgspec

from projections.judge import Glance, Judge, Move, PythonJudge
from projections.native import _core
from projections.rules.score import Score, WindowScore
from projections.rules.windows import Assessment
from projections.timeline import Happening
from reputation.contract import Contract
from reputation.outcome import Cut, Reason
from reputation.rulesets import RuleSet

_enc = msgspec.msgpack.Encoder()


def _fraction(x: tuple[int, int] | None) -> Fraction | None:
    return None if x is None else Fraction(*x)


class CoreJudge:
    """The native core on the freelancer's stored state. Under fair-2026 it asks `flags` (a
    projections.rules.fair.ClientFacts) for each client's other contracts."""

    def __init__(self, contracts: list[Contract], flags: dict):
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

    def what_ifs(self, cut: Cut, rules: RuleSet | None, ids: list[str]) -> list[tuple[Fraction | None, ...]]:
        found = self._core.what_ifs(cut.at, cut.pos, cut.known, ids, rules.name if rules else None)
        return [tuple(_fraction(x) for x in alts) for alts in found]

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
