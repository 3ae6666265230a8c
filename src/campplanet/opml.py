"""The subscription list: OPML 1.0/1.1/2.0 read safely, with a line for every problem.

The XML is read with expat directly, refusing any DOCTYPE: no entity expansion (billion
laughs), no external entities, no DTD retrieval. Folder outlines (without ``xmlUrl``) nest
feeds into categories; they are valid at any depth.
"""

from __future__ import annotations

import re
import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path

from campplanet.exceptions import OPMLError
from campplanet.types import Subscription
from campplanet.urls import feed_key, normalise_url

KNOWN_ATTRIBUTES = {
    "text",
    "title",
    "type",
    "xmlUrl",
    "htmlUrl",
    "url",
    "description",
    "language",
    "version",
    "category",
    "created",
    "isComment",
    "isBreakpoint",
    "avatar",  # campplanet: the author's picture
    "filter",  # campplanet: a regex overriding the planet's camp filter for this feed
}


@dataclass(frozen=True)
class Problem:
    path: str
    line: int | None
    severity: str  # "error" or "warning"
    message: str
    column: int | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        if self.line is not None and self.column is not None:
            where += f":{self.column}"
        prefix = "" if self.severity == "error" else "warning: "
        return f"{where}: {prefix}{self.message}"


@dataclass
class Outline:
    """One ``<outline>`` element as it stands in the file."""

    attrs: dict[str, str]
    line: int
    categories: tuple[str, ...]  # names of the enclosing folder outlines
    start: int = 0  # byte offset of its ``<``
    parent: int | None = None  # index of the enclosing outline, None for <body>'s children
    children: int = 0  # outlines directly inside it
    close: int | None = None  # byte offset of its ``</outline>``, None if self-closing
    end: int = 0  # byte offset just after the element (after ``/>`` or ``</outline>``)

    @property
    def is_feed(self) -> bool:
        return bool(_attr(self.attrs, "xmlUrl"))

    @property
    def name(self) -> str:
        return _name(self.attrs)


@dataclass
class Document:
    """The parts of an OPML file campplanet reads or edits, with byte offsets."""

    version: str | None = None
    encoding: str | None = None  # from the XML declaration
    has_head: bool = False
    has_body: bool = False
    body_start: int | None = None  # byte offset of ``<body``
    body_end: int | None = None  # byte offset of ``</body>`` (None if self-closing)
    outlines: list[Outline] = field(default_factory=list)
    strays: list[Stray] = field(default_factory=list)  # other elements inside <body>
    comments: list[str] = field(default_factory=list)


@dataclass
class Stray:
    """An element inside ``<body>`` that is not an ``<outline>``: ``<outlin …>``, a typo."""

    name: str
    attrs: dict[str, str]
    line: int
    column: int


class _NoDoctype(Exception):
    pass


