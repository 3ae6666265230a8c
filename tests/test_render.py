"""The renderer: pages, feeds and OPML built from views, parsed back and checked."""

from __future__ import annotations

import itertools
import json
import os
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import feedparser
import pytest
from lxml import etree

from campplanet.config import PlanetSettings
from campplanet.health import feed_status
from campplanet.render import OUTPUTS, render_site
from campplanet.sanitize import strip_invalid_xml_chars
from campplanet.theme import CompiledTemplates, TemplateError, default_templates_dir
from campplanet.types import EntryView, FeedView
from sitekit import T0, corpus_views, entry, feed, parse_html, settings_for, text_of

HOSTILE_TITLE = "Fish & <chips> \"quoted\" 'apos' </title>\x01\x0b\ud800\x85 ]]> end"
HOSTILE_AUTHOR = "<b>Bob</b> & Co \x00\udfff"


def clean(text: str) -> str:
    return re.sub("[\x7f-\x9f]", "", strip_invalid_xml_chars(text))


def hostile_site() -> tuple[list[EntryView], list[FeedView]]:
    bad_feed = feed(9, title='Blog <9> & "friends"', avatar="https://img.example.org/a.png?x=1&y=2")
    entries = [
        entry(0, bad_feed, title=HOSTILE_TITLE, author=HOSTILE_AUTHOR),
        entry(1, link=None, id="tag:example.org,2026:1"),
        *(entry(n) for n in range(2, 12)),
    ]
    return entries, [bad_feed, feed(0), feed(1), feed(2)]


# --- pages -----------------------------------------------------------------------------------


def test_front_page_structure_and_escaping(tmp_path):
    entries, feeds = hostile_site()
    render_site(settings_for(tmp_path), entries, feeds, last_refresh=T0)
    public = tmp_path / "public"
    raw = (public / "index.html").read_text()
    doc = parse_html(public / "index.html")
    assert doc.get("lang") == "en-GB"
    assert len(doc.findall(".//h1")) == 1
    assert doc.find(".//main") is not None and doc.find(".//header") is not None
    assert doc.findall(".//script") == [] and "<chips>" not in raw
    csp = [m.get("content") for m in doc.iter("meta") if m.get("http-equiv")]
    assert "script-src 'none'" in csp[0]
    skip = doc.find(".//a[@class='skip']")
    assert doc.find(f".//*[@id='{skip.get('href')[1:]}']") is not None
    titles = [text_of(h) for h in doc.findall(".//article//h3")]
    assert titles[0] == clean(HOSTILE_TITLE)
    assert len(titles) == 5  # planet.items
    byline = text_of(doc.find(".//article//p[@class='by']"))
    assert clean(HOSTILE_AUTHOR) in byline and 'Blog <9> & "friends"' in byline
    links = {a.get("href") for a in doc.iter("a")}
    assert "https://example.org/post/2?x=1&y=2" in links
    times = [t.get("datetime") for t in doc.findall(".//article//time")]
    assert times[0] == "2026-11-26T21:00:00Z"
    # heading levels never skip
    levels = [
        int(e.tag[1])
        for e in doc.iter()
        if isinstance(e.tag, str) and re.fullmatch("h[1-6]", e.tag)
    ]
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), levels


def test_days_grouped_in_planet_timezone(tmp_path):
    # 23:30 UTC on 26 Nov is 27 Nov in Auckland
    late = entry(0, date=datetime(2026, 11, 26, 23, 30, tzinfo=UTC))
    early = entry(1, date=datetime(2026, 11, 26, 1, 0, tzinfo=UTC))
    s = replace(
        settings_for(tmp_path),
        planet=PlanetSettings(output=str(tmp_path / "public"), timezone="Pacific/Auckland"),
    )
    render_site(s, [late, early], [late.feed, early.feed])
    doc = parse_html(tmp_path / "public" / "index.html")
    days = [h.find("time").get("datetime") for h in doc.findall(".//section/h2")]
    assert days == ["2026-11-27", "2026-11-26"]


