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

from campplanet.attrvalues import time_datetime
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
        "bdo",
        "ruby",
        "rt",
        "rp",
    ]
)
# Elements whose content model is their parent's: a block inside them is fine where they are.
TRANSPARENT = frozenset(("a", "ins", "del", "video", "audio"))
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
    "hgroup": "div",  # an hgroup holds exactly one heading, and p: feeds' rarely do
}
OBSOLETE_ATTRIBUTES = frozenset(("align", "char", "charoff", "summary", "size", "valign"))
DIMENSIONS = frozenset(("width", "height"))
URL_ATTRIBUTES = frozenset(("href", "src", "poster", "cite"))
# Blocks whose content is phrasing (summary: and headings). A div or p inside them becomes a
# span; any other block closes them first, as a block closes an open p.
CLOSED_BY_BLOCKS = HEADINGS | {"pre", "summary"}
SPAN_IN_PHRASING_BLOCK = frozenset(("div", "p", "center", "dt", "dd"))
# Elements that may not stand inside one another: the inner one is renamed.
FORBIDDEN_INSIDE = {
    "header": ({"header", "footer", "address", "th"}, "div"),
    "footer": ({"header", "footer", "address", "th"}, "div"),
    "address": ({"address"}, "div"),
    "article": ({"address", "th"}, "div"),
    "aside": ({"address", "th"}, "div"),
    "nav": ({"address", "th"}, "div"),
    "section": ({"address", "th"}, "div"),
    "dfn": ({"dfn"}, "span"),
    **{h: ({"address", "th"}, "span") for h in HEADINGS},
}
MEDIA = frozenset(("video", "audio"))
DEFAULT_SUMMARY = "<summary>Details</summary>"
# What the full pass looks at more closely, by the element's name (checked first, for speed).
_BY_ITSELF = frozenset({"img", "time", "bdo", "data", *FORBIDDEN_INSIDE})
_BY_PARENT = frozenset(
    {"li", "summary", "figcaption", "rt", "rp", "source", "track", *MEDIA}
    | {"thead", "tbody", "tfoot", "tr"}
)
_INTERACTIVE = frozenset(("a", "iframe", "details", *MEDIA))
_WITH_CONTENT_MODEL = frozenset(("details", "figure", "ruby", "rp", "picture", *MEDIA))
_TABLE_PARTS = frozenset(("table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption"))
# Phrasing elements none of the rules below is about: inside an ordinary parent, they are
# written as they are.
_PLAIN = PHRASING - _BY_ITSELF - _BY_PARENT - {"ruby", "rp"} - RENAME.keys()
_NOT_PLAIN_PARENT = LISTS | {""}  # lists wrap their children; "": an unwrapped element


