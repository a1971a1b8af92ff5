"""Lenient parsers for the counts and dates Chinese platforms print.

Platforms print follower counts as "1.2万" or "10万+" and dates as "5分钟前", "昨天 12:30",
"11-10" or Weibo's ctime format, next to plain ISO and RFC 822 dates and Unix timestamps.
Both parsers answer ``None`` for anything they do not recognise and never raise: a date or
count we cannot read must never turn an observation into an exception.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

__all__ = ["SHANGHAI", "parse_count", "parse_datetime"]

#: The zone assumed for every date printed without one: all platforms watched here are Chinese.
SHANGHAI: tzinfo = ZoneInfo("Asia/Shanghai")

# Longer inputs are not counts or dates; the bound keeps regexes and Decimal cheap on junk.
_MAX_LEN = 64

_COUNT = re.compile(r"^(\d+(?:\.\d+)?)\s*(万|亿|千|w|k)?\s*\+?$", re.IGNORECASE)
_COUNT_MULTIPLIER = {"": 1, "千": 1_000, "k": 1_000, "万": 10_000, "w": 10_000, "亿": 100_000_000}


def parse_count(value: str | int | float | None) -> int | None:
    """Read a count such as 1234, "1,234", "1.2万", "1.5w", "3亿" or "10万+" as an int.

    Chinese platforms abbreviate large counts (万 = 10^4, 亿 = 10^8); "10万+" means "at least
    100000" and reads as its lower bound. Anything else (empty, negative, garbage) is None.
    """
    try:
        return _parse_count(value)
    except (ValueError, ArithmeticError, TypeError):
        return None


def _parse_count(value: object) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value >= 0 else None
    if not isinstance(value, str) or len(value) > _MAX_LEN:
        return None
    text = unicodedata.normalize("NFKC", value).strip().replace(",", "")
    match = _COUNT.match(text)
    if match is None:
        return None
    number = Decimal(match.group(1)) * _COUNT_MULTIPLIER[(match.group(2) or "").lower()]
    return int(number)


_TIME = r"(?:\s*(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
_JUST_NOW = frozenset({"刚刚", "刚才", "just now"})
_AGO = re.compile(r"^(\d+)\s*(秒|分钟|分|小时|天|周|星期)(?:钟)?前$")
_AGO_UNIT = {
    "秒": timedelta(seconds=1),
    "分钟": timedelta(minutes=1),
    "分": timedelta(minutes=1),
    "小时": timedelta(hours=1),
    "天": timedelta(days=1),
    "周": timedelta(weeks=1),
    "星期": timedelta(weeks=1),
}
_NAMED_DAY = re.compile(r"^(今天|昨天|前天)" + _TIME + "$")
_NAMED_DAY_OFFSET = {"今天": 0, "昨天": 1, "前天": 2}
_YMD = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})" + _TIME + "$")
_YMD_CHINESE = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?" + _TIME + "$")
_MD = re.compile(r"^(\d{1,2})[-/](\d{1,2})" + _TIME + "$")
_MD_CHINESE = re.compile(r"^(\d{1,2})月(\d{1,2})日?" + _TIME + "$")
_UNIX_SECONDS = re.compile(r"^\d{9,11}(?:\.\d+)?$")
_UNIX_MILLIS = re.compile(r"^\d{12,14}(?:\.\d+)?$")
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
# Weibo's ctime-like created_at: "Tue Nov 10 12:00:00 +0800 2020".
_WEIBO = re.compile(
    r"^[A-Za-z]{3}\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+([+-])(\d{2})(\d{2})"
    r"\s+(\d{4})$"
)
_HAS_MONTH_NAME = re.compile(r"[A-Za-z]{3}")
# Timestamps above this are milliseconds: 10^11 seconds is the year 5138.
_MILLIS_THRESHOLD = 100_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_datetime(value: object, now: datetime | None = None) -> datetime | None:
    """Read a platform's date into an aware UTC datetime, or None if it is not a date.

    Accepts datetimes, Unix seconds or milliseconds (int, float or digits), ISO 8601,
    RFC 822, Weibo's "Tue Nov 10 12:00:00 +0800 2020", Chinese dates ("2020年11月10日"),
    and the relative forms Chinese apps print ("刚刚", "5分钟前", "昨天 12:30", "11-10").
    Dates without a zone are Asia/Shanghai time. ``now`` (default: the current time) anchors
    the relative forms; a year-less "11-10" that would lie in the future is last year's.
    """
    try:
        reference = _as_utc(now) if now is not None else datetime.now(UTC)
        return _parse_datetime(value, reference)
    except (ValueError, ArithmeticError, TypeError, IndexError, KeyError, OSError):
        return None


def _as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken as UTC (callers' ``now`` is UTC by contract)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _local(moment: datetime) -> datetime:
    """Aware UTC from a platform datetime; a naive one is Shanghai local time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment.astimezone(UTC)


