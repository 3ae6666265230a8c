"""Fuzz targets (hypothesis): the OPML reader and the feed parse/normalise stage on
generated and mutated documents. The only exception either may raise is its own
(OPMLError, ParseError); every entry that comes out has sanitized content.

Run briefly here (``FUZZ_EXAMPLES``, default 60 per target); ``benchmarks/fuzz.py
--minutes N`` runs the same targets for longer.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import html5lib
from hostile import html_problems
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campplanet.exceptions import OPMLError
from campplanet.opml import lint_opml, read_opml
from campplanet.parse import ParseError, parse_feed
from campplanet.sanitize import sanitize_html
from planetkit import corpus_files

DATA = Path(__file__).parent.parent / "data"
FEEDS = [p for p in corpus_files() if p.stat().st_size < 150_000]
OPMLS = sorted(p for p in (DATA / "opml").rglob("*") if p.is_file())
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("FUZZ_RANDOM") is None,
)
FRAGMENTS = [
    b"<",
    b">",
    b"&",
    b"&#0;",
    b"&#x110000;",
    b"]]>",
    b"<![CDATA[",
    b"<!DOCTYPE x [<!ENTITY a 'b'>]>",
    b"<!--",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b'"',
    b"<script>alert(1)</script>",
    b"<img src=x onerror=alert(1)>",
    b'<a href="javascript:alert(1)">',
    b"<item>",
    b"</item>",
    b"<entry>",
    b"<outline xmlUrl='http://127.0.0.1:9/f' text='x'/>",
    b'{"version": "https://jsonfeed.org/version/1.1", "items": [{}]}',
    "\u202e\ud7ff\ufffe".encode("utf-8", "surrogatepass"),
]


@st.composite
def mutated(draw, corpus: list[Path]) -> bytes:
    """A corpus document with a few bytes flipped, cut, duplicated or spliced in."""
    data = bytearray(draw(st.sampled_from(corpus)).read_bytes())
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup", "truncate"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[pos : pos + draw(st.integers(1, 200))]
        elif op == "insert":
            data[pos:pos] = draw(st.sampled_from(FRAGMENTS))
        elif op == "dup":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 500))]
        else:
            data = data[:pos]
    return bytes(data)


def dropped_by_sanitizing_again(content: str) -> list[str]:
    """What sanitizing already-sanitized content again takes out of it: nothing, if it came
    out of the sanitizer. The same elements in the same order with the same text, each
    keeping every attribute and value (sanitizing may add one, as rel on a link); only the
    serialisation may differ (attribute order), so the trees are compared, not the text."""

    def elements(fragment: str) -> list[tuple[str, dict[str, str], str, str]]:
        tree = html5lib.parseFragment(fragment, namespaceHTMLElements=False)
        return [
            (e.tag, dict(e.attrib), e.text or "", e.tail or "")
            for e in tree.iter()
            if isinstance(e.tag, str)
        ]

    before, after = elements(content), elements(sanitize_html(content, None))
    if [e[0] for e in before] != [e[0] for e in after]:
        return [f"elements {[e[0] for e in before]} became {[e[0] for e in after]}"]
    dropped = []
    for (tag, attrs, text, tail), (_, attrs_again, text_again, tail_again) in zip(
        before, after, strict=True
    ):
        if (text, tail) != (text_again, tail_again):
            dropped.append(f"<{tag}> text {text!r} {tail!r} became {text_again!r} {tail_again!r}")
        dropped += [
            f"<{tag} {name}={value!r}>"
            for name, value in attrs.items()
            if attrs_again.get(name) != value
        ]
    return dropped


def test_the_resanitizing_check_can_fail() -> None:
    assert dropped_by_sanitizing_again("<p>kept <b>bold</b></p>") == []
    assert dropped_by_sanitizing_again("<p>x</p><script>alert(1)</script>")
    assert dropped_by_sanitizing_again('<p onclick="alert(1)">x</p>')
    assert dropped_by_sanitizing_again('<a href="javascript:alert(1)">x</a>')


def check_feed(body: bytes) -> None:
    try:
        feed = parse_feed(body, "http://127.0.0.1:9/feed")
    except ParseError as e:
        assert str(e)
        return
    for entry in feed.entries:
        assert html_problems(entry.content, "content", fragment=True) == []
        assert dropped_by_sanitizing_again(entry.content) == []
        assert entry.key
        assert entry.link is None or entry.link.startswith(("http://", "https://"))


def check_opml(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "feeds.opml"
        path.write_bytes(data)
        try:
            subs = read_opml(path, allow_private_networks=True)
        except OPMLError as e:
            assert str(e).startswith(str(path))
        else:
            for sub in subs:
                assert sub.url.startswith(("http://", "https://")), sub.url
        problems = lint_opml(path, allow_private_networks=True)
        assert all(p.severity in ("error", "warning") for p in problems)


@FUZZ
@given(mutated(FEEDS))
def test_fuzz_parse_mutated_corpus(body):
    check_feed(body)


@FUZZ
@given(st.binary(max_size=2000))
def test_fuzz_parse_random_bytes(body):
    check_feed(body)


@FUZZ
@given(mutated(OPMLS))
def test_fuzz_opml_mutated_corpus(data):
    check_opml(data)


attr = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@st.composite
def generated_opml(draw) -> bytes:
    from xml.sax.saxutils import quoteattr

    outlines = []
    for _ in range(draw(st.integers(0, 6))):
        names = draw(
            st.lists(
                st.sampled_from(
                    [
                        "text",
                        "title",
                        "xmlUrl",
                        "xmlurl",
                        "htmlUrl",
                        "avatar",
                        "filter",
                        "type",
                        "category",
                        "x",
                    ]
                ),
                unique=True,
                max_size=6,
            )
        )
        pairs = " ".join(f"{n}={quoteattr(draw(attr))}" for n in names)
        outlines.append(f"<outline {pairs}/>")
    version = draw(st.sampled_from(["1.0", "2.0", "", "3"]))
    doc = f'<opml version="{version}"><head/><body>{"".join(outlines)}</body></opml>'
    return doc.encode("utf-8", "surrogatepass")


@FUZZ
@given(generated_opml())
def test_fuzz_opml_generated(data):
    check_opml(data)