_BLOCK_NAMES = "|".join(sorted(BLOCK - {"hr"}, key=len, reverse=True))
_OPENER_NAMES = "|".join(sorted(PHRASING | {"p", "pre"}, key=len, reverse=True))
# A phrasing element (or p, pre, a heading) followed by a block start tag before any block
# end tag: possibly a block where only phrasing may stand (or a false alarm, which only costs
# the slow path).
_BLOCK_IN_PHRASING = re.compile(
    rf"<(?:{_OPENER_NAMES}|h[1-6])\b[^>]*+>(?:[^<]++|<(?!/?(?:{_BLOCK_NAMES})\b|hr\b)[^>]*+>)*+"
    rf"<(?:{_BLOCK_NAMES}|hr|table)\b"
)
# Elements whose place or content is constrained beyond what the fast path fixes.
_TIDY_TAGS = re.compile(
    r"<(?:li|dl|dt|dd|ul|ol|details|summary|figcaption|picture|source|track|video|audio|ruby"
    r"|rt|rp|time|bdo|data|dfn|address|header|footer|caption|th)\b"
    r'|<a((?:\s+(?!href=)[a-zA-Z-]+(?:="[^"]*")?)*)\s*>'
    r"|<tr\b[^>]*+>\s*+</tr>|</t(?:body|head|foot)>\s*+<thead\b|</tfoot>\s*+<t(?:body|head|foot|r)\b"
)
_TABLE_SPAN = re.compile(r"\s(?:col|row)span=")
# Interactive content (a link, an iframe) inside a link.
_INTERACTIVE_IN_LINK = re.compile(
    r"<a\s[^>]*+>(?:[^<]++|<(?!/a>|a\s|iframe\b)[^>]*+>)*+<(?:a\s|iframe\b)"
)
_UNSAFE_URL = re.compile(
    r'="(?:(?<=href=")|(?<=cite=")|(?<=src=")|(?<=poster="))[^"\s<>\\^`{|}]*+[^"]'
)
_FIX_TAG = re.compile(
    r"""<(/?)(img|iframe|video|table|t[dhr]|tbody|thead|tfoot|col|colgroup|hr|caption|h[1-6]|acronym|center|strike|tt|big|hgroup)\b((?:[^>"']|"[^"]*"|'[^']*')*)>"""
)
_ATTRIBUTES_TO_FIX = re.compile(
    r"""\s(?:align|char|charoff|summary|size|valign)=|\s(?:width|height)=(?!"\d+")"""
)
_IMAGE_ATTRIBUTES_TO_FIX = re.compile(r"\s(?:srcset|sizes)=")
_EMPTY_LINK = re.compile(r"<a\s[^>]*>\s*</a>")
_IMAGE_LINK = re.compile(
    r'(<a\s[^>]*?href="([^"]*)"[^>]*>\s*)(<img\s(?:[^>"]|"[^"]*")*?)alt=""((?:[^>"]|"[^"]*")*>\s*</a>)'
)
_TAG_NAME = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)")
_WIDTH_DESCRIPTOR = re.compile(r"\s[0-9]+w\s*(?:,|$)")
_SPAN_ATTRIBUTE = re.compile(r'\s(colspan|rowspan)="([0-9]*)"')
_RUBY = re.compile(r"(?:b+(?:t+|p(?:tp)+))+")
_GLOBAL_ATTRIBUTE = re.compile(r'\s(?:lang|dir|title)(?:="[^"]*")?')


def tidy_html(content: str, *, heading_level: int = HEADING_LEVEL) -> str:
    """Make sanitized entry HTML valid inside the page.

    - characters HTML forbids go;
    - headings are renumbered to sit below the entry's own (``heading_level``), never
      skipping a level;
    - phrasing elements (and ``p``) wrapped around blocks become ``div``; a ``div`` or ``p``
      inside a heading, ``pre`` or ``summary`` becomes a ``span``, any other block closes
      them; list items outside lists become ``div``; anything but a list item straight
      inside a list is wrapped in ``li``;
    - elements that need a parent get one or change: ``summary`` outside (or not first in)
      ``details``, and ``figcaption`` outside ``figure`` (or not first or last in it) become
      ``div``; ``rt``/``rp`` outside ``ruby`` become ``span``; ``source`` outside
      ``picture``/``video``/``audio`` and ``track`` outside media go; ``details`` without a
      ``summary`` gets one ("Details"); a ``picture`` that is not sources and one image, a
      ``ruby`` that is not bases and annotations, and media inside media are unwrapped;
    - a link around interactive content (a link, iframe, ``details``, media with controls)
      is unwrapped; ``header``/``footer``, sectioning elements, headings and ``dfn`` that
      may not stand where they are are renamed;
    - ``time`` without a valid ``datetime`` whose text is not a valid date becomes ``span``,
      as do ``bdo`` without a direction and ``data`` without a value;
    - tables: empty rows go, a ``caption`` moves to the front, and ``colspan``/``rowspan``
      shrink so that every column and row has a cell starting in it;
    - obsolete elements and attributes are replaced or dropped; images without ``src`` are
      replaced by their ``alt`` text, images without ``alt`` get ``alt=""``, image
      ``sizes`` goes without width descriptors and is ``100vw`` when they lack it;
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
        or ("span=" in content and _TABLE_SPAN.search(content))
        or ('="' in content and _UNSAFE_URL.search(content))
        or _BLOCK_IN_PHRASING.search(content)
        or ("<a " in content and _INTERACTIVE_IN_LINK.search(content))
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
        if closing:
            return f"</{written}>"
        if name == "img":
            if (
                " alt=" in attrs
                and (" src=" in attrs or " srcset=" in attrs)
                and not _IMAGE_ATTRIBUTES_TO_FIX.search(attrs)
                and not _ATTRIBUTES_TO_FIX.search(attrs)
            ):
                return match.group()
            return _start_tag("img", attrs)
        if not attrs:
            return f"<{written}>"
        if name != "hr" and not _ATTRIBUTES_TO_FIX.search(attrs):
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


class _Open:
    """An element open during :func:`_tidy`'s pass."""

    __slots__ = ("at", "end", "extra", "kids", "name", "wrap", "written")

    def __init__(self, name: str, written: str, at: int, wrap: bool) -> None:
        self.name = name  # as in the source: end tags are matched on it
        self.written = written  # as written out; "" once unwrapped (its tags dropped)
        self.at = at  # index of its start tag in the output list
        self.end = -1  # index of its end tag, once closed
        self.wrap = wrap  # wrapped in an li of ours
        self.kids: list[Any] | None = None  # children, for elements with a content model
        self.extra: Any = None  # element-specific state


