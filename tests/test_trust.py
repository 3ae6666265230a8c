"""No post lost, and no feed can break the planet: each defect that other projects' feeds
and a real launch day found, as a small end-to-end test (the real CLI, a real local server)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from xml.etree import ElementTree

import feedparser
import pytest
from click.testing import CliRunner

from campplanet import update
from campplanet.cli import main
from campplanet.config import FetchSettings, PlanetSettings, Settings
from campplanet.urls import is_valid_uri
from planetkit import opml_document, rss_document, rss_feed

BASE = 1_790_000_000  # a Unix time in 2026


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def shown_links(public: Path) -> list[str]:
    return [e.link for e in feedparser.parse((public / "atom.xml").read_bytes()).entries]


def page_text(public: Path) -> str:
    return "".join(p.read_text() for p in sorted(public.rglob("index.html")))


ODD_DATES = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Odd dates</title>
<entry><id>tag:odd,2026:1</id><title>Year 103</title><link href="https://odd.example/1"/>
<updated>0103-12-13T18:30:02Z</updated></entry>
<entry><id>tag:odd,2026:2</id><title>Dotnet no date</title><link href="https://odd.example/2"/>
<published>Mon, 01 Jan 0001 00:00:00 GMT</published></entry>
</feed>"""

ODD_JSON = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Odd JSON",
        "items": [
            {
                "id": "j1",
                "url": "https://json.example/1",
                "title": "End of time",
                "content_text": "x",
                "date_published": "9999-12-31T23:59:59-05:00",
            },
            {
                "id": "j2",
                "url": "https://json.example/2",
                "title": "Start of time",
                "content_text": "y",
                "date_modified": "0001-01-01T00:00:00+05:00",
            },
        ],
    }
).encode()


def test_dates_outside_what_the_planet_can_show_cost_nothing(server, planet, tmp_path):
    feeds = [
        ("Odd dates", server.serve("/odd.xml", ODD_DATES)),
        ("Odd JSON", server.serve("/odd.json", ODD_JSON, content_type="application/feed+json")),
    ]
    (tmp_path / "feeds.opml").write_text(opml_document(feeds))
    for command in ("refresh", "render", "status", "refresh"):
        code, output = run(command, *planet())
        assert code == 0, output
        assert "Traceback" not in output
    assert len(shown_links(tmp_path / "public")) == 4
    db = sqlite3.connect(tmp_path / "planet.db")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_only_an_absolute_url_guid_stands_in_for_a_missing_link(server, planet, tmp_path):
    day = "<pubDate>Mon, 01 Jun 2026 1{}:00:00 GMT</pubDate></item>"
    body = rss_document(
        "<item><title>Relative guid</title><guid>post 123</guid>" + day.format(0),
        "<item><title>URL guid</title><guid>https://b.example/posts/9</guid>" + day.format(1),
        '<item><title>Not a permalink</title><guid isPermaLink="false">https://b.example/?p=3'
        "</guid>" + day.format(2),
        channel="<title>B</title>",
    )
    url = server.serve("/feeds/b.xml", body)
    (tmp_path / "feeds.opml").write_text(opml_document([("B", url)]))
    assert run("refresh", *planet())[0] == 0
    assert atom_links(tmp_path / "public") == {
        "Relative guid": None,
        "URL guid": "https://b.example/posts/9",
        "Not a permalink": None,
    }
    assert "/feeds/post" not in page_text(tmp_path / "public")


def atom_links(public: Path) -> dict[str, str | None]:
    """Each entry's title and the href of its alternate link, as atom.xml says them."""
    ns = {"a": "http://www.w3.org/2005/Atom"}
    root = ElementTree.parse(public / "atom.xml").getroot()
    links = {}
    for entry in root.findall("a:entry", ns):
        link = entry.find("a:link[@rel='alternate']", ns)
        links[entry.findtext("a:title", namespaces=ns)] = None if link is None else link.get("href")
    return links


