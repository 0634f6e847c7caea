"""The event catalogue of events.md: every field rule at its boundary and just past it.

Table-driven: each row is (event type, changes to a valid base event, expectation). A change
value of DROP removes the field. Expected values are written by hand from events.md.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reputation.events import InvalidEvent, decode_event, encode_event, event_id_of

DROP = object()


class Num(str):
    """A JSON number written exactly as given (json.dumps would round it through a float)."""


BASES: dict[str, dict] = {
    "ContractOpened": dict(contract_id="c-1", freelancer_id="f-1", client_id="k-1", pricing="fixed"),
    "ScopeChanged": dict(contract_id="c-1"),
    "PaymentMade": dict(contract_id="c-1", amount="10.00"),
    "PaymentRefunded": dict(contract_id="c-1", amount="10.00"),
    "ContractClosed": dict(contract_id="c-1", closed_by="client", reason="completed_successfully"),
    "PublicFeedbackSubmitted": dict(contract_id="c-1", by="client", stars=5.0),
    "PrivateFeedbackSubmitted": dict(contract_id="c-1", by="client", recommend=10),
    "FeedbackEditAllowed": dict(contract_id="c-1", by="freelancer"),
    "PublicFeedbackRevised": dict(contract_id="c-1", by="client", stars=4.0),
    "FeedbackRemoved": dict(contract_id="c-1", of="client", basis="policy_violation"),
    "ClientFlagged": dict(client_id="k-1"),
    "ClientUnflagged": dict(client_id="k-1"),
    "ClockAdvanced": dict(to="2024-05-01T00:00:00Z"),
}
COMMON = dict(event_id="e-1", occurred_at="2024-05-01T12:00:00Z")


def make(type_: str, changes: dict | None = None) -> bytes:
    body = {"type": type_, **COMMON, **BASES[type_]}
    numbers = {}
    for k, v in (changes or {}).items():
        if v is DROP:
            body.pop(k, None)
        elif isinstance(v, Num):
            body[k], numbers[k] = f"@@{k}@@", v
        else:
            body[k] = v
    text = json.dumps(body, ensure_ascii=False)
    for k, v in numbers.items():
        text = text.replace(f'"@@{k}@@"', v)
    return text.encode()


def assert_one_sentence(reason: str) -> None:
    assert isinstance(reason, str) and reason.strip(), "empty reason"
    assert "\n" not in reason, f"reason spans several lines: {reason!r}"
    assert "Traceback" not in reason and len(reason) <= 400, reason


ID128 = "A" * 64 + "z0._:-" + "b" * 58
ID129 = ID128 + "x"
assert len(ID128) == 128 and len(ID129) == 129

# -- accepted at the boundary ------------------------------------------------------
# (test id, type, changes, {field: expected canonical value} or None)
ACCEPTED = [
    ("id-1-char", "PaymentMade", {"event_id": "e"}, {"event_id": "e"}),
    ("id-128-chars-all-allowed", "PaymentMade", {"event_id": ID128}, {"event_id": ID128}),
    ("contract-id-128", "PaymentMade", {"contract_id": ID128}, {"contract_id": ID128}),
    ("freelancer-id-128", "ContractOpened", {"freelancer_id": ID128}, None),
    ("client-id-128", "ClientFlagged", {"client_id": ID128}, None),
    ("continues-id", "ContractOpened", {"continues": "c:0.old_1-x"}, {"continues": "c:0.old_1-x"}),
    ("time-Z", "PaymentMade", {"occurred_at": "2024-05-01T12:00:00Z"}, {"occurred_at": "2024-05-01T12:00:00Z"}),
    (
        "time-lowercase-z",
        "PaymentMade",
        {"occurred_at": "2024-05-01t12:00:00z"},
        {"occurred_at": "2024-05-01T12:00:00Z"},
    ),
    (
        "time-plus-offset",
        "PaymentMade",
        {"occurred_at": "2024-05-01T14:30:00+02:30"},
        {"occurred_at": "2024-05-01T12:00:00Z"},
    ),
    (
        "time-minus-offset-crosses-day",
        "PaymentMade",
        {"occurred_at": "2024-04-30T23:00:00-13:00"},
        {"occurred_at": "2024-05-01T12:00:00Z"},
    ),
    (
        "time-offset-23-59",
        "PaymentMade",
        {"occurred_at": "2024-05-02T11:59:00+23:59"},
        {"occurred_at": "2024-05-01T12:00:00Z"},
    ),
    (
        "time-6-fraction-digits",
        "PaymentMade",
        {"occurred_at": "2024-05-01T12:00:00.123456Z"},
        {"occurred_at": "2024-05-01T12:00:00.123456Z"},
    ),
    (
        "time-1-fraction-digit",
        "PaymentMade",
        {"occurred_at": "2024-05-01T12:00:00.5+00:00"},
        {"occurred_at": "2024-05-01T12:00:00.500000Z"},
    ),
    (
        "time-zero-fraction",
        "PaymentMade",
        {"occurred_at": "2024-05-01T12:00:00.000000Z"},
        {"occurred_at": "2024-05-01T12:00:00Z"},
    ),
    (
        "time-leap-day",
        "PaymentMade",
        {"occurred_at": "2024-02-29T23:59:59.999999Z"},
        {"occurred_at": "2024-02-29T23:59:59.999999Z"},
    ),
    (
        "time-year-below-1000",
        "PaymentMade",
        {"occurred_at": "0999-06-01T00:00:00Z"},
        {"occurred_at": "0999-06-01T00:00:00Z"},
    ),
    ("clock-to-offset", "ClockAdvanced", {"to": "2024-05-01T14:00:00+02:00"}, {"to": "2024-05-01T12:00:00Z"}),
    ("clock-to-equal-occurred", "ClockAdvanced", {"to": "2024-05-01T12:00:00Z"}, {"to": "2024-05-01T12:00:00Z"}),
    ("money-int", "PaymentMade", {"amount": 10}, {"amount": Decimal("10.00")}),
    ("money-2-decimals-number", "PaymentMade", {"amount": 12.34}, {"amount": Decimal("12.34")}),
    ("money-2-decimals-string", "PaymentMade", {"amount": "12.34"}, {"amount": Decimal("12.34")}),
    ("money-1-decimal", "PaymentRefunded", {"amount": "0.5"}, {"amount": Decimal("0.50")}),
    ("money-smallest", "PaymentMade", {"amount": "0.01"}, {"amount": Decimal("0.01")}),
    ("money-1e9-number", "PaymentMade", {"amount": 1000000000}, {"amount": Decimal("1000000000.00")}),
    ("money-1e9-string", "PaymentRefunded", {"amount": "1000000000.00"}, {"amount": Decimal("1000000000.00")}),
    ("money-trailing-zeros", "PaymentMade", {"amount": "7.500"}, {"amount": Decimal("7.50")}),
    ("money-number-exponent", "PaymentMade", {"amount": Num("1e3")}, {"amount": Decimal("1000.00")}),
    ("money-number-many-zeros", "PaymentMade", {"amount": Num("2.50000000000000000000")}, {"amount": Decimal("2.50")}),
    ("stars-3-decimals", "PublicFeedbackSubmitted", {"stars": Num("4.875")}, {"stars": 4.875}),
    (
        "stars-16-digits-exact",
        "PublicFeedbackRevised",
        {"stars": Num("4.333333333333333")},
        {"stars": 4.333333333333333},
    ),
    ("stars-exponent", "PublicFeedbackSubmitted", {"stars": Num("45e-1")}, {"stars": 4.5}),
    ("stars-trailing-zeros", "PublicFeedbackSubmitted", {"stars": Num("4.50000000000000000000")}, {"stars": 4.5}),
    (
        "time-last-accepted-instant",
        "PaymentMade",
        {"occurred_at": "8999-12-31T23:59:59.999999Z"},
        {"occurred_at": "8999-12-31T23:59:59.999999Z"},
    ),
    ("time-year-1", "PaymentMade", {"occurred_at": "0001-01-01T00:00:00Z"}, {"occurred_at": "0001-01-01T00:00:00Z"}),
    (
        "clock-to-last-accepted-instant",
        "ClockAdvanced",
        {"to": "8999-12-31T23:59:59.999999Z"},
        {"to": "8999-12-31T23:59:59.999999Z"},
    ),
    ("stars-1.0", "PublicFeedbackSubmitted", {"stars": 1.0}, {"stars": 1.0}),
    ("stars-5.0", "PublicFeedbackSubmitted", {"stars": 5.0}, {"stars": 5.0}),
    ("stars-int", "PublicFeedbackSubmitted", {"stars": 4}, {"stars": 4.0}),
    ("revised-stars-1.0", "PublicFeedbackRevised", {"stars": 1.0}, {"stars": 1.0}),
    ("recommend-0", "PrivateFeedbackSubmitted", {"recommend": 0}, {"recommend": 0}),
    ("recommend-10", "PrivateFeedbackSubmitted", {"recommend": 10}, {"recommend": 10}),
    (
        "end-reason",
        "PrivateFeedbackSubmitted",
        {"end_reason": "hired_someone_else"},
        {"end_reason": "hired_someone_else"},
    ),
    (
        "attributes-1",
        "PublicFeedbackSubmitted",
        {
            "attributes": {
                k: 1 for k in ("skills", "quality", "availability", "deadlines", "communication", "cooperation")
            }
        },
        None,
    ),
    ("attributes-5", "PublicFeedbackRevised", {"attributes": {"skills": 5, "cooperation": 5}}, None),
    ("attributes-empty", "PublicFeedbackSubmitted", {"attributes": {}}, None),
    ("comment-5000", "PublicFeedbackSubmitted", {"comment": "x" * 5000}, None),
    ("comment-5000-non-ascii", "PublicFeedbackRevised", {"comment": "é" * 4999 + "✓"}, None),
    ("comment-empty", "PublicFeedbackSubmitted", {"comment": ""}, {"comment": ""}),
    ("summary-2000", "ScopeChanged", {"summary": "s" * 2000}, None),
    ("schema-1", "PaymentMade", {"schema": 1}, {"schema": 1}),
    ("schema-default", "PaymentMade", {}, {"schema": 1}),
    ("pricing-hourly", "ContractOpened", {"pricing": "hourly"}, {"pricing": "hourly"}),
    ("closed-by-platform", "ContractClosed", {"closed_by": "platform", "reason": "other"}, None),
    (
        "removed-perk-jss-only",
        "FeedbackRemoved",
        {"basis": "top_rated_perk", "scope": "jss_only"},
        {"scope": "jss_only"},
    ),
    ("removed-default-scope", "FeedbackRemoved", {}, {"scope": "jss_and_profile"}),
    ("flag-note", "ClientFlagged", {"note": "many poor reviews"}, {"note": "many poor reviews"}),
    ("optional-null", "ContractOpened", {"continues": None}, {"continues": None}),
] + [(f"type-{name}", name, {}, None) for name in BASES]


@pytest.mark.parametrize("type_, changes, expected", [pytest.param(*row[1:], id=row[0]) for row in ACCEPTED])
def test_accepted_at_the_boundary(type_, changes, expected):
    event = decode_event(make(type_, changes))
    assert type(event).__name__ == type_
    for field, value in (expected or {}).items():
        assert getattr(event, field) == value, field
    if isinstance(getattr(event, "amount", None), Decimal):
        assert event.amount.as_tuple().exponent == -2  # canonical: two decimals


# -- rejected just past it ---------------------------------------------------------
# (test id, type, changes, fragments the reason must contain, case-insensitive)
REJECTED = [
    ("id-129-chars", "PaymentMade", {"event_id": ID129}, ["1..128", "event_id"]),
    ("id-empty", "PaymentMade", {"event_id": ""}, ["1..128", "event_id"]),
    ("id-space", "PaymentMade", {"event_id": "e 1"}, ["characters", "event_id"]),
    ("id-slash", "PaymentMade", {"event_id": "e/1"}, ["characters", "event_id"]),
    ("id-non-ascii", "PaymentMade", {"event_id": "é"}, ["characters", "event_id"]),
    ("contract-id-129", "PaymentMade", {"contract_id": ID129}, ["1..128", "contract_id"]),
    ("freelancer-id-bad-char", "ContractOpened", {"freelancer_id": "f#1"}, ["characters", "freelancer_id"]),
    ("client-id-129", "ClientUnflagged", {"client_id": ID129}, ["1..128", "client_id"]),
    ("continues-bad-char", "ContractOpened", {"continues": "c 0"}, ["characters", "continues"]),
    ("time-no-offset", "PaymentMade", {"occurred_at": "2024-05-01T12:00:00"}, ["offset", "occurred_at"]),
    (
        "time-no-offset-fraction",
        "PaymentMade",
        {"occurred_at": "2024-05-01T12:00:00.123456"},
        ["offset", "occurred_at"],
    ),
    (
        "time-7-fraction-digits",
        "PaymentMade",
        {"occurred_at": "2024-05-01T12:00:00.1234567Z"},
        ["microseconds", "occurred_at"],
    ),
    ("time-space-separator", "PaymentMade", {"occurred_at": "2024-05-01 12:00:00Z"}, ["RFC 3339", "occurred_at"]),
    ("time-offset-no-colon", "PaymentMade", {"occurred_at": "2024-05-01T12:00:00+0200"}, ["offset", "occurred_at"]),
    ("time-offset-minutes-60", "PaymentMade", {"occurred_at": "2024-05-01T12:00:00+05:60"}, ["occurred_at"]),
    ("time-offset-hours-24", "PaymentMade", {"occurred_at": "2024-05-01T12:00:00+24:00"}, ["occurred_at"]),
    ("time-date-only", "PaymentMade", {"occurred_at": "2024-05-01"}, ["occurred_at"]),
    ("time-feb-30", "PaymentMade", {"occurred_at": "2024-02-30T00:00:00Z"}, ["occurred_at"]),
    ("time-feb-29-non-leap", "PaymentMade", {"occurred_at": "2023-02-29T00:00:00Z"}, ["occurred_at"]),
    ("time-hour-24", "PaymentMade", {"occurred_at": "2024-05-01T24:00:00Z"}, ["occurred_at"]),
    ("time-epoch-number", "PaymentMade", {"occurred_at": 1714564800}, ["occurred_at", "str"]),
    ("clock-to-no-offset", "ClockAdvanced", {"to": "2024-05-01T12:00:00"}, ["offset", "to"]),
    ("clock-to-7-digits", "ClockAdvanced", {"to": "2024-05-01T12:00:00.0000001Z"}, ["microseconds", "to"]),
    # every deadline derived from an event (window exit: + 24 months + 1 day) must fit in year 9999
    (
        "time-at-the-limit",
        "PaymentMade",
        {"occurred_at": "9000-01-01T00:00:00Z"},
        ["occurred_at", "before 9000-01-01T00:00:00Z"],
    ),
    (
        "time-year-9999",
        "ContractClosed",
        {"occurred_at": "9999-06-03T00:00:00Z"},
        ["occurred_at", "9999-06-03T00:00:00Z", "range"],
    ),
    (
        "time-past-the-limit-in-utc",
        "PaymentMade",
        {"occurred_at": "8999-12-31T23:30:00-01:00"},
        ["9000-01-01T00:30:00Z", "range"],
    ),
    (
        "clock-to-past-the-limit",
        "ClockAdvanced",
        {"to": "9500-01-01T00:00:00Z"},
        ["`to`", "before 9000-01-01T00:00:00Z"],
    ),
    ("money-3-decimals-number", "PaymentMade", {"amount": 12.345}, ["2 decimals", "amount"]),
    ("money-3-decimals-string", "PaymentRefunded", {"amount": "12.345"}, ["2 decimals", "amount"]),
    ("money-3rd-decimal-tiny", "PaymentMade", {"amount": "0.001"}, ["2 decimals", "amount"]),
    ("money-above-1e9-number", "PaymentMade", {"amount": 1000000000.01}, ["1e9", "amount"]),
    ("money-above-1e9-string", "PaymentRefunded", {"amount": "1000000000.01"}, ["1e9", "amount"]),
    ("money-zero", "PaymentMade", {"amount": 0}, ["positive", "amount"]),
    ("money-zero-string", "PaymentRefunded", {"amount": "0.00"}, ["positive", "amount"]),
    ("money-negative", "PaymentMade", {"amount": -0.01}, ["positive", "amount"]),
    ("money-negative-string", "PaymentRefunded", {"amount": "-5"}, ["positive", "amount"]),
    ("money-nan", "PaymentMade", {"amount": "NaN"}, ["finite", "amount"]),
    ("money-infinity", "PaymentMade", {"amount": "Infinity"}, ["finite", "amount"]),
    ("money-not-a-number", "PaymentMade", {"amount": "ten"}, ["decimal", "amount"]),
    ("money-bool", "PaymentMade", {"amount": True}, ["bool", "amount"]),
    ("money-null", "PaymentRefunded", {"amount": None}, ["null", "amount"]),
    ("money-missing", "PaymentMade", {"amount": DROP}, ["amount", "missing"]),
    # a decimal string is digits with an optional fraction: a typo must not pass silently
    ("money-string-leading-space", "PaymentMade", {"amount": " 5"}, ["digits", "amount", '" 5"']),
    ("money-string-trailing-space", "PaymentMade", {"amount": "5 "}, ["digits", "amount"]),
    ("money-string-plus", "PaymentRefunded", {"amount": "+5"}, ["digits", "amount", '"+5"']),
    ("money-string-exponent", "PaymentMade", {"amount": "1e3"}, ["digits", "amount", '"1e3"']),
    ("money-string-bare-fraction", "PaymentMade", {"amount": ".5"}, ["digits", "amount"]),
    ("money-string-bare-point", "PaymentMade", {"amount": "5."}, ["digits", "amount"]),
    ("money-string-underscore", "PaymentMade", {"amount": "1_000"}, ["digits", "amount"]),
    ("money-string-escaped-digit", "PaymentMade", {"amount": Num(r'"\u0035"')}, ["digits", "amount"]),
    ("stars-0.99", "PublicFeedbackSubmitted", {"stars": 0.99}, [">= 1.0", "stars"]),
    ("stars-5.01", "PublicFeedbackSubmitted", {"stars": 5.01}, ["<= 5.0", "stars"]),
    ("revised-stars-5.01", "PublicFeedbackRevised", {"stars": 5.01}, ["<= 5.0", "stars"]),
    ("revised-stars-0", "PublicFeedbackRevised", {"stars": 0}, [">= 1.0", "stars"]),
    ("stars-bool", "PublicFeedbackSubmitted", {"stars": True}, ["bool", "stars"]),
    ("stars-string", "PublicFeedbackSubmitted", {"stars": "5"}, ["str", "stars"]),
    # exact decimals: a float would round these to 4.5, 5.0 and 1.0
    (
        "stars-rounds-up-to-4.5",
        "PublicFeedbackSubmitted",
        {"stars": Num("4.49999999999999999")},
        ["4.49999999999999999", "exactly", "stars"],
    ),
    (
        "stars-just-above-5",
        "PublicFeedbackRevised",
        {"stars": Num("5.00000000000000001")},
        ["between 1.0 and 5.0", "stars"],
    ),
    (
        "stars-just-below-1",
        "PublicFeedbackSubmitted",
        {"stars": Num("0.99999999999999999")},
        ["between 1.0 and 5.0", "stars"],
    ),
    ("recommend-minus-1", "PrivateFeedbackSubmitted", {"recommend": -1}, [">= 0", "recommend"]),
    ("recommend-11", "PrivateFeedbackSubmitted", {"recommend": 11}, ["<= 10", "recommend"]),
    ("recommend-float", "PrivateFeedbackSubmitted", {"recommend": 9.5}, ["float", "recommend"]),
    ("recommend-integral-float", "PrivateFeedbackSubmitted", {"recommend": 9.0}, ["float", "recommend"]),
    ("recommend-true", "PrivateFeedbackSubmitted", {"recommend": True}, ["bool", "recommend"]),
    ("recommend-false", "PrivateFeedbackSubmitted", {"recommend": False}, ["bool", "recommend"]),
    ("end-reason-unknown", "PrivateFeedbackSubmitted", {"end_reason": "bored"}, ["bored", "end_reason"]),
    ("attribute-0", "PublicFeedbackSubmitted", {"attributes": {"skills": 0}}, [">= 1", "skills"]),
    ("attribute-6", "PublicFeedbackRevised", {"attributes": {"quality": 6}}, ["<= 5", "quality"]),
    ("attribute-float", "PublicFeedbackSubmitted", {"attributes": {"deadlines": 4.5}}, ["float", "deadlines"]),
    ("attribute-bool", "PublicFeedbackSubmitted", {"attributes": {"communication": True}}, ["bool", "communication"]),
    ("attribute-unknown", "PublicFeedbackSubmitted", {"attributes": {"charm": 5}}, ["charm"]),
    ("attributes-array", "PublicFeedbackSubmitted", {"attributes": [5]}, ["array", "attributes"]),
    ("comment-5001", "PublicFeedbackSubmitted", {"comment": "x" * 5001}, ["5000", "comment"]),
    ("revised-comment-5001", "PublicFeedbackRevised", {"comment": "é" * 5001}, ["5000", "comment"]),
    ("comment-number", "PublicFeedbackSubmitted", {"comment": 5}, ["int", "comment"]),
    ("summary-2001", "ScopeChanged", {"summary": "s" * 2001}, ["2000", "summary"]),
    ("unknown-field", "PaymentMade", {"amout": "1.00"}, ["amout"]),
    ("unknown-field-engine-time", "PaymentMade", {"recorded_at": "2024-05-01T12:00:00Z"}, ["recorded_at"]),
    ("unknown-field-position", "ClientFlagged", {"position": 3}, ["position"]),
    ("field-of-another-type", "ContractClosed", {"amount": "1.00"}, ["amount"]),
    ("unknown-type", "PaymentMade", {"type": "PaymentMaid"}, ["unknown event type"]),
    ("type-lowercase", "PaymentMade", {"type": "paymentmade"}, ["unknown event type"]),
    ("type-missing", "PaymentMade", {"type": DROP}, ["type"]),
    ("type-number", "PaymentMade", {"type": 3}, ["type"]),
    ("schema-2", "PaymentMade", {"schema": 2}, ["schema", "2"]),
    ("schema-0", "ClientFlagged", {"schema": 0}, ["schema"]),
    ("schema-string", "PaymentMade", {"schema": "1"}, ["str", "schema"]),
    ("schema-bool", "PaymentMade", {"schema": True}, ["bool", "schema"]),
    ("schema-float", "PaymentMade", {"schema": 1.0}, ["float", "schema"]),
    ("event-id-number", "PaymentMade", {"event_id": 17}, ["int", "event_id"]),
    ("event-id-missing", "PaymentMade", {"event_id": DROP}, ["event_id", "missing"]),
    ("occurred-at-missing", "ClientFlagged", {"occurred_at": DROP}, ["occurred_at", "missing"]),
    ("contract-id-null", "PaymentMade", {"contract_id": None}, ["null", "contract_id"]),
    ("contract-id-missing", "ContractClosed", {"contract_id": DROP}, ["contract_id", "missing"]),
    ("by-platform", "PublicFeedbackSubmitted", {"by": "platform"}, ["platform", "by"]),
    ("by-number", "FeedbackEditAllowed", {"by": 1}, ["int", "by"]),
    ("pricing-unknown", "ContractOpened", {"pricing": "barter"}, ["barter", "pricing"]),
    ("closed-by-unknown", "ContractClosed", {"closed_by": "nobody"}, ["nobody", "closed_by"]),
    ("reason-unknown", "ContractClosed", {"reason": "meh"}, ["meh", "reason"]),
    ("removal-basis-unknown", "FeedbackRemoved", {"basis": "dislike"}, ["dislike", "basis"]),
    ("removal-scope-unknown", "FeedbackRemoved", {"scope": "everything"}, ["everything", "scope"]),
    ("removal-of-missing", "FeedbackRemoved", {"of": DROP}, ["of", "missing"]),
    ("note-2001", "ClientFlagged", {"note": "n" * 2001}, ["2000", "note"]),
]


@pytest.mark.parametrize("type_, changes, fragments", [pytest.param(*row[1:], id=row[0]) for row in REJECTED])
def test_rejected_just_past_the_boundary(type_, changes, fragments):
    raw = make(type_, changes)
    with pytest.raises(InvalidEvent) as info:
        decode_event(raw)
    reason = info.value.reason
    assert_one_sentence(reason)
    assert str(info.value) == reason
    for fragment in fragments:
        assert fragment.lower() in reason.lower(), f"{fragment!r} not in {reason!r}"
    readable = json.loads(raw).get("event_id")
    assert info.value.event_id == (readable if isinstance(readable, str) else None)


# -- garbage ----------------------------------------------------------------------

GARBAGE = [
    ("not-json", b"this is not json", ["json"]),
    ("binary", bytes(range(256)), []),
    ("invalid-utf8-bytes", b"\xff\xfe\xfd\x00\x01", []),
    ("invalid-utf8-inside-string", b'{"type":"PaymentMade","event_id":"e-\xff"}', []),
    ("truncated", make("PaymentMade")[:-7], ["truncated"]),
    ("truncated-after-id", b'{"type":"PaymentMade","event_id":"e-1"', ["truncated"]),
    ("json-array", b'[{"type":"PaymentMade"}]', ["array"]),
    ("json-string", b'"PaymentMade"', ["str"]),
    ("json-number", b"42", ["int"]),
    ("json-null", b"null", ["null"]),
    ("json-empty-object", b"{}", ["type"]),
    ("two-objects", make("PaymentMade") + make("PaymentMade"), []),
    (
        "nan-literal",
        b'{"type":"PublicFeedbackSubmitted","event_id":"e-1","occurred_at":"2024-05-01T12:00:00Z",'
        b'"contract_id":"c-1","by":"client","stars":NaN}',
        [],
    ),
    ("empty", b"", []),
    (
        "deep-nesting-in-a-field",
        b'{"type":"PaymentMade","event_id":' + b"[" * 1000 + b"]" * 1000 + b"}",
        ["array", "event_id"],
    ),
    (
        "deep-nesting-in-an-unknown-field",
        b'{"event_id":"e-1","x":' + b'{"a":' * 1000 + b"1" + b"}" * 1001,
        ["nested too deeply"],
    ),
]


@pytest.mark.parametrize("raw, fragments", [pytest.param(r, f, id=i) for i, r, f in GARBAGE])
def test_garbage_is_an_invalid_event_with_one_sentence(raw, fragments):
    with pytest.raises(InvalidEvent) as info:
        decode_event(raw)
    assert_one_sentence(info.value.reason)
    for fragment in fragments:
        assert fragment.lower() in info.value.reason.lower(), info.value.reason


def test_the_id_of_a_deeply_nested_line_is_unknown_not_a_crash():
    assert event_id_of(b'{"event_id":' + b"[" * 1000 + b"]" * 1000 + b"}") is None
    assert event_id_of(b'{"x":' + b"[" * 1000 + b"]" * 1000 + b',"event_id":"e-7"}') in ("e-7", None)


def test_a_str_line_is_decoded_like_its_bytes():
    raw = make("PaymentMade", {"amount": "3.30"})
    assert decode_event(raw.decode()) == decode_event(raw)


# -- canonical round trip ------------------------------------------------------------

ROUND_TRIP = [
    # (test id, type, changes, occurred_at expected in UTC)
    (
        "offset-plus",
        "PaymentMade",
        {"occurred_at": "2024-03-10T01:30:00.25+05:30", "amount": 1},
        "2024-03-09T20:00:00.250000Z",
    ),
    ("offset-minus", "ContractClosed", {"occurred_at": "2023-12-31T20:00:00-04:00"}, "2024-01-01T00:00:00Z"),
    (
        "offset-zero",
        "PublicFeedbackSubmitted",
        {"occurred_at": "2024-05-01T12:00:00+00:00", "attributes": {"skills": 3}, "comment": "ok ✓"},
        "2024-05-01T12:00:00Z",
    ),
    (
        "micro",
        "PrivateFeedbackSubmitted",
        {"occurred_at": "2024-05-01T12:00:00.000001Z", "end_reason": "other"},
        "2024-05-01T12:00:00.000001Z",
    ),
    ("year-0999", "ScopeChanged", {"occurred_at": "0999-12-31T23:00:00-02:00", "summary": "s"}, "1000-01-01T01:00:00Z"),
    ("year-0100", "ClientFlagged", {"occurred_at": "0100-01-01T00:00:00Z"}, "0100-01-01T00:00:00Z"),
    (
        "clock",
        "ClockAdvanced",
        {"occurred_at": "2024-05-01T12:00:00Z", "to": "2024-05-01T13:00:00+01:00"},
        "2024-05-01T12:00:00Z",
    ),
] + [(f"type-{name}", name, {}, COMMON["occurred_at"]) for name in BASES]


@pytest.mark.parametrize("type_, changes, utc", [pytest.param(*row[1:], id=row[0]) for row in ROUND_TRIP])
def test_canonical_round_trip(type_, changes, utc):
    event = decode_event(make(type_, changes))
    assert event.occurred_at == utc
    canonical = encode_event(event)
    again = decode_event(canonical)
    assert again == event
    assert encode_event(again) == canonical
    # the canonical bytes say the same as the line that was sent, in UTC
    sent = json.loads(make(type_, changes))
    back = json.loads(canonical)
    assert back["occurred_at"] == utc
    for key, value in sent.items():
        if key in ("occurred_at", "to", "amount", "stars", "schema"):
            continue
        assert back.get(key) == value, key


def test_same_content_in_other_spellings_gives_the_same_canonical_bytes():
    a = make("PaymentMade", {"occurred_at": "2024-05-01T12:00:00Z", "amount": 12.5})
    b = make("PaymentMade", {"occurred_at": "2024-05-01T14:00:00.000000+02:00", "amount": "12.50", "schema": 1})
    assert encode_event(decode_event(a)) == encode_event(decode_event(b))
    c = make("PaymentMade", {"occurred_at": "2024-05-01T12:00:00Z", "amount": "12.51"})
    assert encode_event(decode_event(a)) != encode_event(decode_event(c))


@settings(max_examples=200, deadline=None)
@given(
    when=st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(8999, 12, 30)),  # accepted: before 9000
    offset_minutes=st.integers(-23 * 60 - 59, 23 * 60 + 59),
    type_=st.sampled_from(sorted(BASES)),
)
def test_any_timestamp_with_offset_round_trips_to_the_same_utc_instant(when, offset_minutes, type_):
    tz = timezone(timedelta(minutes=offset_minutes))
    local = when.replace(tzinfo=tz)
    sign = "-" if offset_minutes < 0 else "+"
    hh, mm = divmod(abs(offset_minutes), 60)
    text = f"{local.year:04d}-{local:%m-%dT%H:%M:%S}"  # %Y alone does not pad years < 1000
    if local.microsecond:
        text += f".{local.microsecond:06d}"
    text += f"{sign}{hh:02d}:{mm:02d}"
    event = decode_event(make(type_, {"occurred_at": text}))
    utc = local.astimezone(UTC)
    expected = f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}" + (f".{utc.microsecond:06d}" if utc.microsecond else "") + "Z"
    assert event.occurred_at == expected
    assert decode_event(encode_event(event)) == event


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_the_catalogue_has_each_event_type_of_events_md_once():
    from reputation import events as ev

    assert sorted(ev.TYPE_NAMES) == sorted(BASES)  # BASES: written by hand from events.md
    assert len(set(ev.TYPE_NAMES)) == len(ev.TYPE_NAMES)
    # every public event struct is in the decoded union (private bases like _MoneyMoved are not)
    structs = {c for c in _subclasses(ev.Base) if not c.__name__.startswith("_")}
    assert structs == set(ev.EVENT_TYPES)
    for name, cls in ev.BY_NAME.items():
        assert cls.__struct_config__.tag == name
        line = json.dumps({"type": name, "event_id": "e-1", "occurred_at": "2023-01-02T00:00:00Z", **BASES[name]})
        assert type(decode_event(line)) is cls


@settings(max_examples=300, deadline=None)
@given(digits=st.integers(10**14, 5 * 10**14), scale=st.integers(0, 14))
def test_stars_of_up_to_15_significant_digits_are_kept_exactly(digits, scale):
    """The README's promise: stars are the exact decimals sent (the read side uses repr)."""
    from fractions import Fraction

    value = Fraction(digits, 10**14)  # 1 .. 5 with 15 significant digits
    value = round(value * 10**scale) / Fraction(10**scale)  # fewer digits too
    if not 1 <= value <= 5:
        return
    text = str(Decimal(value.numerator) / Decimal(value.denominator))
    event = decode_event(make("PublicFeedbackSubmitted", {"stars": Num(text)}))
    assert Fraction(repr(event.stars)) == value
