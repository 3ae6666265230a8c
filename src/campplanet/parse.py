"""Feed documents (RSS 0.9x/1.0/2.0, Atom 0.3/1.0, JSON Feed) to normalised entries.

feedparser reads the document, with its own HTML sanitizer and relative-URI rewriting
switched off: :mod:`campplanet.sanitize` does both once, faster and stricter. The format is
detected from the content, never from a file name or a lying Content-Type.
"""

from __future__ import annotations

import calendar
import contextlib
import html
import itertools
import json
import re
import xml.sax
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from campplanet.config import FetchSettings
from campplanet.encoding import decode_document
from campplanet.identity import entry_key
from campplanet.sanitize import (
    DEFAULT_IFRAME_HOSTS,
    plain_title,
    sanitize_html,
    strip_invalid_xml_chars,
    summarize,
)
from campplanet.tidy import tidy_html
from campplanet.types import ParsedEntry, ParsedFeed
from campplanet.urls import publishable

HTML_TYPES = ("text/html", "application/xhtml+xml")
MAX_ENTRIES = FetchSettings().max_entries  # entries read from one document: the newest
MAX_TITLE = 300  # characters; longer titles are cut with "…"
_HTML_START = re.compile(rb"<!doctype\s+html|<html|<head|<body", re.I)


class ParseError(Exception):
    """The body is not a usable feed; the message says why, in plain words."""


def _date(parsed: Any) -> datetime | None:
    """A feedparser time tuple (UTC) as a datetime, or None if it is not a real time."""
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def _utc(moment: datetime) -> datetime | None:
    """``moment`` in UTC (naive means UTC) to the second, as campplanet stores times; None
    when UTC cannot hold it (year 1 at +05:00, year 9999 at -05:00)."""
    moment = moment.replace(microsecond=0)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _absolute(url: str | None, base: str | None) -> str | None:
    """``url`` resolved against ``base``, as a valid absolute http(s) URI, or None."""
    if not url or not url.strip():
        return None
    url = strip_invalid_xml_chars(url.strip())
    try:
        url = urljoin(base or "", url)
    except ValueError:
        return None
    return publishable(url)


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
    return str(exc) or type(exc).__name__


def _prepare(body: bytes, content_type: str | None) -> tuple[bytes, str | None]:
    """The document as UTF-8 that says so, decoded once by :mod:`campplanet.encoding`
    (without the whitespace some feeds put before the XML declaration), entity blow-ups
    defused (see :func:`_drop_long_entities`); and what was wrong with its encoding."""
    decoded = decode_document(body, content_type)
    return _drop_long_entities(decoded.as_utf8()), decoded.problem


MAX_ENTITY_VALUE = 64  # characters; longer internal entity declarations are dropped
_ENTITY_DECL = re.compile(r"""<!ENTITY\s[^<>"']*("[^"]*"|'[^']*')[^<>]*>""")  # [^<>]: linear


_ITEM_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]")
_FIRST_TAG = re.compile(rb"<([A-Za-z_][\w.:-]*)[\s>/]")
_CHANNEL_TAG = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?channel)[\s>]")


def _cut_document(body: bytes, limit: int) -> bytes:
    """Cut a document with more than ``limit`` items or entries just before the next one
    and close it, so a feed of 100,000 entries costs feedparser no more than one of
    ``limit``. Feeds list their newest entries first, so nothing wanted is lost."""
    if body.count(b"<item") + body.count(b"<entry") + body.count(b":item") <= limit:
        return body
    cut_at = next(itertools.islice(_ITEM_START.finditer(body), limit, None), None)
    if cut_at is None:
        return body
    head = body[: cut_at.start()]
    root = _FIRST_TAG.search(re.sub(rb"<[?!][^>]*>", b"", head[:4096]))
    if root is None:
        return body
    closing = b"</" + root.group(1) + b">"
    channel = _CHANNEL_TAG.search(head[:65536])
    if channel is not None and root.group(1).rsplit(b":", 1)[-1] == b"rss":
        closing = b"</" + channel.group(1) + b">" + closing
    return head + closing