def test_every_entry_reachable_through_next_links(tmp_path):
    entries = [entry(n) for n in range(23)]
    render_site(settings_for(tmp_path), entries, [feed(0), feed(1), feed(2)])
    public = tmp_path / "public"
    seen, page, visited = [], public / "index.html", []
    while page is not None:
        visited.append(page)
        doc = parse_html(page)
        seen += [a.get("href") for a in doc.findall(".//article//h3/a")]
        older = doc.find(".//a[@rel='next']")
        newer = doc.find(".//a[@rel='prev']")
        if newer is not None:
            target = (page.parent / newer.get("href")).resolve()
            target = target / "index.html" if target.is_dir() else target
            assert target == visited[-2].resolve()
        page = None
        if older is not None:
            page = (visited[-1].parent / older.get("href") / "index.html").resolve()
    assert seen == [e.link for e in entries]
    assert len(visited) == 5


def test_stale_archive_pages_removed(tmp_path):
    s = settings_for(tmp_path)
    render_site(s, [entry(n) for n in range(23)], [feed(0)])  # front page and 4 archive pages
    assert (tmp_path / "public" / "page" / "4" / "index.html").exists()
    report = render_site(s, [entry(n) for n in range(7)], [feed(0)])
    assert sorted(report.removed) == [f"page/{n}/index.html" for n in (2, 3, 4)]
    assert not (tmp_path / "public" / "page" / "2").exists()
    assert (tmp_path / "public" / "page" / "1" / "index.html").exists()


def test_empty_planet_renders(tmp_path):
    report = render_site(settings_for(tmp_path), [], [])
    doc = parse_html(tmp_path / "public" / "index.html")
    assert "No posts yet" in text_of(doc)
    assert "index.html" in report.written
    assert feedparser.parse((tmp_path / "public" / "atom.xml").read_bytes()).bozo == 0


def test_summary_mode_links_to_the_post(tmp_path):
    e = entry(0, content="<p>FULL <b>CONTENT</b></p>", summary="Just the summary & more")
    render_site(settings_for(tmp_path, content="summary"), [e], [e.feed])
    doc = parse_html(tmp_path / "public" / "index.html")
    article = doc.find(".//article")
    assert "FULL" not in text_of(article)
    assert "Just the summary & more" in text_of(article)
    more = article.find(".//p[@class='more']/a")
    assert more.get("href") == e.link
    assert text_of(more) == f"Continue reading “{e.title}” on {e.feed.title}"


def test_long_post_folds_and_the_feeds_keep_it_whole(tmp_path):
    body = "".join(f"<p>Paragraph {i} <em>with</em> words words words.</p>" for i in range(200))
    e = entry(0, content=f"<div>{body}</div>")
    render_site(settings_for(tmp_path, cut_after=30), [e], [e.feed])
    doc = parse_html(tmp_path / "public" / "index.html")
    article = doc.find(".//article")
    opening = article.find("div[@class='content']")
    assert text_of(opening).split()[:2] == ["Paragraph", "0"]
    assert "Paragraph 4 " in text_of(opening) and "Paragraph 5 " not in text_of(opening)
    fold = article.find("details[@class='fold']")
    summary = " ".join(text_of(fold.find("summary")).split())
    assert summary == f"Continue reading “{e.title}” — 1,170 more words"  # 195 × 6
    rest = fold.find("div[@class='content']")
    assert text_of(rest).split()[:2] == ["Paragraph", "5"] and "Paragraph 199" in text_of(rest)
    assert article.find(".//p[@class='more']") is None  # the rest is on the page
    # the full post stays in the feeds
    atom = feedparser.parse((tmp_path / "public" / "atom.xml").read_bytes())
    assert "Paragraph 199" in atom.entries[0].content[0].value
    assert "<details" not in (tmp_path / "public" / "atom.xml").read_text()


# --- content tidying ----------------------------------------------------------------------------


# --- feeds -------------------------------------------------------------------------------------