def parse_document(path: str, data: bytes) -> Document:
    """Parse OPML bytes safely; raises :class:`OPMLError` for XML that cannot be used."""
    doc = Document()
    stack: list[tuple[str, str, int, int]] = []  # (local name, name, line, column) still open
    open_outlines: list[int] = []  # indexes into doc.outlines
    just_opened = [False]  # no event since the last start tag: an end now may be its "/>"

    parser = xml.parsers.expat.ParserCreate()

    def xmldecl(version: str, encoding: str | None, standalone: int) -> None:
        doc.encoding = encoding

    def start(name: str, attrs: dict[str, str]) -> None:
        local = name.rsplit(":", 1)[-1]
        names = [entry[0] for entry in stack]
        if not stack and local != "opml":
            raise OPMLError(
                path, parser.CurrentLineNumber, f"the root element is <{name}>, not <opml>"
            )
        if not stack:
            doc.version = attrs.get("version")
        elif len(stack) == 1 and local == "head":
            doc.has_head = True
        elif len(stack) == 1 and local == "body":
            doc.has_body = True
            doc.body_start = parser.CurrentByteIndex
        if local == "outline" and "body" in names:
            parent = open_outlines[-1] if open_outlines else None
            parents = tuple(
                doc.outlines[i].name for i in open_outlines if not doc.outlines[i].is_feed
            )
            if parent is not None:
                doc.outlines[parent].children += 1
            outline = Outline(
                dict(attrs), parser.CurrentLineNumber, parents, parser.CurrentByteIndex, parent
            )
            open_outlines.append(len(doc.outlines))
            doc.outlines.append(outline)
        elif "body" in names:
            doc.strays.append(
                Stray(name, dict(attrs), parser.CurrentLineNumber, parser.CurrentColumnNumber)
            )
        stack.append((local, name, parser.CurrentLineNumber, parser.CurrentColumnNumber))
        just_opened[0] = True

    def end(name: str) -> None:
        at = parser.CurrentByteIndex
        closing_tag = not (just_opened[0] and data[at - 2 : at] == b"/>")
        just_opened[0] = False
        local = stack.pop()[0]
        names = [entry[0] for entry in stack]
        if local == "outline" and "body" in names:
            index = open_outlines.pop()
            if closing_tag:
                doc.outlines[index].close = at
                after = data.find(b">", at)
                doc.outlines[index].end = after + 1 if after >= 0 else len(data)
            else:
                doc.outlines[index].end = at
        elif local == "body" and len(stack) == 1 and closing_tag:
            doc.body_end = at

    def comment(text: str) -> None:
        doc.comments.append(text)

    def doctype(*args: object) -> None:
        raise _NoDoctype

    parser.XmlDeclHandler = xmldecl
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CommentHandler = comment
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    parser.ExternalEntityRefHandler = doctype  # type: ignore[assignment]
    try:
        parser.Parse(data, True)
    except _NoDoctype:
        raise OPMLError(
            path,
            parser.CurrentLineNumber,
            "DOCTYPE and entity declarations are not allowed in a subscription list",
        ) from None
    except LookupError as e:  # expat looks the declared encoding up: encoding="TF-8"
        raise OPMLError(
            path, 1, f"unknown character encoding in the XML declaration ({e})"
        ) from None
    except xml.parsers.expat.ExpatError as e:
        raise _explain(path, data, e, parser.ErrorByteIndex, stack) from None
    return doc


_CODES = xml.parsers.expat.errors.codes
_NAME = rb"[A-Za-z_][\w:.-]*"


def _explain(
    path: str,
    data: bytes,
    e: xml.parsers.expat.ExpatError,
    at: int,
    stack: list[tuple[str, str, int, int]],
) -> OPMLError:
    """The error expat found, said where the mistake is and with a hint that fits it.

    Expat notices an unclosed tag only where the enclosing one closes (``</body>``) or at
    the end of the file, and a missing quote wherever the next quote happens to be: so the
    context is looked at to name the line to fix.
    """
    message = f"not well-formed XML: {xml.parsers.expat.ErrorString(e.code)}"
    line, column = e.lineno, e.offset + 1
    if e.code == _CODES[xml.parsers.expat.errors.XML_ERROR_TAG_MISMATCH] and stack:
        found = re.match(_NAME, data[at:])
        closing = found.group().decode("utf-8", "replace") if found else "?"
        _, inner, inner_line, inner_column = stack[-1]
        if closing.rsplit(":", 1)[-1] in {entry[0] for entry in stack[:-1]}:
            return OPMLError(
                path,
                inner_line,
                f"<{inner}> is never closed: end it with /> (or close it with </{inner}>); "
                f"</{closing}> on line {line} closes what encloses it",
                column=inner_column + 1,
            )
        return OPMLError(
            path,
            line,
            f"</{closing}> does not close <{inner}> (opened on line {inner_line}): a typo?",
            column=column,
        )
    if e.code == _CODES[xml.parsers.expat.errors.XML_ERROR_NO_ELEMENTS] and stack:
        _, inner, inner_line, inner_column = stack[-1]
        return OPMLError(
            path,
            inner_line,
            f"<{inner}> is never closed: the file ends (line {line}) while it is still open",
            column=inner_column + 1,
        )
    if e.code == _CODES[xml.parsers.expat.errors.XML_ERROR_INVALID_TOKEN] and at >= 0:
        line, column, hint = _invalid_token_hint(data, at, line, column)
        return OPMLError(path, line, f"{message} ({hint})", column=column)
    return OPMLError(path, line, message, column=column)


