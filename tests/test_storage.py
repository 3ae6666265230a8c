"""campplanet.storage: round trips, transactions, migrations."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlite_utils

from campplanet import storage
from campplanet.exceptions import StorageError
from campplanet.identity import merge_entry
from campplanet.storage import SCHEMA_VERSION, Storage
from campplanet.tidy import tidy_html
from campplanet.types import FeedState, ParsedEntry, content_digest

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def entry(key: str, feed: str = "https://a.example/feed", hours: int = 1):
    item = ParsedEntry(
        key=key,
        link=f"https://a.example/{key}",
        title=f"Post {key} — “quoted” & <odd>",
        content="<p>Hello</p>",
        summary="Hello",
        author="Ann",
        published=NOW - timedelta(hours=hours),
        categories=("LocalGovCamp", "weeknotes"),
        guid=f"https://a.example/{key}",
    )
    return merge_entry(feed, None, item, NOW, imported=False).entry


def test_feed_state_round_trip(tmp_path):
    state = FeedState(
        url="https://a.example/feed",
        etag='W/"x"',
        added=NOW,
        last_success=NOW,
        last_status=200,
        failures=2,
        gone=True,
        imported_at=NOW,
    )
    with Storage(tmp_path / "p.db") as s, s.transaction():
        s.save_feed(state)
    with Storage(tmp_path / "p.db") as s:
        assert s.feed_state(state.url) == state


def test_entries_round_trip_whole_or_without_their_text(tmp_path):
    with Storage(tmp_path / "p.db") as s:
        with s.transaction():
            s.save_feed(FeedState(url="https://a.example/feed"))
            s.save_entries([entry("a", hours=3)])
            s.save_entries([entry("b", hours=1)])
        got = sorted(s.entries_of("https://a.example/feed"), key=lambda e: e.key)
        slim = {e.key: e for e in s.entries_of("https://a.example/feed", text=False)}
    assert [e.key for e in got] == ["a", "b"]
    a = entry("a", hours=3)
    assert got[0] == replace(a, content_hash=content_digest(a.content, a.summary))
    assert got[0].canonical_link == "https://a.example/a"
    assert slim["a"] == replace(got[0], content="", summary="")  # the hash stands for them


def test_the_content_hash_always_follows_the_content(tmp_path):
    with Storage(tmp_path / "p.db") as s:
        with s.transaction():
            s.save_feed(FeedState(url="https://a.example/feed"))
            s.save_entries([entry("a")])
        (stored,) = s.entries_of("https://a.example/feed")
        assert stored.content_hash == content_digest("<p>Hello</p>", "Hello")
        with s.transaction():  # an edit made on the entry read back: its hash is stale
            s.save_entries([replace(stored, content="<p>Edited</p>")])
        (edited,) = s.entries_of("https://a.example/feed")
    assert edited.content_hash == content_digest("<p>Edited</p>", "Hello")
    assert content_digest("<p>Edited</p>", "") != content_digest("<p>Edited</p>", "Hello")


def test_failed_transaction_leaves_nothing(tmp_path):
    with Storage(tmp_path / "p.db") as s:
        with pytest.raises(RuntimeError), s.transaction():
            s.save_feed(FeedState(url="https://a.example/feed"))
            s.save_entries([entry("a")])
            raise RuntimeError("killed half-way")
        assert s.feed_states() == {}
        assert s.entries_of("https://a.example/feed") == []


def test_prune_deletes_feeds_not_kept(tmp_path):
    with Storage(tmp_path / "p.db") as s:
        with s.transaction():
            for feed in ("https://a.example/feed", "https://b.example/feed"):
                s.save_feed(FeedState(url=feed))
                s.save_entries([entry("x", feed=feed), entry("y", feed=feed)])
        assert s.prune(["https://a.example/feed"]) == (1, 2)
        assert set(s.feed_states()) == {"https://a.example/feed"}
        assert sorted(e.key for e in s.entries_of("https://a.example/feed")) == ["x", "y"]
        assert s.entries_of("https://b.example/feed") == []


def test_schema_version_and_newer_database_refused(tmp_path):
    path = tmp_path / "p.db"
    Storage(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StorageError, match="newer campplanet"):
        Storage(path)


def test_version_1_database_gets_its_content_tidied(tmp_path):
    path = tmp_path / "p.db"
    db = sqlite_utils.Database(path)
    storage._v1(db)
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO feeds (url) VALUES ('https://a.example/feed')")
    untidy = "<h1>Title</h1><b><div>block in bold</div></b><img src='https://a.example/i.png'>"
    db.execute(
        "INSERT INTO entries (feed_url, key, title, content, summary, first_seen, date)"
        " VALUES ('https://a.example/feed', 'k', 't', ?, '', '2026-11-26T00:00:00Z',"
        " '2026-11-26T00:00:00Z')",
        [untidy],
    )
    db.conn.commit()
    db.conn.close()
    with Storage(path) as s:
        (stored,) = s.entries_of("https://a.example/feed")
    assert stored.content == tidy_html(untidy) != untidy
    assert stored.content_hash == content_digest(stored.content, "")  # schema 3
    assert "<h4>Title</h4>" in stored.content and 'alt=""' in stored.content
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "p.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="cannot open the database"):
        Storage(path)


def test_meta(tmp_path):
    with Storage(tmp_path / "p.db") as s:
        assert s.get_meta("x") is None
        s.set_meta("x", "1")
        s.set_meta("x", "2")
        assert s.get_meta("x") == "2"
        assert s.integrity_ok()


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(103, 12, 13, 18, 30, 2, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 6, 19, 9, 0, tzinfo=UTC),
    ],
)
def test_any_year_is_stored_and_read_back(tmp_path, moment):
    """A date from a feed can cost its entry, never the database: every year a datetime
    holds is written with a four-digit year, reads back, and sorts as text."""
    assert storage.format_time(moment) is not None
    assert len(storage.format_time(moment)) == 20
    with Storage(tmp_path / "p.db") as s:
        with s.transaction():
            s.save_feed(FeedState(url="https://a.example/feed"))
            s.save_entries([replace(entry("a"), published=moment, updated=moment)])
        (back,) = s.entries_of("https://a.example/feed")
    assert back.published == moment and back.updated == moment


def _version_3_database(path, rows):
    """A database as campplanet wrote it at schema 3, with the given entry rows."""
    db = sqlite_utils.Database(path)
    for migration in storage.MIGRATIONS[:3]:
        migration(db)
    db.execute("PRAGMA user_version = 3")
    db.execute(
        "INSERT INTO feeds (url, added, imported_at) VALUES "
        "('https://a.example/feed', '2026-06-01T10:00:00Z', '2026-06-01T10:00:00Z'),"
        "('https://b.example/feed', '2026-06-03T10:00:00Z', '2026-06-03T10:00:00Z')"
    )
    for key, published, hidden in rows:
        db.execute(
            "INSERT INTO entries (feed_url, key, link, title, content, summary, published,"
            " first_seen, date, hidden_new_feed) VALUES ('https://a.example/feed', ?,"
            " 'https://a.example/p#x', 't', '<p>x</p>', 'x', ?, '2026-06-01T10:00:00Z',"
            " '2026-06-01T10:00:00Z', ?)",
            [key, published, hidden],
        )
    db.conn.commit()
    db.conn.close()


def test_a_database_bricked_by_an_unpadded_year_is_repaired_by_the_upgrade(tmp_path):
    """Schema 3 wrote year 103 as "103-12-13T18:30:02Z", which no reader accepts: every
    later run crashed on it. Opening the database with this version repairs it."""
    path = tmp_path / "p.db"
    _version_3_database(path, [("old", "103-12-13T18:30:02Z", 0), ("net", "1-01-01T00:00:00Z", 1)])
    with Storage(path) as s:
        got = {e.key: e for e in s.entries_of("https://a.example/feed")}
        assert got["old"].published == datetime(103, 12, 13, 18, 30, 2, tzinfo=UTC)
        assert got["net"].published == datetime(1, 1, 1, tzinfo=UTC)
        # the per-entry flood-control verdict is gone; the founding time is a fact now
        assert s.founded() == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
        states = s.feed_states()
        assert states["https://a.example/feed"].at_founding
        assert not states["https://b.example/feed"].at_founding
        assert "hidden_new_feed" not in s.db["entries"].columns_dict
        # the canonical link follows today's rule (the fragment is part of it)
        assert got["old"].canonical_link == "https://a.example/p#x"
        assert s.integrity_ok()


def test_record_subscriptions_keeps_the_first_sighting_and_the_founding(tmp_path):
    later = NOW + timedelta(days=3)
    with Storage(tmp_path / "p.db") as s:
        assert s.founded() is None
        s.record_subscriptions(["https://a.example/feed"], NOW)
        s.record_subscriptions(["https://a.example/feed", "https://b.example/feed"], later)
        states = s.feed_states()
        assert s.founded() == NOW
    assert states["https://a.example/feed"].added == NOW
    assert states["https://b.example/feed"].added == later
    assert states["https://a.example/feed"].at_founding
    assert not states["https://b.example/feed"].at_founding
    assert states["https://b.example/feed"].last_attempt is None


def test_derived_columns_follow_the_rules_of_this_version(tmp_path):
    """Content is stored tidy and links canonical by the rules of the campplanet that
    wrote them; after an upgrade that changed the rules, they are derived again, once, and
    the rows that changed get a new revision (what is remembered of a row is for its
    revision: see test_camps)."""
    path = tmp_path / "p.db"
    untidy = "<h1>Title</h1><b><div>block in bold</div></b><img src='https://a.example/i.png'>"
    revisions = "SELECT key, revision FROM entries ORDER BY key"
    with Storage(path) as s, s.transaction():
        s.save_feed(FeedState(url="https://a.example/feed"))
        s.save_entries([entry(f"{n:03}") for n in range(600)])  # a batch that changes nothing
        s.save_entries([replace(entry("a"), content=untidy, canonical_link="stale"), entry("b")])
        s.set_meta("derived", "rules of an older campplanet")
        before = dict(s.db.execute(revisions).fetchall())
    with Storage(path) as s:
        stored = next(e for e in s.entries_of("https://a.example/feed") if e.key == "a")
        assert s.get_meta("derived") == storage.derived_rules_signature()
        after = dict(s.db.execute(revisions).fetchall())
    assert after["b"] == before["b"] and after["a"] > before["a"]
    assert stored.content == tidy_html(untidy) != untidy
    assert stored.content_hash == content_digest(stored.content, stored.summary)
    assert stored.canonical_link == "https://a.example/a"
    assert "<h4>Title</h4>" in stored.content and 'alt=""' in stored.content


def _plans(conn: sqlite3.Connection, statements: list[str]) -> dict[str, list[str]]:
    """The query plan of every statement without parameters that reads a table."""
    return {
        sql: [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
        for sql in statements
        if "?" not in sql and sql.lstrip().upper().startswith(("SELECT", "INSERT"))
    }


def test_ordering_counting_and_naming_what_is_shown_read_no_entry_row(tmp_path):
    """An entry's row holds its text: at 100,000 stored posts, a render that visits every
    row reads the whole database. Placing every shown entry in the order, counting them per
    blog and naming what each page shows read the indexes only."""
    from campplanet import views
    from campplanet.config import Settings
    from campplanet.types import Subscription

    feeds = ["https://a.example/feed", "https://b.example/feed"]
    with Storage(tmp_path / "p.db") as s:
        s.record_subscriptions(feeds, NOW - timedelta(days=1))
        with s.transaction():
            for feed in feeds:
                s.save_feed(FeedState(url=feed, added=NOW, at_founding=True))
                s.save_entries([entry(f"{feed[8]}{n}", feed, hours=n) for n in range(5)])
        statements: list[str] = []
        s.db.conn.set_trace_callback(statements.append)
        subs = [Subscription(url=feed, title=feed[8]) for feed in feeds]
        selection = views.select(Settings(), subs, s.feed_states(), s)
        versions = list(selection.shown.versions())
        s.db.conn.set_trace_callback(None)
        assert len(versions) == 10
        plans = _plans(s.db.conn, statements)
    scans = [line for plan in plans.values() for line in plan if line.startswith("SCAN e")]
    assert len(scans) >= 2, plans  # placing and counting each go over every entry
    assert all("COVERING INDEX" in line for line in scans), scans
    # What goes over every shown entry (naming each page's version) reads no entry at all.
    over_shown = [plan for plan in plans.values() if "SCAN shown" in plan]
    assert over_shown, plans
    for plan in over_shown:
        assert not any(line.startswith(("SEARCH e", "SCAN e")) for line in plan), plan


def test_an_upgraded_database_places_entries_by_an_index_holding_their_revision(tmp_path):
    path = tmp_path / "p.db"
    db = sqlite_utils.Database(path)
    for migration in storage.MIGRATIONS[:6]:
        migration(db)
    db.execute("PRAGMA user_version = 6")
    db.conn.close()
    with Storage(path) as s:
        columns = [row[2] for row in s.db.execute("PRAGMA index_info(entries_placing)")]
    assert columns[-1] == "revision"