def test_everything_published_as_a_url_is_a_valid_uri(server, planet, tmp_path):
    body = rss_document(
        "<item><title>Caf\u00e9</title>"
        "<link>https://b.example/caf\u00e9 au lait/?q=\u00e9t\u00e9#s\u00e9</link>"
        '<guid isPermaLink="false">http:///example.com/x</guid></item>',
        "<item><title>Spaces</title><link>https://user:secret@b.example/a b</link>"
        "<guid>tag:b.example,2026:2</guid></item>",
        channel="<title>\u00dcn\u00efcode</title><link>https://bl\u00f6g.example/h\u00e9 me/</link>"
        "<image><url>https://b.example/my logo.png</url><title>x</title>"
        "<link>https://b.example/</link></image>",
    )
    url = server.serve("/u.xml", body)
    (tmp_path / "feeds.opml").write_text(opml_document([("U", url)]))
    assert run("refresh", *planet())[0] == 0
    public = tmp_path / "public"
    atom = feedparser.parse((public / "atom.xml").read_bytes())
    rss = feedparser.parse((public / "rss.xml").read_bytes())
    feed = json.loads((public / "feed.json").read_text())
    published = [e.id for e in atom.entries] + [e.link for e in atom.entries]
    published += [e.link for e in rss.entries] + [e.id for e in rss.entries]
    published += [i["id"] for i in feed["items"]] + [i["url"] for i in feed["items"]]
    published += re.findall(r'(?:href|src)="([^"]+)"', page_text(public))
    published += re.findall(r'(?:htmlUrl|xmlUrl)="([^"]+)"', (public / "opml.xml").read_text())
    absolute = [u.replace("&amp;", "&") for u in published if re.match(r"[a-z]+:", u)]
    bad = [u for u in absolute if not is_valid_uri(u)]
    assert not bad, bad
    assert "secret" not in (public / "atom.xml").read_text()
    assert "https://b.example/caf%C3%A9%20au%20lait/?q=%C3%A9t%C3%A9#s%C3%A9" in published


def test_whitespace_content_does_not_hide_the_summary(server, planet, tmp_path):
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>W</title>'
        b'<entry><id>tag:w,2026:1</id><title>Post</title><link href="https://w.example/1"/>'
        b"<updated>2026-06-01T10:00:00Z</updated><summary>The real words of the post.</summary>"
        b'<content type="html">   \n\t  </content></entry></feed>'
    )
    (tmp_path / "feeds.opml").write_text(opml_document([("W", server.serve("/w.xml", body))]))
    assert run("refresh", *planet())[0] == 0
    assert "The real words of the post." in (tmp_path / "public" / "index.html").read_text()


def test_rss_description_is_html_so_plain_text_is_escaped_for_it(server, planet, tmp_path):
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>S</title>'
        b'<entry><id>tag:s,2026:1</id><title>Tags</title><link href="https://s.example/1"/>'
        b"<updated>2026-06-01T10:00:00Z</updated>"
        b'<summary type="text">Use a &lt;script&gt; element &amp; nothing else</summary>'
        b"</entry></feed>"
    )
    (tmp_path / "feeds.opml").write_text(opml_document([("S", server.serve("/s.xml", body))]))
    assert run("refresh", *planet())[0] == 0
    rss = (tmp_path / "public" / "rss.xml").read_text()
    assert "<description>Use a &amp;lt;script&amp;gt; element &amp;amp; nothing else" in rss
    (entry,) = feedparser.parse(rss.encode()).entries
    assert entry.summary == "Use a &lt;script&gt; element &amp; nothing else"  # HTML, as text


def settings(tmp_path: Path, **planet: object) -> Settings:
    return Settings(
        planet=PlanetSettings(
            opml=str(tmp_path / "feeds.opml"),
            db=str(tmp_path / "planet.db"),
            output=str(tmp_path / "public"),
            **planet,
        ),
        fetch=FetchSettings(allow_private_networks=True, timeout=10),
    )


def archive(blog: str, count: int) -> bytes:
    items = [(f"{blog}{i}", f"{blog} post {i}", BASE - 86_400 * (i + 1)) for i in range(count)]
    return rss_feed(blog.upper(), f"https://{blog}.example/", items)


def test_an_interrupted_first_run_hides_no_post(server, tmp_path):
    """Ctrl-C during the founding run: the blogs it did not reach were on the list from the
    start, so the next run shows all their posts, not just the newest three."""
    urls = [server.serve(f"/{b}.xml", archive(b, 8)) for b in ("a", "b", "c")]
    (tmp_path / "feeds.opml").write_text(opml_document(list(zip("ABC", urls, strict=True))))
    s = settings(tmp_path)
    subs = update.subscriptions(s)

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    with update.open_storage(s) as storage, pytest.raises(KeyboardInterrupt):
        update.fetch_into(s, subs, storage, progress=interrupt)
    summary, _ = update.refresh(s)
    assert summary.new >= 16
    assert len(page_text(tmp_path / "public").split('<article class="entry"')) - 1 == 24


