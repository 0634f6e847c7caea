"""Calendar-month arithmetic and the rule-set lookup, worked by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reputation import clock
from reputation.rulesets import JSS_2016, JSS_2020, JSS_2024, UnknownRules, rule_set

UTC = UTC


def at(y, m, d, hh=0, mm=0, ss=0, us=0):
    return datetime(y, m, d, hh, mm, ss, us, tzinfo=UTC)


@pytest.mark.parametrize(
    "start, months, expected",
    [
        (at(2023, 1, 31, 12, 30, 0, 7), 1, at(2023, 2, 28, 12, 30, 0, 7)),  # clamped, time kept
        (at(2024, 1, 31), 1, at(2024, 2, 29)),  # leap year
        (at(2023, 3, 31), 1, at(2023, 4, 30)),
        (at(2023, 1, 30), 1, at(2023, 2, 28)),
        (at(2023, 2, 28), 1, at(2023, 3, 28)),  # not "the end of the month"
        (at(2023, 11, 15), 2, at(2024, 1, 15)),  # across the year
        (at(2023, 12, 31), 12, at(2024, 12, 31)),
        (at(2024, 2, 29), 12, at(2025, 2, 28)),
        (at(2024, 2, 29), 24, at(2026, 2, 28)),
        (at(2024, 2, 29), 48, at(2028, 2, 29)),
        (at(2023, 8, 31), 6, at(2024, 2, 29)),
        (at(2023, 3, 31), -1, at(2023, 2, 28)),  # backwards too
        (at(2024, 1, 15), -13, at(2022, 12, 15)),
        (at(2023, 5, 5), 0, at(2023, 5, 5)),
    ],
)
def test_add_months_clamps_the_day_to_the_month_end(start, months, expected):
    assert clock.add_months(start, months) == expected


@pytest.mark.parametrize(
    "text, micros",
    [
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-02T00:00:00.000001Z", 86_400_000_001),
        ("1969-12-31T23:59:59.999999Z", -1),
        ("2020-03-01T00:00:00Z", 1_583_020_800_000_000),
    ],
)
def test_times_round_trip_through_micros_and_datetimes(text, micros):
    assert clock.parse_time(text) == micros
    assert clock.format_time(micros) == text
    dt = clock.to_datetime(micros)
    assert dt == datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert clock.to_micros(dt) == micros


def test_rule_sets_are_found_by_name():
    assert [rule_set(n) for n in ("jss-2016", "jss-2020", "jss-2024")] == [JSS_2016, JSS_2020, JSS_2024]


@pytest.mark.parametrize("name", ["jss-2019", "JSS-2020", "", "jss-2020 "])
def test_an_unknown_rule_set_names_itself_and_lists_the_known_ones(name):
    with pytest.raises(UnknownRules) as caught:
        rule_set(name)
    assert str(caught.value) == f"unknown rule set {name!r}; known: jss-2016, jss-2020, jss-2024, fair-2026"
