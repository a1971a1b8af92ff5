"""The shared count and date parsers: every printed form, boundaries, and never raising."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitors.parsing import parse_count, parse_datetime

NOW = datetime(2024, 5, 1, 7, 0, 0, tzinfo=UTC)  # 15:00 in Shanghai


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.2万", 12_000),
        ("3亿", 300_000_000),
        ("1.5亿", 150_000_000),
        ("10万+", 100_000),
        ("1,234", 1_234),
        ("1，234", 1_234),  # full-width comma
        ("1234", 1_234),
        (" 1234 ", 1_234),
        ("0", 0),
        ("1.5w", 15_000),
        ("1.5W", 15_000),
        ("0.29万", 2_900),  # Decimal, not float: 0.29 * 10000 must not become 2899
        ("2.5k", 2_500),
        ("1 万", 10_000),
        ("１２３", 123),  # full-width digits
        (1234, 1_234),
        (0, 0),
        (12.9, 12),
    ],
)
def test_parse_count_reads_printed_counts(value: str | int | float, expected: int) -> None:
    assert parse_count(value) == expected


@pytest.mark.parametrize(
    "value",
    [None, "", "   ", "abc", "万", "1.2.3", "-5", -5, "1万万", "1e5", float("nan"),
     float("inf"), -1.0, "1 2 3", "12%", True, "9" * 100],
)  # fmt: skip
def test_parse_count_answers_none_for_garbage(value: object) -> None:
    assert parse_count(value) is None  # type: ignore[arg-type]


def shanghai(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A Shanghai wall-clock time (UTC+8, no DST since 1991) expressed in UTC."""
    china = timezone(timedelta(hours=8))
    return datetime(year, month, day, hour, minute, second, tzinfo=china).astimezone(UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Tue Nov 10 12:00:00 +0800 2020", datetime(2020, 11, 10, 4, 0, tzinfo=UTC)),
        ("Tue Nov 10 12:00:00 -0130 2020", datetime(2020, 11, 10, 13, 30, tzinfo=UTC)),
        ("2020-11-10", shanghai(2020, 11, 10)),
        ("2020/11/10", shanghai(2020, 11, 10)),
        ("2020.11.10", shanghai(2020, 11, 10)),
        ("2020-1-5", shanghai(2020, 1, 5)),
        ("2020-11-10 12:00", shanghai(2020, 11, 10, 12, 0)),
        ("2020-11-10 12:00:30", shanghai(2020, 11, 10, 12, 0, 30)),
        ("2020年11月10日", shanghai(2020, 11, 10)),
        ("2020年11月10日 08:05", shanghai(2020, 11, 10, 8, 5)),
        ("2024-05-01T07:00:00Z", datetime(2024, 5, 1, 7, 0, tzinfo=UTC)),
        ("2024-05-01T07:00:00+08:00", datetime(2024, 4, 30, 23, 0, tzinfo=UTC)),
        ("2024-05-01T07:00:00.123456+0800", datetime(2024, 4, 30, 23, 0, 0, 123456, tzinfo=UTC)),
        ("2024-05-01T07:00:00", shanghai(2024, 5, 1, 7, 0)),  # no zone: Shanghai
        ("2024-05-01 07:00:00+00:00", datetime(2024, 5, 1, 7, 0, tzinfo=UTC)),
        ("Tue, 10 Nov 2020 12:00:00 +0800", datetime(2020, 11, 10, 4, 0, tzinfo=UTC)),
        ("Tue, 10 Nov 2020 12:00:00 GMT", datetime(2020, 11, 10, 12, 0, tzinfo=UTC)),
        ("10 Nov 2020 12:00:00 -0000", datetime(2020, 11, 10, 12, 0, tzinfo=UTC)),
        (1_604_980_800, datetime(2020, 11, 10, 4, 0, tzinfo=UTC)),
        (1_604_980_800_000, datetime(2020, 11, 10, 4, 0, tzinfo=UTC)),
        (1_604_980_800.5, datetime(2020, 11, 10, 4, 0, 0, 500000, tzinfo=UTC)),
        ("1604980800", datetime(2020, 11, 10, 4, 0, tzinfo=UTC)),
        ("1604980800000", datetime(2020, 11, 10, 4, 0, tzinfo=UTC)),
        ("1604980800.25", datetime(2020, 11, 10, 4, 0, 0, 250000, tzinfo=UTC)),
        (datetime(2020, 11, 10, 12, 0), shanghai(2020, 11, 10, 12, 0)),  # naive: Shanghai
        (datetime(2020, 11, 10, 12, 0, tzinfo=UTC), datetime(2020, 11, 10, 12, 0, tzinfo=UTC)),
    ],
)
def test_parse_datetime_absolute_forms(value: object, expected: datetime) -> None:
    parsed = parse_datetime(value, now=NOW)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("刚刚", NOW),
        ("30秒前", NOW - timedelta(seconds=30)),
        ("5分钟前", NOW - timedelta(minutes=5)),
        ("3小时前", NOW - timedelta(hours=3)),
        ("2天前", NOW - timedelta(days=2)),
        ("1周前", NOW - timedelta(weeks=1)),
        ("今天 09:15", shanghai(2024, 5, 1, 9, 15)),
        ("昨天 12:30", shanghai(2024, 4, 30, 12, 30)),
        ("昨天12:30", shanghai(2024, 4, 30, 12, 30)),
        ("前天 08:00", shanghai(2024, 4, 29, 8, 0)),
        ("昨天", shanghai(2024, 4, 30)),
        ("04-30", shanghai(2024, 4, 30)),
        ("4-30 18:20", shanghai(2024, 4, 30, 18, 20)),
        ("5-1", shanghai(2024, 5, 1)),  # today, midnight: not in the future
        ("4月30日", shanghai(2024, 4, 30)),
        ("4月30日 10:00", shanghai(2024, 4, 30, 10, 0)),
        # In the future for this year, so it is last year's date.
        ("11-10", shanghai(2023, 11, 10)),
        ("05-02", shanghai(2023, 5, 2)),
        ("05-01 16:00", shanghai(2023, 5, 1, 16, 0)),  # later today in Shanghai: last year
        ("05-01 14:59", shanghai(2024, 5, 1, 14, 59)),
    ],
)
def test_parse_datetime_relative_forms(value: str, expected: datetime) -> None:
    assert parse_datetime(value, now=NOW) == expected