def test_a_blog_that_fails_on_day_one_shows_every_post_when_it_recovers(server, planet, tmp_path):
    a = server.serve("/a.xml", archive("a", 2))
    b = server.url("/b.xml")  # 404 on day one
    (tmp_path / "feeds.opml").write_text(opml_document([("A", a), ("B", b)]))
    assert run("refresh", *planet())[0] == 0
    server.serve("/b.xml", archive("b", 10))
    db = sqlite3.connect(tmp_path / "planet.db")
    db.execute("UPDATE feeds SET next_attempt = NULL")  # its backoff is over
    db.commit()
    assert run("refresh", *planet())[0] == 0
    links = shown_links(tmp_path / "public")
    assert sum("b.example" in link for link in links) == 10
    feeds_page = (tmp_path / "public" / "feeds.html").read_text()
    assert "held back" not in feeds_page and "newly added" not in feeds_page


def test_raising_new_feed_items_releases_held_back_posts_at_the_next_render(
    server, planet, tmp_path
):
    a = server.serve("/a.xml", archive("a", 1))
    (tmp_path / "feeds.opml").write_text(opml_document([("A", a)]))
    assert run("refresh", *planet())[0] == 0
    b = server.serve("/b.xml", archive("b", 10))
    (tmp_path / "feeds.opml").write_text(opml_document([("A", a), ("B", b)]))
    assert run("refresh", *planet())[0] == 0
    assert sum("b.example" in link for link in shown_links(tmp_path / "public")) == 3
    config = tmp_path / "campplanet.toml"
    config.write_text("[planet]\nnew_feed_items = 8\n")
    hits = server.hits()
    assert run("render", *planet("--config", str(config)))[0] == 0
    assert sum("b.example" in link for link in shown_links(tmp_path / "public")) == 8
    assert server.hits() == hits  # no fetch


def test_render_refuses_to_empty_a_published_site(server, planet, tmp_path):
    a = server.serve("/a.xml", archive("a", 3))
    (tmp_path / "feeds.opml").write_text(opml_document([("A", a)]))
    assert run("refresh", *planet())[0] == 0
    public = tmp_path / "public"
    before = {p: p.read_bytes() for p in public.rglob("*") if p.is_file()}
    # Without the flag the refresh used, the loopback feed is refused: every outline out.
    args = [a for a in planet() if a != "--allow-private-networks"]
    result = CliRunner().invoke(main, ["render", *args])
    assert result.exit_code == 2, result.output
    assert "feeds.opml:" in result.output and "left out" in result.output
    assert "not replacing the site published in" in result.output
    assert {p: p.read_bytes() for p in public.rglob("*") if p.is_file()} == before
    result = CliRunner().invoke(main, ["refresh", *args])
    assert result.exit_code == 2, result.output
    assert {p: p.read_bytes() for p in public.rglob("*") if p.is_file()} == before


def test_content_location_is_the_base_for_relative_links(server, planet, tmp_path):
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>C</title>'
        b'<entry><id>tag:c,2026:1</id><title>Relative</title><link href="posts/one.html"/>'
        b'<updated>2026-06-01T10:00:00Z</updated><content type="html">'
        b"&lt;a href=&quot;two.html&quot;&gt;two&lt;/a&gt;</content></entry>"
        b'<entry xml:base="sub/"><id>tag:c,2026:2</id><title>Under xml:base</title>'
        b'<link href="three.html"/><updated>2026-06-01T11:00:00Z</updated></entry></feed>'
    )
    url = server.serve(
        "/feeds/c.xml", body, headers={"Content-Location": "https://c.example/blog/atom.xml"}
    )
    (tmp_path / "feeds.opml").write_text(opml_document([("C", url)]))
    assert run("refresh", *planet())[0] == 0
    assert atom_links(tmp_path / "public") == {
        "Relative": "https://c.example/blog/posts/one.html",
        "Under xml:base": "https://c.example/blog/sub/three.html",
    }
    assert 'href="https://c.example/blog/posts/two.html"' in page_text(tmp_path / "public")
