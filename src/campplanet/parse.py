"""Feed documents (RSS 0.9x/1.0/2.0, Atom 0.3/1.0, JSON Feed) to normalised entries.

feedparser reads the document, with its own HTML sanitizer and relative-URI rewriting
switched off: :mod:`campplanet.sanitize` does both once, faster and stricter. The format is
detected from the content, never from a file name or a lying Content-Type.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import xml.sax
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser

from campplanet.sanitize import (
    DEFAULT_IFRAME_HOSTS,
    plain_title,
    sanitize_html,
    strip_invalid_xml_chars,
    summarize,
)
from campplanet.types import ParsedEntry, ParsedFeed

HTML_TYPES = ("text/html", "application/xhtml+xml")
TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ref_src)$", re.IGNORECASE)
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*(<!doctype\s+html|<html|<head|<body)", re.I | re.S)


class ParseError(Exception):
    """The body is not a usable feed; the message says why, in plain words."""


def entry_key(guid: str | None, link: str | None, title: str, content: str) -> str:
    """An entry's identity within its feed.

    Its ``id``/``guid`` when it has one; failing that its canonical link (see
    :func:`canonical_link`); failing that a hash of its title and content.
    """
    if guid and guid.strip():
        return guid.strip()
    canonical = canonical_link(link)
    if canonical:
        return canonical
    digest = hashlib.sha256(f"{title}\n{content}".encode()).hexdigest()
    return f"sha256:{digest}"


def canonical_link(url: str | None) -> str | None:
    """A link reduced to what identifies the post: scheme (http = https), host case,
    default port, fragment, tracking parameters and a trailing slash do not matter."""
    if not url or not url.strip():
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return url.strip()
    host = parts.hostname.lower()
    if port not in (None, 80, 443):
        host += f":{port}"
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not TRACKING_PARAMS.match(k)
        ]
    )
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("https", host, path, query, ""))


def _date(parsed: Any) -> datetime | None:
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def _absolute(url: str | None, base: str | None) -> str | None:
    if not url or not url.strip():
        return None
    url = strip_invalid_xml_chars(url.strip())
    try:
        url = urljoin(base or "", url)
    except ValueError:
        return None
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return None
    return url


def _problem(result: Any) -> str | None:
    exc = result.get("bozo_exception")
    if exc is None:
        return None
    if isinstance(exc, xml.sax.SAXParseException):
        return (
            f"not well-formed XML at line {exc.getLineNumber()}, "
            f"column {exc.getColumnNumber()}: {exc.getMessage()}"
        )
    if isinstance(exc, feedparser.NonXMLContentType):
        return None  # a wrong Content-Type header is common and harmless
    if isinstance(exc, feedparser.CharacterEncodingOverride):
        return "declared character encoding is wrong; decoded as " + result.get("encoding", "?")
    return str(exc) or type(exc).__name__


_UTF16_DECLARATION = re.compile(rb"""(<\?xml[^>]*encoding=["'])utf-?16(le|be)?(["'])""", re.I)


def _prepare(body: bytes) -> bytes:
    """Mend what trips XML parsers but not browsers: whitespace before the XML declaration,
    and UTF-16 without a byte-order mark."""
    if body[:1] != b"\x00" and body[1:2] == b"\x00" and body[3:4] == b"\x00":
        body = _retag_utf8(body.decode("utf-16-le", errors="replace"))
    elif body[:1] == b"\x00" and body[1:2] != b"\x00" and body[2:3] == b"\x00":
        body = _retag_utf8(body.decode("utf-16-be", errors="replace"))
    if body[:1].isspace():
        body = body.lstrip()
    return body


def _retag_utf8(text: str) -> bytes:
    return _UTF16_DECLARATION.sub(rb"\1utf-8\3", text.encode("utf-8"))


def _content(entry: Any) -> tuple[str, str | None]:
    """The richest HTML body an entry offers, and the base URL it came with."""
    best, base = "", None
    for item in entry.get("content") or []:
        value = item.get("value") or ""
        if len(value) > len(best):
            best, base = value, item.get("base")
            if item.get("type") == "text/plain":
                best = _plain_to_html(value)
    if not best:
        detail = entry.get("summary_detail") or {}
        best = entry.get("summary") or ""
        base = detail.get("base")
        if detail.get("type") == "text/plain":
            best = _plain_to_html(best)
    return best, base


def _plain_to_html(text: str) -> str:
    import html

    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)


def _title(detail: Any, fallback: str) -> str:
    if not detail:
        return fallback
    is_html = detail.get("type") in HTML_TYPES
    return plain_title(detail.get("value") or "", is_html=is_html) or fallback


def _entry(
    e: Any, feed_url: str, feed_author: str | None, iframe_hosts: tuple[str, ...]
) -> ParsedEntry:
    link = _absolute(e.get("link"), e.get("link_detail", {}).get("base") or feed_url)
    if link is None:
        for candidate in e.get("links") or []:
            if candidate.get("rel", "alternate") == "alternate":
                link = _absolute(candidate.get("href"), feed_url)
                if link:
                    break
    raw, base = _content(e)
    content = sanitize_html(raw, base or link or feed_url, iframe_hosts=iframe_hosts)
    summary = summarize(content)
    title = _title(e.get("title_detail"), "") or summarize(content, 10) or "Untitled"
    guid = strip_invalid_xml_chars(e.get("id") or "").strip() or None
    author = plain_title(e.get("author") or "", is_html=False) or feed_author
    categories = tuple(
        dict.fromkeys(
            t
            for t in (
                plain_title(tag.get("term") or "", is_html=False) for tag in e.get("tags") or []
            )
            if t
        )
    )
    return ParsedEntry(
        key=entry_key(guid, link, title, content),
        link=link,
        title=title,
        content=content,
        summary=summary,
        author=author,
        published=_date(e.get("published_parsed")),
        updated=_date(e.get("updated_parsed")),
        categories=categories,
        guid=guid,
    )


def parse_feed(
    body: bytes,
    url: str,
    *,
    content_type: str | None = None,
    iframe_hosts: tuple[str, ...] = DEFAULT_IFRAME_HOSTS,
) -> ParsedFeed:
    """Parse a fetched body into a normalised feed.

    ``url`` is where the body came from (after redirects): the base for relative links.
    Raises :class:`ParseError` when nothing usable is in it.
    """
    if not body or not body.strip():
        raise ParseError("empty response")
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    result = feedparser.parse(
        _prepare(body),
        response_headers=headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    entries = result.get("entries") or []
    if not entries and result.get("bozo") and (problem := _problem(result)):
        if _HTML_START.match(body[:2048]):
            raise ParseError("returned an HTML page, not a feed")
        raise ParseError(problem)
    if not result.get("version") and not entries:
        if _HTML_START.match(body[:2048]):
            raise ParseError("returned an HTML page, not a feed")
        problem = _problem(result)
        if problem and problem.startswith("not well-formed"):
            raise ParseError(problem)
        raise ParseError(
            "not a feed (no RSS, Atom or JSON Feed found)" + (f": {problem}" if problem else "")
        )
    feed = result.get("feed") or {}
    feed_link = _absolute(feed.get("link"), url)
    feed_author = plain_title(feed.get("author") or "", is_html=False) or None
    image = feed.get("image") or {}
    parsed = tuple(_entry(e, url, feed_author, iframe_hosts) for e in entries)
    return ParsedFeed(
        title=_title(feed.get("title_detail"), "") or None,
        link=feed_link,
        entries=parsed,
        image=_absolute(image.get("href") or feed.get("logo") or feed.get("icon"), url),
        author=feed_author,
        problem=_problem(result) if result.get("bozo") else None,
    )
