"""Make sanitized feed HTML fit inside the page, and cut long posts.

Entry content is tidied once, when a feed is parsed (:func:`tidy_html`), and stored tidy;
rendering only cuts it (:func:`cut_html`). Both work on the HTML that :mod:`campplanet.sanitize`
writes (nh3's serialisation), with regular expressions over its tags: no parse tree is built.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate
from typing import Any
from urllib.parse import urlsplit

from campplanet.sanitize import strip_html_invalid

HEADING_LEVEL = 3  # entry titles are h3 on the page: content headings start at h4

_TOKEN = re.compile(r"""<(/?)([a-zA-Z][a-zA-Z0-9]*)((?:[^>"']|"[^"]*"|'[^']*')*)>""")
_ATTR = re.compile(r"""\s*([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_SPLIT_TAGS = re.compile(r"(<[^>]*>)")
_HEADING = re.compile(r"<h([1-6])\b", re.IGNORECASE)
_URL_UNSAFE = re.compile(r"[\s<>\\^`{|}]")
VOID = frozenset(
    "area base br col embed hr img input link meta param source track wbr".split()  # noqa: SIM905
)
# Phrasing elements that feeds wrap around blocks; such a wrapper becomes a div.
PHRASING = frozenset(
    [
        "abbr",
        "b",
        "bdi",
        "bdo",
        "cite",
        "code",
        "data",
        "dfn",
        "em",
        "font",
        "i",
        "kbd",
        "mark",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "time",
        "u",
        "var",
        "big",
        "tt",
        "strike",
        "acronym",
        "label",
    ]
)
TRANSPARENT = frozenset(("a", "ins", "del"))
BLOCK = frozenset(
    [
        "center",
        "dt",
        "dd",
        "address",
        "article",
        "aside",
        "blockquote",
        "details",
        "div",
        "dl",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "ul",
    ]
)
LISTS = frozenset(("ul", "ol"))
NO_TEXT = LISTS | {"table", "thead", "tbody", "tfoot", "tr", "colgroup", "select", "optgroup"}
HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
RENAME = {
    "acronym": "abbr",
    "center": "div",
    "strike": "s",
    "tt": "code",
    "big": "strong",
    "dl": "div",  # feeds' definition lists rarely follow dl's content model
    "dt": "div",
    "dd": "div",
}
OBSOLETE_ATTRIBUTES = frozenset(("align", "char", "charoff", "summary", "size", "valign"))
DIMENSIONS = frozenset(("width", "height"))
URL_ATTRIBUTES = frozenset(("href", "src", "poster", "cite"))


_BLOCK_NAMES = "|".join(sorted(BLOCK - {"hr"}, key=len, reverse=True))
_PHRASING_NAMES = "|".join(sorted(PHRASING, key=len, reverse=True))
# A phrasing element followed by a block start tag before any block end tag: possibly a block
# inside phrasing (or a false alarm, which only costs the slow path).
_BLOCK_IN_PHRASING = re.compile(
    rf"<(?:{_PHRASING_NAMES}|h[1-6])\b[^>]*+>(?:[^<]++|<(?!/?(?:{_BLOCK_NAMES})\b)[^>]*+>)*+"
    rf"<(?:{_BLOCK_NAMES})\b"
)
_TIDY_TAGS = re.compile(r'<(?:li|dl|dt|dd)\b|<a((?:\s+(?!href=)[a-zA-Z-]+(?:="[^"]*")?)*)\s*>')
_UNSAFE_URL = re.compile(
    r'="(?:(?<=href=")|(?<=cite=")|(?<=src=")|(?<=poster="))[^"\s<>\\^`{|}]*+[^"]'
)
_FIX_TAG = re.compile(
    r"""<(/?)(img|iframe|video|table|t[dhr]|tbody|thead|tfoot|col|colgroup|hr|caption|h[1-6]|acronym|center|strike|tt|big)\b((?:[^>"']|"[^"]*"|'[^']*')*)>"""
)
_ATTRIBUTES_TO_FIX = re.compile(
    r"""\s(?:align|char|charoff|summary|size|valign)=|\s(?:width|height)=(?!"\d+")"""
)
_EMPTY_LINK = re.compile(r"<a\s[^>]*>\s*</a>")
_IMAGE_LINK = re.compile(
    r'(<a\s[^>]*?href="([^"]*)"[^>]*>\s*)(<img\s(?:[^>"]|"[^"]*")*?)alt=""((?:[^>"]|"[^"]*")*>\s*</a>)'
)
_TAG_NAME = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)")


def tidy_html(content: str, *, heading_level: int = HEADING_LEVEL) -> str:
    """Make sanitized entry HTML valid inside the page.

    - characters HTML forbids go;
    - headings are renumbered to sit below the entry's own (``heading_level``), never
      skipping a level;
    - phrasing elements wrapped around blocks become ``div``; list items outside lists become
      ``div``; lists directly inside lists are wrapped in ``li``; obsolete elements and
      attributes are replaced or dropped; images without ``alt`` get ``alt=""``;
      ``width``/``height`` that are not whole numbers go; unsafe characters in URLs are
      percent-encoded; ``rel`` goes from links without ``href``; a link whose only content
      is an image gets a name; an empty link goes.

    Idempotent: tidy HTML comes back unchanged. Most content needs only a few targeted
    substitutions; content whose structure may be wrong goes through :func:`_tidy`, a full
    pass over its tags.
    """
    content = strip_html_invalid(content)
    if "<" not in content:
        return content
    if _needs_tidy(content):
        return _tidy(content, heading_level)
    content = _fix_tags(content, heading_level)
    if "<a" in content:
        content = _link_text(content)
    return content


def _needs_tidy(content: str) -> bool:
    """Whether the content may have structure that only a full pass can fix."""
    return bool(
        _TIDY_TAGS.search(content)
        or ('="' in content and _UNSAFE_URL.search(content))
        or _BLOCK_IN_PHRASING.search(content)
    )


def _fix_tags(content: str, heading_level: int) -> str:
    """The targeted fixes, in one pass over the tags that may need them."""
    rank: dict[int, int] = {}
    if "<h" in content:
        levels = sorted({int(n) for n in _HEADING.findall(content)})
        rank = {level: min(6, heading_level + 1 + i) for i, level in enumerate(levels)}
    previous = heading_level

    def fix(match: re.Match[str]) -> str:
        nonlocal previous
        closing, name, attrs = match.groups()
        if name in HEADINGS:
            if not closing:
                previous = min(rank.get(int(name[1]), 6), previous + 1)
            return f"<{closing}h{previous}{attrs}>"
        written = RENAME.get(name, name)
        if closing or not attrs:
            return '<img alt="">' if name == "img" and not closing else f"<{closing}{written}>"
        if (name != "img" or " alt=" in attrs) and not _ATTRIBUTES_TO_FIX.search(attrs):
            return f"<{written}{attrs}>"
        return _start_tag(written, attrs)

    return _FIX_TAG.sub(fix, content)


def cut_html(content: str, cut_after: int) -> tuple[str, bool]:
    """The content cut after about ``cut_after`` characters of text (an entity counts as
    its length in the source), every open element closed."""
    if len(content) <= cut_after:
        return content, False
    window = 4 * cut_after + 2000  # a long post is cut within its start: look only there
    if len(content) > 2 * window:
        cut = _cut(content[:window], cut_after, partial=True)
        if cut is not None:
            return cut, True
    cut = _cut(content, cut_after, partial=False)
    return (content, False) if cut is None else (cut, True)


def _cut(content: str, cut_after: int, *, partial: bool) -> str | None:
    """``content`` cut, or None if it needs no cut (or, when ``partial``, if the cut does not
    fall before the last, possibly incomplete, text segment)."""
    parts = _SPLIT_TAGS.split(content)  # text, tag, text, tag, …, text
    totals = list(accumulate(map(len, parts[::2])))
    n = bisect_right(totals, cut_after)  # the text segment that crosses the limit
    last = len(totals) - 1
    if partial and n >= last:
        return None
    if n > last or (n == last and totals[-1] <= cut_after * 1.1):
        return None  # short enough, or a little over at the very end
    i = 2 * n
    offset = sum(map(len, parts[:i]))
    stack: list[str] = []
    for closing, name in _TAG_NAME.findall(content, 0, offset):
        name = name.lower()
        if closing:
            if name in stack:
                while stack.pop() != name:
                    pass
        elif name not in VOID:
            stack.append(name)
    room = cut_after - (totals[n - 1] if n else 0)
    closing_tags = "".join(f"</{name}>" for name in reversed(stack))
    # Between a list's items or a table's rows only whitespace may stand: no "…" there.
    text = "" if stack and stack[-1] in NO_TEXT else _cut_text(parts[i], room)
    return content[:offset] + text + closing_tags


def _tidy(content: str, heading_level: int) -> str:
    """One pass over the tags, fixing structure (see :func:`prepare_content`)."""
    levels = sorted({int(n) for n in _HEADING.findall(content)})
    rank = {level: min(6, heading_level + 1 + i) for i, level in enumerate(levels)}
    previous = heading_level
    out: list[str] = []
    append = out.append
    # open elements: [name in the source, name written, index of its start tag in out,
    # name its start tag in out begins with, wrapped in an li]
    stack: list[list[Any]] = []
    pos = 0
    for match in _TOKEN.finditer(content):
        start = match.start()
        if start > pos:
            text = content[pos:start]
            if stack and stack[-1][1] in LISTS and not text.isspace():
                text = f"<li>{text}</li>"  # text straight inside a list
            append(text)
        pos = match.end()
        closing, name, attrs = match.groups()
        name = name.lower()
        if closing:
            for i in range(len(stack) - 1, -1, -1):
                if stack[i][0] == name:
                    while len(stack) > i:
                        _close(stack.pop(), append)
                    break
            continue
        wrap = False
        if name in BLOCK:
            in_heading = _inside_heading(stack)
            for entry in [] if in_heading else reversed(stack):
                if entry[0] in TRANSPARENT:
                    continue
                if entry[1] not in PHRASING:
                    break
                entry[1] = "div"
                out[entry[2]] = "<div" + out[entry[2]][len(entry[3]) + 1 :]
                entry[3] = "div"
            parent = stack[-1][1] if stack else None
            if name == "li" and parent not in LISTS:
                written = "div"
            elif name in HEADINGS:
                previous = min(rank.get(int(name[1]), 6), previous + 1)
                written = f"h{previous}"
            elif in_heading and name in ("div", "p", "center", "dt", "dd"):
                written = "span"
            else:
                written = RENAME.get(name, name)
        else:
            written = RENAME.get(name, name)
        if name != "li" and stack and stack[-1][1] in LISTS:
            append("<li>")  # anything but a list item straight inside a list
            wrap = True
        append(_start_tag(written, attrs) if attrs else f"<{written}>")
        if name not in VOID and not attrs.endswith("/"):
            stack.append([name, written, len(out) - 1, written, wrap])
    append(content[pos:])
    _close_all(stack, append)
    return _link_text("".join(out))


def _link_text(content: str) -> str:
    """Give links a name: an image that is a link's only content gets its host as ``alt``;
    a link with no content at all goes."""
    if "</a>" in content and _EMPTY_LINK.search(content):
        content = _EMPTY_LINK.sub("", content)
    if "<img" in content:
        content = _IMAGE_LINK.sub(_image_link, content)
    return content


def _image_link(match: re.Match[str]) -> str:
    host = urlsplit(html.unescape(match.group(2))).hostname or "the linked page"
    alt = html.escape(f"Link to {host}", quote=True)
    return f'{match.group(1)}{match.group(3)}alt="{alt}"{match.group(4)}'


def _inside_heading(stack: list[list[Any]]) -> bool:
    for entry in reversed(stack):
        if entry[1] in HEADINGS:
            return True
        if entry[1] not in PHRASING and entry[0] not in TRANSPARENT:
            return False
    return False


def _close(entry: list[Any], append: Callable[[str], None]) -> None:
    append(f"</{entry[1]}>")
    if entry[4]:
        append("</li>")


def _close_all(stack: list[list[Any]], append: Callable[[str], None]) -> None:
    while stack:
        _close(stack.pop(), append)


def _start_tag(name: str, attrs: str) -> str:
    kept = []
    has_alt = has_href = False
    for m in _ATTR.finditer(attrs):
        key = m.group(1).lower()
        if key == "/" or key in OBSOLETE_ATTRIBUTES:
            continue
        value = next((v for v in m.group(2, 3, 4) if v is not None), None)
        if key in DIMENSIONS:
            value = (value or "").strip()
            if name == "hr" or not value.isdigit():
                continue
        elif key in URL_ATTRIBUTES and value:
            value = _URL_UNSAFE.sub(lambda c: f"%{ord(c.group()):02X}", value.strip())
        has_alt = has_alt or key == "alt"
        has_href = has_href or key == "href"
        kept.append(key if value is None else f'{key}="{value}"')
    if name == "img" and not has_alt:
        kept.append('alt=""')
    if name == "a" and not has_href:
        kept = [a for a in kept if not a.startswith(("rel=", "hreflang=", "target="))]
    return f"<{name} {' '.join(kept)}>" if kept else f"<{name}>"


def _cut_text(segment: str, room: int) -> str:
    """The start of a text segment, cut at a word boundary near ``room`` characters."""
    if room <= 0:
        return "…"
    head = segment[: max(room, 0)]
    space = head.rfind(" ")
    if space > room // 2:
        head = head[:space]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    return head.rstrip() + "…"