class _Table:
    """A table's cells, to make its spans agree with its rows."""

    __slots__ = ("body", "captions", "flat", "foot", "group", "groups", "row", "untracked")

    def __init__(self) -> None:
        self.groups: list[list[list[list[int]]]] = []  # groups of rows of [at, colspan, rowspan]
        self.group: list[list[list[int]]] | None = None
        self.row: list[list[int]] | None = None
        self.captions: list[_Open] = []
        self.body = False  # a thead, tbody or row seen: no thead may follow
        self.foot: _Open | None = None  # a tfoot, which must stay the last group
        self.untracked = False
        self.flat = False  # a table in a caption: written as divs

    def group_starts(self, name: str, rename: Callable[[_Open, str], None]) -> str:
        """What a row group (or a row outside any) starting now must be written as."""
        if self.foot is not None:  # something after the tfoot: it was no footer
            rename(self.foot, "tbody")
            self.foot = None
        if name == "thead" and self.body:
            name = "tbody"
        self.body = True
        return name


def _tidy(content: str, heading_level: int) -> str:
    """One pass over the tags, fixing structure (see :func:`tidy_html`)."""
    levels = sorted({int(n) for n in _HEADING.findall(content)})
    rank = {level: min(6, heading_level + 1 + i) for i, level in enumerate(levels)}
    previous = heading_level
    out: list[str] = []
    append = out.append
    stack: list[_Open] = []
    tables: list[_Table] = []

    def parent() -> _Open | None:
        for entry in reversed(stack):
            if entry.written:
                return entry
        return None

    def unwrap(entry: _Open) -> None:
        """Drop an element's tags, keeping its content (its start tag is already out)."""
        if entry.written in ("picture", "video", "audio"):
            for kid in entry.kids or ():
                if isinstance(kid, int):
                    out[kid] = ""  # its sources and tracks
        out[entry.at] = ""
        if entry.end >= 0:
            out[entry.end] = ""
        if entry.wrap and entry.end < 0:  # still open inside an li of ours: it is that li now
            entry.written, entry.wrap = "li", False
        else:
            entry.written = ""

    def rename(entry: _Open, written: str) -> None:
        """Rename an element already written (keeping only its global attributes)."""
        out[entry.at] = f"<{written}{''.join(_GLOBAL_ATTRIBUTE.findall(out[entry.at]))}>"
        if entry.end >= 0:
            out[entry.end] = f"</{written}>"
        entry.written = written

    def arrive(holder: _Open | None, kind: str) -> _Open | None:
        """Something visible (text, an element) arrives in ``holder``: check the holder's
        content model. Returns the holder, or its parent if it had to be unwrapped."""
        if holder is None or holder.kids is None:
            return holder
        written = holder.written
        if written == "details":
            if not holder.kids:
                holder.kids.append(kind)
                if kind != "summary":
                    append(DEFAULT_SUMMARY)
        elif written == "picture":
            state = holder.extra
            if kind == "source" and state == "sources":
                pass
            elif kind == "img" and state == "sources":
                holder.extra = "img"
            else:
                unwrap(holder)
                return parent()
        elif written in MEDIA:
            if kind not in ("source", "track"):
                holder.extra = 2
        else:  # figure, ruby, rp: children kept for their end tag
            holder.kids.append(kind)
        return holder

    def close(entry: _Open) -> None:
        if entry.written:
            append(f"</{entry.written}>")
            entry.end = len(out) - 1
        if entry.wrap:
            append("</li>")
        if entry.kids is not None or entry.extra is not None:
            _on_close(entry)

    def _on_close(entry: _Open) -> None:
        name = entry.name
        if name == "details":
            if not entry.kids:
                out[entry.at] += DEFAULT_SUMMARY
        elif name == "figure":
            captions = [k for k in entry.kids or () if isinstance(k, _Open)]
            ends = (entry.kids[0], entry.kids[-1]) if entry.kids else ()
            kept = False
            for caption in captions:
                if caption.written != "figcaption":
                    continue
                if caption in ends and not kept:
                    kept = True
                else:
                    rename(caption, "div")
        elif name == "picture":
            if entry.written == "picture" and entry.extra != "img":
                unwrap(entry)
        elif name == "rp":
            if entry.written == "rp" and any(k != "#text" for k in entry.kids or ()):
                rename(entry, "span")  # rp holds text only
        elif name == "ruby":
            # An unwrapped child counts for nothing: it may have been empty.
            kids = [k for k in entry.kids or () if not isinstance(k, _Open) or k.written]
            shape = "".join(
                {"rt": "t", "rp": "p"}.get(k.written, "b") if isinstance(k, _Open) else "b"
                for k in kids
            )
            if entry.written != "ruby" or not _RUBY.fullmatch(shape):
                if entry.written == "ruby":
                    unwrap(entry)
                for kid in kids:
                    if isinstance(kid, _Open) and kid.written in ("rt", "rp"):
                        rename(kid, "span")
        elif name == "tr":
            table = entry.extra
            row, group = table.row, table.group
            if row is not None and not row and group is not None:
                group[:] = [r for r in group if r is not row]  # a row without cells goes
                unwrap(entry)
            table.row = None
        elif name in ("thead", "tbody", "tfoot"):
            entry.extra.group = None
        elif name == "table":
            table = entry.extra
            tables.remove(table)
            if not (table.untracked or table.flat):
                _fix_spans(table, out)
            if table.captions:
                _move_captions(table.captions, entry, out)

    pos = 0
    for match in _TOKEN.finditer(content):
        start = match.start()
        if start > pos:
            text = content[pos:start]
            top = stack[-1] if stack else None
            if (
                top is not None
                and (not top.written or top.kids is not None or top.written in LISTS)
                and not text.isspace()
            ):
                holder = top if top.written else parent()
                if holder is not None and holder.kids is not None:
                    holder = arrive(holder, "#text")
                if holder is not None and holder.written in LISTS:
                    text = f"<li>{text}</li>"  # text straight inside a list
            append(text)
        pos = match.end()
        closing, name, attrs = match.groups()
        name = name.lower()
        if closing:
            for i in range(len(stack) - 1, -1, -1):
                if stack[i].name == name:
                    while len(stack) > i:
                        close(stack.pop())
                    break
            continue

        if name in _PLAIN and (
            not stack or (stack[-1].kids is None and stack[-1].written not in _NOT_PLAIN_PARENT)
        ):
            append(_start_tag(name, attrs) if attrs else f"<{name}>")
            stack.append(_Open(name, name, len(out) - 1, False))
            continue

        # 1. What the element becomes, from itself and its ancestors.
        written = RENAME.get(name, name)
        kind = name
        if name in _TABLE_PARTS and (
            (tables and tables[-1].flat)
            or (name == "table" and any(entry.written == "caption" for entry in stack))
        ):
            written = "div"  # a caption may not hold a table: this one is written as divs
        elif name not in _BY_ITSELF:
            pass
        elif name == "img":
            tag = _start_tag("img", attrs)
            if not tag.startswith("<"):  # no source: its text alternative instead
                if tag:
                    holder = arrive(parent(), "#text")
                    if holder is not None and holder.written in LISTS:
                        tag = f"<li>{tag}</li>"
                    append(tag)
                continue
        elif name == "time":
            if not _has_attribute(attrs, "datetime"):
                following = content.find("<", pos)
                if not (
                    following >= 0
                    and content.startswith("</time>", following)
                    and time_datetime(content[pos:following])
                ):
                    written = "span"
        elif name == "bdo":
            if _attribute(attrs, "dir") not in ("ltr", "rtl"):
                written = "span"
        elif name == "data":
            if not _has_attribute(attrs, "value"):
                written = "span"
        elif name in FORBIDDEN_INSIDE:
            outside, instead = FORBIDDEN_INSIDE[name]
            if any(entry.written in outside for entry in stack):
                written = instead

        # 2. A block where only phrasing may stand: convert the phrasing around it, or close
        #    the heading, pre or summary it is in.
        if written in BLOCK or written == "table":
            while True:
                marked = []
                container = None
                for entry in reversed(stack):
                    if not entry.written or entry.written in TRANSPARENT:
                        continue
                    if entry.written == "picture":  # it will not survive a block
                        continue
                    if entry.written in PHRASING or entry.written == "p":
                        marked.append(entry)
                        continue
                    container = entry
                    break
                if container is not None and container.written in CLOSED_BY_BLOCKS:
                    if name in SPAN_IN_PHRASING_BLOCK:
                        written = "span"
                        break
                    if (
                        container.written == "summary"
                        and written in HEADINGS
                        and not marked
                        and container.extra is None
                    ):
                        container.extra = "heading"  # a summary may hold one heading
                        break
                    while stack:
                        entry = stack.pop()
                        close(entry)
                        if entry is container:
                            break
                    continue
                for entry in marked:
                    rename(entry, "div")
                break

        # 3. What the parent allows.
        holder = (stack[-1] if stack[-1].written else parent()) if stack else None
        holder_name = holder.written if holder is not None else None
        if name not in _BY_PARENT:
            pass
        elif name == "li" and holder_name not in LISTS:
            written = "div"
        elif name == "summary":
            if holder_name == "details" and not holder.kids:
                kind = "summary"
            else:
                written = "div"
        elif name == "figcaption" and holder_name != "figure":
            written = "div"
        elif name in ("rt", "rp") and holder_name != "ruby":
            written = "span"
        elif name == "source":
            source = _source_tag(attrs, holder)
            if source is None:
                continue  # a source nothing can use
            attrs = source
        elif name == "track":
            if holder_name not in MEDIA or holder.extra > 1 or not _has_attribute(attrs, "src"):
                continue
            holder.extra = 1
        elif name in MEDIA and any(entry.written in MEDIA for entry in stack):
            written = ""  # media inside media: the inner one's fallback content stays
        elif not tables or tables[-1].flat:
            pass
        elif name in ("thead", "tbody", "tfoot"):
            written = tables[-1].group_starts(name, rename)
        elif name == "tr" and tables[-1].group is None:
            tables[-1].group_starts(name, rename)

        # 4. Interactive content inside a link: the link goes, its content stays.
        if (
            written in _INTERACTIVE
            and stack
            and (written not in MEDIA or _has_attribute(attrs, "controls"))
        ):
            for entry in stack:
                if entry.written == "a":
                    unwrap(entry)

        # 5. Its parent's content model, and lists.
        if written and holder is not None and holder.kids is not None:
            holder = arrive(holder, kind)
            holder_name = holder.written if holder is not None else None
        wrap = False
        if written and written != "li" and holder_name in LISTS:
            append("<li>")  # anything but a list item straight inside a list
            wrap = True

        # 6. Write it.
        if written in HEADINGS:
            previous = min(rank.get(int(name[1]), 6), previous + 1)
            written = f"h{previous}"
        if not written:
            append("")
        elif name == "img":
            append(tag)
        elif not attrs:
            append(f"<{written}>")
        elif written != name and written not in HEADINGS:
            # renamed: what is left of its attributes is what any element may have
            append(f"<{written}{''.join(_GLOBAL_ATTRIBUTE.findall(_start_tag(written, attrs)))}>")
        else:
            append(_start_tag(written, attrs))
        if name in VOID or attrs.endswith("/"):
            if name in ("source", "track") and holder is not None:
                holder.kids.append(len(out) - 1)  # to go if the holder is unwrapped
            if wrap:
                append("</li>")
            continue
        entry = _Open(name, written, len(out) - 1, wrap)
        stack.append(entry)
        if written in _WITH_CONTENT_MODEL:
            entry.kids = []
            if written == "picture":
                entry.extra = "sources"
            elif written in MEDIA:
                entry.extra = 1 if _has_attribute(attrs, "src") else 0  # 1: no sources
        if holder is not None and holder.kids and holder.written in ("figure", "ruby"):
            holder.kids[-1] = entry  # the element itself, to read or rename at the end
        if name not in _TABLE_PARTS:
            pass
        elif name == "table":
            tables.append(_Table())
            entry.extra = tables[-1]
            tables[-1].flat = written == "div"
        elif not tables or tables[-1].flat:
            pass
        elif name in ("thead", "tbody", "tfoot"):
            table = tables[-1]
            table.group = []
            table.groups.append(table.group)
            entry.extra = table
            if written == "tfoot":
                table.foot = entry
        elif name == "tr":
            table = tables[-1]
            if table.group is None:
                table.group = []
                table.groups.append(table.group)
            table.row = []
            table.group.append(table.row)
            entry.extra = table
        elif name in ("td", "th"):
            table = tables[-1]
            if table.row is None:
                table.untracked = True
            else:
                spans = dict(_SPAN_ATTRIBUTE.findall(out[entry.at]))
                table.row.append(
                    [entry.at, int(spans.get("colspan") or 1), int(spans.get("rowspan") or 1)]
                )
        elif name == "caption":
            tables[-1].captions.append(entry)
    append(content[pos:])
    while stack:
        close(stack.pop())
    return _link_text("".join(out))


