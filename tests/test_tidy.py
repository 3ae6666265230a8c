"""campplanet.tidy: sanitized HTML made valid inside the page, and long posts cut."""

from __future__ import annotations

import re

import html5lib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campplanet.parse import ParseError, parse_feed
from campplanet.sanitize import sanitize_html
from campplanet.tidy import _cut, cut_html, tidy_html
from planetkit import CORPUS, corpus_files

FILES = [str(p.relative_to(CORPUS)) for p in corpus_files()]


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


# --- structure the page can carry: each class of error the Nu Html Checker found -------------

X = "https://x.org"
STRUCTURE = [
    # an image needs a source: without one, its text alternative stands in for it
    ('<p><img loading="lazy" alt="A &amp; B &lt;3"></p>', "<p>A &amp; B &lt;3</p>"),
    ('<p><img loading="lazy"></p>', "<p></p>"),
    (f'<img srcset="{X}/a.png 1x" alt="">', f'<img srcset="{X}/a.png 1x" alt="">'),
    # sizes goes with width descriptors, and only with them
    (
        f'<img src="{X}/a.png" srcset="{X}/b.png 100w" alt="">',
        f'<img src="{X}/a.png" srcset="{X}/b.png 100w" alt="" sizes="100vw">',
    ),
    (f'<img src="{X}/a.png" sizes="50vw" alt="">', f'<img src="{X}/a.png" alt="">'),
    # time without datetime: its text must be a date, time or duration, and only text
    (
        "<p><time></time> <time>2024-02-30</time> <time>2024-02-29</time> <time>soon</time></p>",
        "<p><span></span> <span>2024-02-30</span> <time>2024-02-29</time> <span>soon</span></p>",
    ),
    ("<time><b>2024</b></time>", "<span><b>2024</b></span>"),
    ('<time datetime="2024-01-02">Tuesday</time>', '<time datetime="2024-01-02">Tuesday</time>'),
    # source and track belong to media (and source to picture), in their order
    (f'<p>x<source src="{X}/a.mp4"></p>', "<p>x</p>"),
    (f'<p><track src="{X}/t.vtt"></p>', "<p></p>"),
    (
        f'<picture><source src="{X}/a.webp"><img src="{X}/a.png" alt=""></picture>',
        f'<picture><source srcset="{X}/a.webp"><img src="{X}/a.png" alt=""></picture>',
    ),
    (
        f'<video><source srcset="{X}/v.mp4 1x"><track src="{X}/t.vtt">'
        f'<source src="{X}/w.mp4">fallback</video>',
        f'<video><source src="{X}/v.mp4"><track src="{X}/t.vtt">fallback</video>',
    ),
    (
        f'<video src="{X}/v.mp4"><source src="{X}/w.mp4">text<track src="{X}/t.vtt"></video>',
        f'<video src="{X}/v.mp4">text</video>',
    ),
    (
        f'<video src="{X}/v.mp4"><audio src="{X}/a.mp3"></audio>fallback</video>',
        f'<video src="{X}/v.mp4">fallback</video>',
    ),
    # a picture is sources and one image, or it is unwrapped
    (f'<picture><source srcset="{X}/a.webp"></picture>', ""),
    (
        f'<picture>text<img src="{X}/a.png" alt=""></picture>',
        f'text<img src="{X}/a.png" alt="">',
    ),
    # details starts with its summary; summary and figcaption need their parent
    ("<details><p>x</p></details>", "<details><summary>Details</summary><p>x</p></details>"),
    ("<details>x</details>", "<details><summary>Details</summary>x</details>"),
    ("<details></details>", "<details><summary>Details</summary></details>"),
    (
        "<details><summary>a</summary><summary>b</summary></details>",
        "<details><summary>a</summary><div>b</div></details>",
    ),
    ("<summary>x</summary>", "<div>x</div>"),
    ("<p><summary>s</summary></p>", "<div><div>s</div></div>"),
    (
        "<details><summary>s<div>d</div><ul><li>x</li></ul></summary>y</details>",
        "<details><summary>s<span>d</span></summary><ul><li>x</li></ul>y</details>",
    ),
    (
        "<details><summary><h2>T</h2><h2>U</h2></summary>y</details>",
        "<details><summary><h4>T</h4></summary><h4>U</h4>y</details>",
    ),
    ("<figcaption>c</figcaption>", "<div>c</div>"),
    (
        "<figure><p>x</p><figcaption>c</figcaption><p>y</p></figure>",
        "<figure><p>x</p><div>c</div><p>y</p></figure>",
    ),
    (
        f'<figure><figcaption>a</figcaption><img src="{X}/a.png" alt=""><figcaption>b</figcaption>'
        "</figure>",
        f'<figure><figcaption>a</figcaption><img src="{X}/a.png" alt=""><div>b</div></figure>',
    ),
    # ruby: bases and annotations, or plain text
    ("<ruby>漢<rp>(</rp></ruby>", "漢<span>(</span>"),
    ("<p><rt>x</rt></p>", "<p><span>x</span></p>"),
    ("<ruby><picture></picture><rt>kan</rt></ruby>", "<span>kan</span>"),
    (
        "<ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby>",
        "<ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby>",
    ),
    # elements that need an attribute
    ("<bdo>x</bdo>", "<span>x</span>"),
    ('<bdo dir="rtl">x</bdo>', '<bdo dir="rtl">x</bdo>'),
    ("<data>x</data>", "<span>x</span>"),
    ('<data value="1">x</data>', '<data value="1">x</data>'),
    # interactive content inside a link: the link goes
    (
        f'<a href="{X}/"><details><summary>s</summary>d</details></a>',
        "<details><summary>s</summary>d</details>",
    ),
    (
        f'<p><a href="{X}/">see <iframe src="https://www.youtube.com/embed/x"></iframe></a></p>',
        '<p>see <iframe src="https://www.youtube.com/embed/x"></iframe></p>',
    ),
    (
        f'<a href="{X}/"><video src="{X}/v.mp4" controls=""></video></a>',
        f'<video src="{X}/v.mp4" controls=""></video>',
    ),
    # elements that may not stand inside one another
    ("<footer><header>h</header></footer>", "<footer><div>h</div></footer>"),
    ("<dfn><dfn>x</dfn></dfn>", "<dfn><span>x</span></dfn>"),
    (
        "<table><tbody><tr><th><h2>x</h2></th></tr></tbody></table>",
        "<table><tbody><tr><th><span>x</span></th></tr></tbody></table>",
    ),
    (
        "<address><h2>x</h2><article>y</article></address>",
        "<address><span>x</span><div>y</div></address>",
    ),
    # blocks where only phrasing may stand
    ("<h2>a<ul><li>x</li></ul>b</h2>", "<h4>a</h4><ul><li>x</li></ul>b"),
    ("<h2>a<h3>b</h3></h2>", "<h4>a</h4><h5>b</h5>"),
    ("<span>a<hr>b</span>", "<div>a<hr>b</div>"),
    ("<p>a<div>b</div>c</p>", "<div>a<div>b</div>c</div>"),
    (
        "<pre>a<div>b</div><ul><li>c</li></ul>d</pre>",
        "<pre>a<span>b</span></pre><ul><li>c</li></ul>d",
    ),
    ('<q cite="https://x.org/"><div>x</div></q>', "<div><div>x</div></div>"),
    ("<hgroup><h1>T</h1><p>sub</p></hgroup>", "<div><h4>T</h4><p>sub</p></div>"),
    # lists hold list items only, even without any
    ("<ul>text<b>x</b><br></ul>", "<ul><li>text</li><li><b>x</b></li><li><br></li></ul>"),
    # tables: every column and row has a cell starting in it; caption first; groups in order
    (
        '<table><tbody><tr><td colspan="3">a</td></tr></tbody></table>',
        "<table><tbody><tr><td>a</td></tr></tbody></table>",
    ),
    (
        '<table><tbody><tr><td colspan="2">a</td><td>b</td></tr><tr><td>c</td></tr></tbody>'
        "</table>",
        "<table><tbody><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></tbody></table>",
    ),
    (
        '<table><tbody><tr><td rowspan="3">a</td><td>b</td></tr><tr><td>c</td></tr></tbody>'
        "</table>",
        '<table><tbody><tr><td rowspan="2">a</td><td>b</td></tr><tr><td>c</td></tr></tbody>'
        "</table>",
    ),
    (
        "<table><tbody><tr></tr><tr><td>a</td></tr><tr> </tr></tbody></table>",
        "<table><tbody><tr><td>a</td></tr> </tbody></table>",
    ),
    (
        "<table><tbody><tr><td>a</td></tr></tbody><caption>c</caption></table>",
        "<table><caption>c</caption><tbody><tr><td>a</td></tr></tbody></table>",
    ),
    (
        "<table><caption>a</caption><tbody><tr><td>x</td></tr></tbody><caption>b</caption></table>",
        "<table><caption>a b</caption><tbody><tr><td>x</td></tr></tbody></table>",
    ),
    (
        "<table><tbody><tr><td>a</td></tr></tbody><thead><tr><th>h</th></tr></thead></table>",
        "<table><tbody><tr><td>a</td></tr></tbody><tbody><tr><th>h</th></tr></tbody></table>",
    ),
    (
        "<table><tfoot><tr><td>f</td></tr></tfoot><tbody><tr><td>a</td></tr></tbody></table>",
        "<table><tbody><tr><td>f</td></tr></tbody><tbody><tr><td>a</td></tr></tbody></table>",
    ),
    (
        "<table><caption><table><tbody><tr><td>x</td></tr></tbody></table></caption></table>",
        "<table><caption><div><div><div><div>x</div></div></div></div></caption></table>",
    ),
    ('<hr width="50">', "<hr>"),
]


