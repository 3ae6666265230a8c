"""Garbage where a feed should be: random bytes, wrong encodings, HTML pages, JSON that is
not a feed, empty and truncated bodies, NUL bytes, invalid dates, entries with nothing in
them. None crashes the parser or the run; each is reported."""

from __future__ import annotations

import json
import random

import pytest
from hostile import (
    Feed,
    Item,
    healthy_rss,
    run_planet_inprocess,
    write_planet,
)

from campplanet.parse import ParseError, parse_feed
from planetkit import opml_document, outline

rng = random.Random(8)
GOOD_RSS = healthy_rss("garbage", 2)

# name -> (body, content type, what must happen: "error" or "entries")
GARBAGE: dict[str, tuple[bytes, str, str]] = {
    "random-bytes": (bytes(rng.randrange(256) for _ in range(4096)), "application/xml", "error"),
    "random-ascii": (
        bytes(rng.randrange(32, 127) for _ in range(4096)),
        "application/rss+xml",
        "error",
    ),
    "empty": (b"", "application/xml", "error"),
    "whitespace": (b" \n\t\r\n ", "application/xml", "error"),
    "single-nul": (b"\x00", "application/xml", "error"),
    "nul-bytes": (b"\x00" * 10_000, "application/xml", "error"),
    "bom-only": (b"\xef\xbb\xbf", "application/xml", "error"),
    "html-page": (
        b"<!DOCTYPE html><html><head><title>Blog</title></head><body><p>Hi</p></body></html>",
        "text/html",
        "error",
    ),
    "html-page-as-xml": (
        b"<html><body><h1>Not a feed</h1></body></html>",
        "application/rss+xml",
        "error",
    ),
    "json-array": (b"[1, 2, 3]", "application/json", "error"),
    "json-object": (b'{"hello": "world"}', "application/json", "error"),
    "json-feed-no-items": (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "x"}',
        "application/feed+json",
        "error",
    ),
    "json-feed-items-not-list": (
        b'{"version": "https://jsonfeed.org/version/1.1", "items": {"a": 1}}',
        "application/feed+json",
        "error",
    ),
    "json-feed-items-garbage": (
        json.dumps(
            {
                "version": "https://jsonfeed.org/version/1",
                "items": [1, None, "x", [], {"id": 5, "title": ["a"], "content_html": {}}],
            }
        ).encode(),
        "application/feed+json",
        "entries",
    ),
    "json-deeply-nested": (b"[" * 100_000 + b"]" * 100_000, "application/json", "error"),
    "json-invalid-utf8": (b'{"version": "\xff\xfe"}', "application/json", "error"),
    "json-truncated": (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "", "error"),
    "xml-not-a-feed": (b'<?xml version="1.0"?><note><to>x</to></note>', "text/xml", "error"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="1"/></svg>', "", "error"),
    "truncated-rss": (GOOD_RSS[: len(GOOD_RSS) // 2], "application/rss+xml", "entries"),
    "truncated-in-tag": (GOOD_RSS[: GOOD_RSS.index(b"<item>") + 3], "application/xml", "any"),
    "nul-in-rss": (GOOD_RSS.replace(b"<title>", b"<title>\x00", 2), "application/xml", "any"),
    "control-chars-in-rss": (
        GOOD_RSS.replace(b"body", b"b\x01o\x02d\x1by"),
        "application/xml",
        "any",
    ),
    "latin1-declared-utf8": (
        GOOD_RSS.replace(b"garbage post 0", "caf\u00e9 cr\u00e8me".encode("latin-1")),
        "application/xml",
        "entries",
    ),
    # A BOM contradicting the declaration is a fatal error in XML 1.0 (appendix F).
    "utf16-declared-utf8": (GOOD_RSS.decode().encode("utf-16"), "application/xml", "any"),
    "utf8-declared-utf16": (
        GOOD_RSS.replace(b'encoding="UTF-8"', b'encoding="UTF-16"'),
        "application/xml",
        "any",
    ),
    "unknown-encoding": (
        GOOD_RSS.replace(b'encoding="UTF-8"', b'encoding="x-no-such-charset"'),
        "application/xml",
        "any",
    ),
    "ebcdic-declared": (
        GOOD_RSS.replace(b'encoding="UTF-8"', b'encoding="cp500"'),
        "application/xml",
        "any",
    ),
    "charset-header-lies": (GOOD_RSS, "application/xml; charset=utf-32", "any"),
    "gzip-not-decoded": (b"\x1f\x8b\x08\x00" + bytes(100), "application/xml", "error"),
    "png": (b"\x89PNG\r\n\x1a\n" + bytes(200), "image/png", "error"),
    "pdf": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "application/pdf", "error"),
    # Found by test_fuzz: feedparser raised TypeError/AttributeError out of parse_feed.
    "rss-stray-width-end-tag": (
        b'<rss version="2.0"><channel &><image><url>x</url></width></image>'
        b"<item><title>t</title></item></channel></rss>",
        "application/xml",
        "any",
    ),
    "rss-no-channel": (b'<rss version="2.0"></rss>', "application/rss+xml", "any"),
    "atom-no-entries": (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title></feed>',
        "application/atom+xml",
        "any",
    ),
    "deep-nesting-xml": (
        b'<rss version="2.0"><channel>' + b"<a>" * 5_000 + b"</a>" * 5_000 + b"</channel></rss>",
        "application/xml",
        "any",
    ),
    "huge-attribute-count": (
        b'<rss version="2.0"><channel><item '
        + b" ".join(b'a%d="x"' % i for i in range(2_000))
        + b"><title>t</title></item></channel></rss>",
        "application/xml",
        "any",
    ),
}

DATES = [
    "not a date",
    "",
    "0000-00-00T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "-0001-01-01T00:00:00Z",
    "2026-13-45T99:99:99Z",
    "1970-01-01T00:00:00Z",
    "Thu, 31 Feb 2026 25:61:61 +9999",
    "2038-01-19T03:14:08Z",
    "99999999999999999999",
    "2026-11-20T10:00:00+25:00",
    "\x00\x01",
]


def empty_entries(kind: str) -> bytes:
    if kind == "rss":
        return (
            b'<rss version="2.0"><channel><item/><item></item><item><title/></item></channel></rss>'
        )
    if kind == "atom":
        return (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><entry/><entry><title/><content/>'
            b"</entry></feed>"
        )
    return b'{"version": "https://jsonfeed.org/version/1.1", "items": [{}, {"id": ""}, {}]}'


@pytest.mark.parametrize("name", list(GARBAGE))
def test_garbage_is_reported_not_raised(name):
    body, ctype, expected = GARBAGE[name]
    try:
        feed = parse_feed(body, "http://127.0.0.1:9/feed", content_type=ctype or None)
    except ParseError as e:
        assert expected in ("error", "any"), f"{name}: refused ({e}) but should have entries"
        message = str(e)
        assert message and "Traceback" not in message and len(message) < 500
        return
    assert expected in ("entries", "any"), f"{name}: parsed but should be refused"
    if expected == "entries":
        assert feed.entries
    for entry in feed.entries:
        for text in (entry.title, entry.content, entry.summary, entry.author or ""):
            assert "\x00" not in text


@pytest.mark.parametrize("kind", ["rss", "atom", "json"])
@pytest.mark.parametrize("date", DATES)
def test_invalid_dates_are_ignored(kind, date):
    feed = Feed(items=[Item(guid="urn:d", published="2026-11-20T10:00:00Z")])
    body = feed.render(kind)
    body = body.replace(b"2026-11-20T10:00:00Z", json.dumps(date)[1:-1].encode())
    body = body.replace(b"Fri, 20 Nov 2026 10:00:00 +0000", date.encode())
    if kind != "json":
        body = body.replace(b"\x00\x01", b"")
    parsed = parse_feed(body, "http://127.0.0.1:9/feed")
    assert len(parsed.entries) == 1
    entry = parsed.entries[0]
    for when in (entry.published, entry.updated):
        assert when is None or (when.tzinfo is not None and 1 <= when.year <= 9999)


@pytest.mark.parametrize("kind", ["rss", "atom", "json"])
def test_entries_with_nothing_in_them(kind):
    try:
        parsed = parse_feed(empty_entries(kind), "http://127.0.0.1:9/feed")
    except ParseError:
        return
    keys = [e.key for e in parsed.entries]
    for e in parsed.entries:
        assert e.key and e.title  # "Untitled" rather than nothing
        assert e.link is None or e.link.startswith("http")
    assert len(keys) >= 1


def test_garbage_through_the_cli(tmp_path, server):
    """Every garbage body as a feed of one planet next to a healthy feed: the run completes,
    each garbage feed is either used or reported with a reason, the healthy one is stored."""
    outlines = [outline("Healthy", server.serve("/healthy", healthy_rss("healthy")))]
    for name, (body, ctype, _) in GARBAGE.items():
        url = server.serve(f"/g/{name}", body, content_type=ctype or "application/octet-stream")
        outlines.append(outline(f"Garbage {name}", url))
    for kind in ("rss", "atom", "json"):
        url = server.serve(f"/empty/{kind}", empty_entries(kind), content_type="application/xml")
        outlines.append(outline(f"Empty entries {kind}", url))
    write_planet(tmp_path, opml_document(outlines))
    run = run_planet_inprocess(tmp_path)
    assert run.code == 0, run.output
    assert "Traceback" not in run.output
    rows = run.feed_rows()
    assert len(run.entry_rows(outlines[0]["xmlUrl"])) == 3
    for feed in outlines[1:]:
        row = rows[feed["xmlUrl"]]
        name = feed["text"].removeprefix("Garbage ")
        if name in GARBAGE and GARBAGE[name][2] == "error":
            assert row["last_error"], f"{name}: not reported"
            assert row["failures"] == 1
            assert feed["xmlUrl"] in run.output  # listed on stderr
        if row["last_error"]:
            assert "unexpected" not in row["last_error"].lower(), (name, row["last_error"])
    assert (run.public / "index.html").is_file()


OPML_GARBAGE: dict[str, bytes] = {
    "unknown-encoding": b'<?xml version="1.0" encoding="TF-8"?><opml version="2.0"><body/></opml>',
    "ebcdic-encoding": b'<?xml version="1.0" encoding="cp500"?><opml version="2.0"><body/></opml>',
    "random-bytes": bytes(random.Random(3).randrange(256) for _ in range(2048)),
    "nul-bytes": b"\x00" * 100,
    "empty": b"",
    "whitespace": b"  \n ",
    "html": b"<!DOCTYPE html><html><body>not a list</body></html>",
    "json": b'{"feeds": []}',
    "truncated": b'<?xml version="1.0"?><opml version="2.0"><body><outline text="a" xmlU',
    "rss-instead": GOOD_RSS,
    "bom-mismatch": (
        '<?xml version="1.0" encoding="UTF-8"?><opml version="2.0"><body/></opml>'
    ).encode("utf-16"),
}


@pytest.mark.parametrize("name", list(OPML_GARBAGE))
def test_garbage_opml_is_an_opml_error(name, tmp_path):
    from campplanet.exceptions import OPMLError
    from campplanet.opml import lint_opml, read_opml

    path = tmp_path / "feeds.opml"
    path.write_bytes(OPML_GARBAGE[name])
    with pytest.raises(OPMLError) as caught:
        read_opml(path)
    assert str(caught.value).startswith(str(path))
    assert any(p.severity == "error" for p in lint_opml(path))
