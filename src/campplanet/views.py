"""From stored entries to what the planet shows: flood control, filters, de-duplication
across subscriptions and order, applied to the store as a stream.

The rules are :mod:`campplanet.policy`'s and :mod:`campplanet.identity`'s; this module applies
them in one pass over the entries, earliest seen first, reading no entry's text unless a
filter needs it and keeping nothing but the chosen rows' ids (in the storage's ``shown``
table, in display order). So choosing and rendering cost memory in proportion to the
subscriptions and to the pages rendered, not to the entries stored.

:class:`StoredShown` then hands the renderer the shown entries a page at a time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from campplanet import camps, identity, policy
from campplanet.config import Settings
from campplanet.health import health
from campplanet.storage import Candidate, Storage, format_time, parse_time
from campplanet.types import EntryView, FeedRef, FeedState, FeedView, StoredEntry, Subscription
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
    newest: str = ""  # the newest shown entry's date, as stored


@dataclass(frozen=True)
class Selection:
    """What the planet shows: ``shown`` entries (kept in the storage, in display order) and
    every subscription, in subscription-list order."""

    shown: StoredShown
    feeds: list[FeedView]


def select(
    settings: Settings,
    subscriptions: Sequence[Subscription],
    states: dict[str, FeedState],
    storage: Storage,
) -> Selection:
    """Decide which stored entries the planet shows, and in what order; describe every
    subscription. The same post reached through several subscriptions is shown once,
    under the one that saw it first (then the one listed first).

    When filters apply, every entry is looked at (its text decides). Otherwise every entry
    is picked in bulk and only those a rule may turn away are looked at one by one: the
    entries of blogs that joined late (flood control) and those whose link or id another
    feed also carries (duplicates). The decisions are the same either way.
    """
    subs = {sub.url: sub for sub in subscriptions}
    storage.choose_from(list(subs))
    held = _held_back(settings, states, storage)
    own_filters = {url: sub.filter for url, sub in subs.items()}
    include, exclude = settings.filter.include, settings.filter.exclude
    filtering = any(policy.filters_apply(f, include, exclude) for f in own_filters.values())
    shared = storage.links_shared_in_a_feed()
    links, ids = storage.in_several_feeds()
    several = {"link:" + link for link in links} | {"guid:" + guid for guid in ids}
    no_keys: set[str] = set()
    order_by = settings.render.order
    windows = _camp_windows(settings)
    storage.use_camps(windows, {camp.slug: camps.pattern_key(camp) for camp in settings.camps})

    storage.start_picking()
    if filtering:
        entries = storage.candidates(text=True)
    else:
        entries = storage.candidates(text=False, only=(set(held), links, ids))

    counts = {url: _FeedCounts() for url in subs}
    seen: set[str] = set()  # same-post keys of shown entries that other feeds also carry
    camp_seen: set[str] = set()  # the same for camps, which flood control does not hide
    picked: list[tuple[int, str, bool]] = []
    turned_away: list[int] = []
    looked_at: list[int] = []
    for_camps: list[tuple[int, str, str, bool, int, str]] = []
    for entry in entries:
        c = counts[entry.feed_url]
        c.stored += 1
        looked_at.append(entry.rowid)
        is_held = entry.key in held.get(entry.feed_url, ())
        if filtering and not policy.passes_filter(
            _filter_text(entry), own=own_filters[entry.feed_url], include=include, exclude=exclude
        ):
            c.filtered_out += not is_held
            c.held_back += is_held
            continue
        names_one_post = (entry.feed_url, entry.canonical_link) not in shared
        keys = no_keys  # no other feed carries its link or id: no same-post keys to look at
        if entry.canonical_link in links or entry.guid in ids:
            keys = several.intersection(
                identity.same_post_keys(entry, link_names_one_post=names_one_post)
            )
        placed = policy.placement_date(entry, order_by)
        if windows and _first_time(keys, camp_seen):
            for slug, (start, end) in windows.items():
                if start <= placed < end:
                    for_camps.append(
                        (entry.rowid, slug, placed, names_one_post, entry.revision, entry.feed_url)
                    )
        if is_held:
            c.held_back += 1
            turned_away.append(entry.rowid)
        elif not _first_time(keys, seen):
            turned_away.append(entry.rowid)
        elif filtering:
            c.shown += 1
            c.newest = max(c.newest, entry.date)
            picked.append((entry.rowid, placed, names_one_post))
    if filtering:
        storage.pick(picked)
        total = storage.finish_picking()
    else:
        placed_by = {flag: policy.placement_source(order_by, flag) for flag in (True, False)}
        total = storage.show_all_but(turned_away, placed_by)
        if windows:
            storage.pick_for_camps_in(looked_at)
        for url, (stored, shown, newest) in storage.counts_per_feed().items():
            c = counts[url]
            c.stored, c.shown, c.newest = stored, shown, newest or ""
    storage.pick_for_camps(for_camps)
    _find_write_ups(settings, storage)

    feeds = [_feed_view(sub, states.get(sub.url), counts[sub.url]) for sub in subscriptions]
    refs = {view.url: view.ref for view in feeds}
    return Selection(StoredShown(storage, total, refs, settings), feeds)


def _first_time(keys: set[str], seen: set[str]) -> bool:
    """Whether none of a post's same-post ``keys`` was seen yet (then they are now)."""
    if not keys:
        return True
    if not seen.isdisjoint(keys):
        return False
    seen.update(keys)
    return True