def _parse_datetime(value: object, now: datetime) -> datetime | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return _local(value)
    if isinstance(value, int | float):
        return _from_unix(float(value))
    if not isinstance(value, str) or len(value) > _MAX_LEN:
        return None
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        return None
    return _parse_relative(text, now) or _parse_absolute(text, now)


def _from_unix(seconds: float) -> datetime | None:
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    if seconds >= _MILLIS_THRESHOLD:
        seconds /= 1000
    # Arithmetic, not fromtimestamp: the C library rejects large values with OSError.
    return _EPOCH + timedelta(seconds=seconds)


def _clock(match: re.Match[str], first_group: int) -> time:
    hour, minute, second = match.group(first_group, first_group + 1, first_group + 2)
    if hour is None:
        return time(0, 0)
    return time(int(hour), int(minute), int(second or 0))


def _at_shanghai(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=SHANGHAI).astimezone(UTC)


def _parse_relative(text: str, now: datetime) -> datetime | None:
    """The forms that only make sense relative to ``now``."""
    if text.lower() in _JUST_NOW:
        return now
    if match := _AGO.match(text):
        return now - int(match.group(1)) * _AGO_UNIT[match.group(2)]
    today = now.astimezone(SHANGHAI).date()
    if match := _NAMED_DAY.match(text):
        day = today - timedelta(days=_NAMED_DAY_OFFSET[match.group(1)])
        return _at_shanghai(day, _clock(match, 2))
    if match := _MD.match(text) or _MD_CHINESE.match(text):
        month, day_of_month = int(match.group(1)), int(match.group(2))
        clock = _clock(match, 3)
        candidate = _at_shanghai(date(today.year, month, day_of_month), clock)
        if candidate > now:
            candidate = _at_shanghai(date(today.year - 1, month, day_of_month), clock)
        return candidate
    return None


def _parse_absolute(text: str, now: datetime) -> datetime | None:
    """Forms that carry their own year."""
    if _UNIX_SECONDS.match(text) or _UNIX_MILLIS.match(text):
        return _from_unix(float(text))
    if match := _YMD.match(text) or _YMD_CHINESE.match(text):
        day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        return _at_shanghai(day, _clock(match, 4))
    if match := _WEIBO.match(text):
        return _parse_weibo(match)
    parsed = _parse_iso(text) if text[0].isdigit() else None
    if parsed is None and _HAS_MONTH_NAME.search(text):
        parsed = _parse_rfc822(text)
    return parsed


def _parse_weibo(match: re.Match[str]) -> datetime | None:
    month = _MONTHS.get(match.group(1).lower())
    if month is None:
        return None
    offset = timedelta(hours=int(match.group(7)), minutes=int(match.group(8)))
    if match.group(6) == "-":
        offset = -offset
    local = datetime(
        int(match.group(9)),
        month,
        int(match.group(2)),
        int(match.group(3)),
        int(match.group(4)),
        int(match.group(5)),
    )
    return (local - offset).replace(tzinfo=UTC)


def _parse_iso(text: str) -> datetime | None:
    # fromisoformat also reads bare dates ("2020-11-10") and basic forms ("20201110").
    try:
        return _local(datetime.fromisoformat(text))
    except ValueError:
        pass
    try:
        return _at_shanghai(date.fromisoformat(text), time(0, 0))
    except ValueError:
        return None


def _parse_rfc822(text: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(text)
    except (ValueError, TypeError, IndexError):
        return None
    # RFC 2822 "-0000" (and a missing zone) comes back naive and means UTC.
    return _as_utc(parsed)