def _drop_long_entities(body: bytes) -> bytes:
    """Drop internal entity declarations with long values. feedparser keeps "safe" (flat)
    entities and both of its parsers expand them: one 10 KB entity referenced a thousand
    times turns 15 KB of feed into 10 MB per field and seconds of CPU (quadratic
    blow-up). Short entities (``<!ENTITY nbsp "&#160;">``) are kept."""
    if b"<!ENTITY" not in body:
        return body
    text = body.decode("latin-1")  # byte-transparent: the pattern is ASCII
    return _ENTITY_DECL.sub(_keep_short, text).encode("latin-1")


def _keep_short(match: re.Match[str]) -> str:
    return match.group(0) if len(match.group(1)) - 2 <= MAX_ENTITY_VALUE else ""


def _starts_like_markup(body: bytes) -> bool:
    """The first character of the prepared (UTF-8, left-stripped) document is "<"."""
    return body.startswith(b"<")


def _is_html_page(body: bytes) -> bool:
    """The document starts (after comments) like an HTML page. No regex over the comments:
    a pattern for them backtracks exponentially on a run of empty comments."""
    head = body[:4096].removeprefix(b"\xef\xbb\xbf").lstrip()
    while head.startswith(b"<!--"):
        end = head.find(b"-->", 4)
        if end < 0:
            return False
        head = head[end + 3 :].lstrip()
    return _HTML_START.match(head) is not None


def _content(entry: Any) -> tuple[str, str | None]:
    """The richest HTML body an entry offers, and the base URL it came with."""
    best, base = "", None
    for item in entry.get("content") or []:
        value = item.get("value") or ""
        if len(value) > len(best) and not value.isspace():
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
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)


def _title(detail: Any, fallback: str) -> str:
    if not detail:
        return fallback
    is_html = detail.get("type") in HTML_TYPES
    return _clip(plain_title(detail.get("value") or "", is_html=is_html)) or fallback


def _clip(text: str, limit: int = MAX_TITLE) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _parsed_entry(
    sanitized: str, *, guid: str | None, link: str | None, title: str, **fields: Any
) -> ParsedEntry:
    """An entry from its sanitized HTML: keyed by that HTML (so a change to tidying never
    changes an identity), summarised from it, and stored tidy."""
    return ParsedEntry(
        key=entry_key(guid, link, title, sanitized),
        guid=guid,
        link=link,
        title=title,
        content=tidy_html(sanitized),
        summary=summarize(sanitized),
        **fields,
    )


def _own_updated(e: Any) -> Any:
    """The entry's own updated date. ``e.get("updated_parsed")`` falls back to the published
    date (feedparser keeps that for old callers, issue 310); ``in`` tells the truth."""
    return e["updated_parsed"] if "updated_parsed" in e else None  # noqa: SIM401


def _link(e: Any, feed_url: str) -> str | None:
    """The entry's permalink. A guid stands in for a missing link only when it is itself an
    absolute http(s) URL (RSS's isPermaLink): it is never resolved against the feed."""
    if e.get("guidislink") and not e.get("links"):  # feedparser copied the guid into link
        return publishable(e.get("id"))
    base = (e.get("link_detail") or {}).get("base")
    link = _absolute(e.get("link"), _absolute(base, feed_url) if base else feed_url)
    if link is None:
        for candidate in e.get("links") or []:
            if candidate.get("rel", "alternate") == "alternate":
                link = _absolute(candidate.get("href"), feed_url)
                if link:
                    break
    return link


def _entry(
    e: Any, feed_url: str, feed_author: str | None, iframe_hosts: tuple[str, ...]
) -> ParsedEntry:
    link = _link(e, feed_url)
    raw, base = _content(e)
    # An xml:base in effect wins; otherwise relative URLs in a post are relative to the post.
    base = _absolute(base, feed_url) if base else None
    base = base or link or feed_url
    content = sanitize_html(raw, base, iframe_hosts=iframe_hosts)
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
    return _parsed_entry(
        content,
        guid=guid,
        link=link,
        title=title,
        author=author,
        published=_date(e.get("published_parsed")),
        updated=_date(_own_updated(e)),
        categories=categories,
    )


