"""Every real-world feed in tests/data/feeds/ through parse_feed.

Broken documents either parse with a recorded problem or fail with a specific message; every
other document yields all its entries, with aware UTC dates (or none), absolute http(s) links,
plain-text titles, sanitized content and correctly decoded text.
"""

from __future__ import annotations

import re
from datetime import UTC
from pathlib import Path

import html5lib
import pytest

from campplanet.parse import ParseError, parse_feed
from campplanet.sanitize import strip_invalid_xml_chars
from campplanet.types import ParsedFeed
from sitekit import assert_inert

CORPUS = Path(__file__).parent / "data" / "feeds"
FILES = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file())
WELL_FORMED = [f for f in FILES if not f.startswith("broken/")]


def fetch_url(name: str) -> str:
    return f"https://corpus.example/{name}"


def parse(name: str) -> ParsedFeed:
    return parse_feed((CORPUS / name).read_bytes(), fetch_url(name))


# What each broken document gives: ("problem", start of ParsedFeed.problem) for a document
# that still yields entries, ("error", ParseError message) for one that yields nothing, and
# (None, None) for one that the parser mends silently (whitespace before the declaration).
BROKEN = {
    "broken/blank-lines-before-decl-userland-default-ns.xml": (
        "problem",
        "not well-formed XML at line 38, column 12: unbound prefix",
    ),
    "broken/control-character-0x06.xml": (
        "problem",
        "not well-formed XML at line 4306, column 41: not well-formed (invalid token)",
    ),
    "broken/empty-document.xml": ("error", "not well-formed XML at line 6, column 0: no element"),
    "broken/guardian-unescaped-ampersand-in-attribute.xml": (
        "problem",
        "not well-formed XML at line 35, column 158: not well-formed (invalid token)",
    ),
    "broken/html-page-instead-of-feed-nixos.xml": ("error", "returned an HTML page, not a feed"),
    "broken/incomplete-cdata.xml": ("problem", "not well-formed XML at line 6, column 0"),
    "broken/myanimelist-undefined-html-entity.xml": (
        "problem",
        "not well-formed XML at line 98, column 121: undefined entity",
    ),
    "broken/newline-before-xml-decl-podcast.rss": (None, None),
    "broken/unclosed-root-tag.xml": ("error", "not well-formed XML at line 7, column 0: unclosed"),
    "broken/wordpress-blank-lines-before-xml-decl.xml": (None, None),
    "broken/wordpress-undefined-entity.xml": (
        "problem",
        "not well-formed XML at line 8, column 22: undefined entity",
    ),
}
# Documents that test dates outside any plausible range on purpose.
DATE_TESTS = {
    "edge/rss-date-formats-snarfware-everything.xml",
    "edge/rss-pubdate-distant-future-2103.xml",
}


def raw_entry_count(name: str) -> int:
    """Count <item>/<entry> start tags in the raw bytes: an oracle independent of feedparser."""
    raw = (CORPUS / name).read_bytes()
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or raw[1:2] == b"\x00":
        raw = raw.decode("utf-16").encode()
    return len(re.findall(rb"<(?:\w+:)?(?:item|entry)[\s>]", raw))


def test_every_broken_file_has_an_expectation() -> None:
    assert sorted(BROKEN) == [f for f in FILES if f.startswith("broken/")]


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_file(name: str) -> None:
    kind, message = BROKEN[name]
    if kind == "error":
        with pytest.raises(ParseError) as e:
            parse(name)
        assert str(e.value).startswith(message)
        return
    feed = parse(name)
    assert len(feed.entries) == raw_entry_count(name) > 0
    if kind is None:
        assert feed.problem is None
    else:
        assert feed.problem is not None and feed.problem.startswith(message)


@pytest.mark.parametrize("name", WELL_FORMED)
def test_well_formed_file(name: str) -> None:
    feed = parse(name)
    assert len(feed.entries) == raw_entry_count(name)
    if name != "encoding/uol-latin1-bytes-no-xml-decl.rss":
        assert feed.problem is None
    for url in (feed.link, feed.image):
        assert url is None or re.match(r"https?://[^/\s]+", url), url
    for entry in feed.entries:
        assert entry.key and entry.key == entry.key.strip()
        assert entry.link is None or re.match(r"https?://[^/\s]+", entry.link), entry.link
        assert entry.title and entry.title == entry.title.strip() and len(entry.title) <= 300
        assert "\n" not in entry.title
        for text in (entry.title, entry.summary, entry.content, entry.author or "", entry.key):
            assert strip_invalid_xml_chars(text) == text
        assert len(entry.summary.split()) <= 61
        for date in (entry.published, entry.updated):
            if date is not None:
                assert date.tzinfo is not None and date.utcoffset().total_seconds() == 0
                assert date.tzinfo == UTC
                if name not in DATE_TESTS:
                    assert 1995 <= date.year <= 2027, (entry.title, date)


