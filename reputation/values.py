"""Field values of the event catalogue, parsed exactly: timestamps, money and stars.

Timestamps become canonical UTC text (and integer microseconds since the epoch when
compared); money a two-decimal `Decimal`; stars a float that holds exactly the decimal sent.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

import msgspec

from reputation.clock import DAY, EPOCH, MICROS, format_time, parse_time  # noqa: F401 - re-exported

# Accepted timestamps end well before year 9999 so that every deadline derived from an event
# (window exits up to 24 months + 1 day, feedback and edit windows) can still be computed.
TIME_LIMIT_TEXT = "9000-01-01T00:00:00Z"
_LIMIT_YEAR = TIME_LIMIT_TEXT[:4]  # canonical texts start with a 4-digit year: compare as text


def _looks_canonical(text: str) -> bool:
    n = len(text)
    return (
        text[-1] == "Z" and text[10] == "T" and (n == 20 or (n == 27 and text[19] == "." and text[20:26] != "000000"))
    )


def canonical_time(text: str, name: str = "occurred_at") -> str:
    try:
        micros = parse_time(text)  # validates the calendar too
        return text if _looks_canonical(text) else format_time(micros)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"`{name}` is not a valid timestamp: {exc}") from None


def check_time_range(text: str, name: str = "occurred_at") -> None:
    """Refuse a canonical timestamp at or past TIME_LIMIT_TEXT; the lower end is year 1."""
    if text >= _LIMIT_YEAR:
        raise ValueError(
            f"`{name}` {text} is out of the supported range: timestamps must be before "
            f"{TIME_LIMIT_TEXT}, so that every deadline derived from them stays within year 9999"
        )


_ZERO, _CENT, _MAX_MONEY = Decimal(0), Decimal("0.01"), Decimal(1_000_000_000)


def _check_money(value: Decimal, name: str) -> Decimal:
    if not value.is_finite():
        raise ValueError(f"`{name}` must be a finite number, got {value}")
    if value <= _ZERO or value > _MAX_MONEY:
        raise ValueError(f"`{name}` must be positive and at most 1e9, got {value}")
    cents = value.quantize(_CENT)
    if value != cents:
        raise ValueError(f"`{name}` must have at most 2 decimals, got {value}")
    return cents


_decimal = msgspec.json.Decoder(Decimal)
_stars = msgspec.json.Decoder(Annotated[float, msgspec.Meta(ge=1.0, le=5.0)])
_MONEY_STRING = re.compile(rb'"[0-9]+(\.[0-9]+)?"')


def exact_money(value: msgspec.Raw | Decimal, name: str = "amount") -> Decimal:
    """A JSON number or a string of digits with an optional fraction -> a two-decimal Decimal."""
    if not isinstance(value, msgspec.Raw):  # built in Python
        return _check_money(value, name)
    text = bytes(value)
    try:
        amount = _check_money(_decimal.decode(value), name)
    except msgspec.ValidationError as exc:
        raise ValueError(f"{exc} - at `$.{name}`") from None
    if text[:1] == b'"' and not _MONEY_STRING.fullmatch(text):
        # Decimal() also reads " 5", "+5", "1e3", ".5", "1_000": a typo must not pass silently
        raise ValueError(
            f'`{name}` as a string must be digits with an optional fraction (like "12.50"), got {text.decode()}'
        )
    return amount


def exact_stars(value: msgspec.Raw | float) -> float:
    """A JSON number 1..5 -> float, refused unless the float holds exactly the decimal sent."""
    if not isinstance(value, msgspec.Raw):  # built in Python
        return value
    text = bytes(value)
    try:
        stars = _stars.decode(text)
    except msgspec.ValidationError as exc:
        raise ValueError(f"{exc} - at `$.stars`") from None
    if repr(stars).encode() != text:  # not the shortest spelling: compare exactly
        sent = Decimal(text.decode())
        if not 1 <= sent <= 5:
            raise ValueError(f"`stars` must be between 1.0 and 5.0, got {text.decode()}")
        if sent != Decimal(repr(stars)):
            raise ValueError(
                f"`stars` {text.decode()} has more digits than can be kept exactly (it would "
                f"be stored as {stars!r}); send at most 15 significant digits"
            )
    return stars