def parse_feed(
    body: bytes,
    url: str,
    *,
    content_type: str | None = None,
    iframe_hosts: tuple[str, ...] = DEFAULT_IFRAME_HOSTS,
    max_entries: int = MAX_ENTRIES,
) -> ParsedFeed:
    """Parse a fetched body into a normalised feed.

    ``url`` is where the body came from (after redirects): the base for relative links.
    Only the newest ``max_entries`` entries are normalised (a feed with more says so in
    ``problem``). Raises :class:`ParseError` when nothing usable is in it.
    """
    if not body or not body.strip():
        raise ParseError("empty response")
    if _looks_like_json(body, content_type):
        return _parse_json_feed(body, url, iframe_hosts, max_entries)
    prepared, encoding_problem = _prepare(body, content_type)
    # Room to pick the newest by date, as feeds are not always in date order.
    body = _cut_document(prepared, max(4 * max_entries, max_entries + 1000))
    cut_short = len(body) < len(prepared)
    if not _starts_like_markup(body):
        raise ParseError("not a feed (neither XML nor JSON)")
    # No content-location: feedparser would resolve every URI against it, costing 65% more
    # time; links and bases come back relative to the document and are resolved here.
    # The body is UTF-8 and says so: feedparser has nothing left to guess or override.
    headers = {"content-type": "application/xml; charset=utf-8"}
    try:
        result = feedparser.parse(
            body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
        )
    except Exception as e:
        # e.g. TypeError for an empty <width>
        raise ParseError(f"feedparser failed on this document ({type(e).__name__}: {e})") from e
    entries = result.get("entries") or []
    if not entries and result.get("bozo") and (problem := _problem(result)):
        if _is_html_page(body):
            raise ParseError("returned an HTML page, not a feed")
        raise ParseError(problem)
    if not result.get("version") and not entries:
        if _is_html_page(body):
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
    kept = _newest(entries, max_entries, _xml_entry_date)
    parsed, unreadable = _each(kept, lambda e: _entry(e, url, feed_author, iframe_hosts))
    problems = [
        encoding_problem,
        _problem(result) if result.get("bozo") else None,
        _cut(len(entries), len(kept), more=cut_short),
        unreadable,
    ]
    return ParsedFeed(
        title=_title(feed.get("title_detail"), "") or None,
        link=feed_link,
        entries=parsed,
        image=_absolute(image.get("href") or feed.get("logo") or feed.get("icon"), url),
        problem="; ".join(p for p in problems if p) or None,
    )


def _each(
    items: list[Any], build: Callable[[Any], ParsedEntry]
) -> tuple[tuple[ParsedEntry, ...], str | None]:
    """Every item built into an entry; an item whose values break the build costs that
    entry only. Returns the entries and, if any were left out, a problem saying so."""
    built = []
    for item in items:
        with contextlib.suppress(Exception):  # a value may cost its entry, never the feed
            built.append(build(item))
    lost = len(items) - len(built)
    if not lost:
        return tuple(built), None
    return tuple(built), f"{lost} of {len(items)} entries could not be read and were left out"


def _xml_entry_date(entry: Any) -> Any:
    return entry.get("published_parsed") or _own_updated(entry)


def _newest(entries: list[Any], limit: int, date_of: Any) -> list[Any]:
    """At most ``limit`` entries, the newest by their own dates (undated ones count as
    oldest), in document order."""
    if len(entries) <= limit:
        return entries

    def newest_first(i: int) -> tuple[bool, Any, int]:
        date = date_of(entries[i])
        return (date is not None, tuple(date) if date is not None else (), -i)

    chosen = sorted(range(len(entries)), key=newest_first, reverse=True)[: max(limit, 0)]
    return [entries[i] for i in sorted(chosen)]


def _cut(total: int, kept: int, *, more: bool = False) -> str | None:
    if kept == total and not more:
        return None
    return f"{'more than ' if more else ''}{total} entries; only the newest {kept} were read"


# JSON Feed 1.0 / 1.1 (https://www.jsonfeed.org/version/1.1/) -------------------------------