def _invalid_token_hint(data: bytes, at: int, line: int, column: int) -> tuple[int, int, str]:
    """(line, column, hint) for expat's "invalid token" at byte ``at``."""
    tag_start = data.rfind(b"<", 0, at)
    tag = data[tag_start:at] if tag_start >= 0 else b""
    char = data[at : at + 1]
    text = data[at : at + 3].decode("utf-8", "ignore")[:1]

    def name(b: bytes) -> str:
        return b.decode("utf-8", "replace")

    if char == b"<" and tag:  # inside a value that runs on: its closing quote is missing
        open_value = re.search(rb"(" + _NAME + rb")\s*=\s*([\"'])([^\"']*)$", tag)
        if open_value and b"\n" in open_value.group(3):
            quote = tag_start + open_value.start(2)
            quote_line = data.count(b"\n", 0, quote) + 1
            quote_column = quote - (data.rfind(b"\n", 0, quote) + 1) + 1
            return (
                quote_line,
                quote_column,
                f"a missing closing quote: the value of {name(open_value.group(1))}= "
                f"never ends, so the file breaks on line {line}",
            )
    if text in "\u201c\u201d\u2018\u2019\u2033" and text:
        return line, column, 'curly quotes are not quotes in XML: type straight ones, name="value"'
    ran_on = re.search(
        rb"(?:^|\s)(" + _NAME + rb")\s*=\s*([\"'])[^\"']*\s(" + _NAME + rb")\s*=\s*\2$", tag
    )
    if ran_on:
        first, second = name(ran_on.group(1)), name(ran_on.group(3))
        return (
            line,
            column,
            f"a missing closing quote? the value of {first}= runs on into {second}=: "
            f'write {first}="…" {second}="…"',
        )
    if re.search(rb"=\s*$", tag) and char not in (b'"', b"'"):
        attr = re.search(rb"(" + _NAME + rb")\s*=\s*$", tag)
        which = f"{name(attr.group(1))}=" if attr else "the value"
        return line, column, f'a missing opening quote? write {which}"…"'
    if re.search(rb"[\"']$", tag) and re.match(_NAME, data[at:]):
        return line, column, 'a missing space between two attributes? write a="…" b="…"'
    return line, column, "an unescaped & or < in an attribute? write &amp; or &lt;"


def _attr(attrs: dict[str, str], name: str) -> str:
    """An attribute, looked up case-insensitively (xmlurl, XMLURL and xmlUrl all occur)."""
    if name in attrs:
        return attrs[name].strip()
    lower = name.lower()
    for key, value in attrs.items():
        if key.lower() == lower:
            return value.strip()
    return ""


def clean_name(text: str) -> str:
    """A blog's name as campplanet shows it: runs of white space made one space."""
    return re.sub(r"\s+", " ", text).strip()


def _name(attrs: dict[str, str]) -> str:
    return clean_name(_attr(attrs, "text") or _attr(attrs, "title"))


def _problems_of(
    path: str, doc: Document, allow_private_networks: bool, changed: set[int] | None = None
):
    """Every problem of ``doc``: document-wide ones first, then by line.

    ``changed``: the lines of the outlines a change added or altered (``check
    --changed-since``); of two outlines for the same feed, the changed one is reported.
    """
    if not doc.has_body:
        yield Problem(
            path, None, "error", "no <body> element: this is not an OPML subscription list"
        )
    if doc.version is None:
        yield Problem(path, None, "warning", '<opml> has no version="2.0"')
    elif doc.version not in ("1.0", "1.1", "2.0"):
        yield Problem(path, None, "warning", f"unknown OPML version {doc.version!r}")
    lined: list[Problem] = []
    feeds = _outline_problems(path, doc, allow_private_networks, changed, lined)
    for stray in doc.strays:
        if ":" in stray.name:  # another vocabulary's element: not ours to judge
            lined.append(
                Problem(path, stray.line, "warning", f"<{stray.name}> inside <body> is ignored")
            )
            continue
        feeds += bool(_attr(stray.attrs, "xmlUrl"))
        lined.append(
            Problem(
                path,
                stray.line,
                "error",
                f"<{stray.name}> is not an <outline>, so this line is left out "
                "(a typo? each blog is one <outline …/>)",
                stray.column + 1,
            )
        )
    if _asks_for_name_order(doc):
        lined.extend(_order_problems(path, doc))
    lined.sort(key=lambda p: p.line or 0)  # stable: one line's problems keep their order
    yield from lined
    if doc.has_body and not feeds:
        yield Problem(path, None, "warning", "the subscription list has no feeds")


