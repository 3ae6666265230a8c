"""Every real-world feed in tests/data/feeds/ through parse_feed.

Each file meets the expectation stated beside it, in ``<file>.expect`` (the files stay byte
for byte as captured, so the expectation cannot go inside them): Planet Venus's
``Description:`` and ``Expect:`` lines, every ``Expect:`` a Python expression that must
hold over the parse (the names are :func:`parse_names`'s). A file without one is expected to
parse cleanly, every entry, with plausible dates: ``clean and plausible_dates``.

Every usable document also yields entries with aware UTC dates (or none), absolute http(s)
links, plain-text titles, sanitized content and clean text.
"""

from __future__ import annotations

import re
from datetime import UTC

import html5lib
import pytest

from campplanet.parse import ParseError, parse_feed
from campplanet.sanitize import strip_invalid_xml_chars
from campplanet.types import ParsedFeed
from planetkit import CORPUS, corpus_files, expectation
from sitekit import assert_inert

FILES = [str(p.relative_to(CORPUS)) for p in corpus_files()]
WELL_FORMED = [f for f in FILES if not f.startswith("broken/")]
DEFAULT_EXPECT = ["clean and plausible_dates"]


def fetch_url(name: str) -> str:
    return f"https://corpus.example/{name}"


def parse(name: str) -> ParsedFeed:
    return parse_feed((CORPUS / name).read_bytes(), fetch_url(name))


def raw_entry_count(name: str) -> int:
    """Count <item>/<entry> start tags in the raw bytes: an oracle independent of feedparser."""
    raw = (CORPUS / name).read_bytes()
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or raw[1:2] == b"\x00":
        raw = raw.decode("utf-16").encode()
    return len(re.findall(rb"<(?:\w+:)?(?:item|entry)[\s>]", raw))


def parse_names(name: str) -> dict[str, object]:
    """What an ``Expect:`` line may use: the parse of ``name`` and facts about it."""
    try:
        feed, error = parse(name), None
    except ParseError as e:
        feed, error = None, str(e)
    entries = feed.entries if feed else ()
    dates = [d for e in entries for d in (e.published, e.updated) if d is not None]
    text = " ".join(f"{e.title} {e.summary}" for e in entries)
    raw_entries = raw_entry_count(name)
    problem = feed.problem if feed else None
    return {
        "error": error,  # the ParseError's message, or None
        "problem": problem,  # ParsedFeed.problem, for a document used despite a flaw
        "title": feed.title if feed else None,
        "entries": entries,
        "raw_entries": raw_entries,  # <item> and <entry> tags in the raw bytes
        "text": text,  # every entry's title and summary
        "dates": dates,  # every entry's published and updated dates
        # parsed without a flaw, every entry in the document read
        "clean": error is None and problem is None and len(entries) == raw_entries,
        "plausible_dates": all(1995 <= d.year <= 2027 for d in dates),
        # replacement characters, or UTF-8 read as Latin-1
        "garbled": "\ufffd" in text or "Ã" in text,
    }


@pytest.mark.parametrize("name", FILES)
def test_file_meets_its_expectation(name: str) -> None:
    expect = expectation(CORPUS / name)
    names = parse_names(name)
    for line in expect.get("Expect", DEFAULT_EXPECT):
        assert eval(line, dict(names)), (line, {k: names[k] for k in ("error", "problem")})


def test_every_broken_file_has_an_expectation_and_every_expectation_a_file() -> None:
    """A broken document cannot meet the default; an expectation beside no file is a typo."""
    beside = sorted(str(p.relative_to(CORPUS))[: -len(".expect")] for p in CORPUS.rglob("*.expect"))
    assert set(beside) <= set(FILES), set(beside) - set(FILES)
    assert {f for f in FILES if f.startswith("broken/")} <= set(beside)
    for name in beside:
        assert set(expectation(CORPUS / name)) == {"Description", "Expect"}, name


def test_the_expectations_can_fail() -> None:
    """An expectation that does not hold fails the test: a broken file is not clean."""
    names = parse_names("broken/unclosed-root-tag.xml")
    assert not eval(DEFAULT_EXPECT[0], names)
    assert not eval("error is None", parse_names("broken/empty-document.xml"))


@pytest.mark.parametrize("name", WELL_FORMED)
def test_well_formed_file(name: str) -> None:
    feed = parse(name)
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


def test_every_file_is_covered() -> None:
    assert len(FILES) >= 75


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


# --- encodings ------------------------------------------------------------------------------


def test_windows_1252_declared() -> None:
    feed = parse("encoding/gamesindustry-windows-1252.xml")
    (entry,) = feed.entries
    assert entry.title == "BioShock 2 coming from 2K Marin"
    assert entry.link == "http://www.gamesindustry.biz/content_page.php?aid=34018"
    assert entry.key == "http://www.gamesindustry.biz/content_page.php?aid=34018"


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