def test_atom_parses_back_with_sources(tmp_path):
    entries, feeds = hostile_site()
    render_site(settings_for(tmp_path), entries, feeds, last_refresh=T0)
    data = (tmp_path / "public" / "atom.xml").read_bytes()
    etree.fromstring(data)  # strict XML
    atom = feedparser.parse(data)
    assert not atom.bozo, atom.get("bozo_exception")
    assert atom.feed.title == "Test & Planet"
    assert atom.feed.links[0].href == "https://planet.example.org/atom.xml"
    assert len(atom.entries) == 5
    first = atom.entries[0]
    assert first.title == clean(HOSTILE_TITLE)
    assert first.author == clean(HOSTILE_AUTHOR).strip()
    assert first.source.title == 'Blog <9> & "friends"'
    assert first.id == "https://example.org/post/0?x=1&y=2"
    assert first.published == "2026-11-26T21:00:00Z"
    assert "a link" in first.content[0].value
    assert atom.entries[1].id == "tag:example.org,2026:1"


def test_rss_parses_back(tmp_path):
    entries, feeds = hostile_site()
    render_site(settings_for(tmp_path), entries, feeds)
    data = (tmp_path / "public" / "rss.xml").read_bytes()
    root = etree.fromstring(data)
    items = root.findall("channel/item")
    assert len(items) == 5
    dc = "{http://purl.org/dc/elements/1.1/}creator"
    content = "{http://purl.org/rss/1.0/modules/content/}encoded"
    assert items[0].findtext(dc) == clean(HOSTILE_AUTHOR)
    assert items[0].findtext("pubDate") == "Thu, 26 Nov 2026 21:00:00 +0000"
    assert items[0].find("guid").get("isPermaLink") == "true"
    assert items[1].find("guid").get("isPermaLink") == "false"
    assert items[0].find("source").get("url") == "https://blog9.example.org/feed?a=1&b=<2>"
    assert "<a href=" in items[0].findtext(content)
    parsed = feedparser.parse(data)
    assert not parsed.bozo and parsed.entries[0].title == clean(HOSTILE_TITLE)


def test_json_feed(tmp_path):
    entries, feeds = hostile_site()
    render_site(settings_for(tmp_path), entries, feeds)
    doc = json.loads((tmp_path / "public" / "feed.json").read_text())
    assert next(iter(doc)) == "version"
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["feed_url"] == "https://planet.example.org/feed.json"
    assert len(doc["items"]) == 5
    for item in doc["items"]:
        assert item["id"] and item["date_published"].endswith("Z")
        assert "content_html" in item or "content_text" in item
        assert item["authors"][0]["name"]
    assert doc["items"][0]["title"] == clean(HOSTILE_TITLE)
    assert len({i["id"] for i in doc["items"]}) == 5


def test_opml_lists_subscriptions_as_followed(tmp_path):
    feeds = [
        feed(0),
        feed(1, health="moved", moved_to="https://new.example.org/feed"),
        feed(2, health="gone"),
    ]
    render_site(settings_for(tmp_path), [], feeds)
    root = etree.fromstring((tmp_path / "public" / "opml.xml").read_bytes())
    assert root.get("version") == "2.0"
    outlines = root.findall("body/outline")
    assert [o.get("xmlUrl") for o in outlines] == [
        "https://blog0.example.org/feed?a=1&b=<2>",
        "https://new.example.org/feed",
    ]
    assert all(o.get("type") == "rss" and o.get("text") for o in outlines)


def test_feeds_keep_each_id_once(tmp_path):
    a = entry(0)
    b = entry(1, id=a.id)
    render_site(settings_for(tmp_path), [a, b, entry(2)], [a.feed])
    atom = feedparser.parse((tmp_path / "public" / "atom.xml").read_bytes())
    assert [e.id for e in atom.entries] == [a.id, entry(2).id]


# --- subscriptions page ----------------------------------------------------------------------


