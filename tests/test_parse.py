"""parse_feed on small hand-made documents."""

from __future__ import annotations

import json
import pickle
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campplanet.identity import entry_key
from campplanet.parse import ParseError, parse_feed
from campplanet.types import ParsedFeed
from planetkit import atom_document, cpu_seconds, rss_document

URL = "https://blog.example.org/feed/"


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty response"),
        (b"  \r\n\t ", "empty response"),
        (b"<!DOCTYPE html><html><head><title>Hi</title></head><body>x</body></html>", "HTML page"),
        (b"\n<html lang=en><body><p>Not found</p></body></html>", "HTML page"),
        (b'{"title": "an API answer"}', "not a feed (JSON without version)"),
        (b'{"version": "2.0", "items": []}', "not a feed (JSON without version)"),
        (b"[1, 2, 3]", "not a feed (JSON that is not an object)"),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', "JSON Feed without items"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "not valid JSON at line 1"),
        (b"<rss><channel><title>x</title>", "not well-formed XML at line "),
        (b"<?xml version='1.0'?><!-- nothing -->", "not well-formed XML at line "),
        (b"plain text, not markup", "not a feed (neither XML nor JSON)"),
        (b"\x00\x01\x02garbage\xff\xfe", "not a feed (neither XML nor JSON)"),
        (b"\xef\xbb\xbf  Error 500", "not a feed (neither XML nor JSON)"),
    ],
)
def test_unusable_bodies_raise_specific_errors(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_feed(body, URL)


def test_parse_error_message_names_line_and_column() -> None:
    body = b'<?xml version="1.0"?>\n<rss version="2.0">\n<channel>\n<title>x</titl>\n'
    with pytest.raises(ParseError) as e:
        parse_feed(body, URL)
    assert str(e.value).startswith("not well-formed XML at line 4, column ")


def test_bozo_feed_with_entries_is_used_and_problem_recorded() -> None:
    body = rss_document(
        "<item><title>Caf&eacute; post</title><link>https://b.example/1</link></item>"
    )
    feed = parse_feed(body, URL)
    assert [e.title for e in feed.entries] == ["Café post"]
    assert feed.problem is not None
    assert feed.problem.startswith("not well-formed XML at line 1, column ")
    assert "undefined entity" in feed.problem


def test_well_formed_feed_has_no_problem() -> None:
    assert parse_feed(rss_document("<item><title>a</title></item>"), URL).problem is None


def test_empty_feed_is_not_an_error() -> None:
    feed = parse_feed(rss_document(""), URL)
    assert feed.entries == () and feed.title == "Blog"


# --- links and identity ---------------------------------------------------------------------------


def test_relative_links_resolve_against_feed_url() -> None:
    feed = parse_feed(
        rss_document(
            "<item><title>a</title><link>/2024/a.html</link>"
            '<description>&lt;img src="img/x.png"&gt; '
            '&lt;a href="../b"&gt;b&lt;/a&gt;</description>'
            "</item>"
        ),
        URL,
    )
    assert feed.link == "https://blog.example.org/"
    (entry,) = feed.entries
    assert entry.link == "https://blog.example.org/2024/a.html"
    # content is resolved against the entry's own link
    assert 'src="https://blog.example.org/2024/img/x.png"' in entry.content
    assert 'href="https://blog.example.org/b"' in entry.content


def test_xml_base_is_honoured_for_links_and_content() -> None:
    feed = parse_feed(
        atom_document(
            '<entry xml:base="/posts/"><id>urn:1</id><title>t</title><link href="one.html"/>'
            '<content type="html" xml:base="/media/">&lt;img src="pic.png"&gt;</content></entry>',
            base="https://other.example/root/",
        ),
        URL,
    )
    (entry,) = feed.entries
    assert entry.link == "https://other.example/posts/one.html"
    assert 'src="https://other.example/media/pic.png"' in entry.content


def test_non_http_links_are_dropped() -> None:
    feed = parse_feed(
        rss_document(
            "<item><title>a</title><link>javascript:alert(1)</link><guid>g1</guid></item>"
        ),
        URL,
    )
    assert feed.entries[0].link is None
    assert feed.entries[0].key == "g1"


def test_entry_identity_guid_then_link_then_hash() -> None:
    feed = parse_feed(
        rss_document(
            "<item><guid> id-1 </guid><link>https://b.example/1</link><title>a</title></item>"
            "<item><link>https://B.example:443/2/?utm_source=rss#top</link><title>b</title></item>"
            "<item><title>c</title><description>body</description></item>"
        ),
        URL,
    )
    keys = [e.key for e in feed.entries]
    assert keys[0] == "id-1"
    assert keys[1] == "https://b.example/2#top"  # a fragment is part of the identity
    assert keys[2] == entry_key(None, None, "c", "body")
    assert keys[2].startswith("sha256:")
    assert feed.entries[0].guid == "id-1" and feed.entries[1].guid is None


# --- titles, content, text ------------------------------------------------------------------------


def test_titles_are_plain_text() -> None:
    feed = parse_feed(
        atom_document(
            '<entry><id>1</id><title type="html">&lt;b&gt;Bold&lt;/b&gt; &amp;amp; more</title>'
            "</entry>"
            '<entry><id>2</id><title type="text">a &lt;tag&gt; &amp; text</title></entry>'
            '<entry><id>3</id><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
            "<em>x</em>ml</div></title></entry>"
        ),
        URL,
    )
    assert [e.title for e in feed.entries] == ["Bold & more", "a <tag> & text", "xml"]


def test_untitled_entry_gets_start_of_its_text() -> None:
    feed = parse_feed(
        rss_document(
            "<item><description>&lt;p&gt;A short note about the camp&lt;/p&gt;</description></item>"
        )
        + b"",
        URL,
    )
    assert feed.entries[0].title == "A short note about the camp"
    empty = parse_feed(rss_document("<item><guid>x</guid></item>"), URL)
    assert empty.entries[0].title == "Untitled"


def test_huge_title_is_cut() -> None:
    feed = parse_feed(rss_document(f"<item><title>{'word ' * 200_000}</title></item>"), URL)
    title = feed.entries[0].title
    assert len(title) <= 300 and title.endswith("…")


def test_content_prefers_full_content_and_is_sanitized() -> None:
    feed = parse_feed(
        rss_document(
            "<item><title>t</title><link>https://b.example/p</link>"
            "<description>short excerpt</description>"
            "<content:encoded><![CDATA[<p onclick='x()'>Full <script>alert(1)</script>text"
            "<iframe src='https://www.youtube.com/embed/v'></iframe></p>]]></content:encoded></item>"
        ),
        URL,
    )
    (entry,) = feed.entries
    assert "Full" in entry.content and "excerpt" not in entry.content
    assert "<script" not in entry.content and "onclick" not in entry.content
    assert 'sandbox="allow-scripts allow-same-origin allow-popups"' in entry.content
    assert entry.summary == "Full text"


def test_iframe_hosts_are_passed_through() -> None:
    body = rss_document(
        "<item><title>t</title><description>&lt;iframe src='https://www.youtube.com/embed/v'&gt;"
        "&lt;/iframe&gt;</description></item>"
    )
    assert "<iframe" in parse_feed(body, URL).entries[0].content
    assert "<iframe" not in parse_feed(body, URL, iframe_hosts=()).entries[0].content


def test_plain_text_content_is_escaped_into_paragraphs() -> None:
    feed = parse_feed(
        atom_document(
            '<entry><id>1</id><title>t</title><content type="text">a &lt;b&gt;\n\nc</content>'
            "</entry>"
        ),
        URL,
    )
    assert feed.entries[0].content == "<p>a &lt;b&gt;</p><p>c</p>"


def test_authors_and_categories() -> None:
    feed = parse_feed(
        rss_document(
            "<item><title>t</title><dc:creator>Ann &amp; Bob</dc:creator>"
            "<category>camp</category><category> Camp </category><category>camp</category>"
            "<category>&lt;b&gt;x&lt;/b&gt;</category></item><item><title>u</title></item>",
            channel="<title>Blog</title><managingEditor>ed@example.org (Ed)</managingEditor>",
        ),
        URL,
    )
    first, second = feed.entries
    assert first.author == "Ann & Bob"
    assert first.categories == ("camp", "Camp", "<b>x</b>")
    assert second.author == "ed@example.org (Ed)"  # the feed's author stands in


def test_xml_invalid_characters_removed_from_every_field() -> None:
    feed = parse_feed(
        rss_document(
            "<item><title>a&#xFFFE;b</title><guid>g&#xFFFF;1</guid>"
            "<description>c&#xFFFE;d</description><category>e&#xFFFF;f</category></item>",
            channel="<title>x&#xFFFE;y</title>",
        ),
        URL,
    )
    (entry,) = feed.entries
    assert feed.title == "xy"
    assert (entry.title, entry.guid, entry.content, entry.categories) == ("ab", "g1", "cd", ("ef",))


# --- dates ------------------------------------------------------------------------------------


def test_dates_are_aware_utc_and_not_clamped() -> None:
    feed = parse_feed(
        atom_document(
            "<entry><id>1</id><title>a</title><published>2024-06-01T10:00:00+02:00</published>"
            "<updated>2024-06-02T00:00:00-05:00</updated></entry>"
            "<entry><id>2</id><title>b</title><published>1970-01-01T00:00:00Z</published></entry>"
            "<entry><id>3</id><title>c</title><published>2099-12-31T23:59:59Z</published></entry>"
            "<entry><id>4</id><title>d</title><published>yesterday-ish</published></entry>"
        ),
        URL,
    )
    a, b, c, d = feed.entries
    assert a.published == datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    assert a.updated == datetime(2024, 6, 2, 5, 0, tzinfo=UTC)
    assert a.published.utcoffset().total_seconds() == 0
    assert b.published == datetime(1970, 1, 1, tzinfo=UTC)
    assert c.published == datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert d.published is None and d.updated is None


def test_rss_pubdate_is_published_only() -> None:
    feed = parse_feed(
        rss_document(
            "<item><title>a</title><pubDate>Tue, 10 Jun 2003 04:00:00 GMT</pubDate></item>"
        ),
        URL,
    )
    entry = feed.entries[0]
    assert entry.published == datetime(2003, 6, 10, 4, tzinfo=UTC)
    assert entry.updated is None


# --- JSON Feed ----------------------------------------------------------------------------------


def json_feed(**overrides) -> bytes:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JSON &amp; blog",
        "home_page_url": "/",
        "icon": "/icon.png",
        "authors": [{"name": "Ann"}],
        "items": [
            {
                "id": 1,
                "url": "/p/1",
                "title": "One",
                "content_html": "<p onclick='x'>Hi <img src='a.png'></p><script>x()</script>",
                "date_published": "2024-01-02T03:04:05+01:00",
                "date_modified": "2024-01-03T00:00:00Z",
                "tags": ["camp", "camp", 7],
            },
            {
                "id": "2",
                "content_text": "plain <text>\n\nsecond",
                "external_url": "https://x.example/",
            },
            {"id": "3", "summary": "just a summary", "date_published": "not a date"},
            "not an object",
        ],
    }
    doc.update(overrides)
    return json.dumps(doc).encode()


