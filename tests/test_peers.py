"""Other projects' test feeds, fetched by one planet: feedparser's whole test corpus (about
2,100 files written to break parsers) and Planet Venus's test data (about 210).

Every file is served from a local server with the HTTP headers its ``Header:`` lines name,
and listed in one subscription list. One ``campplanet refresh`` must then finish (exit 0,
no traceback), publish pages and feeds that the independent validators accept, and store,
for every file, exactly the distinct entries feedparser finds in it: entries are never lost
and never merged, whatever the file does. The figures are printed for the record.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import feedparser
import pytest
from click.testing import CliRunner

from campplanet.cli import main
from httpfarm import Farm
from planetkit import opml_document, run_tool, shared

pytestmark = pytest.mark.slow

PEERS = shared("corpus", "peers")
NOT_FEEDS = {"LICENSE", "LICENCE", "README.md"}
HEADER = re.compile(rb"^\s*Header:\s*([A-Za-z-]+):\s*(.*?)\s*$", re.MULTILINE)

# Files where campplanet deliberately stores other than feedparser's distinct entries
# (distinct: by id, each id-less entry on its own), with the reason.
EXCEPTIONS = {
    # feedparser 6.0 does not read JSON Feed; campplanet does: its two items.
    "feedparser/json/example.json": (2, "JSON Feed, which feedparser 6.0 does not read"),
    # Entries with no id, no link and the same title and content: nothing tells them apart,
    # so they are one entry (the identity rule's last resort, a digest of title and content).
    "feedparser/wellformed/lang/entry_content_xml_lang_blank_3.xml": (1, "identical entries"),
    "feedparser/wellformed/node_precedence/atom10_arbitrary_element.xml": (1, "identical"),
    "venus/filter/tmpl/new_channel.xml": (1, "identical entries (they differ in source only)"),
    "venus/filter/tmpl/new_channel_date.xml": (1, "identical entries"),
    "venus/filter/tmpl/new_date.xml": (1, "identical entries"),
}


def peer_files() -> list[Path]:
    return sorted(p for p in PEERS.rglob("*") if p.is_file() and p.name not in NOT_FEEDS)


def headers_of(data: bytes) -> dict[str, str]:
    """The ``Header: Name: value`` lines at the top of a file (also in UTF-16/32 files)."""
    head = data[:6000].replace(b"\x00", b"")
    return {
        m.group(1).decode().lower(): m.group(2).decode("latin-1") for m in HEADER.finditer(head)
    }


def feedparser_distinct(data: bytes, headers: dict[str, str]) -> int:
    """The distinct entries feedparser finds: by id, each entry without one on its own."""
    result = feedparser.parse(data, response_headers=headers)
    ids = [e.get("id") or f"#{n}" for n, e in enumerate(result.entries)]
    return len(set(ids))


@pytest.fixture(scope="module")
def planet(tmp_path_factory):
    """One refresh of a planet subscribed to every peer file; yields (folder, feeds, output)."""
    folder = tmp_path_factory.mktemp("peers")
    feeds = {}
    with Farm(addresses=["127.0.0.1"]) as server:
        for number, path in enumerate(peer_files()):
            name = str(path.relative_to(PEERS))
            data = path.read_bytes()
            headers = headers_of(data)
            content_type = headers.pop("content-type", "application/xml")
            url = server.serve(
                f"/{number}/{quote(path.name)}", data, content_type=content_type, headers=headers
            )
            feeds[name] = (url, data, {**headers, "content-type": content_type})
        (folder / "feeds.opml").write_text(
            opml_document([(name, url) for name, (url, _, _) in feeds.items()])
        )
        args = ["--opml", str(folder / "feeds.opml"), "--db", str(folder / "planet.db")]
        args += ["--output", str(folder / "public"), "--allow-private-networks"]
        result = CliRunner().invoke(main, ["refresh", *args])
        status = CliRunner().invoke(main, ["status", "--json", *args])
    yield folder, feeds, result, json.loads(status.output)


def test_one_refresh_over_every_peer_file_finishes(planet):
    _, feeds, result, status = planet
    assert result.exit_code == 0, result.output[-3000:]
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    health = Counter(row["health"] for row in status["feeds"])
    print(f"\n{len(feeds)} files: {dict(health)}")
    assert health["working"] + health["moved"] > 1900


def test_every_entry_feedparser_finds_is_stored_once(planet):
    folder, feeds, _, _ = planet
    db = sqlite3.connect(folder / "planet.db")
    stored = Counter(url for (url,) in db.execute("SELECT feed_url FROM entries"))
    wrong = {}
    totals = Counter()
    for name, (url, data, headers) in feeds.items():
        expected = feedparser_distinct(data, headers)
        totals["feedparser"] += expected
        totals["stored"] += stored[url]
        if name in EXCEPTIONS:
            expected = EXCEPTIONS[name][0]
        if stored[url] != expected:
            wrong[name] = (expected, stored[url])
    print(f"\nentries: feedparser {totals['feedparser']}, stored {totals['stored']}")
    assert not wrong, wrong


def test_what_the_planet_publishes_is_valid(planet):
    folder, _, _, _ = planet
    public = folder / "public"
    pages = list(public.rglob("index.html"))
    print(f"\n{len(pages)} pages")
    run_tool("validate-html", str(public))
    run_tool("validate-feeds", "--require", "atom,rss,jsonfeed,opml", str(public))


def test_every_shown_entry_is_published(planet):
    """Each entry the planet shows is on exactly one page (cross-feed duplicates, of which
    these files have many, e.g. every example.org link, are shown once)."""
    folder, _, _, _ = planet
    public = folder / "public"
    ids = Counter()
    for page in public.rglob("index.html"):
        ids.update(re.findall(r'<article class="entry"', page.read_text()))
    db = sqlite3.connect(folder / "planet.db")
    (stored,) = db.execute("SELECT count(*) FROM entries").fetchone()
    published = ids['<article class="entry"']
    print(f"\nentries published on pages: {published} of {stored} stored")
    assert 0 < published <= stored
