"""What to store and what to show: pure decisions over (stored state, new data, now).

Nothing here reads a clock, a file or the network; callers pass ``now`` in. That is what
lets the rules below be tested exhaustively.

Entry dates
    An entry is placed by its *published* date, else its *updated* date, else the time
    campplanet first saw it. A date before 1995, or more than five minutes after the entry
    was first seen (a clock set wrong, a far-future typo), is replaced by the first-seen
    time. Once an entry has a date from ``updated`` alone, later edits do not move it: an
    edited post never floats back to the top.

Backdated entries
    An entry that appears after its feed's first import, dated more than a day before it
    was first seen (a backdated post, a re-import), keeps its own date by default
    (``render.order = "date"``): a platform migration that re-publishes a blog's archive
    then cannot flood the top of the page. ``render.order = "first_seen"`` places such
    entries by the time they were first seen instead, so late write-ups are noticed.

New-feed flood control
    When a blog joins a planet that is already running, only the newest
    ``planet.new_feed_items`` entries of its first import are shown; older ones are stored
    but held back. A blog that was on the list at the planet's first run is never new (the
    first run shows everything: there is nothing to bury yet), even if it first worked
    later. Decided at render time from stored facts (whether the blog was on the list at the
    first run, when it was first imported, when each entry was first seen).

Updated dates
    The merged feeds give an entry's updated date only when it is plausible: not before the
    entry's own date and not after it was last seen; otherwise its date.

Camp filters
    An outline's own ``filter`` regex decides alone for its feed. Otherwise ``filter.include``
    (if set) must match and ``filter.exclude`` (if set) must not. Both are case-insensitive
    and searched in the title, the categories and the text of the entry.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from campplanet.types import StoredEntry

EARLIEST_DATE = datetime(1995, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(minutes=5)
BACKDATED_AFTER = timedelta(days=1)


def entry_date(
    published: datetime | None, updated: datetime | None, first_seen: datetime
) -> datetime:
    """The date an entry is placed and shown by (see the module docstring)."""
    candidate = published or updated
    if candidate is None or candidate < EARLIEST_DATE or candidate > first_seen + FUTURE_SLACK:
        return first_seen
    return candidate


def is_backdated(date: datetime, first_seen: datetime, *, imported: bool) -> bool:
    """An entry that appeared after its feed's first import, dated a day or more before."""
    return imported and date < first_seen - BACKDATED_AFTER


def shown_updated(entry: StoredEntry) -> datetime:
    """When an entry was last changed, as the merged feeds say: its updated date when that
    is plausible (not before its own date, not after it was last seen), else its date."""
    seen = entry.last_seen or entry.first_seen
    updated = entry.updated
    if updated is None or updated < entry.date or updated > seen + FUTURE_SLACK:
        return entry.date
    return updated


def held_back(
    entries: Iterable[StoredEntry],
    *,
    new_blog: bool,
    imported_at: datetime | None,
    new_feed_items: int,
) -> set[str]:
    """Keys of a blog's entries that new-feed flood control holds back.

    Of a blog added to a running planet (``new_blog``: not on the list at the planet's first
    run), only the newest ``new_feed_items`` of the entries its first import found are
    shown; entries it publishes later are shown as they come. Decided from stored facts at
    every render, so a change of ``new_feed_items`` applies to stored entries at once.
    """
    if not new_blog or imported_at is None:
        return set()
    first_import = [e for e in entries if e.first_seen <= imported_at]
    newest_first = sorted(first_import, key=lambda e: (e.date, e.key), reverse=True)
    return {e.key for e in newest_first[max(new_feed_items, 0) :]}


def placement_source(order: str, backdated: bool) -> str:
    """Which of an entry's times places it, by ``render.order``: ``"date"`` or, for a
    backdated entry when the order is ``"first_seen"``, ``"first_seen"``."""
    return "first_seen" if order == "first_seen" and backdated else "date"


def placement_date(entry: StoredEntry, order: str) -> datetime:
    """Where the planet places an entry, by ``render.order``."""
    return getattr(entry, placement_source(order, entry.backdated))


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_TAG = re.compile(r"<[^>]*>")
_BLOCK_TAG = re.compile(
    r"</?(?:p|div|br|li|ul|ol|h[1-6]|tr|td|th|blockquote|pre|figure|figcaption|section|"
    r"article|aside|header|footer|details|summary|hr|table|dd|dt)\b[^>]*>",
    re.IGNORECASE,
)
_SPACE = re.compile(r"\s+")


def filter_text(title: str, categories: Iterable[str], content: str, summary: str) -> str:
    """The text filters search: the title, the categories and the entry's text (markup
    stripped, entities decoded)."""
    text = html.unescape(_TAG.sub("", _BLOCK_TAG.sub(" ", content)))
    return "\n".join([title, *categories, _SPACE.sub(" ", text).strip(), summary])


def filters_apply(own: str | None, include: str = "", exclude: str = "") -> bool:
    return bool(own or include or exclude)


def passes_filter(text: str, *, own: str | None, include: str = "", exclude: str = "") -> bool:
    """Whether the filters let an entry whose :func:`filter_text` is ``text`` be shown."""
    if not filters_apply(own, include, exclude):
        return True
    if own:
        return _compile(own).search(text) is not None
    if include and _compile(include).search(text) is None:
        return False
    return not (exclude and _compile(exclude).search(text) is not None)