def _has_attribute(attrs: str, key: str) -> bool:
    return _attribute(attrs, key) is not None


def _attribute(attrs: str, key: str) -> str | None:
    """The value of an attribute in a start tag's attribute text ("" when it has none)."""
    if key not in attrs.lower():
        return None
    for m in _ATTR.finditer(attrs):
        if m.group(1).lower() == key:
            return next((v for v in m.group(2, 3, 4) if v is not None), "")
    return None


def _source_tag(attrs: str, holder: _Open | None) -> str | None:
    """A source's attributes as its parent needs them (a picture: srcset, no src; media: src,
    no srcset or sizes), or None when it cannot stand there."""
    where = holder.written if holder is not None else None
    pairs = [
        (m.group(1).lower(), next((v for v in m.group(2, 3, 4) if v is not None), None))
        for m in _ATTR.finditer(attrs)
    ]
    values = dict(pairs)
    if where == "picture" and holder.extra == "sources":
        srcset = values.get("srcset") or values.get("src")
        if not srcset:
            return None
        kept = [(k, v) for k, v in pairs if k not in ("src", "srcset")]
        kept.insert(0, ("srcset", srcset))
    elif where in MEDIA and holder.extra == 0:
        src = values.get("src") or (values.get("srcset") or "").split(" ")[0].rstrip(",")
        if not src:
            return None
        kept = [(k, v) for k, v in pairs if k not in ("src", "srcset", "sizes")]
        kept.insert(0, ("src", src))
    else:
        return None
    return "".join(f" {k}" if v is None else f' {k}="{v}"' for k, v in kept)


