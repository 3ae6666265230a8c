"""campplanet.identity: which entries are the same post, and how a fetch merges into the
store. Table tests for each rule, then the defects other projects' feeds found."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campplanet.identity import (
    Change,
    entry_id,
    entry_key,
    merge_entry,
    newest_revisions,
    plan_feed_update,
    same_post_keys,
)
from campplanet.types import FeedState, ParsedEntry, ParsedFeed
from campplanet.urls import canonical_link
from planetkit import URLS

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
FEED = "https://blog.example/feed"


def parsed(key="k", *, published=None, updated=None, title="A post", content="<p>Hello</p>",
           link=None, guid=None):  # fmt: skip
    return ParsedEntry(
        key=key,
        link=link if link is not None else f"https://blog.example/{key}",
        title=title,
        content=content,
        summary="Hello",
        published=published,
        updated=updated,
        guid=guid,
    )


def test_entry_key_rule() -> None:
    assert entry_key("  tag:x,2024:1 ", "https://a/1", "t", "c") == "tag:x,2024:1"
    assert entry_key(None, "http://A.example/p/?utm_medium=x", "t", "c") == "https://a.example/p"
    assert entry_key("  ", "https://a.example/p", "t", "c") == "https://a.example/p"
    hashed = entry_key(None, None, "Title", "<p>c</p>")
    assert hashed == entry_key("", "", "Title", "<p>c</p>")
    assert hashed != entry_key(None, None, "Title", "<p>d</p>")
    assert len(hashed) == len("sha256:") + 64


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.none(), st.text(max_size=30)),
    st.one_of(st.none(), URLS),
    st.text(max_size=30),
    st.text(max_size=60),
    st.text(max_size=30),
)
def test_entry_key_is_stable(
    guid: str | None, link: str | None, title: str, content: str, edit: str
) -> None:
    key = entry_key(guid, link, title, content)
    assert key == entry_key(guid, link, title, content)
    assert key and key == key.strip()
    if (guid and guid.strip()) or canonical_link(link):
        # an edited title or body does not change the identity of an entry with a guid or link
        assert entry_key(guid, link, title + edit, content + edit) == key
    else:
        assert key.startswith("sha256:")


def test_new_entry_is_new_with_first_seen_now():
    change = merge_entry("f", None, parsed(published=NOW - HOUR), NOW, imported=False)
    assert change.kind is Change.NEW
    assert change.entry.first_seen == NOW
    assert change.entry.date == NOW - HOUR
    assert not change.entry.backdated


def test_same_entry_again_is_unchanged():
    first = merge_entry("f", None, parsed(published=NOW - HOUR), NOW, imported=False).entry
    later = NOW + 2 * HOUR
    change = merge_entry("f", first, parsed(published=NOW - HOUR), later, imported=True)
    assert change.kind is Change.UNCHANGED


def test_edit_updates_in_place_and_keeps_first_seen_and_date():
    first = merge_entry("f", None, parsed(updated=NOW - HOUR), NOW, imported=False).entry
    later = NOW + 5 * HOUR
    edit = parsed(updated=later, title="A post (edited)")
    change = merge_entry("f", first, edit, later, imported=True)
    assert change.kind is Change.UPDATED
    assert change.entry.title == "A post (edited)"
    assert change.entry.first_seen == NOW
    assert change.entry.date == NOW - HOUR  # never floats back to the top
    assert change.entry.key == first.key


def test_corrected_published_date_moves_the_entry():
    first = merge_entry("f", None, parsed(published=NOW - HOUR), NOW, imported=False).entry
    change = merge_entry("f", first, parsed(published=NOW - 3 * HOUR), NOW, imported=True)
    assert change.kind is Change.UPDATED
    assert change.entry.date == NOW - 3 * HOUR


def test_future_date_stays_clamped_on_later_fetches():
    future = datetime(2103, 1, 1, tzinfo=UTC)
    first = merge_entry("f", None, parsed(published=future), NOW, imported=False).entry
    again = merge_entry("f", first, parsed(published=future), NOW + 100 * HOUR, imported=True)
    assert again.kind is Change.UNCHANGED
    assert again.entry.date == NOW


def test_same_post_keys():
    entry = merge_entry("f", None, parsed("a", guid="tag:blog.example,2026:1"), NOW, imported=False)
    assert set(same_post_keys(entry.entry, link_names_one_post=True)) == {
        "link:https://blog.example/a",
        "guid:tag:blog.example,2026:1",
    }
    assert same_post_keys(entry.entry, link_names_one_post=False) == [
        "guid:tag:blog.example,2026:1"
    ]
    no_global = replace(entry.entry, guid="42", canonical_link=None)
    assert same_post_keys(no_global, link_names_one_post=True) == []  # "42" is not global


# --- the defects other projects' feeds found ------------------------------------------------


def plan(*documents: list[ParsedEntry]):
    """Merge each document in turn into an empty store; returns the store and the updates."""
    state, stored, updates = FeedState(url=FEED, added=NOW), {}, []
    for number, entries in enumerate(documents):
        feed = ParsedFeed(title="Blog", link=None, entries=tuple(entries))
        update = plan_feed_update(state, list(stored.values()), feed, NOW + number * HOUR)
        stored.update({e.key: e for e in update.entries})
        state = update.state
        updates.append(update)
    return stored, updates


def episode(n: int, *, link="https://podcast.example/show/", guid=True, day=None):
    return parsed(
        f"ep-{n}" if guid else entry_key(None, link, f"Episode {n}", ""),
        guid=f"ep-{n}" if guid else None,
        link=link,
        title=f"Episode {n}",
        published=NOW - timedelta(days=day if day is not None else 7 * n),
    )


def test_posts_with_their_own_ids_that_share_one_link_stay_apart():
    """A podcast whose episodes link to the show page (like the RSS 2.0 specification's
    own sample: 9 items, one link): 9 posts, not one."""
    stored, (update,) = plan([episode(n) for n in range(9)])
    assert update.new == 9 and len(stored) == 9


def test_a_new_episode_is_new_while_the_old_one_is_still_in_the_feed():
    stored, (_, second) = plan([episode(1)], [episode(2), episode(1)])
    assert (second.new, second.updated) == (1, 0)
    assert sorted(stored) == ["ep-1", "ep-2"]


def test_a_new_episode_after_the_old_one_left_the_feed_is_new():
    stored, (_, second) = plan([episode(1)], [episode(2)])
    assert second.new == 1 and sorted(stored) == ["ep-1", "ep-2"]


def test_posts_that_differ_only_by_fragment_stay_apart():
    week = "https://blog.example/weeknotes/"
    notes = [episode(n, link=f"{week}#day-{n}", guid=False, day=n) for n in range(5)]
    stored, (update,) = plan(notes)
    assert update.new == 5 and len(stored) == 5
    assert len({e.canonical_link for e in stored.values()}) == 5


def test_a_platform_migration_changes_every_id_and_keeps_every_post():
    before = [parsed(f"https://old.example/?p={n}", guid=f"https://old.example/?p={n}",
                     link=f"https://blog.example/post-{n}/", published=NOW - n * HOUR)
              for n in range(4)]  # fmt: skip
    after = [replace(e, key=f"urn:uuid:{n}", guid=f"urn:uuid:{n}") for n, e in enumerate(before)]
    stored, (_, moved) = plan(before, after)
    assert (moved.new, len(stored)) == (0, 4)


def test_a_repeated_id_keeps_its_newest_revision():
    old = parsed("p", title="First draft", updated=NOW - 2 * HOUR)
    new = parsed("p", title="Final", updated=NOW - HOUR)
    assert [e.title for e in newest_revisions([old, new])] == ["Final"]
    assert [e.title for e in newest_revisions([new, old])] == ["Final"]
    undated = [parsed("p", title="Listed first"), parsed("p", title="Listed second")]
    assert [e.title for e in newest_revisions(undated)] == ["Listed first"]
    stored, (first, again) = plan([old, new, parsed("q")], [new, old, parsed("q")])
    assert stored["p"].title == "Final"
    assert (first.new, again.new, again.updated) == (2, 0, 0)  # no false "updated" counts


@pytest.mark.parametrize(
    ("guid", "link", "expected"),
    [
        ("urn:uuid:1", "https://a.example/1", "urn:uuid:1"),
        ("https://a.example/?p=1", None, "https://a.example/?p=1"),
        ("42", "https://a.example/1", "https://a.example/1"),
        ("http:///example.com/x", "https://a.example/1", "https://a.example/1"),
        ("post 123", None, None),  # minted
        ("tag:a b,2026:1", None, None),  # a space: not a URI
        (None, "https://a.example/1", "https://a.example/1"),
    ],
)
def test_published_ids_are_valid_uris(guid, link, expected):
    entry = merge_entry(FEED, None, parsed("k", guid=guid, link=link or ""), NOW, imported=False)
    entry = replace(entry.entry, link=link)
    got = entry_id(entry, "https://planet.example.org/")
    if expected is None:
        assert got.startswith("tag:planet.example.org,2026:entry/")
        assert got == entry_id(entry, "https://planet.example.org/")  # stable
    else:
        assert got == expected
