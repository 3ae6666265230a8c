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
    When a blog joins a planet that is already running, only its newest
    ``planet.new_feed_items`` entries are shown; older ones are stored but held back. The
    planet's first run shows everything (there is nothing to bury yet).

Camp filters
    An outline's own ``filter`` regex decides alone for its feed. Otherwise ``filter.include``
    (if set) must match and ``filter.exclude`` (if set) must not. Both are case-insensitive
    and searched in the title, the categories and the text of the entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from campplanet.types import ParsedEntry, StoredEntry

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


@dataclass(frozen=True)
class EntryChange:
    """The result of merging a fetched entry with what is stored."""

    kind: str  # "new", "updated" or "unchanged"
    entry: StoredEntry


def merge_entry(
    feed_url: str,
    stored: StoredEntry | None,
    new: ParsedEntry,
    now: datetime,
    *,
    feed_imported: bool,
) -> EntryChange:
    """Decide whether ``new`` is a new entry, an update of ``stored``, or nothing new.

    ``stored`` is the entry with the same identity (or, failing that, the same canonical
    link) in the same feed, if any. An update keeps the first-seen time and, unless the
    feed gives a published date, the date the entry was first placed by.
    """
    if stored is None:
        date = entry_date(new.published, new.updated, now)
        return EntryChange(
            "new",
            StoredEntry(
                feed_url=feed_url,
                key=new.key,
                **_from_feed(new),
                first_seen=now,
                date=date,
                guid=new.guid,
                last_seen=now,
                backdated=feed_imported and date < now - BACKDATED_AFTER,
            ),
        )
    if new.published is not None:
        date = entry_date(new.published, None, stored.first_seen)
    else:
        date = stored.date
    merged = replace(
        stored, **_from_feed(new), guid=new.guid or stored.guid, date=date, last_seen=now
    )
    unchanged = replace(merged, last_seen=stored.last_seen) == stored
    return EntryChange("unchanged" if unchanged else "updated", merged)


def _from_feed(new: ParsedEntry) -> dict[str, object]:
    """The fields a fetch sets on a stored entry, whether new or updated."""
    return {
        "link": new.link,
        "title": new.title,
        "content": new.content,
        "summary": new.summary,
        "author": new.author,
        "published": new.published,
        "updated": new.updated,
        "categories": new.categories,
    }


def held_back(entries: Sequence[StoredEntry], new_feed_items: int) -> set[str]:
    """Keys of a newly added feed's entries to hold back: all but the newest few."""
    newest_first = sorted(entries, key=lambda e: (e.date, e.key), reverse=True)
    return {e.key for e in newest_first[new_feed_items:]}


def placement_date(entry: StoredEntry, order: str) -> datetime:
    """Where the planet places an entry, by ``render.order``."""
    if order == "first_seen" and entry.backdated:
        return entry.first_seen
    return entry.date


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_TAG = re.compile(r"<[^>]*>")


def filter_text(entry: StoredEntry) -> str:
    """The text camp filters search: title, categories and the entry's text."""
    return "\n".join([entry.title, *entry.categories, _TAG.sub(" ", entry.content), entry.summary])


def passes_filter(
    entry: StoredEntry, *, own: str | None, include: str = "", exclude: str = ""
) -> bool:
    """Whether the camp filters let ``entry`` onto the planet."""
    if not (own or include or exclude):
        return True
    text = filter_text(entry)
    if own:
        return _compile(own).search(text) is not None
    if include and _compile(include).search(text) is None:
        return False
    return not (exclude and _compile(exclude).search(text) is not None)


def same_post_keys(entry: StoredEntry, canonical_link: str | None) -> Iterable[str]:
    """Keys under which an entry is the same post across subscriptions."""
    if canonical_link:
        yield "link:" + canonical_link
    if entry.guid and _GLOBAL_GUID.match(entry.guid):
        yield "guid:" + entry.guid


_GLOBAL_GUID = re.compile(r"(?:https?:|tag:|urn:)", re.IGNORECASE)
