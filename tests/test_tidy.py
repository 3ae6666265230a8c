"""campplanet.tidy: sanitized HTML made valid inside the page, and long posts cut."""

from __future__ import annotations

import re
from pathlib import Path

import html5lib
import pytest

from campplanet.parse import ParseError, parse_feed
from campplanet.sanitize import sanitize_html
from campplanet.tidy import _cut, cut_html, tidy_html

CORPUS = Path(__file__).parent / "data" / "feeds"
FILES = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file())


def balanced(fragment: str) -> bool:
    void = {"br", "img", "hr", "wbr", "source", "track", "col"}
    stack = []
    for closing, name in re.findall(r"<(/?)([a-z][a-z0-9]*)", fragment):
        if name in void:
            continue
        if closing:
            if not stack or stack.pop() != name:
                return False
        else:
            stack.append(name)
    return not stack


@pytest.mark.parametrize("limit", [1, 5, 17, 40, 60, 80])
def test_cut_keeps_html_well_formed(limit):
    html = (
        '<div><p>Alpha &amp; beta <a href="https://x.org/?a=1&amp;b=2">gamma <b>delta</b></a>'
        " epsilon</p><ul><li>one two three</li><li>four <i>five six</i></li></ul>"
        "<blockquote><p>seven eight nine ten eleven twelve</p></blockquote></div>"
    )
    cut, was_cut = cut_html(html, limit)
    assert was_cut
    assert balanced(cut), cut
    assert cut.startswith(html[:5])
    assert "&amp" not in cut or re.search(r"&amp(?!;)", cut) is None


def test_cut_leaves_short_content_alone():
    assert cut_html("<p>short</p>", 100) == ("<p>short</p>", False)
    assert cut_html("<p>" + "x " * 1000 + "</p>", 0)[1] is True
    assert tidy_html("<p>" + "x " * 1000 + "</p>") == "<p>" + "x " * 1000 + "</p>"


def test_headings_renumbered_below_entry_title_without_skipping():
    out = tidy_html("<h1>A</h1><p>x</p><h4>B</h4><h2>C</h2><h6>D</h6>")
    levels = [int(n) for n in re.findall(r"<h([1-6])>", out)]
    assert levels[0] == 4
    assert all(4 <= b <= a + 1 for a, b in zip([3, *levels], levels, strict=False)), levels
    assert balanced(out)


@pytest.mark.parametrize(
    ("source", "wanted"),
    [
        ("<span><table><tr><td>x</td></tr></table></span>", "<div><table>"),
        ("<li>orphan</li>", "<div>orphan</div>"),
        ("<ul><ul><li>x</li></ul></ul>", "<ul><li><ul><li>x</li></ul></li></ul>"),
        ("<ul>loose<li>x</li></ul>", "<ul><li>loose</li><li>x</li></ul>"),
        ('<p><img src="a.png"></p>', '<img src="a.png" alt="">'),
        (
            '<img src="a.png" width="100%" height="20" align="left">',
            '<img src="a.png" height="20" alt="">',
        ),
        ('<a rel="nofollow ugc noopener">x</a>', "<a>x</a>"),
        ('<a href="https://x.org/a b">x</a>', 'href="https://x.org/a%20b"'),
        ('<a href="https://x.org/"><img src="i.png"></a>', 'alt="Link to x.org"'),
        ("<center>c</center><tt>t</tt>", "<div>c</div><code>t</code>"),
        ("<dl><dt>a</dt><dd>b</dd></dl>", "<div><div>a</div><div>b</div></div>"),
        ("<h2><div>a</div></h2>", "<h4><span>a</span></h4>"),
        ("<h2><span><div>a</div></span></h2>", "<h4><span><span>a</span></span></h4>"),
        ("<b><center>c</center></b>", "<div><div>c</div></div>"),
        ("<p>bad\x85char\ufdd0</p>", "<p>badchar</p>"),
    ],
)
def test_content_made_valid(source, wanted):
    out = tidy_html(source)
    assert wanted in out
    assert balanced(out), out


def test_cut_of_a_very_long_post_matches_a_cut_of_the_whole():
    html = "".join(
        f'<p>Para {i} <a href="https://x.org/{i}">link {i}</a> text.</p>' for i in range(3000)
    )
    cut, was_cut = cut_html(html, 500)
    assert was_cut and balanced(cut)
    assert cut == _cut(html, 500, partial=False)
    # a window that ends inside a tag is never trusted
    assert _cut(html[:60], 30, partial=True) is None or balanced(_cut(html[:60], 30, partial=True))


def corpus_contents() -> list[tuple[str, str]]:
    """(file, stored content) of every entry of the corpus that has content."""
    out = []
    for name in FILES:
        try:
            feed = parse_feed((CORPUS / name).read_bytes(), f"https://corpus.example/{name}")
        except ParseError:
            continue
        out += [(name, e.content) for e in feed.entries if e.content]
    return out


@pytest.fixture(scope="module")
def contents() -> list[tuple[str, str]]:
    found = corpus_contents()
    assert len(found) > 500  # the corpus has real entries with content
    return found


def test_parse_stores_content_tidy_and_tidy_is_idempotent(contents):
    untidy = [name for name, content in contents if tidy_html(content) != content]
    assert untidy == []


def test_stored_content_is_well_formed_and_headings_start_below_the_title(contents):
    for name, content in contents:
        assert balanced(content), name
        levels = [int(n) for n in re.findall(r"<h([1-6])\b", content)]
        assert all(level >= 4 for level in levels), name


@pytest.mark.parametrize("limit", [200, 3000])
def test_cutting_tidy_corpus_content_keeps_it_valid(contents, limit):
    parser = html5lib.HTMLParser(strict=True)
    cut_any = 0
    for name, content in contents:
        cut, was_cut = cut_html(content, limit)
        cut_any += was_cut
        assert balanced(cut), name
        if was_cut:
            assert cut.endswith(("…", ">")), name
            assert len(re.sub(r"<[^>]*>", "", cut)) <= limit * 1.1 + 200, name
        parser.parseFragment(cut)  # strict: raises on a parse error
    assert cut_any > 50


def test_tidy_after_sanitize_matches_tidy_of_hostile_markup():
    hostile = '<b><div onclick="x()">block in bold</div></b><li>stray</li><h1>big</h1>'
    out = tidy_html(sanitize_html(hostile, "https://x.org/"))
    assert "onclick" not in out
    assert "<div><div>block in bold</div></div>" in out
    assert "<div>stray</div>" in out and "<h4>big</h4>" in out
    assert tidy_html(out) == out


@pytest.mark.parametrize(
    "html",
    [
        "<ul>\n<li>" + "word " * 30 + "</li>\n<li>" + "more " * 30 + "</li>\n</ul>",
        "<table>\n<tr><td>" + "cell " * 30 + "</td></tr>\n<tr><td>x</td></tr>\n</table>",
    ],
)
def test_a_cut_between_list_items_or_table_rows_adds_no_stray_text(html):
    parser = html5lib.HTMLParser(strict=True)
    for limit in range(60, 130, 3):
        cut, was_cut = cut_html(html, limit)
        assert was_cut and balanced(cut)
        assert not re.search(r"</(li|tr)>\s*…", cut), cut
        parser.parseFragment(cut)
