"""The pure decisions of campplanet.policy, table by table."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from campplanet.identity import merge_entry
from campplanet.policy import (
    EARLIEST_DATE,
    entry_date,
    filter_text,
    held_back,
    passes_filter,
    placement_date,
    shown_updated,
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
    change = merge_entry("f", None, parsed(published=NOW - age), NOW, imported=feed_imported)
    assert change.entry.backdated is backdated
    assert placement_date(change.entry, "date") == NOW - age
    expected = NOW if backdated else NOW - age
    assert placement_date(change.entry, "first_seen") == expected


@pytest.mark.parametrize("count", [0, 1, 3, 10, 50])
@pytest.mark.parametrize("keep", [0, 1, 3, 60])
def test_held_back_keeps_the_newest(count, keep):
    entries = [
        merge_entry("f", None, parsed(f"k{i}", published=NOW - i * HOUR), NOW, imported=False).entry
        for i in range(count)
    ]
    later = NOW + 24 * HOUR
    newer = merge_entry("f", None, parsed("later", published=later), later, imported=True).entry
    hidden = held_back([*entries, newer], new_blog=True, imported_at=NOW, new_feed_items=keep)
    assert "later" not in hidden  # published after the first import: shown as it comes
    assert len(hidden) == max(0, count - keep)
    shown = [e for e in entries if e.key not in hidden]
    if hidden and shown:
        assert min(e.date for e in shown) > max(e.date for e in entries if e.key in hidden)


def _stored(title="LocalGovCamp 2026: what I learned", content="<p>Notes</p>", cats=()):
    entry = merge_entry("f", None, parsed(title=title, content=content), NOW, imported=False)
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
    text = filter_text(entry.title, entry.categories, entry.content, entry.summary)
    assert passes_filter(text, own=own, include=include, exclude=exclude) is shown


def test_filter_text_decodes_entities_and_drops_markup():
    text = filter_text("T", ("tag",), "<p>Local&shy;Gov &amp; <b>Camp</b> &#35;lgc26</p>", "s")
    assert "LocalGov" not in text  # a soft hyphen is a character, not nothing
    assert "& Camp #lgc26" in text and "<b>" not in text


def test_held_back_only_for_a_new_blog():
    entries = [
        merge_entry("f", None, parsed(f"k{i}", published=NOW - i * HOUR), NOW, imported=False).entry
        for i in range(10)
    ]
    assert held_back(entries, new_blog=False, imported_at=NOW, new_feed_items=3) == set()
    assert held_back(entries, new_blog=True, imported_at=None, new_feed_items=3) == set()
    assert len(held_back(entries, new_blog=True, imported_at=NOW, new_feed_items=3)) == 7


@pytest.mark.parametrize(
    ("updated", "seen", "expected"),
    [
        (None, NOW, NOW - 2 * HOUR),  # no updated date: the entry's date
        (NOW - HOUR, NOW, NOW - HOUR),  # a real edit
        (NOW - 3 * HOUR, NOW, NOW - 2 * HOUR),  # "updated" before its own date
        (datetime(9999, 12, 31, tzinfo=UTC), NOW, NOW - 2 * HOUR),  # far future
        (NOW + 4 * HOUR, NOW + 5 * HOUR, NOW + 4 * HOUR),  # edited later, seen later
    ],
)
def test_shown_updated_is_plausible(updated, seen, expected):
    entry = merge_entry("f", None, parsed(published=NOW - 2 * HOUR), NOW, imported=False).entry
    assert shown_updated(replace(entry, updated=updated, last_seen=seen)) == expected
