"""The event catalogue: the single definition of every event's shape (events.md).

One msgspec Struct per event type, one tagged union (`Event`), strict decoding:
unknown fields, wrong types, out-of-range values, timestamps without offset, bad id
characters and money with more than two decimals are all rejected. Decoded events are
canonical: timestamps are UTC strings, money is a two-decimal `Decimal`, so the same
content always encodes to the same bytes (idempotency compares those bytes).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union, get_args

import msgspec

from reputation.values import (  # noqa: F401 - re-exported: the catalogue's value rules
    DAY,
    EPOCH,
    MICROS,
    TIME_LIMIT_TEXT,
    canonical_time,
    check_time_range,
    exact_money,
    exact_stars,
    format_time,
    parse_time,
)

ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
# RFC 3339 with a mandatory offset, at most microseconds.
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$"

Id = Annotated[str, msgspec.Meta(pattern=ID_PATTERN)]
Timestamp = Annotated[str, msgspec.Meta(pattern=TIMESTAMP_PATTERN)]
# Money and stars are taken raw and parsed exactly in __post_init__ (a float would round
# 4.49999999999999999 to 4.5): money becomes a two-decimal Decimal, stars a float.
Money = msgspec.Raw
Stars = msgspec.Raw
Rating = Annotated[int, msgspec.Meta(ge=1, le=5)]
Recommend = Annotated[int, msgspec.Meta(ge=0, le=10)]
Side = Literal["client", "freelancer"]
Reason = Literal[
    "completed_successfully",
    "no_longer_needed",
    "freelancer_unresponsive",
    "freelancer_lacked_skills",
    "completed_unsuccessfully",
    "hired_someone_else",
    "client_unresponsive",
    "other",
]
REASONS: tuple[str, ...] = get_args(Reason)
SCHEMA_VERSIONS = (1,)


class Base(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Common fields. `occurred_at` is valid time; the engine adds transaction time."""

    event_id: Id
    occurred_at: Timestamp
    schema: int = 1

    def __post_init__(self) -> None:
        if self.schema not in SCHEMA_VERSIONS:
            raise ValueError(f"unsupported schema version {self.schema} (known: 1)")
        self.occurred_at = canonical_time(self.occurred_at)

    @property
    def at(self) -> int:
        """Valid time in microseconds since the epoch."""
        return parse_time(self.occurred_at)

    @property
    def clock_to(self) -> int:
        """Where the event moves the engine clock (clock_reach)."""
        return self.at


