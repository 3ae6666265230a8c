"""Fold long posts: a post's opening, cut on a block boundary, and the rest.

The page shows the opening (about ``render.cut_after`` words) and puts the rest in a native
``<details>`` element, so a reader opens it without script. The cut always falls after a
whole block (a paragraph, a heading, a list item, a figure, a table…), never inside one:
the opening and the rest are each valid markup, with any container the cut falls inside
(``div``, ``section``, ``blockquote``, a list) closed at the end of the opening and opened
again at the start of the rest (an ordered list goes on at its next number).

Like :func:`campplanet.tidy.cut_html`, this works on stored content as
:mod:`campplanet.sanitize` and :mod:`campplanet.tidy` leave it (every element closed, tag
names in lower case, attribute values in double quotes), with one regular expression over
its tags: no parse tree is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from campplanet.tidy import BLOCK, PHRASING, TRANSPARENT, VOID

# An image, video or embed weighs this many words when deciding where a post is cut and
# whether it is long enough to fold: twelve photos fill a phone as surely as 500 words.
MEDIA_WORDS = 40
MEDIA = frozenset(("img", "video", "iframe"))

# A cut may close these and the rest open them again: plain containers and lists.
REOPEN = frozenset(
    ("div", "section", "article", "main", "header", "footer", "aside", "nav", "blockquote")
)
LISTS = frozenset(("ul", "ol"))
# A cut may fall after one of these ends (or after an hr, br or image) when every element
# still open is one the rest can open again.
CUT_AFTER = (BLOCK - {"summary"}) | {"video", "audio", "iframe", "picture"}
CUT_AFTER_VOID = frozenset(("hr", "br", "img"))
# A word goes on across these tags ("<b>Hel</b>lo" is one word); every other tag ends it.
JOINS = PHRASING | TRANSPARENT

# Splits HTML into text, tag, tag name, text, tag, tag name, …, text.
_SPLIT = re.compile(r"""(<(/?[a-zA-Z][a-zA-Z0-9]*)(?:[^>"]++|"[^"]*+")*+>)""")
_START = re.compile(r"""\sstart="(-?\d{1,9})\"""")
# What a tag leaves between the words around it: nothing (a word goes on) or a space.
_BETWEEN = {name: "" for name in JOINS} | {"/" + name: "" for name in JOINS}


@dataclass(frozen=True, slots=True)
class Fold:
    """A long post in two: what the page shows first, and the rest."""

    opening: str
    rest: str
    words: int  # words in the rest
    media: int  # images, videos and embeds in the rest


def count_words(content: str) -> int:
    """Words in HTML as a reader counts them: text between tags, split at spaces; a word
    goes on across phrasing tags (``<em>``, ``<a>``…) and ends at any other tag."""
    return _count(_SPLIT.split(content), 0)[0]


def _count(parts: list[str], first: int) -> tuple[int, int]:
    """Words and media in ``parts`` (split by :data:`_SPLIT`) from the text at ``first``."""
    texts = parts[first::3]
    names = parts[first + 2 :: 3]
    between = [_BETWEEN.get(n, " ") for n in names]
    joined = [None] * (len(texts) + len(between))
    joined[::2], joined[1::2] = texts, between
    text = "".join(joined)  # type: ignore[arg-type]
    if "&nbsp;" in text:
        text = text.replace("&nbsp;", " ")
    media = sum(map(names.count, MEDIA))
    return len(text.split()), media


def count_media(content: str) -> int:
    """Images, videos and embeds in HTML."""
    return _count(_SPLIT.split(content), 0)[1]


def fold_html(content: str, words: int) -> Fold | None:
    """``content`` folded after about ``words`` words, or None when it is short enough to
    show whole: when no block ends after ``words`` words, or when less than a third of
    ``words`` would be left for the rest.

    The cut falls at the first block boundary after ``words`` words; when a very long block
    crosses that mark (the cut would show more than twice ``words``), at the boundary before
    it if at least half of ``words`` come before that one.
    """
    if words <= 0 or len(content) < words:
        return None
    parts = _SPLIT.split(content)
    count = 0  # words so far, images weighed as MEDIA_WORDS
    joined = False  # the text so far ends inside a word that the next text may go on
    stack: list[list[str]] = []  # open elements: [name, start tag, one "" per ol item]
    blocked = 0  # open elements a cut cannot close and open again
    # a boundary: (index in parts of the text after it, offset in content, open elements)
    earlier: tuple[int, int, list[list[str]]] | None = None  # the last one before the mark
    chosen: tuple[int, int, list[list[str]]] | None = None
    earlier_count = 0
    pos = 0
    for i in range(0, len(parts) - 1, 3):
        text, tag, raw = parts[i], parts[i + 1], parts[i + 2]
        if text:
            if "&nbsp;" in text:
                text = text.replace("&nbsp;", " ")
            n = len(text.split())
            if n and joined and not text[0].isspace():
                n -= 1
            joined = not text[-1].isspace()
            count += n
        pos += len(parts[i]) + len(tag)
        closing = raw[0] == "/"
        name = raw[1:] if closing else raw
        if name not in JOINS:
            joined = False
        boundary = False
        if closing:
            for k in range(len(stack) - 1, -1, -1):
                if stack[k][0] == name:
                    while len(stack) > k:
                        if not _reopenable(stack.pop()):
                            blocked -= 1
                    break
            boundary = name in CUT_AFTER
        else:
            if name in MEDIA:
                count += MEDIA_WORDS
            if name in VOID or tag.endswith("/>"):
                boundary = name in CUT_AFTER_VOID
            else:
                element = [name, tag]
                if name == "li" and stack and stack[-1][0] == "ol":
                    stack[-1].append("")  # one more item: the rest's list starts after it
                stack.append(element)
                if not _reopenable(element):
                    blocked += 1
        if not boundary or blocked:
            continue
        if count >= words:
            if count > 2 * words and earlier is not None and earlier_count >= words // 2:
                chosen = earlier
            else:
                chosen = (i + 3, pos, [list(e) for e in stack])
            break
        earlier, earlier_count = (i + 3, pos, [list(e) for e in stack]), count
    if chosen is None:
        return None
    first, offset, open_elements = chosen
    rest_words, rest_media = _count(parts, first)
    if rest_words + MEDIA_WORDS * rest_media < max(1, words // 3):
        return None
    closing_tags = "".join(f"</{e[0]}>" for e in reversed(open_elements))
    reopening = "".join(_reopen(e) for e in open_elements)
    return Fold(
        content[:offset] + closing_tags, reopening + content[offset:], rest_words, rest_media
    )


def _reopenable(element: list[str]) -> bool:
    name = element[0]
    if name in REOPEN or name == "ul":
        return True
    # an ordered list counting down cannot say where its rest starts
    return name == "ol" and " reversed" not in element[1]


def _reopen(element: list[str]) -> str:
    """The start tag that opens ``element`` again in the rest."""
    name, tag = element[0], element[1]
    if name != "ol":
        return tag
    items = len(element) - 2  # the items before the cut
    m = _START.search(tag)
    first = int(m.group(1)) if m else 1
    attrs = _START.sub("", tag[3:-1]) if m else tag[3:-1]
    return f'<ol start="{first + items}"{attrs}>'