def _fix_spans(table: _Table, out: list[str]) -> None:
    """Shrink colspan and rowspan so that every column of the table, and every row of each
    row group, has a cell beginning in it (a span past the end of its group is clipped)."""
    cells: list[tuple[list[int], int, int, int]] = []  # (cell, x, rowspan kept, colspan)
    if not any(span != 1 for group in table.groups for row in group for c in row for span in c[1:]):
        return
    budget = 200_000
    for group in table.groups:
        taken: list[set[int]] = [set() for _ in group]
        for y, row in enumerate(group):
            x = 0
            for cell in row:
                while x in taken[y]:
                    x += 1
                colspan, rowspan = cell[1], cell[2]
                rows = len(group) - y if rowspan == 0 else min(rowspan, len(group) - y)
                budget -= colspan * rows
                if budget < 0:  # spans no real table has: drop them all
                    for group_ in table.groups:
                        for row_ in group_:
                            for cell_ in row_:
                                out[cell_[0]] = _SPAN_ATTRIBUTE.sub("", out[cell_[0]])
                    return
                for taken_row in taken[y : y + rows]:
                    taken_row.update(range(x, x + colspan))
                cells.append((cell, x, rows if rowspan else 0, colspan))
                x += colspan
    starts = sorted({x for _, x, _, _ in cells})
    width = max((x + colspan for _, x, _, colspan in cells), default=0)
    for cell, x, rowspan, colspan in cells:
        if len(starts) < width:  # columns no cell starts in: take them out of the spans
            colspan = sum(1 for s in starts if x <= s < x + colspan)
        if (colspan, rowspan) != (cell[1], cell[2]):
            tag = _SPAN_ATTRIBUTE.sub("", out[cell[0]])
            spans = (f' colspan="{colspan}"' if colspan != 1 else "") + (
                f' rowspan="{rowspan}"' if rowspan != 1 else ""
            )
            name_end = 3  # "<td" / "<th"
            out[cell[0]] = tag[:name_end] + spans + tag[name_end:]


