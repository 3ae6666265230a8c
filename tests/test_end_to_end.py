"""The real CLI against a real local web server serving real-world feeds."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from pathlib import Path

import feedparser
import html5lib
import pytest
from click.testing import CliRunner

from campplanet.cli import main
from planetkit import CORPUS, opml_document, rss_feed

HEALTHY = {
    "WordPress news": "wordpress/rsscom-blog-wp6-rss2.xml",
    "QEMU (Jekyll)": "jekyll/qemu-jekyll-feed-atom.atom",
    "Quiltville (Blogger)": "blogger/quiltville-blogger-atom.atom",
    "Golem (ISO-8859-1)": "encoding/golem-iso8859-1.xml",
    "Medium user": "medium/medium-user-rss.xml",
}


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


LAST_READ = re.compile(rb"last read successfully on <time[^>]*>[^<]*</time>")


@pytest.fixture
def corpus_planet(server, planet, tmp_path):
    feeds = [(name, server.serve_file(f"/{path}", CORPUS / path)) for name, path in HEALTHY.items()]
    feeds.append(("Dead blog", server.url("/missing.xml")))
    feeds.append(
        (
            "Not a feed",
            server.serve_file("/page.html", CORPUS / "broken/html-page-instead-of-feed-nixos.xml"),
        )
    )
    (tmp_path / "feeds.opml").write_text(opml_document(feeds))
    return planet


def test_refresh_renders_page_and_feed(corpus_planet, tmp_path):
    code, output = run("refresh", *corpus_planet())
    assert code == 0, output
    assert "feeds: 5 ok, 0 not modified, 2 failed" in output
    assert "Dead blog" in output and "HTTP 404" in output
    assert "Not a feed" in output

    public = tmp_path / "public"
    atom = feedparser.parse((public / "atom.xml").read_bytes())
    assert not atom.bozo, atom.get("bozo_exception")
    assert len(atom.entries) == 60  # planet.items
    dates = [e.updated_parsed for e in atom.entries]
    published = [e.published_parsed for e in atom.entries]
    assert published == sorted(published, reverse=True), dates
    sources = {e.source.title for e in atom.entries}
    assert sources <= set(HEALTHY)
    assert len(sources) >= 3

    page = html5lib.parse((public / "index.html").read_bytes(), namespaceHTMLElements=False)
    links = {a.get("href") for a in page.iter("a")}
    for entry in atom.entries[:10]:
        assert entry.link in links
    text = "".join(page.itertext())
    assert "Golem" in text or "QEMU" in text


def test_second_run_adds_nothing_and_changes_no_byte(corpus_planet, tmp_path):
    assert run("refresh", *corpus_planet())[0] == 0
    before = snapshot(tmp_path / "public")
    feeds_before = (tmp_path / "public" / "feeds.html").read_bytes()
    assert len(LAST_READ.findall(feeds_before)) == 1
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "public").rglob("*") if p.is_file()}
    time.sleep(0.01)
    code, output = run("refresh", *corpus_planet())
    assert code == 0
    assert "entries: 0 new, 0 updated" in output
    # Every file is byte-for-byte the same and untouched, but for the subscriptions page,
    # whose one changing line says when the feeds were last read.
    after = snapshot(tmp_path / "public")
    before.pop("feeds.html"), after.pop("feeds.html")
    assert after == before
    assert LAST_READ.sub(b"", feeds_before) == LAST_READ.sub(
        b"", (tmp_path / "public" / "feeds.html").read_bytes()
    )
    mtimes.pop(tmp_path / "public" / "feeds.html")
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes


def test_every_feed_failing_exits_1(server, planet, tmp_path):
    feeds = [("Dead", server.url("/a.xml")), ("Also dead", server.url("/b.xml"))]
    (tmp_path / "feeds.opml").write_text(opml_document(feeds))
    code, output = run("refresh", *planet())
    assert code == 1
    assert "every feed failed" in output


def test_private_addresses_refused_without_the_flag(server, tmp_path):
    url = server.serve_file("/f.xml", CORPUS / HEALTHY["Medium user"])
    (tmp_path / "feeds.opml").write_text(opml_document([("Local", url)]))
    code, output = run(
        "refresh",
        "--opml", str(tmp_path / "feeds.opml"),
        "--db", str(tmp_path / "p.db"),
        "--output", str(tmp_path / "public"),
    )  # fmt: skip
    assert code == 1
    assert "feeds.opml:5: xmlUrl" in output and "127.0.0.1 is a loopback address" in output
    assert "left out until it is fixed" in output
    assert server.hits() == 0


def test_a_broken_outline_is_reported_and_the_rest_still_fetched(server, planet, tmp_path):
    good = server.serve_file("/f.xml", CORPUS / HEALTHY["Medium user"])
    feeds = [("Good", good), ("Bad scheme", "ftp://example.org/feed"), ("Good again", good)]
    (tmp_path / "feeds.opml").write_text(opml_document(feeds))
    code, output = run("refresh", *planet())
    assert code == 0, output
    assert "feeds.opml:6: xmlUrl 'ftp://example.org/feed'" in output
    assert "feeds.opml:7: duplicate feed" in output
    assert "feeds: 1 ok" in output


def test_broken_opml_exits_2_naming_file_and_line(planet, tmp_path):
    (tmp_path / "feeds.opml").write_text(
        '<?xml version="1.0"?>\n<opml version="2.0">\n<body>\n<outline text="x" xmlUrl="a&b"/>\n'
    )
    code, output = run("refresh", *planet())
    assert code == 2
    assert f"{tmp_path / 'feeds.opml'}:4" in output
    assert "Traceback" not in output


@pytest.mark.slow
def test_two_hundred_feeds_every_entry_rendered_once(server, tmp_path, planet):
    base = 1_790_000_000
    feeds = []
    expected = set()
    for n in range(200):
        site = f"https://blog{n}.example/"
        items = [(f"post-{i}", f"Blog {n} post {i}", base - n * 600 - i * 7) for i in range(10)]
        expected |= {f"{site}post-{i}" for i in range(10)}
        feeds.append(
            (f"Blog {n}", server.serve(f"/feed{n}.xml", rss_feed(f"Blog {n}", site, items)))
        )
    (tmp_path / "feeds.opml").write_text(opml_document(feeds))
    (tmp_path / "c.toml").write_text("[planet]\nitems = 5000\n")

    code, output = run("refresh", *planet("--config", str(tmp_path / "c.toml")))
    assert code == 0, output
    assert "feeds: 200 ok" in output and "entries: 2000 new" in output
    atom = feedparser.parse((tmp_path / "public" / "atom.xml").read_bytes())
    assert [e.link for e in atom.entries if e.link in expected] == [e.link for e in atom.entries]
    assert {e.link for e in atom.entries} == expected
    assert len(atom.entries) == 2000
    page = (tmp_path / "public" / "index.html").read_text()
    assert all(link in page for link in expected)

    code, output = run("refresh", *planet("--config", str(tmp_path / "c.toml")))
    assert "entries: 0 new, 0 updated" in output
    db = sqlite3.connect(tmp_path / "planet.db")
    assert db.execute("SELECT count(*) FROM entries").fetchone()[0] == 2000


def test_removed_feed_hidden_readded_restored_pruned_and_filters_reapplied(
    server, planet, tmp_path
):
    base = 1_790_000_000
    a = server.serve(
        "/a.xml", rss_feed("A", "https://a.example/", [("a1", "LocalGovCamp notes", base)])
    )
    b = server.serve("/b.xml", rss_feed("B", "https://b.example/", [("b1", "Holiday", base - 60)]))
    opml = tmp_path / "feeds.opml"
    opml.write_text(opml_document([("A", a), ("B", b)]))
    assert run("refresh", *planet())[0] == 0

    def shown() -> set[str]:
        atom = feedparser.parse((tmp_path / "public" / "atom.xml").read_bytes())
        return {e.link for e in atom.entries}

    assert shown() == {"https://a.example/a1", "https://b.example/b1"}
    opml.write_text(opml_document([("A", a)]))
    assert run("render", *planet())[0] == 0
    assert shown() == {"https://a.example/a1"}  # gone from the outputs at the next render

    opml.write_text(opml_document([("A", a), ("B", b)]))
    hits = server.hits()
    assert run("render", *planet())[0] == 0
    assert shown() == {"https://a.example/a1", "https://b.example/b1"}  # restored, no refetch
    assert server.hits() == hits

    config = tmp_path / "c.toml"
    config.write_text('[filter]\ninclude = "localgovcamp"\n')
    assert run("render", *planet("--config", str(config)))[0] == 0
    assert shown() == {"https://a.example/a1"}  # filter applied to stored entries

    opml.write_text(opml_document([("A", a)]))
    code, output = run("prune", *planet())
    assert code == 0 and "pruned 1 feeds and 1 entries" in output
    db = sqlite3.connect(tmp_path / "planet.db")
    assert db.execute("SELECT feed_url FROM entries").fetchall() == [(a,)]


def test_a_blog_added_to_a_running_planet_shows_only_its_newest_posts(server, planet, tmp_path):
    base = 1_790_000_000
    a = server.serve("/a.xml", rss_feed("A", "https://a.example/", [("a1", "First", base)]))
    items = [(f"b{i}", f"Archive {i}", base - 86_400 * (i + 1)) for i in range(10)]
    b = server.serve("/b.xml", rss_feed("B", "https://b.example/", items))
    opml = tmp_path / "feeds.opml"
    opml.write_text(opml_document([("A", a)]))
    assert run("refresh", *planet())[0] == 0
    opml.write_text(opml_document([("A", a), ("B", b)]))
    code, output = run("refresh", *planet())
    assert code == 0 and "entries: 10 new" in output

    atom = feedparser.parse((tmp_path / "public" / "atom.xml").read_bytes())
    links = [e.link for e in atom.entries]
    # the newest three of B, placed by their own (older) dates, below A's post
    assert links == ["https://a.example/a1"] + [f"https://b.example/b{i}" for i in range(3)]
    status = CliRunner().invoke(main, ["status", "--json", *planet()])
    assert status.exit_code == 0, status.output
    rows = {r["url"]: r for r in json.loads(status.output)["feeds"]}
    assert (rows[b]["entries_stored"], rows[b]["held_back"]) == (10, 7), rows
