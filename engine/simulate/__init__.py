"""A deterministic, streaming generator of a realistic synthetic marketplace (`reputation simulate`).

`simulate(freelancers, months, seed)` yields event lines (canonical JSON bytes, no newline) in the
order a platform would send them: merged by time, with a small share (~1-2 %) of deliberately
late-arriving events (a bonus payment or a feedback delivered a few weeks after it occurred). Every
line is built from the structs of `reputation.events` and respects the rules of events.md and of
the top-rated perk (rules.md). The same arguments give the same bytes: each freelancer draws from
its own `random.Random` derived from the seed, clients are pure functions of (seed, client), and
contract and event ids are numbered in emission order.

What each module simulates:

* `market`: the run, freelancers in cohorts, and the time-merge of their events;
* `clients`: the shared client pool, personas (e.g. "always rates low") and flags;
* `contracts`: one contract's life, planned when it opens (duration, scope change, close,
  continuation, late arrivals), with `money` (payments, bonus, refunds) and `feedback` (both
  sides' public and private feedback, revisions, removals, the top-rated perk);
* `lines`: planned events -> event lines; `clock`: time arithmetic and timestamp text;
* `command`: the `simulate` command (click), kept apart so the generator does not need click.
"""

from __future__ import annotations

from typing import Iterator

from engine.simulate.clock import add_months
from engine.simulate.market import DEFAULT_COHORT, Simulation

__all__ = ["simulate", "Simulation", "add_months", "DEFAULT_COHORT"]


def simulate(
    freelancers: int,
    months: int,
    seed: int,
    start: str = "2018-06-01T00:00:00Z",
    *,
    cohort_size: int = DEFAULT_COHORT,
) -> Iterator[bytes]:
    """Yield event lines (bytes, no trailing newline) in the order a platform would send them."""
    return iter(Simulation(freelancers, months, seed, start, cohort_size=cohort_size))
