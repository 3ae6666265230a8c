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


class _NoDoctype(Exception):
    pass


def parse_document(path: str, data: bytes) -> Document:
    """Parse OPML bytes safely; raises :class:`OPMLError` for XML that cannot be used."""
    doc = Document()
    stack: list[str] = []
    open_outlines: list[int] = []  # indexes into doc.outlines
    just_opened = [False]  # no event since the last start tag: an end now may be its "/>"

    parser = xml.parsers.expat.ParserCreate()

    def xmldecl(version: str, encoding: str | None, standalone: int) -> None:
        doc.encoding = encoding

    def start(name: str, attrs: dict[str, str]) -> None:
        local = name.rsplit(":", 1)[-1]
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
        if local == "outline" and "body" in stack:
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
        stack.append(local)
        just_opened[0] = True

    def end(name: str) -> None:
        at = parser.CurrentByteIndex
        closing_tag = not (just_opened[0] and data[at - 2 : at] == b"/>")
        just_opened[0] = False
        local = stack.pop()
        if local == "outline" and "body" in stack:
            index = open_outlines.pop()
            if closing_tag:
                doc.outlines[index].close = parser.CurrentByteIndex
        elif local == "body" and len(stack) == 1 and closing_tag:
            doc.body_end = parser.CurrentByteIndex

    def doctype(*args: object) -> None:
        raise _NoDoctype

    parser.XmlDeclHandler = xmldecl
    parser.StartElementHandler = start
    parser.EndElementHandler = end
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
        message = xml.parsers.expat.ErrorString(e.code)
        hint = ""
        if (
            e.code
            == xml.parsers.expat.errors.codes[xml.parsers.expat.errors.XML_ERROR_INVALID_TOKEN]
        ):
            hint = " (an unescaped & or < in an attribute? write &amp; or &lt;)"
        raise OPMLError(
            path, e.lineno, f"not well-formed XML: {message}{hint}", column=e.offset + 1
        ) from None
    return doc


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


def feed_key(url: str) -> str:
    """One key for every spelling of the same feed: scheme, host case, ``www.``, default
    port, trailing slash and the country domains Blogger redirects to ``.blogspot.com``."""
    from campplanet import netguard

    key = netguard.same_feed_key(url).removeprefix("//")
    host, sep, rest = key.partition("/")
    host = re.sub(r"\.blogspot\.(?:com?\.)?[a-z]{2,3}$", ".blogspot.com", host)
    return host + sep + rest


def _problems_of(path: str, doc: Document, allow_private_networks: bool):
    from campplanet import netguard

    if not doc.has_body:
        yield Problem(
            path, None, "error", "no <body> element: this is not an OPML subscription list"
        )
    if doc.version is None:
        yield Problem(path, None, "warning", '<opml> has no version="2.0"')
    elif doc.version not in ("1.0", "1.1", "2.0"):
        yield Problem(path, None, "warning", f"unknown OPML version {doc.version!r}")
    seen: dict[str, int] = {}
    feeds = 0
    for outline in doc.outlines:
        attrs = outline.attrs
        line = outline.line
        for key in attrs:
            if key not in KNOWN_ATTRIBUTES and ":" not in key and key.lower() != "xmlurl":
                yield Problem(path, line, "warning", f"unknown attribute {key}=")
        url = _attr(attrs, "xmlUrl")
        kind = _attr(attrs, "type").lower()
        if not url:
            if kind in ("rss", "atom") and not outline.children:
                feeds += 1  # meant as a feed
                yield Problem(
                    path, line, "error", f'outline "{_name(attrs)}" has type="{kind}" but no xmlUrl'
                )
            elif kind in ("rss", "atom"):
                yield Problem(
                    path,
                    line,
                    "warning",
                    f'outline "{_name(attrs)}" has type="{kind}" but no xmlUrl; it holds other '
                    "outlines, so it is read as a folder",
                )
            elif not outline.children and _attr(attrs, "url") and kind not in ("link", "include"):
                feeds += 1  # meant as a feed
                yield Problem(
                    path,
                    line,
                    "error",
                    f'outline "{_name(attrs)}" has url= but no xmlUrl: feeds need xmlUrl="..."',
                )
            continue
        feeds += 1
        if not _name(attrs):
            yield Problem(path, line, "error", 'feed outline has no name: add text="Blog name"')
        reason = netguard.check_url(url, allow_private=allow_private_networks)
        if reason:
            yield Problem(path, line, "error", f"xmlUrl {url!r}: {reason}")
            continue
        normal = feed_key(url)
        if normal in seen:
            yield Problem(
                path, line, "error", f"duplicate feed {url} (already on line {seen[normal]})"
            )
        else:
            seen[normal] = line
        pattern = _attr(attrs, "filter")
        if pattern:
            try:
                re.compile(pattern)
            except re.error as e:
                yield Problem(
                    path,
                    line,
                    "error",
                    f"filter {pattern!r} is not a valid regular expression: {e}",
                )
        for name in ("htmlUrl", "avatar"):
            value = _attr(attrs, name)
            if value and not re.match(r"^https?://", value, re.IGNORECASE):
                yield Problem(
                    path, line, "warning", f"{name} {value!r} is not an http(s) URL; it is ignored"
                )
    if doc.has_body and not feeds:
        yield Problem(path, None, "warning", "the subscription list has no feeds")


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


def lint_opml(path: str | Path, *, allow_private_networks: bool = False) -> list[Problem]:
    """Every problem of the subscription list, not just the first."""
    try:
        name, doc = _load(path)
    except OPMLError as e:
        return [Problem(e.path, e.line, "error", e.message, e.column)]
    return list(_problems_of(name, doc, allow_private_networks))


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
    from campplanet import netguard

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
                url=netguard.normalise_url(url),
                title=_name(attrs),
                html_url=html_url if re.match(r"^https?://", html_url, re.I) else None,
                avatar=avatar if re.match(r"^https?://", avatar, re.I) else None,
                filter=_attr(attrs, "filter") or None,
                line=outline.line,
                categories=outline.categories,
            )
        )
    return subs, errors
