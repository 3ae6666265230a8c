"""From stored entries to what the planet shows: filtering, de-duplication across
subscriptions, flood control and order. Pure functions over stored data."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from campplanet import identity, policy
from campplanet.config import Settings
from campplanet.health import health
from campplanet.types import EntryView, FeedState, FeedView, StoredEntry, Subscription
from campplanet.urls import publishable


def initials(name: str) -> str:
    """Up to two letters for an avatar badge: "Sarah Lay" -> "SL", "comms2point0" -> "C"."""
    words = [w for w in re.split(r"[^\w]+", name) if w and w[0].isalpha()]
    letters = "".join(w[0] for w in words[:2]).upper()
    return letters or "?"


@dataclass
class _FeedCounts:
    stored: int = 0
    shown: int = 0
    held_back: int = 0
    filtered_out: int = 0
    newest: datetime | None = None


def build_views(
    settings: Settings,
    subscriptions: Sequence[Subscription],
    states: dict[str, FeedState],
    entries: Iterable[StoredEntry],
) -> tuple[list[EntryView], list[FeedView]]:
    """Decide which entries are shown and in what order, and describe every subscription.

    ``entries`` are the stored entries of the current subscriptions. Returns the shown
    entries, newest first, and one FeedView per subscription in subscription-list order.
    """
    order = {sub.url: i for i, sub in enumerate(subscriptions)}
    subs = {sub.url: sub for sub in subscriptions}
    counts = {sub.url: _FeedCounts() for sub in subscriptions}
    by_feed: dict[str, list[StoredEntry]] = defaultdict(list)
    for entry in entries:
        if entry.feed_url in subs:
            by_feed[entry.feed_url].append(entry)

    candidates: list[StoredEntry] = []
    for url, feed_entries in by_feed.items():
        sub, c, state = subs[url], counts[url], states.get(url)
        hold = policy.held_back(
            feed_entries,
            new_blog=_new_blog(state),
            imported_at=state.imported_at if state else None,
            new_feed_items=settings.planet.new_feed_items,
        )
        c.stored = len(feed_entries)
        for entry in feed_entries:
            if entry.key in hold:
                c.held_back += 1
            elif not policy.passes_filter(
                entry,
                own=sub.filter,
                include=settings.filter.include,
                exclude=settings.filter.exclude,
            ):
                c.filtered_out += 1
            else:
                candidates.append(entry)

    # The same post through two subscriptions is shown once, under the one that saw it first.
    shared = identity.shared_links(e for feed in by_feed.values() for e in feed)
    candidates.sort(key=lambda e: (e.first_seen, order[e.feed_url], e.key))
    seen: set[str] = set()
    shown: list[tuple[StoredEntry, bool]] = []
    for entry in candidates:
        names_one_post = (entry.feed_url, entry.canonical_link) not in shared
        keys = identity.same_post_keys(entry, link_names_one_post=names_one_post)
        if seen.intersection(keys):
            continue
        seen.update(keys)
        shown.append((entry, names_one_post))
        c = counts[entry.feed_url]
        c.shown += 1
        if c.newest is None or entry.date > c.newest:
            c.newest = entry.date

    feed_views = {
        sub.url: _feed_view(sub, states.get(sub.url), counts[sub.url]) for sub in subscriptions
    }
    refs = {url: view.ref for url, view in feed_views.items()}
    order_by = settings.render.order
    shown.sort(
        key=lambda pair: (
            policy.placement_date(pair[0], order_by),
            pair[0].first_seen,
            pair[0].feed_url,
            pair[0].key,
        ),
        reverse=True,
    )
    entry_views = [
        EntryView(
            id=identity.entry_id(e, settings.planet.url, link_names_one_post=names_one_post),
            link=e.link,
            title=e.title,
            content=e.content,
            summary=e.summary,
            author=e.author,
            date=policy.placement_date(e, order_by),
            updated=policy.shown_updated(e),
            feed=refs[e.feed_url],
            categories=e.categories,
            content_hash=e.content_hash,
        )
        for e, names_one_post in shown
    ]
    return entry_views, list(feed_views.values())


def _new_blog(state: FeedState | None) -> bool:
    """A blog that joined the planet after its first run (see campplanet.policy)."""
    return state is not None and not state.at_founding


def _feed_view(sub: Subscription, state: FeedState | None, c: _FeedCounts) -> FeedView:
    title = sub.title or (state.title if state else None) or sub.url
    return FeedView(
        url=sub.url,
        title=title,
        site=publishable(sub.html_url or (state.link if state else None)),
        avatar=publishable(sub.avatar or (state.image if state else None)),
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
        new_blog=_new_blog(state),
    )