def _outline_problems(
    path: str,
    doc: Document,
    allow_private_networks: bool,
    changed: set[int] | None,
    problems: list[Problem],
) -> int:
    """Append the problems of each outline to ``problems``; returns how many are feeds."""
    from campplanet import netguard

    usable: dict[str, list[Outline]] = {}
    reasons: dict[int, str | None] = {}
    keys: dict[int, str] = {}
    for index, outline in enumerate(doc.outlines):
        url = _attr(outline.attrs, "xmlUrl")
        if url:
            reasons[index] = reason = netguard.check_url(url, allow_private=allow_private_networks)
            if not reason:
                keys[index] = key = feed_key(url)
                usable.setdefault(key, []).append(outline)
    # The one of several outlines for the same feed that is not reported: the first, or with
    # `changed`, the first that was there before the change.
    original = {
        key: next((o for o in same if changed is not None and o.line not in changed), same[0])
        for key, same in usable.items()
    }
    feeds = 0
    for index, outline in enumerate(doc.outlines):
        attrs = outline.attrs
        line = outline.line

        def add(severity: str, message: str, line: int = line) -> None:
            problems.append(Problem(path, line, severity, message))

        for key in attrs:
            if key not in KNOWN_ATTRIBUTES and ":" not in key and key.lower() != "xmlurl":
                add("warning", f"unknown attribute {key}=")
        url = _attr(attrs, "xmlUrl")
        kind = _attr(attrs, "type").lower()
        if not url:
            if kind in ("rss", "atom") and not outline.children:
                feeds += 1  # meant as a feed
                add("error", f'outline "{_name(attrs)}" has type="{kind}" but no xmlUrl')
            elif kind in ("rss", "atom"):
                add(
                    "warning",
                    f'outline "{_name(attrs)}" has type="{kind}" but no xmlUrl; it holds other '
                    "outlines, so it is read as a folder",
                )
            elif not outline.children and _attr(attrs, "url") and kind not in ("link", "include"):
                feeds += 1  # meant as a feed
                add(
                    "error",
                    f'outline "{_name(attrs)}" has url= but no xmlUrl: feeds need xmlUrl="..."',
                )
            continue
        feeds += 1
        if not _name(attrs):
            add("error", 'feed outline has no name: add text="Blog name"')
        if reason := reasons[index]:
            add("error", f"xmlUrl {url!r}: {reason}")
            continue
        first = original[keys[index]]
        if first is not outline:
            add("error", f"duplicate feed {url} (already on line {first.line})")
        pattern = _attr(attrs, "filter")
        if pattern:
            try:
                re.compile(pattern)
            except re.error as e:
                add("error", f"filter {pattern!r} is not a valid regular expression: {e}")
        for name in ("htmlUrl", "avatar"):
            value = _attr(attrs, name)
            if value and not re.match(r"^https?://", value, re.IGNORECASE):
                add("warning", f"{name} {value!r} is not an http(s) URL; it is ignored")
    return feeds


# A comment that asks for the feeds to be kept in order of name ("in alphabetical order",
# "keep them sorted by name", "in order of name").
_ORDER_REQUEST = re.compile(
    r"\balphabetic|\bsorted\b|\border of (?:\w+ )?names?\b|\bname order\b", re.IGNORECASE
)


def _asks_for_name_order(doc: Document) -> bool:
    """The file asks for its feeds in order of name: a comment of it says so."""
    return any(_ORDER_REQUEST.search(text) for text in doc.comments)


def name_key(outline: Outline) -> str:
    """The order feeds are kept in (``add`` inserts by it, ``--fix-order`` sorts by it)."""
    return outline.name.casefold()


def feed_groups(doc: Document) -> list[list[Outline]]:
    """The feeds of each folder (and of <body>), in file order: the lists kept in order."""
    groups: dict[int | None, list[Outline]] = {}
    for outline in doc.outlines:
        if outline.is_feed:
            groups.setdefault(outline.parent, []).append(outline)
    return list(groups.values())


def _in_order(keys: list[str]) -> set[int]:
    """Indexes of a longest run of ``keys`` already in order (not necessarily adjacent):
    the others are the ones out of place."""
    tails: list[int] = []  # tails[k]: index ending the best run of length k + 1
    before: list[int | None] = [None] * len(keys)
    for i, key in enumerate(keys):
        lo, hi = 0, len(tails)
        while lo < hi:  # first run whose tail is greater than key (equal keys stay in order)
            mid = (lo + hi) // 2
            if keys[tails[mid]] <= key:
                lo = mid + 1
            else:
                hi = mid
        before[i] = tails[lo - 1] if lo else None
        if lo == len(tails):
            tails.append(i)
        else:
            tails[lo] = i
    kept: set[int] = set()
    at = tails[-1] if tails else None
    while at is not None:
        kept.add(at)
        at = before[at]
    return kept


