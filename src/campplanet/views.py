"""From stored entries to what the planet shows: filtering, de-duplication across
subscriptions, flood control and order. Pure functions over stored data."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from campplanet.config import Settings
from campplanet.policy import passes_filter, placement_date, same_post_keys
from campplanet.types import EntryView, FeedState, FeedView, StoredEntry, Subscription


def initials(name: str) -> str:
    """Up to two letters for an avatar badge: "Sarah Lay" -> "SL", "comms2point0" -> "C"."""
    words = [w for w in re.split(r"[^\w]+", name) if w and w[0].isalpha()]
    letters = "".join(w[0] for w in words[:2]).upper()
    return letters or "?"


def health(state: FeedState | None) -> str:
    """One word for how a subscription is doing: new, working, failing, moved or gone."""
    if state is None or state.last_attempt is None:
        return "new"
    if state.gone:
        return "gone"
    if state.failures:
        return "failing"
    if state.fetch_url:
        return "moved"
    return "working"


_ABSOLUTE_URI = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:\S+\Z")


def entry_id(entry: StoredEntry, planet_url: str) -> str:
    """A stable, globally unique id for the merged feeds: the original id when it is an
    absolute URI, else the link, else a tag: URI minted from the feed and entry key."""
    if entry.guid and _ABSOLUTE_URI.match(entry.guid):
        return entry.guid
    if entry.link:
        return entry.link
    digest = hashlib.sha256(f"{entry.feed_url}\n{entry.key}".encode()).hexdigest()[:32]
    host = urlsplit(planet_url).hostname or "campplanet.invalid"
    return f"tag:{host},2026:entry/{digest}"


@dataclass
class _FeedCounts:
    stored: int = 0
    shown: int = 0
    held_back: int = 0
    filtered_out: int = 0
    newest: datetime | None = None
    keys: set[str] = field(default_factory=set)


def build_views(
    settings: Settings,
    subscriptions: Sequence[Subscription],
    states: dict[str, FeedState],
    entries: Iterable[tuple[StoredEntry, str | None]],
) -> tuple[list[EntryView], list[FeedView]]:
    """Decide which entries are shown and in what order, and describe every subscription.

    ``entries`` are the stored entries of the current subscriptions, each with its canonical
    link. Returns the shown entries, newest first, and one FeedView per subscription in
    subscription-list order.
    """
    order = {sub.url: i for i, sub in enumerate(subscriptions)}
    subs = {sub.url: sub for sub in subscriptions}
    counts = {sub.url: _FeedCounts() for sub in subscriptions}

    candidates: list[tuple[StoredEntry, str | None]] = []
    for entry, canonical in entries:
        sub = subs.get(entry.feed_url)
        if sub is None:
            continue
        c = counts[entry.feed_url]
        c.stored += 1
        if entry.hidden_new_feed:
            c.held_back += 1
        elif not passes_filter(
            entry, own=sub.filter, include=settings.filter.include, exclude=settings.filter.exclude
        ):
            c.filtered_out += 1
        else:
            candidates.append((entry, canonical))

    # The same post through two subscriptions is shown once, under the one that saw it first.
    candidates.sort(key=lambda ec: (ec[0].first_seen, order[ec[0].feed_url], ec[0].key))
    seen: set[str] = set()
    shown: list[StoredEntry] = []
    for entry, canonical in candidates:
        keys = set(same_post_keys(entry, canonical))
        if keys & seen:
            continue
        seen |= keys
        shown.append(entry)
        c = counts[entry.feed_url]
        c.shown += 1
        if c.newest is None or entry.date > c.newest:
            c.newest = entry.date

    feed_views = {
        sub.url: _feed_view(sub, states.get(sub.url), counts[sub.url]) for sub in subscriptions
    }
    shown.sort(
        key=lambda e: (placement_date(e, settings.render.order), e.first_seen, e.feed_url, e.key),
        reverse=True,
    )
    entry_views = [
        EntryView(
            id=entry_id(e, settings.planet.url),
            link=e.link,
            title=e.title,
            content=e.content,
            summary=e.summary,
            author=e.author,
            date=placement_date(e, settings.render.order),
            updated=max(d for d in (e.updated, e.date) if d is not None),
            feed=feed_views[e.feed_url],
            categories=e.categories,
            content_hash=e.content_hash,
        )
        for e in shown
    ]
    return entry_views, list(feed_views.values())


def _feed_view(sub: Subscription, state: FeedState | None, c: _FeedCounts) -> FeedView:
    title = sub.title or (state.title if state else None) or sub.url
    return FeedView(
        url=sub.url,
        title=title,
        site=sub.html_url or (state.link if state else None),
        avatar=sub.avatar or (state.image if state else None),
        initials=initials(title),
        entries=c.stored,
        shown=c.shown,
        held_back=c.held_back,
        filtered_out=c.filtered_out,
        health=health(state),
        last_success=state.last_success if state else None,
        failing_since=state.failing_since if state else None,
        last_error=state.last_error if state else None,
        moved_to=state.fetch_url if state else None,
        updated=c.newest,
    )