def test_json_feed() -> None:
    feed = parse_feed(
        json_feed(), "https://json.example/feed.json", content_type="application/json"
    )
    assert (feed.title, feed.link, feed.image) == (
        "JSON & blog",
        "https://json.example/",
        "https://json.example/icon.png",
    )
    assert feed.problem == "skipped 1 of 4 items that are not JSON objects"
    one, two, three = feed.entries
    assert (one.key, one.guid, one.link, one.title) == ("1", "1", "https://json.example/p/1", "One")
    assert one.content == '<p>Hi <img src="https://json.example/p/a.png" loading="lazy" alt=""></p>'
    assert one.published == datetime(2024, 1, 2, 2, 4, 5, tzinfo=UTC)
    assert one.updated == datetime(2024, 1, 3, tzinfo=UTC)
    assert one.categories == ("camp", "7")
    assert one.author == "Ann"
    assert two.link == "https://x.example/"
    assert two.content == "<p>plain &lt;text&gt;</p><p>second</p>"
    assert two.title == "plain <text> second"
    assert three.content == "<p>just a summary</p>" and three.published is None


def test_json_feed_1_0_author_and_bom() -> None:
    body = json_feed(
        version="https://jsonfeed.org/version/1",
        authors=None,
        author={"name": "Old Style"},
        items=[
            {"id": "a", "title": "t", "author": {"name": "Item Author"}},
            {"id": "b", "title": "u"},
        ],
    )
    feed = parse_feed(b"\xef\xbb\xbf" + body, "https://json.example/feed.json")
    assert [e.author for e in feed.entries] == ["Item Author", "Old Style"]


