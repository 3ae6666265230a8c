"""``campplanet status``: every feed's health from the database, problems first."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from click.testing import CliRunner

from campplanet.cli import main
from campplanet.storage import Storage
from campplanet.types import FeedState
from planetkit import opml_document

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def seed(tmp_path):
    feeds = [
        ("Working blog", "https://ok.example/feed"),
        ("Moved blog", "https://moved.example/feed"),
        ("Failing blog", "https://failing.example/feed"),
        ("Gone blog", "https://gone.example/feed"),
        ("Brand new blog", "https://new.example/feed"),
    ]
    (tmp_path / "feeds.opml").write_text(opml_document(feeds))
    with Storage(tmp_path / "p.db") as s, s.transaction():
        s.save_feed(FeedState(url=feeds[0][1], last_attempt=NOW, last_success=NOW, last_status=200))
        s.save_feed(
            FeedState(
                url=feeds[1][1],
                last_attempt=NOW,
                last_success=NOW,
                last_status=200,
                fetch_url="https://moved.example/new-feed",
            )
        )
        s.save_feed(
            FeedState(
                url=feeds[2][1],
                last_attempt=NOW,
                last_status=500,
                failures=4,
                failing_since=NOW,
                last_error="HTTP 500 Internal Server Error",
                next_attempt=NOW,
            )
        )
        s.save_feed(
            FeedState(url=feeds[3][1], last_attempt=NOW, last_status=410, gone=True, failures=1)
        )


def args(tmp_path, *extra):
    return [
        "status",
        "--opml",
        str(tmp_path / "feeds.opml"),
        "--db",
        str(tmp_path / "p.db"),
        *extra,
    ]


def test_status_json_problems_first(tmp_path):
    seed(tmp_path)
    result = CliRunner().invoke(main, args(tmp_path, "--json"))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [f["health"] for f in data["feeds"]] == ["gone", "failing", "moved", "new", "working"]
    failing = data["feeds"][1]
    assert failing["last_error"] == "HTTP 500 Internal Server Error"
    assert failing["failures"] == 4
    assert data["feeds"][2]["moved_to"] == "https://moved.example/new-feed"
    assert data["last_success"].startswith("2026-11-26 12:00")


def test_status_table(tmp_path):
    seed(tmp_path)
    result = CliRunner().invoke(main, args(tmp_path))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "last successful fetch: 2026-11-26 12:00 UTC"
    assert lines[1].split()[:2] == ["feed", "health"]
    assert lines[2].startswith("Gone blog")
    assert "moved: update feeds.opml to https://moved.example/new-feed" in result.output
    assert "HTTP 500 Internal Server Error" in result.output


def test_status_of_a_new_planet(tmp_path):
    (tmp_path / "feeds.opml").write_text(opml_document([("A", "https://a.example/feed")]))
    result = CliRunner().invoke(main, args(tmp_path))
    assert result.exit_code == 0, result.output
    assert "last successful fetch: never" in result.output


def test_status_names_outlines_left_out(tmp_path):
    (tmp_path / "feeds.opml").write_text(
        opml_document([("A", "https://a.example/feed"), ("Local", "http://127.0.0.1/feed")])
    )
    result = CliRunner().invoke(main, args(tmp_path))
    assert result.exit_code == 0, result.output
    assert "left out of every run until fixed:" in result.output
    assert "feeds.opml:6: xmlUrl 'http://127.0.0.1/feed'" in result.output
    data = json.loads(CliRunner().invoke(main, args(tmp_path, "--json")).output)
    assert [f["name"] for f in data["feeds"]] == ["A"]
    assert len(data["left_out"]) == 1
