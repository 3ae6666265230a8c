"""campplanet.storage: round trips, transactions, migrations."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlite_utils

from campplanet import storage
from campplanet.exceptions import StorageError
from campplanet.policy import merge_entry
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
    return merge_entry(feed, None, item, NOW, feed_imported=False).entry


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
        assert s.first_import() == NOW


def test_entries_round_trip_newest_first(tmp_path):
    with Storage(tmp_path / "p.db") as s:
        with s.transaction():
            s.save_feed(FeedState(url="https://a.example/feed"))
            s.save_entries([(entry("a", hours=3), "https://a.example/a")])
            s.save_entries([(entry("b", hours=1), "https://a.example/b")])
        got = list(s.all_entries(["https://a.example/feed"]))
    assert [e.key for e, _ in got] == ["b", "a"]
    a = entry("a", hours=3)
    assert got[1][0] == replace(a, content_hash=content_digest(a.content, a.summary))
    assert got[1][1] == "https://a.example/a"


def test_the_content_hash_always_follows_the_content(tmp_path):
    with Storage(tmp_path / "p.db") as s:
        with s.transaction():
            s.save_feed(FeedState(url="https://a.example/feed"))
            s.save_entries([(entry("a"), None)])
        (stored,) = s.entries_of("https://a.example/feed")
        assert stored.content_hash == content_digest("<p>Hello</p>", "Hello")
        with s.transaction():  # an edit made on the entry read back: its hash is stale
            s.save_entries([(replace(stored, content="<p>Edited</p>"), None)])
        (edited,) = s.entries_of("https://a.example/feed")
    assert edited.content_hash == content_digest("<p>Edited</p>", "Hello")
    assert content_digest("<p>Edited</p>", "") != content_digest("<p>Edited</p>", "Hello")


def test_failed_transaction_leaves_nothing(tmp_path):
    with Storage(tmp_path / "p.db") as s:
        with pytest.raises(RuntimeError), s.transaction():
            s.save_feed(FeedState(url="https://a.example/feed"))
            s.save_entries([(entry("a"), None)])
            raise RuntimeError("killed half-way")
        assert s.feed_states() == {}
        assert list(s.all_entries(["https://a.example/feed"])) == []


def test_prune_deletes_feeds_not_kept(tmp_path):
    with Storage(tmp_path / "p.db") as s:
        with s.transaction():
            for feed in ("https://a.example/feed", "https://b.example/feed"):
                s.save_feed(FeedState(url=feed))
                s.save_entries([(entry("x", feed=feed), None), (entry("y", feed=feed), None)])
        assert s.prune(["https://a.example/feed"]) == (1, 2)
        assert set(s.feed_states()) == {"https://a.example/feed"}
        assert s.entry_counts() == {"https://a.example/feed": (2, 0)}


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
