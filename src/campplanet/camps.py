"""Which posts are write-ups of a camp: pure rules over (camp settings, an entry's date, its
text).

A camp (``[[camp]]`` in campplanet.toml) runs from ``start`` to ``end``, whole days in the
planet's time zone. Its *window* opens ``before`` days before the start (previews, "what I
hope for") and closes at the end of the ``after``-th day after the end. A write-up of the
camp is a post that the planet places (its shown date) inside the window and whose title,
categories or text (markup stripped, entities decoded) match ``match``, case-insensitively.
A post can be a write-up of several camps.

Everything else that decides what the planet shows holds for camps too (a post reached
through two subscriptions counts once, blogs no longer listed drop out, what the filters
hide is not a write-up), except new-feed flood control: an attendee who adds their blog
after the camp has their write-up on the camp page, however old it is.
"""

from __future__ import annotations

import hashlib
import re
import sys
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from campplanet import policy
from campplanet.config import CampSettings


def window(camp: CampSettings, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The camp's window in UTC: from its first counting moment to just after its last."""
    first = camp.start - timedelta(days=camp.before)
    after_last = camp.end + timedelta(days=camp.after + 1)
    return _midnight(first, tz), _midnight(after_last, tz)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def in_window(camp: CampSettings, when: datetime, tz: ZoneInfo) -> bool:
    start, end = window(camp, tz)
    return start <= when < end


@lru_cache(maxsize=64)
def _pattern(match: str) -> re.Pattern[str]:
    return re.compile(match, re.IGNORECASE)


def matches(camp: CampSettings, text: str) -> bool:
    """Whether a post's filter text (see :func:`campplanet.policy.filter_text`) names the camp."""
    return _pattern(camp.match).search(text) is not None


def _rules_signature() -> str:
    """A digest of what decides whether a text matches: the code of this module and of
    :func:`campplanet.policy.filter_text`'s module, and Python's version (its regexes)."""
    digest = hashlib.sha256(sys.version.encode())
    for path in (__file__, policy.__file__):
        with open(path, "rb") as code:
            digest.update(code.read())
    return digest.hexdigest()[:16]


_RULES = _rules_signature()


def pattern_key(camp: CampSettings) -> str:
    """What a post's match against ``camp.match`` is remembered under (see
    :meth:`campplanet.storage.Storage.remember_camp_matches`): the pattern and the rules
    that test it, so that a change of either tests every post again."""
    return f"{_RULES} {camp.match}"


def is_write_up(camp: CampSettings, when: datetime, text: str, tz: ZoneInfo) -> bool:
    """Whether a post shown at ``when`` whose filter text is ``text`` is a write-up."""
    return in_window(camp, when, tz) and matches(camp, text)