def _camp_windows(settings: Settings) -> dict[str, tuple[str, str]]:
    """Each camp's window as stored times (which sort as text)."""
    tz = ZoneInfo(settings.planet.timezone)
    return {
        camp.slug: tuple(format_time(moment) for moment in camps.window(camp, tz))  # type: ignore[misc]
        for camp in settings.camps
    }


def _find_write_ups(settings: Settings, storage: Storage) -> None:
    """Mark the entries in a camp's window that are its write-ups. What an entry's text
    matched is remembered for the entry's revision: only entries new or changed since the
    last render (or tested against another pattern) are read and tested."""
    by_slug = {camp.slug: camp for camp in settings.camps}
    storage.recall_camp_matches()
    found: dict[tuple[str, int], tuple[str, int, int, bool]] = {}
    write_ups: list[tuple[int, str]] = []
    entry, text = None, ""
    for rowid, revision, slug, key, texts in storage.untested_camp_texts():
        if rowid != entry:  # an entry in several camps' windows: its text is made once
            title, categories, content, summary = texts
            tags = () if categories == "[]" else json.loads(categories)
            entry, text = rowid, policy.filter_text(title, tags, content, summary)
        if (key, rowid) not in found:
            found[key, rowid] = (key, rowid, revision, camps.matches(by_slug[slug], text))
        if found[key, rowid][3]:
            write_ups.append((rowid, slug))
    storage.mark_write_ups(write_ups)
    if found:
        storage.remember_camp_matches(list(found.values()))


def _held_back(
    settings: Settings, states: dict[str, FeedState], storage: Storage
) -> dict[str, set[str]]:
    """Keys held back by new-feed flood control, for each blog that joined late."""
    held = {}
    for url, state in states.items():
        if _new_blog(state) and state.imported_at is not None:
            held[url] = policy.held_back(
                storage.first_import(url, state.imported_at),
                new_blog=True,
                imported_at=state.imported_at,
                new_feed_items=settings.planet.new_feed_items,
            )
    return held


def _filter_text(entry: Candidate) -> str:
    assert entry.title is not None and entry.categories is not None
    tags = () if entry.categories == "[]" else json.loads(entry.categories)
    return policy.filter_text(entry.title, tags, entry.content or "", entry.summary or "")


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
        updated=parse_time(c.newest) if c.newest else None,
        new_blog=_new_blog(state),
    )


def entry_view(
    entry: StoredEntry,
    feed: FeedRef,
    settings: Settings,
    *,
    link_names_one_post: bool,
    camps: str = "",
) -> EntryView:
    """A shown entry as the templates and merged feeds see it."""
    return EntryView(
        id=identity.entry_id(entry, settings.planet.url, link_names_one_post=link_names_one_post),
        link=entry.link,
        title=entry.title,
        content=entry.content,
        summary=entry.summary,
        author=entry.author,
        date=policy.placement_date(entry, settings.render.order),
        updated=policy.shown_updated(entry),
        feed=feed,
        categories=entry.categories,
        content_hash=entry.content_hash,
        camps=tuple(camps.split()),
    )


class StoredShown:
    """The shown entries, newest first, read from the storage a page at a time (see
    :class:`campplanet.pages.Shown`)."""

    def __init__(
        self, storage: Storage, total: int, refs: dict[str, FeedRef], settings: Settings
    ) -> None:
        self.storage = storage
        self.total = total
        self.refs = refs
        self.settings = settings

    def __len__(self) -> int:
        return self.total

    def views(self, start: int, stop: int, *, text: bool = True) -> list[EntryView]:
        return self._views(self.storage.shown(start, stop, text=text))

    def _views(self, rows: Iterable[tuple[StoredEntry, bool, str]]) -> list[EntryView]:
        return [
            entry_view(e, self.refs[e.feed_url], self.settings, link_names_one_post=one, camps=c)
            for e, one, c in rows
        ]

    def versions(self) -> Iterator[tuple[str, str]]:
        """For every shown entry, in display order, its version (see
        :meth:`campplanet.storage.Storage.shown_versions`) and its blog's feed URL."""
        return self.storage.shown_versions()

    def blogs(self) -> dict[str, FeedRef]:
        return self.refs

    def camp(self, slug: str, *, write_ups: bool = True) -> list[EntryView]:
        """The write-ups of camp ``slug`` (or, without ``write_ups``, the near misses: posts
        in its window that did not match), oldest first."""
        return self._views(self.storage.camp_entries(slug, write_ups=write_ups))

    def camp_versions(self, slug: str) -> Iterator[tuple[str, str]]:
        return self.storage.camp_versions(slug)

    def camp_authors(self, slug: str) -> list[tuple[str | None, str]]:
        return self.storage.camp_authors(slug)
