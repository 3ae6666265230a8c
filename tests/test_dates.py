"""Dates from feeds, whatever they say: a value can cost its entry, never the feed, the run
or the database. Any string or number in any date field of RSS, Atom or JSON Feed parses
(to a date or to none), is stored, and reads back as it was."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campplanet import policy
from campplanet.identity import merge_entry
from campplanet.parse import parse_feed
from campplanet.storage import Storage
from campplanet.types import FeedState
from planetkit import atom_document, rss_document

URL = "https://blog.example/feed"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

# Date-shaped text at the edges: years 0 to 9999 and beyond, offsets, .NET's "no date".
years = st.integers(0, 12000).map(lambda y: f"{y:04d}" if y < 10000 else str(y))
iso = st.builds(
    lambda y, mo, d, h, off: f"{y}-{mo:02d}-{d:02d}T{h:02d}:30:02{off}",
    years,
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 25),
    st.sampled_from(["Z", "+05:00", "-05:00", "", "+14:00", "-12:00", ".5Z", "+99:99"]),
)
rfc822 = st.builds(
    lambda d, y, off: f"Mon, {d:02d} Jan {y} 00:00:00 {off}",
    st.integers(0, 32),
    years,
    st.sampled_from(["GMT", "+0000", "-0500", "+0530", "XYZ", ""]),
)
known = st.sampled_from(
    [
        "0103-12-13T18:30:02Z",
        "Mon, 01 Jan 0001 00:00:00 GMT",
        "0001-01-01T00:00:00",
        "9999-12-31T23:59:59-05:00",
        "0001-01-01T00:00:00+05:00",
        "2103-01-01T00:00:00Z",
        "",
        "  ",
        "yesterday",
    ]
)
date_text = st.one_of(known, iso, rfc822, st.text(max_size=40))
json_value = st.one_of(
    date_text, st.integers(-(10**20), 10**20), st.floats(), st.none(), st.booleans()
)


def rss(field: str, value: str) -> bytes:
    """A feed of one post dated by ``<field>value</field>``."""
    return rss_document(
        "<item><guid>https://blog.example/p</guid><title>A post</title>"
        f"<{field}>{escape(value)}</{field}></item>",
        channel="<title>Blog</title>",
    )


def atom(field: str, value: str) -> bytes:
    """A feed of one entry dated by ``<field>value</field>``."""
    return atom_document(
        "<entry><id>tag:blog.example,2026:p</id><title>A post</title>"
        f"<{field}>{escape(value)}</{field}></entry>",
        feed="<title>Blog</title>",
    )


def json_feed(field: str, value: object) -> bytes:
    item = {"id": "p", "title": "A post", "content_text": "x", field: value}
    document = {"version": "https://jsonfeed.org/version/1.1", "title": "Blog", "items": [item]}
    return json.dumps(document).encode()


def stored_and_read_back(tmp_path, body: bytes) -> None:
    """Parse ``body``: its one entry must come through, store it, read it back equal."""
    feed = parse_feed(body, URL)
    assert len(feed.entries) == 1
    (item,) = feed.entries
    for moment in (item.published, item.updated):
        assert moment is None or moment.tzinfo is UTC
    entry = merge_entry(URL, None, item, NOW, imported=False).entry
    assert policy.entry_date(item.published, item.updated, NOW) == entry.date
    assert entry.date <= NOW + policy.FUTURE_SLACK and entry.date >= policy.EARLIEST_DATE
    with Storage(tmp_path / "p.db") as storage:
        with storage.transaction():
            storage.save_feed(FeedState(url=URL))
            storage.save_entries([entry])
        (back,) = storage.entries_of(URL)
        storage.db.execute("DELETE FROM entries")
    assert (back.published, back.updated, back.date) == (entry.published, entry.updated, entry.date)


FIELDS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FIELDS
@given(
    field=st.sampled_from(["pubDate", "dc:date", "atom:updated", "atom:published"]), value=date_text
)
def test_any_rss_date(tmp_path, field, value):
    stored_and_read_back(tmp_path, rss(field, value))


@FIELDS
@given(field=st.sampled_from(["published", "updated", "issued", "modified"]), value=date_text)
def test_any_atom_date(tmp_path, field, value):
    stored_and_read_back(tmp_path, atom(field, value))


@FIELDS
@given(field=st.sampled_from(["date_published", "date_modified"]), value=json_value)
def test_any_json_feed_date(tmp_path, field, value):
    stored_and_read_back(tmp_path, json_feed(field, value))


@pytest.mark.parametrize(
    "body",
    [
        atom("updated", "0103-12-13T18:30:02Z"),
        rss("pubDate", "Mon, 01 Jan 0001 00:00:00 GMT"),
        rss("dc:date", "0001-01-01T00:00:00"),
        json_feed("date_published", "9999-12-31T23:59:59-05:00"),
        json_feed("date_modified", "0001-01-01T00:00:00+05:00"),
    ],
)
def test_the_dates_that_bricked_the_planet(tmp_path, body):
    stored_and_read_back(tmp_path, body)
    entry = parse_feed(body, URL).entries[0]
    placed = policy.entry_date(entry.published, entry.updated, NOW)
    assert placed == NOW  # outside the range the planet shows: placed when first seen