def test_subscriptions_page_says_how_each_blog_is_doing(tmp_path):
    feeds = [
        feed(0, title="Alpha"),
        feed(
            1,
            title="Beta",
            health="failing",
            failing_since=T0 - timedelta(days=2),
            last_error="HTTP 404.",
            last_success=T0 - timedelta(days=3),
        ),
        feed(2, title="Gamma", health="gone"),
        feed(3, title="Delta", health="new", held_back=4, filtered_out=2),
        feed(4, title="Epsilon", health="moved", moved_to="https://new.example.org/feed"),
        feed(5, title="Zeta", updated=T0 - timedelta(days=20)),
    ]
    render_site(settings_for(tmp_path), [], feeds, last_refresh=T0)
    doc = parse_html(tmp_path / "public" / "feeds.html")
    groups = {s.get("aria-labelledby"): s for s in doc.findall(".//section[@class='group']")}
    assert list(groups) == ["trouble", "waiting", "working"]  # problems first
    trouble = {
        text_of(li.find(".//h3")): " ".join(text_of(li).split())
        for li in groups["trouble"].findall(".//ul[@class='subs']/li")
    }
    assert list(trouble) == ["Gamma", "Beta", "Epsilon"]  # gone, failing, moved
    assert (
        "Failing" in trouble["Beta"]
        and "since 24 Nov 2026, 21:00 GMT: HTTP 404." in trouble["Beta"]
    )
    assert "last worked on 23 Nov 2026" in trouble["Beta"]
    assert "Gone" in trouble["Gamma"]
    assert "change this blog's xmlUrl to https://new.example.org/feed" in trouble["Epsilon"]
    assert all("What to do:" in text for text in trouble.values())
    waiting = " ".join(text_of(groups["waiting"]).split())
    assert "Delta" in waiting and "4 older posts held back" in waiting
    assert "2 posts outside the camp filter" in waiting
    working = [
        " ".join(text_of(line).split())
        for line in groups["working"].findall(".//li/span[@class='line']")
    ]
    assert working == [
        "Alpha last post 26 Nov 2026 · feed of Alpha",
        "Zeta last post 6 Nov 2026 · feed of Zeta",
    ]
    assert "without problems" not in text_of(doc)  # no sentence repeated for every blog
    intro = " ".join(text_of(doc.find(".//p[@class='intro']")).split())
    assert "6 blogs: 2 working, 1 moved, 1 failing, 1 gone, 1 not read yet" in intro
    assert "26 Nov 2026, 21:00 GMT" in intro


def test_feed_status_moved():
    s = feed_status(feed(0, health="moved", moved_to="https://n.example/f"), ZoneInfo("UTC"))
    assert s.label == "Moved" and "https://n.example/f" in s.detail
    assert s.attention and "https://n.example/f" in s.action


# --- files -------------------------------------------------------------------------------------


def test_deterministic_and_unchanged_files_keep_mtime(tmp_path):
    entries, feeds = hostile_site()
    s = settings_for(tmp_path)
    first = render_site(s, entries, feeds, last_refresh=T0)
    public = tmp_path / "public"
    files = sorted(p for p in public.rglob("*") if p.is_file())
    assert {str(p.relative_to(public)) for p in files} == set(first.written)
    snapshot = {p: p.read_bytes() for p in files}
    for p in files:
        os.utime(p, ns=(1_000_000_000, 1_000_000_000))
    second = render_site(s, entries, feeds, last_refresh=T0)
    assert second.written == [] and sorted(second.unchanged) == sorted(first.written)
    assert {p: p.read_bytes() for p in files} == snapshot
    assert all(p.stat().st_mtime_ns == 1_000_000_000 for p in files)
    # one change rewrites only what shows it
    third = render_site(
        s, [*entries[:-1], replace(entries[-1], title="Changed")], feeds, last_refresh=T0
    )
    assert set(third.written) == {"page/1/index.html"}  # the oldest posts
    assert not [p for p in public.rglob(".*.tmp")]
    assert "3 unchanged" not in third.line() and third.fields()["written"] == 1


def test_page_written_world_readable(tmp_path):
    old = os.umask(0o022)
    try:
        render_site(settings_for(tmp_path), [entry(0)], [feed(0)])
    finally:
        os.umask(old)
    assert (tmp_path / "public" / "index.html").stat().st_mode & 0o777 == 0o644