def test_every_file_is_covered() -> None:
    assert len(FILES) == len(WELL_FORMED) + len(BROKEN) >= 75


def _urls(fragment: str) -> list[str]:
    tree = html5lib.parseFragment(fragment, treebuilder="etree", namespaceHTMLElements=False)
    urls = []
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        for name in ("href", "src", "poster"):
            if name in element.attrib:
                urls.append(element.attrib[name])
        if "srcset" in element.attrib:
            urls += [c.split()[0] for c in element.attrib["srcset"].split(",") if c.strip()]
    return urls


@pytest.mark.slow
def test_all_content_is_inert_with_absolute_urls() -> None:
    """Every entry of every usable corpus file, through an HTML5 parser: no script routes,
    and every link and image absolute."""
    checked = 0
    for name in FILES:
        try:
            feed = parse(name)
        except ParseError:
            continue
        for entry in feed.entries:
            assert_inert(entry.content)
            for url in _urls(entry.content):
                assert re.match(r"(https?://[^/\s]+|mailto:)", url), (name, url)
            checked += 1
    assert checked > 2000


# --- encodings: specific words come out right --------------------------------------------------


@pytest.mark.parametrize(
    ("name", "feed_title", "words"),
    [
        ("encoding/golem-iso8859-1.xml", "Golem.de", ["Elektromobilität", "Parklücke", "für"]),
        (
            "encoding/jn-pt-iso8859-1.rss",
            "Jornal de Notícias - Últimas Notícias",
            ["Mãe", "Raríssimas"],
        ),
        (
            "encoding/uol-latin1-bytes-no-xml-decl.rss",
            "UOL Noticias",
            ["simulações", "Comércio", "após"],
        ),
        ("encoding/ibash-windows-1251.xml", "iBash.Org.Ru", ["Цитата"]),
        (
            "encoding/kc0011-gb2312.rss",
            "投资资讯网交易在线--流通纪念币最新20篇论坛主题-全文",
            ["建国35周年纪念", "和平鸽"],
        ),
        ("encoding/utf16le-no-bom-no-decl.xml", "Test feed", ["Test feed title 1"]),
        ("encoding/donthitsave-utf8-bom.xml", "Don't Hit Save", ["Skipping Around"]),
        ("encoding/c1-control-chars-cp1252-smart-quote.xml", None, ["don’t"]),
        ("rdf/lautde-rss1-iso8859-1.rdf", "laut.de - news", ["Kölner", "Sänger", "veröffentlicht"]),
        ("wordpress/cyklistbloggen-wp4-rss2-swedish.xml", "Cyklistbloggen", ["Sjöstad", "Jösses"]),
        ("movabletype/mt4-ru-atom-css-sanitisation.xml", None, ["Невидимая броня"]),
        ("broken/wordpress-undefined-entity.xml", "Myrskylän kunta", ["jätetaksa"]),
        ("broken/myanimelist-undefined-html-entity.xml", "News - MyAnimeList", []),
    ],
)
def test_encoding_decoded_words(name: str, feed_title: str | None, words: list[str]) -> None:
    feed = parse(name)
    if feed_title is not None:
        assert feed.title == feed_title
    text = " ".join(f"{e.title} {e.summary}" for e in feed.entries)
    for word in words:
        assert word in text
    assert "\ufffd" not in text and "Ã" not in text  # no replacement chars, no UTF-8-as-Latin-1


def test_windows_1252_declared() -> None:
    feed = parse("encoding/gamesindustry-windows-1252.xml")
    (entry,) = feed.entries
    assert entry.title == "BioShock 2 coming from 2K Marin"
    assert entry.link == "http://www.gamesindustry.biz/content_page.php?aid=34018"
    assert entry.key == "http://www.gamesindustry.biz/content_page.php?aid=34018"


@pytest.mark.parametrize("name", ["encoding/utf16le-bom.xml", "encoding/utf16be-bom.xml"])
def test_utf16_with_bom_parses_cleanly(name: str) -> None:
    feed = parse(name)
    assert feed.entries == () and feed.problem is None