def _move_captions(captions: list[_Open], table: _Open, out: list[str]) -> None:
    """A table's caption must be its first child: move it there, with the text of any other
    caption the table has."""
    first = captions[0]
    html_ = "".join(out[first.at : first.end + 1])
    out[first.at : first.end + 1] = [""] * (first.end + 1 - first.at)
    for caption in captions[1:]:
        inner = "".join(out[caption.at + 1 : caption.end])
        out[caption.at : caption.end + 1] = [""] * (caption.end + 1 - caption.at)
        html_ = f"{html_[: -len('</caption>')]} {inner}</caption>"
    out[table.at] += html_


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


def _start_tag(name: str, attrs: str) -> str:
    """A start tag with its attributes cleaned up. For an image without a source, its text
    alternative instead (escaped, possibly empty)."""
    kept = []
    has_alt = has_href = False
    srcset = sizes = None
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
        elif key == "srcset":
            srcset = value or ""
        elif key == "sizes":
            sizes = len(kept)
        has_alt = has_alt or key == "alt"
        has_href = has_href or key == "href"
        kept.append(key if value is None else f'{key}="{value}"')
    if name in ("img", "source") and (srcset is not None or sizes is not None):
        widths = srcset is not None and _WIDTH_DESCRIPTOR.search(srcset + ",")
        if sizes is not None and not widths:
            del kept[sizes]  # sizes only goes with width descriptors
        elif widths and sizes is None:
            kept.append('sizes="100vw"')  # what browsers assume without it
    if name == "img":
        if srcset is None and not any(a.startswith("src=") for a in kept):
            alt = _attribute(attrs, "alt")
            return html.escape(html.unescape(alt), quote=False) if alt else ""
        if not has_alt:
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