@pytest.mark.parametrize(("source", "expected"), STRUCTURE)
def test_structure_made_valid(source, expected):
    out = tidy_html(source)
    assert out == expected
    assert tidy_html(out) == out
    html5lib.HTMLParser(strict=True).parseFragment(out)


# --- property: random nestings of the elements involved parse without a single error ---------

NESTED_TAGS = [
    "time", "source", "track", "details", "summary", "img", "a", "p", "span", "b", "ul", "ol",
    "li", "table", "tbody", "thead", "tfoot", "tr", "td", "th", "caption", "picture", "video",
    "audio", "figure", "figcaption", "ruby", "rt", "rp", "h2", "h3", "pre", "div", "bdo",
    "data", "hr", "br", "dfn", "header", "footer", "address", "q", "iframe", "hgroup",
    "button", "font", "dialog", "marquee", "col",
]  # fmt: skip
NESTED_ATTRIBUTES = [
    ' dir=""', ' dir="RTL"', ' dir="up"', ' lang="en_GB"', ' lang="english"',
    ' href="https://user:pass@h.example/a b"', ' href="http://h..example/"', ' href="/x"',
    ' src="x.png"', ' src=""', ' src="https://www.youtube.com/embed/v"', ' srcset="a.png 100w"',
    ' srcset="a.png 1x, b.png 1x"', ' sizes="50vw"', ' alt="pic"', ' datetime="2024-02-30"',
    ' datetime="2024-01-02"', ' colspan="5"', ' rowspan="0"', ' rowspan="9"', ' controls',
    ' value="1"', ' kind="bogus"', ' type="video/mp4"', ' open',
]  # fmt: skip
NESTED_VOID = {"img", "source", "track", "hr", "br", "col"}


def _element(parts: tuple[str, list[str], list[str]]) -> str:
    tag, attributes, children = parts
    start = f"<{tag}{''.join(attributes)}>"
    return (
        start + "".join(children) if tag in NESTED_VOID else f"{start}{''.join(children)}</{tag}>"
    )


NESTINGS = st.recursive(
    st.sampled_from(["", "x", "2024-01-02", " ", "a &amp; b"]),
    lambda children: st.tuples(
        st.sampled_from(NESTED_TAGS),
        st.lists(st.sampled_from(NESTED_ATTRIBUTES), max_size=3),
        st.lists(children, max_size=4),
    ).map(_element),
    max_leaves=16,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(NESTINGS, min_size=1, max_size=3).map("".join))
def test_random_nestings_come_out_as_html_without_parse_errors(fragment):
    out = tidy_html(sanitize_html(fragment, "https://blog.example.org/post/"))
    assert tidy_html(out) == out
    # Strict: any parse error raises (html5lib does not check content models; the validator
    # test, test_content_valid.py, does).
    html5lib.HTMLParser(strict=True).parseFragment(out)