def test_wrong_charset_is_recorded() -> None:
    feed = parse("encoding/uol-latin1-bytes-no-xml-decl.rss")
    assert feed.problem is not None and "windows-1252" in feed.problem


# --- links, bases and identity ----------------------------------------------------------------


def test_relative_links_resolve_against_fetch_url() -> None:
    name = "jekyll/qemu-jekyll-feed-atom.atom"
    feed = parse(name)
    assert feed.link == "https://corpus.example/"
    assert feed.entries[0].link == "https://corpus.example/2025/08/26/qemu-10-1-0/"
    tpm = parse("xmlbase/tpm-atom-root-relative-links.atom")
    assert tpm.entries[1].link == "https://corpus.example/edblog/were-hiring-senior-editor"
    assert all(e.link.startswith("https://corpus.example/") for e in tpm.entries)


def test_relative_content_urls_resolve_against_entry_link() -> None:
    feed = parse("xmlbase/reader-relative-links.atom")
    (entry,) = feed.entries
    assert entry.link == "https://corpus.example/xmlbase/entries/entry.html"
    assert feed.link == "https://corpus.example/xmlbase/file.html"
    assert "<script" not in entry.content


def test_xml_base_on_rss_root() -> None:
    feed = parse("drupal/nasa-breaking-news-rss-xmlbase-on-rss.xml")
    assert feed.entries[0].link.startswith("http://www.nasa.gov/press-release/")


def test_same_link_different_ids_stay_different_entries() -> None:
    feed = parse("wordpress-atom/onefoottsunami-wp4.3-atom.atom")
    links = [e.link for e in feed.entries]
    shared = {link for link in links if links.count(link) > 1}
    assert shared
    keys = [e.key for e in feed.entries if e.link in shared]
    assert len(set(keys)) == len(keys)


def test_keys_do_not_depend_on_fetch_url() -> None:
    """A feed that moves keeps the identities of its entries: relative ids (Jekyll, Hugo) are
    kept as written, not resolved against the fetch URL."""
    for name in (
        "jekyll/qemu-jekyll-feed-atom.atom",
        "jekyll/lineageos-jekyll-atom.xml",
        "hugo/cowboyprogrammer-hugo-atom-leading-newline.xml",
        "broken/newline-before-xml-decl-podcast.rss",
        "edge/items-without-titles.xml",
        "other/scriptingnews-oldschool-rss-untitled-items.rss",
        "rss09x/scripting-radio-userland-rss092-enclosures.xml",
    ):
        body = (CORPUS / name).read_bytes()
        a = parse_feed(body, "https://one.example/feed")
        b = parse_feed(body, "https://two.example/other/feed")
        assert [e.key for e in a.entries] == [e.key for e in b.entries]


def test_untitled_entries_get_titles_from_text() -> None:
    feed = parse("mastodon/mastodon-4.3-account-rss.xml")
    assert feed.entries[0].title == "Raiders ride giant lizards across the desert."
    untitled = parse("other/scriptingnews-oldschool-rss-untitled-items.rss")
    assert all(e.title != "Untitled" for e in untitled.entries)


def test_double_escaped_feed_title() -> None:
    assert parse("jekyll/jekyll-atom-html-title-entities.xml").title == "Attack & Defense"


def test_dates_from_the_date_torture_feed() -> None:
    feed = parse("edge/rss-date-formats-snarfware-everything.xml")
    by_number = {e.title.split(".")[0]: e.published for e in feed.entries}
    assert by_number["01"].isoformat() == "2006-02-09T23:59:45+00:00"
    assert by_number["06"].year == 1996
    assert by_number["09"].isoformat() == "2006-02-09T16:59:45+00:00"
    assert by_number["23"] is None and by_number["24"] is None
    # not clamped here: the entry policy decides what to do with implausible dates
    assert by_number["27"].year == 1806 and by_number["30"].year == 2106
    assert parse("edge/rss-pubdate-distant-future-2103.xml").entries[0].published.year == 2103


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.5, 0.77, 0.999])
def test_truncated_feed_parses_or_fails_clearly(fraction: float) -> None:
    body = (CORPUS / "wordpress/rsscom-blog-wp6-rss2.xml").read_bytes()
    cut = body[: int(len(body) * fraction)]
    try:
        feed = parse_feed(cut, "https://corpus.example/feed")
    except ParseError as e:
        assert str(e).startswith("not well-formed XML at line ")
    else:
        assert feed.problem is not None and feed.problem.startswith("not well-formed XML")
        assert len(feed.entries) <= 100