def test_template_override_falls_back_to_default(tmp_path):
    theme = tmp_path / "theme"
    theme.mkdir()
    (theme / "style.css").write_text("body { color: rebeccapurple }\n")
    (theme / "_entry.html").write_text(
        (default_templates_dir() / "_entry.html")
        .read_text()
        .replace('class="entry"', 'class="entry mine"')
    )
    s = settings_for(tmp_path, templates=str(theme))
    render_site(s, [entry(0)], [feed(0)])
    public = tmp_path / "public"
    assert (public / "style.css").read_text() == "body { color: rebeccapurple }\n"
    assert 'class="entry mine"' in (public / "index.html").read_text()
    assert (public / "atom.xml").read_text().startswith("<?xml")


def test_compiled_templates_are_kept_and_compiled_again_when_they_change(tmp_path):
    """A render keeps the templates it compiled; the next one loads them instead of
    compiling (it keeps nothing new), and compiles again only a template that changed. What
    is kept but not compiled code (a damaged cache) is compiled again, not trusted."""
    theme = tmp_path / "theme"
    theme.mkdir()
    (theme / "style.css").write_text("body { color: rebeccapurple }\n")
    s = settings_for(tmp_path, templates=str(theme))
    kept: dict[str, bytes] = {}
    saved: list[str] = []

    def save(key: str, code: bytes) -> None:
        saved.append(key)
        kept[key] = code

    def render() -> str:
        saved.clear()
        render_site(s, [entry(0)], [feed(0)], compiled=CompiledTemplates(kept.get, save))
        return (tmp_path / "public" / "style.css").read_text()

    assert render() == "body { color: rebeccapurple }\n"
    assert len(saved) == len(kept) >= 8  # every template the site's files come from
    assert render() == "body { color: rebeccapurple }\n" and saved == []
    (theme / "style.css").write_text("body { color: teal }\n")
    assert render() == "body { color: teal }\n" and len(saved) == 1
    for key in kept:
        kept[key] = b"not compiled code"
    assert render() == "body { color: teal }\n" and sorted(saved) == sorted(kept)


def test_bad_theme_is_a_clear_error(tmp_path):
    with pytest.raises(TemplateError, match="is not a folder"):
        render_site(settings_for(tmp_path, templates=str(tmp_path / "nope")), [], [])
    theme = tmp_path / "theme"
    theme.mkdir()
    (theme / "index.html").write_text("{% if %}")
    with pytest.raises(TemplateError, match=r"index.html:1"):
        render_site(settings_for(tmp_path, templates=str(theme)), [], [])


def test_default_theme_found_and_outputs_registered():
    folder = default_templates_dir()
    for output in OUTPUTS:
        if output.template:
            assert (folder / output.template).is_file()
    assert {o.path for o in OUTPUTS} >= {
        "index.html",
        "atom.xml",
        "rss.xml",
        "feed.json",
        "opml.xml",
    }


def test_shell_and_css_under_20_kb(tmp_path):
    render_site(settings_for(tmp_path), [entry(0, content="")], [feed(0)])
    public = tmp_path / "public"
    size = len((public / "index.html").read_bytes()) + len((public / "style.css").read_bytes())
    assert size < 20_000, size


# --- the corpus --------------------------------------------------------------------------------


@pytest.mark.slow
def test_whole_corpus_renders_and_parses_back(tmp_path):
    entries, feeds = corpus_views()
    assert len(feeds) > 50 and len(entries) > 1000
    s = settings_for(tmp_path, items=60)
    render_site(s, entries, feeds, last_refresh=T0)
    public = tmp_path / "public"
    pages = sorted(public.rglob("index.html"))
    assert len(pages) == -(-len(entries) // 60)
    links = set()
    for page in pages:
        doc = parse_html(page)
        assert len(doc.findall(".//h1")) == 1
        links |= {a.get("href") for a in doc.findall(".//article//h3/a")}
    assert links == {e.link for e in entries if e.link}
    for name in ("atom.xml", "rss.xml", "opml.xml"):
        etree.fromstring((public / name).read_bytes())
    atom = feedparser.parse((public / "atom.xml").read_bytes())
    assert not atom.bozo and len(atom.entries) == 60
    assert len(json.loads((public / "feed.json").read_text())["items"]) == 60