def _order_problems(path: str, doc: Document) -> list[Problem]:
    problems = []
    for group in feed_groups(doc):
        keys = [name_key(o) for o in group]
        kept = _in_order(keys)
        ordered = [group[i] for i in sorted(kept)]
        for i, outline in enumerate(group):
            if i in kept:
                continue
            after = next((o for o in ordered if name_key(o) > keys[i]), None)
            if after is not None:
                where = f'before "{after.name}" (line {after.line})'
            else:
                where = f'after "{ordered[-1].name}" (line {ordered[-1].line})'
            problems.append(
                Problem(
                    path,
                    outline.line,
                    "warning",
                    f'"{outline.name}" is out of name order: it belongs {where} '
                    "(campplanet check --fix-order sorts the list)",
                )
            )
    return problems


def changed_outlines(doc: Document, old: Document | None) -> set[int]:
    """The lines of the elements of ``doc``'s body that ``old`` does not have as they are
    (added, or with any attribute changed); every line if there is no ``old``."""
    elements = [(o.line, "outline", o.attrs) for o in doc.outlines]
    elements += [(s.line, s.name, s.attrs) for s in doc.strays]
    if old is None:
        return {line for line, _, _ in elements}
    before: dict[tuple, int] = {}
    for key in [("outline", o.attrs) for o in old.outlines] + [
        (s.name, s.attrs) for s in old.strays
    ]:
        frozen = (key[0], tuple(sorted(key[1].items())))
        before[frozen] = before.get(frozen, 0) + 1
    changed = set()
    for line, name, attrs in sorted(elements, key=lambda e: e[0]):
        frozen = (name, tuple(sorted(attrs.items())))
        if before.get(frozen):
            before[frozen] -= 1
        else:
            changed.add(line)
    return changed


def _load(path: str | Path) -> tuple[str, Document]:
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise OPMLError(name, None, "subscription list not found") from None
    except OSError as e:
        raise OPMLError(name, None, f"cannot read the subscription list: {e.strerror}") from None
    if not data.strip():
        raise OPMLError(name, None, "the subscription list is empty")
    return name, parse_document(name, data)


def lint_opml(
    path: str | Path, *, allow_private_networks: bool = False, changed: set[int] | None = None
) -> list[Problem]:
    """Every problem of the subscription list, not just the first.

    ``changed``: the lines of the outlines a change added or altered
    (:func:`changed_outlines`); a duplicate is then reported on the changed outline.
    """
    try:
        name, doc = _load(path)
    except OPMLError as e:
        return [Problem(e.path, e.line, "error", e.message, e.column)]
    return list(_problems_of(name, doc, allow_private_networks, changed))


def read_opml(path: str | Path, *, allow_private_networks: bool = False) -> list[Subscription]:
    """The feeds of the subscription list, in file order.

    Raises :class:`OPMLError` (with the line) for the first error; warnings do not stop it.
    """
    subs, problems = read_subscriptions(path, allow_private_networks=allow_private_networks)
    for problem in problems:
        raise OPMLError(problem.path, problem.line, problem.message, problem.column)
    return subs


def read_subscriptions(
    path: str | Path, *, allow_private_networks: bool = False
) -> tuple[list[Subscription], list[Problem]]:
    """The usable feeds of the subscription list, and the errors of the outlines left out.

    This is how a run reads the list: one attendee's broken line is reported (with its
    line) and left out, and every other blog is still fetched. A file that cannot be used
    at all raises :class:`OPMLError`.
    """

    name, doc = _load(path)
    errors = [p for p in _problems_of(name, doc, allow_private_networks) if p.severity == "error"]
    for problem in errors:
        if problem.line is None:
            raise OPMLError(problem.path, problem.line, problem.message, problem.column)
    bad_lines = {p.line for p in errors}
    subs = []
    for outline in doc.outlines:
        attrs = outline.attrs
        url = _attr(attrs, "xmlUrl")
        if not url or outline.line in bad_lines:
            continue
        html_url = _attr(attrs, "htmlUrl")
        avatar = _attr(attrs, "avatar")
        subs.append(
            Subscription(
                url=normalise_url(url),
                title=_name(attrs),
                html_url=html_url if re.match(r"^https?://", html_url, re.I) else None,
                avatar=avatar if re.match(r"^https?://", avatar, re.I) else None,
                filter=_attr(attrs, "filter") or None,
                line=outline.line,
                categories=outline.categories,
            )
        )
    return subs, errors