class Attributes(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    skills: Rating | None = None
    quality: Rating | None = None
    availability: Rating | None = None
    deadlines: Rating | None = None
    communication: Rating | None = None
    cooperation: Rating | None = None


# -- contract events -------------------------------------------------------------


class ContractOpened(Base, tag="ContractOpened"):
    contract_id: Id
    freelancer_id: Id
    client_id: Id
    pricing: Literal["fixed", "hourly"]
    continues: Id | None = None


class ScopeChanged(Base, tag="ScopeChanged"):
    contract_id: Id
    summary: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class _MoneyMoved(Base):
    contract_id: Id
    amount: Money

    def __post_init__(self) -> None:
        super().__post_init__()
        self.amount = exact_money(self.amount)  # type: ignore[assignment]  # decoded raw, parsed exactly here


class PaymentMade(_MoneyMoved, tag="PaymentMade"):
    pass


class PaymentRefunded(_MoneyMoved, tag="PaymentRefunded"):
    pass


class ContractClosed(Base, tag="ContractClosed"):
    contract_id: Id
    closed_by: Literal["client", "freelancer", "platform"]
    reason: Reason


class PublicFeedbackSubmitted(Base, tag="PublicFeedbackSubmitted"):
    contract_id: Id
    by: Side
    stars: Stars
    attributes: Attributes | None = None
    comment: Annotated[str, msgspec.Meta(max_length=5000)] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.stars = exact_stars(self.stars)  # type: ignore[assignment]  # decoded raw, parsed exactly here


class PrivateFeedbackSubmitted(Base, tag="PrivateFeedbackSubmitted"):
    contract_id: Id
    by: Side
    recommend: Recommend
    end_reason: Reason | None = None


class FeedbackEditAllowed(Base, tag="FeedbackEditAllowed"):
    contract_id: Id
    by: Side  # the side that received the feedback and lets its author change it


class PublicFeedbackRevised(Base, tag="PublicFeedbackRevised"):
    contract_id: Id
    by: Side  # the author
    stars: Stars
    attributes: Attributes | None = None
    comment: Annotated[str, msgspec.Meta(max_length=5000)] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.stars = exact_stars(self.stars)  # type: ignore[assignment]  # decoded raw, parsed exactly here


class FeedbackRemoved(Base, tag="FeedbackRemoved"):
    contract_id: Id
    of: Side  # whose feedback goes
    basis: Literal["policy_violation", "dispute_upheld", "top_rated_perk"]
    scope: Literal["jss_only", "jss_and_profile"] = "jss_and_profile"


# -- client and engine events ----------------------------------------------------


class ClientFlagged(Base, tag="ClientFlagged"):
    client_id: Id
    note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class ClientUnflagged(Base, tag="ClientUnflagged"):
    client_id: Id


class ClockAdvanced(Base, tag="ClockAdvanced"):
    to: Timestamp

    def __post_init__(self) -> None:
        super().__post_init__()
        self.to = canonical_time(self.to, "to")

    @property
    def clock_to(self) -> int:
        return clock_reach(self.at, self.to)


def clock_reach(at: int, to: str | None) -> int:
    """Where an event at `at` moves the engine clock: its own time, or a ClockAdvanced's `to`
    (None for any other event) when that is later."""
    return at if to is None else max(at, parse_time(to))


ContractEvent = Union[
    ContractOpened,
    ScopeChanged,
    PaymentMade,
    PaymentRefunded,
    ContractClosed,
    PublicFeedbackSubmitted,
    PrivateFeedbackSubmitted,
    FeedbackEditAllowed,
    PublicFeedbackRevised,
    FeedbackRemoved,
]
ClientEvent = Union[ClientFlagged, ClientUnflagged]
Event = Union[ContractEvent, ClientEvent, ClockAdvanced]
EVENT_TYPES: tuple[type[Base], ...] = get_args(Event)  # the union flattens, in order
TYPE_NAMES = tuple(t.__name__ for t in EVENT_TYPES)
BY_NAME: dict[str, type[Base]] = {t.__name__: t for t in EVENT_TYPES}


class Recorded(msgspec.Struct, array_like=True):
    """An accepted event with its transaction time, as stored in the log."""

    event: Event
    recorded_at: str


# -- decoding --------------------------------------------------------------------

_decoder = msgspec.json.Decoder(Event)
_encoder = msgspec.json.Encoder(decimal_format="string")
_recorded_decoder = msgspec.json.Decoder(Recorded)


class _Probe(msgspec.Struct):
    # any JSON value: a malformed *other* field (e.g. `"type": 3`) must not hide the id
    event_id: object = None


_probe = msgspec.json.Decoder(_Probe)


class InvalidEvent(ValueError):
    """A line that is not a valid event; `event_id` is set when it was readable."""

    def __init__(self, reason: str, event_id: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.event_id = event_id


_MSG_FIXES = [
    (re.compile(r"^Object missing required field `(\w+)`"), r"the required field `\1` is missing"),
    (re.compile(r"^Object contains unknown field `(\w+)`"), r"`\1` is not a field of this event type"),
]


def _sentence(message: str) -> str:
    for pattern, repl in _MSG_FIXES:
        message = pattern.sub(repl, message)
    if message.startswith("Invalid value") and "$.type" in message:
        return "unknown event type (known: " + ", ".join(TYPE_NAMES) + ")"
    if "timezone" in message:
        return message
    return message[0].lower() + message[1:] if message else "invalid event"


def event_id_of(line: bytes | str) -> str | None:
    try:
        probe = _probe.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    return probe.event_id if isinstance(probe.event_id, str) else None


def decode_event(line: bytes | str) -> Event:
    """Decode one JSON line into a canonical event, or raise `InvalidEvent`.

    Timestamps at or past TIME_LIMIT_TEXT are refused here, on the way in, not when stored events
    are read back: a read path must never fail on an event the log holds.
    """
    try:
        event = _decoder.decode(line)
    except msgspec.ValidationError as exc:
        reason = _sentence(str(exc))
        if "matching regex" in reason and ("occurred_at`" in reason or "$.to`" in reason):
            reason = (
                "timestamps must be RFC 3339 with an offset (`Z` or `+hh:mm`) and at most "
                "microseconds - " + reason.split(" - ")[-1]
            )
        elif "matching regex" in reason:
            reason = "ids are 1..128 characters of A-Z a-z 0-9 . _ : - - " + reason.split(" - ")[-1]
        raise InvalidEvent(reason, event_id_of(line)) from None
    except msgspec.DecodeError as exc:
        raise InvalidEvent(f"not a JSON event object ({exc})", None) from None
    except UnicodeDecodeError:
        raise InvalidEvent("not UTF-8 text", None) from None
    except RecursionError:  # msgspec gives up on very deep nesting (about 1,000 levels)
        raise InvalidEvent("not a JSON event object (nested too deeply)", None) from None
    try:
        check_time_range(event.occurred_at)
        if type(event) is ClockAdvanced:
            check_time_range(event.to, "to")
    except ValueError as exc:
        raise InvalidEvent(str(exc), event.event_id) from None
    return event


def encode_event(event: Event) -> bytes:
    """Canonical bytes of an event (as accepted): the same content, the same bytes."""
    return _encoder.encode(event)


def encode_recorded(event: Event, recorded_at: str) -> bytes:
    return _encoder.encode(Recorded(event, recorded_at))


def decode_recorded(data: bytes) -> Recorded:
    return _recorded_decoder.decode(data)


def stream_of(event: Event) -> str:
    """The stream (aggregate) an event belongs to."""
    if isinstance(event, (ClientFlagged, ClientUnflagged)):
        return "client:" + event.client_id
    if isinstance(event, ClockAdvanced):
        return "engine:clock"
    return "contract:" + event.contract_id


def to_builtins(event: Event) -> dict:
    """The event as a plain JSON-ready dict (with `type`)."""
    return msgspec.to_builtins(event, builtin_types=None, str_keys=True) | {}