def test_json_feed_with_wrong_types_does_not_crash() -> None:
    body = json_feed(
        title=["x"],
        home_page_url=5,
        items=[{"id": {"x": 1}, "url": ["u"], "title": None, "tags": "camp", "content_html": 3}],
    )
    feed = parse_feed(body, "https://json.example/feed.json")
    (entry,) = feed.entries
    assert feed.title is None and feed.link is None
    assert entry.guid is None and entry.link is None and entry.categories == ()
    assert entry.key.startswith("sha256:")


# --- hostile XML ------------------------------------------------------------------------------


def test_billion_laughs_is_not_expanded() -> None:
    levels = "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' if i else '<!ENTITY l0 "lol">' for i in range(10)
    )
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [{levels}]><rss version="2.0"><channel>'
        "<title>&l9;</title><item><title>&l9;</title><link>https://a.example/</link></item>"
        "</channel></rss>"
    ).encode()
    feed = parse_feed(body, URL)
    assert len(feed.entries[0].title) < 100 and "lol" * 10 not in feed.entries[0].title


def test_external_entities_are_not_fetched(tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<rss version="2.0"><channel><title>t</title><item><title>a&x;b</title>'
        "<description>&x;</description></item></channel></rss>"
    ).encode()
    feed = parse_feed(body, URL)
    assert all("TOP-SECRET" not in e.title + e.content for e in feed.entries)


