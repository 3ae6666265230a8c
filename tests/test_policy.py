"""The pure decisions of campplanet.policy, table by table."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from campplanet.policy import (
    EARLIEST_DATE,
    entry_date,
    held_back,
    merge_entry,
    passes_filter,
    placement_date,
    same_post_keys,
)
from campplanet.types import ParsedEntry

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def parsed(key="k", *, published=None, updated=None, title="A post", content="<p>Hello</p>"):
    return ParsedEntry(
        key=key,
        link=f"https://blog.example/{key}",
        title=title,
        content=content,
        summary="Hello",
        published=published,
        updated=updated,
    )


@pytest.mark.parametrize(
    ("published", "updated", "expected"),
    [
        (NOW - HOUR, None, NOW - HOUR),  # published wins
        (NOW - HOUR, NOW - 2 * HOUR, NOW - HOUR),  # published over updated
        (None, NOW - 2 * HOUR, NOW - 2 * HOUR),  # else updated
        (None, None, NOW),  # else first seen
        (NOW + timedelta(minutes=4), None, NOW + timedelta(minutes=4)),  # within slack
        (NOW + timedelta(minutes=6), None, NOW),  # future: clamped
        (datetime(2103, 1, 1, tzinfo=UTC), None, NOW),  # far future: clamped
        (datetime(1970, 1, 1, tzinfo=UTC), None, NOW),  # epoch zero: first seen
        (EARLIEST_DATE - timedelta(seconds=1), None, NOW),  # before 1995
        (EARLIEST_DATE, None, EARLIEST_DATE),  # 1995 itself is fine
        (datetime(1990, 1, 1, tzinfo=UTC), NOW - HOUR, NOW),  # a bad published is not skipped
    ],
)
def test_entry_date(published, updated, expected):
    assert entry_date(published, updated, NOW) == expected


def test_new_entry_is_new_with_first_seen_now():
    change = merge_entry("f", None, parsed(published=NOW - HOUR), NOW, feed_imported=False)
    assert change.kind == "new"
    assert change.entry.first_seen == NOW
    assert change.entry.date == NOW - HOUR
    assert not change.entry.backdated


def test_same_entry_again_is_unchanged():
    first = merge_entry("f", None, parsed(published=NOW - HOUR), NOW, feed_imported=False).entry
    later = NOW + 2 * HOUR
    change = merge_entry("f", first, parsed(published=NOW - HOUR), later, feed_imported=True)
    assert change.kind == "unchanged"


def test_edit_updates_in_place_and_keeps_first_seen_and_date():
    first = merge_entry("f", None, parsed(updated=NOW - HOUR), NOW, feed_imported=False).entry
    later = NOW + 5 * HOUR
    edit = parsed(updated=later, title="A post (edited)")
    change = merge_entry("f", first, edit, later, feed_imported=True)
    assert change.kind == "updated"
    assert change.entry.title == "A post (edited)"
    assert change.entry.first_seen == NOW
    assert change.entry.date == NOW - HOUR  # never floats back to the top
    assert change.entry.key == first.key


def test_corrected_published_date_moves_the_entry():
    first = merge_entry("f", None, parsed(published=NOW - HOUR), NOW, feed_imported=False).entry
    change = merge_entry("f", first, parsed(published=NOW - 3 * HOUR), NOW, feed_imported=True)
    assert change.kind == "updated"
    assert change.entry.date == NOW - 3 * HOUR


def test_future_date_stays_clamped_on_later_fetches():
    future = datetime(2103, 1, 1, tzinfo=UTC)
    first = merge_entry("f", None, parsed(published=future), NOW, feed_imported=False).entry
    again = merge_entry("f", first, parsed(published=future), NOW + 100 * HOUR, feed_imported=True)
    assert again.kind == "unchanged"
    assert again.entry.date == NOW


@pytest.mark.parametrize(
    ("feed_imported", "age", "backdated"),
    [
        (False, timedelta(days=30), False),  # the first import is never "backdated"
        (True, timedelta(days=30), True),
        (True, timedelta(hours=23), False),
        (True, timedelta(days=1, seconds=1), True),
    ],
)
def test_backdated(feed_imported, age, backdated):
    change = merge_entry("f", None, parsed(published=NOW - age), NOW, feed_imported=feed_imported)
    assert change.entry.backdated is backdated
    assert placement_date(change.entry, "date") == NOW - age
    expected = NOW if backdated else NOW - age
    assert placement_date(change.entry, "first_seen") == expected


@pytest.mark.parametrize("count", [0, 1, 3, 10, 50])
@pytest.mark.parametrize("keep", [0, 1, 3, 60])
def test_held_back_keeps_the_newest(count, keep):
    entries = [
        merge_entry(
            "f", None, parsed(f"k{i}", published=NOW - i * HOUR), NOW, feed_imported=False
        ).entry
        for i in range(count)
    ]
    hidden = held_back(entries, keep)
    assert len(hidden) == max(0, count - keep)
    shown = [e for e in entries if e.key not in hidden]
    if hidden and shown:
        assert min(e.date for e in shown) > max(e.date for e in entries if e.key in hidden)


def _stored(title="LocalGovCamp 2026: what I learned", content="<p>Notes</p>", cats=()):
    entry = merge_entry("f", None, parsed(title=title, content=content), NOW, feed_imported=False)
    return replace(entry.entry, categories=cats)


@pytest.mark.parametrize(
    ("entry", "own", "include", "exclude", "shown"),
    [
        (_stored(), None, "", "", True),
        (_stored(), None, "localgovcamp", "", True),
        (_stored(), None, "LOCALGOVCAMP", "", True),  # case-insensitive
        (_stored(title="Holiday snaps"), None, "localgovcamp", "", False),
        (_stored(title="Weeknotes", cats=("LocalGovCamp",)), None, "localgovcamp", "", True),
        (_stored(title="Weeknotes", content="<p>At #LGC26 today</p>"), None, "lgc26", "", True),
        (
            _stored(title="Weeknotes", content="<a href='/localgovcamp'>x</a>"),
            None,
            "localgovcamp",
            "",
            False,
        ),  # markup is not text
        (_stored(), None, "localgovcamp", "sponsored", True),
        (_stored(title="LocalGovCamp (sponsored)"), None, "localgovcamp", "sponsored", False),
        (_stored(title="Sponsored"), None, "", "sponsored", False),
        (_stored(title="Holiday snaps"), ".*", "localgovcamp", "", True),  # own filter decides
        (_stored(title="LocalGovCamp"), "^nothing$", "localgovcamp", "", False),
    ],
)
def test_passes_filter(entry, own, include, exclude, shown):
    assert passes_filter(entry, own=own, include=include, exclude=exclude) is shown


def test_same_post_keys():
    entry = replace(_stored(), guid="tag:blog.example,2026:1")
    assert set(same_post_keys(entry, "https://blog.example/a")) == {
        "link:https://blog.example/a",
        "guid:tag:blog.example,2026:1",
    }
    assert list(same_post_keys(replace(entry, guid="42"), None)) == []  # "42" is not global