_JSON_VERSION = re.compile(r"^https?://jsonfeed\.org/version/1(\.\d+)?/?$")


def _looks_like_json(body: bytes, content_type: str | None) -> bool:
    start = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if start[:1] in (b"{", b"["):
        return True
    ctype = (content_type or "").split(";")[0].strip().lower()
    return ctype in ("application/feed+json", "application/json") and not start.startswith(b"<")


def _parse_json_feed(
    body: bytes, url: str, iframe_hosts: tuple[str, ...], max_entries: int = MAX_ENTRIES
) -> ParsedFeed:
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        raise ParseError("not a feed (JSON that is not valid UTF-8)") from None
    except json.JSONDecodeError as e:
        raise ParseError(f"not valid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    except RecursionError:
        raise ParseError("not a feed (JSON nested too deeply)") from None
    if not isinstance(data, dict):
        raise ParseError("not a feed (JSON that is not an object)")
    version = data.get("version")
    if not isinstance(version, str) or not _JSON_VERSION.match(version.strip()):
        raise ParseError("not a feed (JSON without version)")
    items = data.get("items")
    if not isinstance(items, list):
        raise ParseError("not a feed (JSON Feed without items)")
    feed_link = _absolute(_url(data.get("home_page_url")), url)
    feed_author = _json_author(data)
    objects = [item for item in items if isinstance(item, dict)]
    kept = _newest(objects, max_entries, _json_entry_date)
    entries, unreadable = _each(kept, lambda i: _json_entry(i, url, feed_author, iframe_hosts))
    skipped = len(items) - len(objects)
    problems = [
        f"skipped {skipped} of {len(items)} items that are not JSON objects" if skipped else None,
        _cut(len(objects), len(kept)),
        unreadable,
    ]
    return ParsedFeed(
        title=_clip(plain_title(_str(data.get("title")), is_html=False)) or None,
        link=feed_link,
        entries=entries,
        image=_absolute(_url(data.get("icon")) or _url(data.get("favicon")), url),
        problem="; ".join(p for p in problems if p) or None,
    )


def _json_entry_date(item: dict[str, Any]) -> Any:
    date = _json_date(item.get("date_published")) or _json_date(item.get("date_modified"))
    return date.timetuple()[:6] if date else None


def _str(value: Any) -> str:
    """A JSON value as text: strings as they are, numbers spelt out, anything else empty."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _url(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _json_author(obj: dict[str, Any]) -> str | None:
    authors = obj.get("authors")
    candidates = authors if isinstance(authors, list) else [obj.get("author")]
    names = [
        plain_title(_str(a.get("name")), is_html=False) for a in candidates if isinstance(a, dict)
    ]
    return ", ".join(n for n in names if n) or None


def _json_date(value: Any) -> datetime | None:
    """A JSON Feed date (RFC 3339; RFC 822 is tolerated) in UTC, or None."""
    text = _str(value).strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return _utc(parsed)


def _json_entry(
    item: dict[str, Any], feed_url: str, feed_author: str | None, iframe_hosts: tuple[str, ...]
) -> ParsedEntry:
    link = _absolute(_url(item.get("url")), feed_url) or _absolute(
        _url(item.get("external_url")), feed_url
    )
    raw = _str(item.get("content_html"))
    if not raw:
        raw = _plain_to_html(_str(item.get("content_text")) or _str(item.get("summary")))
    content = sanitize_html(raw, link or feed_url, iframe_hosts=iframe_hosts)
    title = (
        _clip(plain_title(_str(item.get("title")), is_html=False))
        or summarize(content, 10)
        or "Untitled"
    )
    guid = strip_invalid_xml_chars(_str(item.get("id"))).strip() or None
    tags = item.get("tags") if isinstance(item.get("tags"), list) else []
    categories = tuple(
        dict.fromkeys(t for t in (plain_title(_str(tag), is_html=False) for tag in tags) if t)
    )
    return _parsed_entry(
        content,
        guid=guid,
        link=link,
        title=title,
        author=_json_author(item) or feed_author,
        published=_json_date(item.get("date_published")),
        updated=_json_date(item.get("date_modified")),
        categories=categories,
    )