# --- running in worker processes --------------------------------------------------------------


def _parse_in_worker(body: bytes) -> ParsedFeed:
    return parse_feed(body, URL)


def test_parse_runs_in_a_process_pool_and_results_pickle() -> None:
    bodies = [
        rss_document(
            "<item><title>a</title><pubDate>Tue, 10 Jun 2003 04:00:00 GMT</pubDate></item>"
        )
    ]
    bodies.append(json_feed())
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_parse_in_worker, bodies))
    assert [len(r.entries) for r in results] == [1, 3]
    assert pickle.loads(pickle.dumps(results)) == results
    error = pickle.loads(pickle.dumps(ParseError("empty response")))
    assert str(error) == "empty response"


# --- resource safety and fuzzing -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<!-- -->" * 300, "not well-formed XML"),
        (b"<!---->" * 300 + b"<!DOCTYPE html><p>x", "returned an HTML page, not a feed"),
        (b"\xef\xbb\xbf<!-- a -->\n<HTML><body>", "returned an HTML page, not a feed"),
    ],
)
def test_comment_runs_do_not_backtrack(body: bytes, message: str) -> None:
    """A pattern over leading comments once took exponential time on a run of empty ones."""
    with cpu_seconds(2), pytest.raises(ParseError, match=message):
        parse_feed(body, URL)


def test_deeply_nested_content_is_bounded() -> None:
    body = rss_document(
        f"<item><title>t</title><description>{'&lt;div&gt;' * 100_000}x</description></item>"
    )
    with cpu_seconds(10):
        feed = parse_feed(body, URL)
    assert feed.entries[0].summary == "x"


