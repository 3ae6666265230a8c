"""How campplanet writes dates and counts: on pages, in messages and in the merged feeds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.utils import format_datetime

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def day_label(d: date) -> str:
    """ "Thursday 26 November 2026"."""
    return f"{DAYS[d.weekday()]} {d.day} {MONTHS[d.month - 1]} {d.year}"


def short_day(d: date) -> str:
    """ "26 Nov 2026"."""
    return f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}"


def when_label(local: datetime) -> str:
    """ "26 Nov 2026, 21:08 GMT", for a time already in the zone to show it in."""
    return f"{short_day(local.date())}, {local:%H:%M} {local.tzname() or ''}".rstrip()


def rfc3339(when: datetime) -> str:
    """``2026-11-26T21:08:00Z`` (Atom, JSON Feed, HTML ``datetime``), any year."""
    t = when.astimezone(UTC)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


def rfc822(when: datetime) -> str:
    """``Thu, 26 Nov 2026 21:08:00 +0000`` (RSS 2.0, OPML)."""
    return format_datetime(when.astimezone(UTC)).replace("-0000", "+0000")


def plural(n: int, word: str, words: str | None = None) -> str:
    """ "1 post", "3 posts"; ``words`` for an irregular plural ("entries")."""
    return f"{n} {word if n == 1 else words or word + 's'}"


def count(n: int, word: str, words: str | None = None) -> str:
    """ "1 word", "1,240 words": :func:`plural` with thousands separators, for pages."""
    return f"{n:,} {word if n == 1 else words or word + 's'}"


def more_label(words: int, media: int) -> str:
    """What the rest of a folded post holds: "1,240 more words", "3 more pictures",
    "1,240 more words and 3 pictures"."""
    pictures = count(media, "picture")
    if not words:
        return f"{media:,} more {'picture' if media == 1 else 'pictures'}"
    text = f"{words:,} more {'word' if words == 1 else 'words'}"
    return f"{text} and {pictures}" if media else text
