"""Feed documents (RSS 0.9x/1.0/2.0, Atom 0.3/1.0, JSON Feed) to normalised entries.

feedparser reads the document, with its own HTML sanitizer and relative-URI rewriting
switched off: :mod:`campplanet.sanitize` does both once, faster and stricter. The format is
detected from the content, never from a file name or a lying Content-Type.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import itertools
import json
import re
import xml.sax
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

import feedparser
import feedparser.mixin
from feedparser.datetimes import _parse_date as _feedparser_date

from campplanet.encoding import decode_document
from campplanet.sanitize import (
    DEFAULT_IFRAME_HOSTS,
    plain_title,
    sanitize_html,
    strip_invalid_xml_chars,
    summarize,
)
from campplanet.tidy import tidy_html
from campplanet.types import ParsedEntry, ParsedFeed

HTML_TYPES = ("text/html", "application/xhtml+xml")
TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ref_src)$", re.IGNORECASE)
MAX_ENTRIES = 1000  # entries read from one document: the newest, by their own dates
_get = dict.get  # FeedParserDict.get maps every key through a table first; ours are real keys
MAX_TITLE = 300  # characters; longer titles are cut with "…"
_HTML_START = re.compile(rb"<!doctype\s+html|<html|<head|<body", re.I)


# feedparser resolves an RSS guid or Atom id that looks like a relative URL against the fetch
# URL, so an entry's identity would change when its feed moves. Keep ids exactly as written.
feedparser.mixin._FeedParserMixin.can_be_relative_uri = set(
    feedparser.mixin._FeedParserMixin.can_be_relative_uri
) - {"id"}

_PATH_SAFE = "/:@!$&'()*+,;=-._~"


class ParseError(Exception):
    """The body is not a usable feed; the message says why, in plain words."""


def entry_key(guid: str | None, link: str | None, title: str, content: str) -> str:
    """An entry's identity within its feed. The rule, in order:

    1. its ``id`` (Atom, JSON Feed) or ``guid`` (RSS), exactly as the feed wrote it but for
       surrounding whitespace; a relative id is *not* resolved against the feed URL, so a
       feed that moves keeps its entries' identities;
    2. failing that, its link in canonical form (:func:`canonical_link`), so
       ``http://Blog.example/post/?utm_source=rss`` and ``https://blog.example/post`` are the
       same entry;
    3. failing both, ``"sha256:"`` and the hex SHA-256 of the title, a newline and the
       sanitized content: such an entry has nothing stable, so an edit makes it a new entry.
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
    path = quote(unquote(parts.path.strip()), safe=_PATH_SAFE).rstrip("/") or "/"
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
    for item in _get(entry, "content") or []:
        value = item.get("value") or ""
        if len(value) > len(best):
            best, base = value, item.get("base")
            if item.get("type") == "text/plain":
                best = _plain_to_html(value)
    if not best:
        detail = _get(entry, "summary_detail") or {}
        best = _get(entry, "summary") or ""
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


def _entry(
    e: Any, feed_url: str, feed_author: str | None, iframe_hosts: tuple[str, ...]
) -> ParsedEntry:
    link = _absolute(_get(e, "link"), _get(e, "link_detail", {}).get("base") or feed_url)
    if link is None:
        for candidate in _get(e, "links") or []:
            if candidate.get("rel", "alternate") == "alternate":
                link = _absolute(candidate.get("href"), feed_url)
                if link:
                    break
    raw, base = _content(e)
    # An xml:base in effect wins; otherwise relative URLs in a post are relative to the post.
    base = _absolute(base, feed_url) if base else None
    base = base or link or feed_url
    content = sanitize_html(raw, base, iframe_hosts=iframe_hosts)
    title = _title(_get(e, "title_detail"), "") or summarize(content, 10) or "Untitled"
    guid = strip_invalid_xml_chars(_get(e, "id") or "").strip() or None
    author = plain_title(_get(e, "author") or "", is_html=False) or feed_author
    categories = tuple(
        dict.fromkeys(
            t
            for t in (
                plain_title(tag.get("term") or "", is_html=False) for tag in _get(e, "tags") or []
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
        published=_date(_get(e, "published_parsed")),
        updated=_date(_get(e, "updated_parsed")),  # not feedparser's fallback to published
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
    parsed = tuple(_entry(e, url, feed_author, iframe_hosts) for e in kept)
    problems = [
        encoding_problem,
        _problem(result) if result.get("bozo") else None,
        _cut(len(entries), len(kept), more=cut_short),
    ]
    return ParsedFeed(
        title=_title(feed.get("title_detail"), "") or None,
        link=feed_link,
        entries=parsed,
        image=_absolute(image.get("href") or feed.get("logo") or feed.get("icon"), url),
        author=feed_author,
        problem="; ".join(p for p in problems if p) or None,
    )


def _xml_entry_date(entry: Any) -> Any:
    return _get(entry, "published_parsed") or _get(entry, "updated_parsed")


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
    entries = tuple(_json_entry(item, url, feed_author, iframe_hosts) for item in kept)
    skipped = len(items) - len(objects)
    problems = [
        f"skipped {skipped} of {len(items)} items that are not JSON objects" if skipped else None,
        _cut(len(objects), len(kept)),
    ]
    return ParsedFeed(
        title=_clip(plain_title(_str(data.get("title")), is_html=False)) or None,
        link=feed_link,
        entries=entries,
        image=_absolute(_url(data.get("icon")) or _url(data.get("favicon")), url),
        author=feed_author,
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
    text = _str(value).strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return _date(_feedparser_date(text))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


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