SEED = rss_document(
    "<item><title>A &amp; B</title><link>/a</link><guid>g</guid>"
    "<pubDate>Tue, 10 Jun 2003 04:00:00 GMT</pubDate><description>&lt;p&gt;Hi "
    "&lt;a href='x'&gt;x&lt;/a&gt;&lt;/p&gt;</description><category>c</category></item>"
)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_feeds_parse_or_fail_clearly(data: st.DataObject) -> None:
    body = bytearray(SEED)
    for _ in range(data.draw(st.integers(1, 8))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        at = data.draw(st.integers(0, len(body)))
        if op == "flip" and at < len(body):
            body[at] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del body[at:]
        elif op == "insert":
            body[at:at] = data.draw(
                st.sampled_from([b"<", b"&", b"]]>", b"\x00", b"<![CDATA[", b"&#0;", b"\xff\xfe"])
            )
        else:
            del body[at : at + data.draw(st.integers(1, 20))]
    try:
        feed = parse_feed(bytes(body), URL)
    except ParseError as e:
        assert str(e)
    else:
        for entry in feed.entries:
            assert entry.key and entry.title
            assert entry.link is None or entry.link.startswith(("http://", "https://"))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # found by fuzzing: each one made feedparser itself raise
        (b"<rss><channel><image><width><url></width>&x;", "feedparser failed on this document"),
        (b"<rss><channel><image><height><width></height>&x;</rss>", "feedparser failed"),
    ],
)
def test_feedparser_crashes_become_parse_errors(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_feed(body, URL)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        (b"nonesuch", "declared as nonesuch, an unknown encoding; decoded as utf-8"),
        # found by fuzzing: these made feedparser itself raise when it read the declaration
        (b"utf\x008", "declared as 'utf\\x008', an unknown encoding; decoded as utf-8"),
        (
            b"\x80\x81",
            "declared as '\\x80\\x81', an unknown encoding; not valid UTF-8; "
            "decoded as windows-1252",
        ),
    ],
)
def test_unknown_declared_encoding_is_a_problem_not_an_error(name: bytes, problem: str) -> None:
    body = b'<?xml version="1.0" encoding="' + name + b'"?><rss version="2.0"><channel>'
    body += b"<item><title>x</title></item></channel></rss>"
    feed = parse_feed(body, URL)
    assert [e.title for e in feed.entries] == ["x"]
    assert feed.problem == problem


# --- entry limit ------------------------------------------------------------------------------


def test_only_the_newest_entries_are_read_from_a_huge_feed() -> None:
    days = [(i * 7919) % 1500 for i in range(1500)]  # every day once, shuffled
    items = "".join(
        f"<item><guid>g{day}</guid><title>t{day}</title>"
        f"<pubDate>{(datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=day)):%a, %d %b %Y} "
        "00:00:00 GMT</pubDate></item>"
        for day in days
    )
    feed = parse_feed(rss_document(items), URL)
    assert len(feed.entries) == 1000
    assert {e.key for e in feed.entries} == {f"g{day}" for day in range(500, 1500)}
    assert [e.key for e in feed.entries] == [f"g{d}" for d in days if d >= 500]  # document order
    assert feed.problem == "1500 entries; only the newest 1000 were read"


def test_entry_limit_is_a_parameter_and_undated_entries_count_as_oldest() -> None:
    items = "<item><guid>undated</guid></item>" + "".join(
        f"<item><guid>g{i}</guid><pubDate>Tue, 0{i} Jun 2003 04:00:00 GMT</pubDate></item>"
        for i in range(1, 6)
    )
    feed = parse_feed(rss_document(items), URL, max_entries=2)
    assert [e.key for e in feed.entries] == ["g4", "g5"]
    undated_items = (f"<item><guid>u{i}</guid></item>" for i in range(5))
    undated = parse_feed(rss_document(*undated_items), URL, max_entries=3)
    assert [e.key for e in undated.entries] == ["u0", "u1", "u2"]


def test_entry_limit_applies_to_json_feed() -> None:
    items = [{"id": str(i), "date_published": f"2024-01-{i + 1:02d}T00:00:00Z"} for i in range(9)]
    feed = parse_feed(json_feed(items=items), URL, max_entries=4)
    assert [e.key for e in feed.entries] == ["5", "6", "7", "8"]
    assert feed.problem == "9 entries; only the newest 4 were read"


@pytest.mark.parametrize("unit", [b"<!ENTITY a ", b'<!ENTITY a "', b"<!ENTITY a '", b"<!ENTITY "])
def test_entity_declaration_runs_do_not_backtrack(unit: bytes) -> None:
    """The pattern that drops long entity declarations once took quadratic time on a run of
    unterminated declarations (20,000 of them: a minute)."""
    body = b'<?xml version="1.0"?><!DOCTYPE rss [' + unit * 100_000
    with cpu_seconds(10), pytest.raises(ParseError):
        parse_feed(body, URL)
