"""Geometry of the server-rendered SVG charts (the templates draw it): a step line of a score
over time with one clickable step per ledger entry, and a histogram."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from reputation import events as ev
from reputation.rulesets import RULE_SETS

WIDTH, HEIGHT = 760, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 14, 28


class Step(NamedTuple):
    seq: int
    at: str
    x: float
    y_before: float | None
    y_after: float | None
    before: float | None
    after: float | None
    drop: bool
    kinds: str  # the causes' kinds, space-separated
    href: str | None  # None: no change view (the public audience)


class Mark(NamedTuple):
    x: float
    label: str
    kind: str  # "rules" (a rule-set switch) or "exit" (a contract left a window)


def _scale(lo: float, hi: float, a: float, b: float) -> Callable[[float], float]:
    span = (hi - lo) or 1.0
    return lambda v: round(a + (v - lo) * (b - a) / span, 1)


def _years(t0: int, t1: int, x: Callable[[float], float]) -> list[tuple[float, str]]:
    first, last = int(ev.format_time(t0)[:4]), int(ev.format_time(t1)[:4])
    ticks = [(x(ev.parse_time(f"{y}-01-01T00:00:00Z")), str(y)) for y in range(first + 1, last + 1)]
    return ticks if len(ticks) <= 12 else ticks[:: (len(ticks) + 11) // 12]


def step_chart(
    entries: list[dict],
    before: str,
    after: str,
    t0: int,
    t1: int,
    vmin: float,
    vmax: float,
    href: Callable[[dict], str | None],
    ticks: list[float],
) -> dict[str, Any]:
    """Entries (ledger dicts, or published changes with `seq` and `effective_at` added, in
    effective-time order) between t0 and t1 as a step line of the `before`/`after` fields.
    A None value (hidden) draws no line; its step sits on the axis. Published changes of the
    public audience carry no causes."""
    x = _scale(t0, t1, LEFT, WIDTH - RIGHT)
    y = _scale(vmin, vmax, HEIGHT - BOTTOM, TOP)
    steps, segments = [], []
    level = entries[0][before] if entries else None
    x_from = float(LEFT)
    for e in entries:
        at = ev.parse_time(e["effective_at"])
        xs = x(at)
        if level is not None:
            segments.append((x_from, y(level), xs))
        b, a = e[before], e[after]
        steps.append(
            Step(
                e["seq"],
                e["effective_at"],
                xs,
                None if b is None else y(b),
                None if a is None else y(a),
                b,
                a,
                b is not None and a is not None and a < b,
                " ".join(sorted({c["kind"] for c in e.get("causes") or ()})),
                href(e),
            )
        )
        level, x_from = a, xs
    if level is not None:
        segments.append((x_from, y(level), float(WIDTH - RIGHT)))
    marks = [Mark(x(r.starts), r.name, "rules") for r in RULE_SETS.values() if t0 < r.starts <= t1]
    marks += [
        Mark(s.x, "window exit", "exit")
        for s, e in zip(steps, entries)
        if any(c["kind"] == "window_exit" for c in e.get("causes") or ())
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": HEIGHT - BOTTOM,
        "steps": steps,
        "segments": segments,
        "marks": marks,
        "xticks": _years(t0, t1, x),
        "yticks": [(y(v), f"{v:g}") for v in ticks],
    }


def histogram_chart(bins: list[dict]) -> dict[str, Any]:
    """Bars of {lo, hi, count}; x is the difference in JSS points."""
    if not bins:
        return {"width": WIDTH, "height": HEIGHT, "bars": [], "xticks": [], "yticks": []}
    lo, hi = bins[0]["lo"], bins[-1]["hi"]
    top = max(b["count"] for b in bins) or 1
    x = _scale(lo, hi, LEFT, WIDTH - RIGHT)
    y = _scale(0, top, HEIGHT - BOTTOM, TOP)
    bars = [
        {
            "x": x(b["lo"]),
            "w": max(1.0, round(x(b["hi"]) - x(b["lo"]) - 1, 1)),
            "y": y(b["count"]),
            "h": round(HEIGHT - BOTTOM - y(b["count"]), 1),
            "lo": b["lo"],
            "hi": b["hi"],
            "count": b["count"],
        }
        for b in bins
    ]
    every = max(1, len(bins) // 10)
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": HEIGHT - BOTTOM,
        "bars": bars,
        "xticks": [(x(b["lo"]), str(b["lo"])) for b in bins[::every]] + [(x(hi), str(hi))],
        "yticks": [(y(v), str(v)) for v in sorted({0, top // 2, top})],
    }
