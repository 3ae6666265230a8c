"""Which entries are the same post: the one home of identity and merging.

Pure decisions over data: no I/O, no clock (``now`` is passed in).

Within a feed
    An entry's *key* is its ``id`` (Atom, JSON Feed) or ``guid`` (RSS) exactly as written
    but for surrounding white space; failing that its canonical link
    (:func:`campplanet.urls.canonical_link`: ``http`` = ``https``, host case, default port,
    tracking parameters and a trailing slash do not matter, a ``#fragment`` does); failing
    both, a digest of its title and content.

    A document that lists one id several times holds revisions of one post: the newest
    revision (by its updated date, else its published date; on a tie, or without dates,
    the first in the document) is the one kept.

    A fetched entry whose key is not stored is still the same post as a stored entry with
    the same canonical link when the blog has changed its ids (a platform migration): that
    is, when the stored entry's key is no longer in the document, neither the document nor
    the store has several entries under that link (a podcast whose episodes all link to
    the show page, a linkblog whose posts differ by fragment: such a link names no one
    post), and the two do not carry published dates further apart than time zones explain.

Across subscriptions
    The same post reached through two subscriptions is shown once, under the subscription
    that saw it first. Two entries are the same post when they share a global id
    (``http:``, ``https:``, ``tag:`` or ``urn:``) or a canonical link that names one post in
    each feed.

Published ids
    The merged feeds identify an entry by its own id when that is a valid absolute URI,
    else by its link when the link names one post, else by a ``tag:`` URI minted from its
    feed and key, which never changes.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from urllib.parse import urlsplit

from campplanet import policy, urls
from campplanet.types import FeedState, ParsedEntry, ParsedFeed, StoredEntry, content_digest
from campplanet.urls import is_valid_uri

# Merging a fetch asks for each entry's canonical link several times. (Memoised here rather
# than in urls.py, whose bytes are part of the rules stored entries are derived by.)
canonical_link = lru_cache(maxsize=32768)(urls.canonical_link)


def entry_key(guid: str | None, link: str | None, title: str, content: str) -> str:
    """An entry's identity within its feed (see the module docstring)."""
    if guid and guid.strip():
        return guid.strip()
    canonical = canonical_link(link)
    if canonical:
        return canonical
    digest = hashlib.sha256(f"{title}\n{content}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256:{digest}"


def newest_revisions(entries: Iterable[ParsedEntry]) -> list[ParsedEntry]:
    """One entry per key: the newest revision of each, in the order of the document."""
    kept: dict[str, tuple[int, ParsedEntry]] = {}
    for position, entry in enumerate(entries):
        earlier = kept.get(entry.key)
        if earlier is None or _revision(entry) > _revision(earlier[1]):
            kept[entry.key] = (earlier[0] if earlier else position, entry)
    return [entry for _, entry in sorted(kept.values(), key=lambda pair: pair[0])]


def _revision(entry: ParsedEntry) -> tuple[bool, datetime | None]:
    when = entry.updated or entry.published
    return (when is not None, when)  # type: ignore[return-value]


class Change(StrEnum):
    """What merging a fetched entry does to the store."""

    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class EntryChange:
    kind: Change
    entry: StoredEntry


def merge_entry(
    feed_url: str, stored: StoredEntry | None, new: ParsedEntry, now: datetime, *, imported: bool
) -> EntryChange:
    """``new`` as a new entry, or as an update of ``stored`` (the same post), or nothing new.

    An update keeps the first-seen time and, unless the feed gives a published date, the
    date the entry was first placed by. ``imported``: the feed was imported before this
    fetch (so an old-dated new entry is backdated).
    """
    if stored is None:
        date = policy.entry_date(new.published, new.updated, now)
        entry = StoredEntry(
            feed_url=feed_url,
            key=new.key,
            **_from_feed(new),
            content_hash=content_digest(new.content, new.summary),
            first_seen=now,
            date=date,
            guid=new.guid,
            last_seen=now,
            backdated=policy.is_backdated(date, now, imported=imported),
        )
        return EntryChange(Change.NEW, entry)
    if new.published is not None:
        date = policy.entry_date(new.published, None, stored.first_seen)
    else:
        date = stored.date
    merged = replace(
        stored,
        **_from_feed(new),
        content_hash=content_digest(new.content, new.summary),
        guid=new.guid or stored.guid,
        date=date,
        last_seen=now,
    )
    # The stored text may not have been read (content_hash stands for it): compare by hash.
    same_text = merged.content_hash == stored.content_hash
    as_stored = replace(merged, content=stored.content, summary=stored.summary)
    unchanged = same_text and replace(as_stored, last_seen=stored.last_seen) == stored
    return EntryChange(Change.UNCHANGED if unchanged else Change.UPDATED, merged)


def _from_feed(new: ParsedEntry) -> dict[str, object]:
    """The fields a fetch sets on a stored entry, whether new or updated."""
    return {
        "link": new.link,
        "canonical_link": canonical_link(new.link),
        "title": new.title,
        "content": new.content,
        "summary": new.summary,
        "author": new.author,
        "published": new.published,
        "updated": new.updated,
        "categories": new.categories,
    }


@dataclass
class FeedUpdate:
    """What one fetched feed changes in the database: computed first, then written at once."""

    state: FeedState
    entries: list[StoredEntry]  # new and changed entries
    new: int
    updated: int


def plan_feed_update(
    state: FeedState, stored: Sequence[StoredEntry], parsed: ParsedFeed, now: datetime
) -> FeedUpdate:
    """Merge a parsed feed into its stored entries (see the module docstring)."""
    fetched = newest_revisions(parsed.entries)
    by_key = {e.key: e for e in stored}
    in_document = {e.key for e in fetched}
    links_in_document = Counter(canonical_link(e.link) for e in fetched)
    links_stored = Counter(e.canonical_link for e in stored)
    by_link = {e.canonical_link: e for e in stored if e.canonical_link}
    imported = state.imported_at is not None
    changed: dict[str, StoredEntry] = {}
    new = updated = 0
    for item in fetched:
        existing = by_key.get(item.key)
        link = canonical_link(item.link)
        if existing is None and link and links_in_document[link] == 1 == links_stored[link]:
            moved = by_link.get(link)
            if moved is not None and _migrated(moved, item, in_document, changed):
                existing = moved  # the blog changed its ids: the same post
        change = merge_entry(state.url, existing, item, now, imported=imported)
        if change.kind is Change.NEW:
            new += 1
        elif change.kind is Change.UPDATED:
            updated += 1
        else:
            continue
        changed[change.entry.key] = change.entry
    state = replace(
        state,
        title=parsed.title or state.title,
        link=parsed.link or state.link,
        image=parsed.image or state.image,
        problem=parsed.problem,
        imported_at=state.imported_at or now,
    )
    return FeedUpdate(state, list(changed.values()), new, updated)


MAX_ZONE_SHIFT = timedelta(hours=14)  # the widest gap two time-zone readings can have


def _migrated(
    stored: StoredEntry, item: ParsedEntry, in_document: set[str], changed: dict[str, object]
) -> bool:
    """Whether ``item``, with an unknown key, is ``stored`` under a new id: the stored one
    is no longer listed (nor already merged), and their published dates may be one."""
    if stored.key in in_document or stored.key in changed:
        return False
    a, b = stored.published, item.published
    return a is None or b is None or abs(a - b) <= MAX_ZONE_SHIFT


_GLOBAL_ID = re.compile(r"(?:https?:|tag:|urn:)", re.IGNORECASE)


def same_post_keys(entry: StoredEntry, *, link_names_one_post: bool) -> list[str]:
    """Keys under which an entry is the same post across subscriptions."""
    keys = []
    if entry.canonical_link and link_names_one_post:
        keys.append("link:" + entry.canonical_link)
    if entry.guid and _GLOBAL_ID.match(entry.guid):
        keys.append("guid:" + entry.guid)
    return keys


def entry_id(entry: StoredEntry, planet_url: str, *, link_names_one_post: bool = True) -> str:
    """A stable, globally unique id for the merged feeds (see the module docstring)."""
    if entry.guid and is_valid_uri(entry.guid):
        return entry.guid
    if entry.link and link_names_one_post and is_valid_uri(entry.link):
        return entry.link
    digest = hashlib.sha256(f"{entry.feed_url}\n{entry.key}".encode()).hexdigest()[:32]
    host = urlsplit(planet_url).hostname or "campplanet.invalid"
    return f"tag:{host},2026:entry/{digest}"