def test_named_days_use_the_shanghai_date_not_the_utc_date() -> None:
    # 2024-04-30 20:00 UTC is already 2024-05-01 04:00 in Shanghai.
    late_utc = datetime(2024, 4, 30, 20, 0, tzinfo=UTC)
    assert parse_datetime("昨天 12:30", now=late_utc) == shanghai(2024, 4, 30, 12, 30)
    assert parse_datetime("今天 01:00", now=late_utc) == shanghai(2024, 5, 1, 1, 0)


def test_month_day_rolls_over_the_new_year() -> None:
    new_year = shanghai(2024, 1, 2, 10, 0)
    assert parse_datetime("12-31", now=new_year) == shanghai(2023, 12, 31)
    assert parse_datetime("01-02", now=new_year) == shanghai(2024, 1, 2)
    assert parse_datetime("01-03", now=new_year) == shanghai(2023, 1, 3)
    # Just after midnight on 1 January in Shanghai, which is still 31 December in UTC.
    just_after = shanghai(2024, 1, 1, 0, 30)
    assert parse_datetime("12-31 23:00", now=just_after) == shanghai(2023, 12, 31, 23, 0)
    assert parse_datetime("01-01 00:10", now=just_after) == shanghai(2024, 1, 1, 0, 10)


def test_month_day_feb_29_falls_back_to_none_in_a_non_leap_year() -> None:
    # 2023 has no 29 February; a leap-year "02-29" still reads in 2024.
    assert parse_datetime("02-29", now=shanghai(2024, 3, 1)) == shanghai(2024, 2, 29)
    assert parse_datetime("02-29", now=shanghai(2023, 3, 1)) is None


def test_shanghai_has_no_daylight_saving() -> None:
    assert parse_datetime("2020-07-01 12:00", now=NOW) == datetime(2020, 7, 1, 4, 0, tzinfo=UTC)
    assert parse_datetime("2020-01-01 12:00", now=NOW) == datetime(2020, 1, 1, 4, 0, tzinfo=UTC)


def test_relative_forms_default_to_the_current_time() -> None:
    before = datetime.now(UTC)
    parsed = parse_datetime("刚刚")
    assert parsed is not None and before <= parsed <= datetime.now(UTC)


def test_naive_now_is_taken_as_utc() -> None:
    naive = datetime(2024, 5, 1, 7, 0)
    assert parse_datetime("5分钟前", now=naive) == NOW - timedelta(minutes=5)


@pytest.mark.parametrize(
    "value",
    [None, "", "  ", "garbage", "昨天 25:00", "13-45", "2020-13-01", "2020年2月30日",
     "Tue Foo 10 12:00:00 +0800 2020", "Tue, 99 Nov 2020 12:00:00 +0800", 0, -5, True,
     float("nan"), float("inf"), "12345", "99999999999999999999", 1e300, "刚", "5年前",
     "Mon, 1 Jan 10000 00:00:00 +0000", "1" * 100, [], {}, b"2020-11-10"],
)  # fmt: skip
def test_parse_datetime_answers_none_for_garbage(value: object) -> None:
    assert parse_datetime(value, now=NOW) is None


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(), st.from_regex(r"\d{1,4}[-/年月:. ]\d{1,3}[-/月日 ]?\d{0,2}.{0,8}")))
def test_parsers_never_raise_on_text(text: str) -> None:
    parse_count(text)
    parsed = parse_datetime(text, now=NOW)
    assert parsed is None or parsed.tzinfo is UTC


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.none(),
        st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
    ),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
)
def test_parsers_never_raise_on_numbers_or_datetimes(value: object, now: datetime) -> None:
    parse_count(value)  # type: ignore[arg-type]
    parsed = parse_datetime(value, now=now)
    assert parsed is None or parsed.tzinfo is UTC
