"""Finding a blog's feed from its address, the way browsers and feed readers do.

1. The URL may be the feed itself.
2. Otherwise it is a page: its ``<link rel="alternate">`` elements of RSS, Atom or JSON Feed
   type (relative ``href`` resolved against ``<base href>`` or the page's address).
3. Otherwise the well-known feed addresses of common platforms (WordPress, Blogger,
   Medium, Ghost, Substack, Jekyll, Hugo and others), the platform's own first when the page
   or the host name tells which platform it is.

A main posts feed is preferred to a comments feed; the choice is the first candidate that
fetches, parses and has entries. Deciding what to try is pure (:func:`feed_links`,
:func:`rank`, :func:`well_known`); :func:`discover` does the fetching through a function
it is given.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit

from campplanet.parse import ParseError, parse_feed
from campplanet.types import FetchResult, Outcome, ParsedFeed
from campplanet.urls import feed_key

FEED_TYPES = {
    "application/rss+xml": "RSS",
    "application/atom+xml": "Atom",
    "application/feed+json": "JSON Feed",
    "application/json": "JSON Feed",
    "application/rdf+xml": "RSS 1.0",
    "application/xml": "XML",
    "text/xml": "XML",
}
PAGE_ACCEPT = (
    "text/html, application/xhtml+xml;q=0.9, application/atom+xml;q=0.9, "
    "application/rss+xml;q=0.9, application/feed+json;q=0.9, application/xml;q=0.8, */*;q=0.1"
)
GENERIC_PATHS = (
    "feed/",
    "feeds/posts/default",
    "rss/",
    "feed",
    "feed.xml",
    "index.xml",
    "rss.xml",
    "atom.xml",
    "feed.json",
)
_COMMENTS_PATH = re.compile(r"(^|[/_.-])comments?([/_.-]|$)", re.IGNORECASE)
_COMMENTS_TITLE = re.compile(r"\bcomments?\s+(feed|rss|atom)\b|^comments\b|\bcomments\s+on\b", re.I)


@dataclass(frozen=True)
class FeedLink:
    """A feed a page points at, or a well-known address to try."""

    url: str
    title: str | None = None
    kind: str | None = None  # "RSS", "Atom", "JSON Feed"...
    found: str = "page"  # "page": <link rel=alternate>; "guess": a well-known address

    @property
    def is_comments(self) -> bool:
        parts = urlsplit(self.url)
        return bool(
            _COMMENTS_PATH.search(parts.path)
            or re.search(r"(^|&)(feed|type)=comments", parts.query)
            or _COMMENTS_TITLE.search(self.title or "")
        )

    def describe(self) -> str:
        bits = [b for b in (self.kind, self.title and f'"{self.title}"') if b]
        return self.url + (f" ({', '.join(bits)})" if bits else "")


@dataclass
class Discovery:
    """What :func:`discover` found: the chosen feed and what else there was."""

    url: str  # the chosen feed's address, as it will go into feeds.opml
    feed: ParsedFeed
    result: FetchResult  # the chosen feed's fetch (final and permanent URLs)
    page: str | None = None  # the page the feed was found from, if the URL was a page
    chosen: FeedLink | None = None
    alternatives: list[FeedLink] = field(default_factory=list)  # other feeds the page named
    tried: list[tuple[str, str]] = field(default_factory=list)  # (url, why it was not used)


class DiscoveryError(Exception):
    """No usable feed: the message says why (and what was tried)."""


Getter = Callable[[str, str | None], FetchResult]  # (url, Accept header or None) -> result
ManyGetter = Callable[[list[str]], list[FetchResult]]  # urls -> results, in the same order


# --- reading a page ----------------------------------------------------------------------------


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.links: list[tuple[str, str | None, str | None]] = []  # (href, type, title)
        self.generator: str | None = None
        self.in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "body":
            self.in_body = True
        elif tag == "base" and a.get("href") and self.base is None:
            self.base = a["href"].strip()
        elif tag == "meta" and a.get("name", "").lower() == "generator":
            self.generator = self.generator or a.get("content")
        elif tag == "link":
            rels = a.get("rel", "").lower().split()
            if "alternate" in rels and "stylesheet" not in rels and a.get("href", "").strip():
                self.links.append((a["href"].strip(), a.get("type"), a.get("title")))

    handle_startendtag = handle_starttag


def _decode(body: bytes, content_type: str | None) -> str:
    charset = None
    if content_type and (m := re.search(r"charset=([\w.:-]+)", content_type, re.I)):
        charset = m.group(1)
    if not charset and (m := re.search(rb"<meta[^>]+charset=[\"']?([\w.:-]+)", body[:4096], re.I)):
        charset = m.group(1).decode("ascii", "replace")
    try:
        return body.decode(charset or "utf-8", "replace")
    except LookupError:
        return body.decode("utf-8", "replace")


def read_page(html: str, page_url: str) -> tuple[list[FeedLink], str | None]:
    """The feeds a page's ``<link rel="alternate">`` elements name, and its generator."""
    parser = _LinkParser()
    try:
        parser.feed(html)
        parser.close()
    except AssertionError:  # pragma: no cover - html.parser gives up on some garbage
        pass
    base = urljoin(page_url, parser.base) if parser.base else page_url
    links: list[FeedLink] = []
    for href, mime, title in parser.links:
        kind = FEED_TYPES.get((mime or "").split(";")[0].strip().lower())
        if kind is None:
            continue
        url = urljoin(base, href)
        if urlsplit(url).scheme not in ("http", "https"):
            continue
        links.append(FeedLink(url, (title or "").strip() or None, kind, "page"))
    return links, parser.generator


def feed_links(html: str, page_url: str) -> list[FeedLink]:
    return read_page(html, page_url)[0]


def rank(links: list[FeedLink]) -> list[FeedLink]:
    """Posts feeds before comments feeds (page order kept otherwise), one per feed."""
    seen: set[str] = set()
    unique = []
    for link in links:
        key = feed_key(link.url)
        if key not in seen:
            seen.add(key)
            unique.append(link)
    return [x for x in unique if not x.is_comments] + [x for x in unique if x.is_comments]


# --- well-known addresses ------------------------------------------------------------------------


def _platform_guesses(page_url: str, generator: str | None) -> list[str]:
    parts = urlsplit(page_url)
    host = (parts.hostname or "").lower()
    root = urlunsplit((parts.scheme, parts.netloc, "/", "", ""))
    segments = [s for s in parts.path.split("/") if s]
    gen = (generator or "").lower()
    if host == "medium.com" and segments:
        return [f"https://medium.com/feed/{segments[0]}"]
    if host.endswith(".medium.com") and host.count(".") == 2:
        return [f"https://medium.com/feed/@{host.split('.')[0]}"]
    if re.search(r"\.blogspot\.[a-z.]+$", host) or "blogger" in gen:
        return [urljoin(root, "feeds/posts/default")]
    if host.endswith(".substack.com") or "substack" in gen:
        return [urljoin(root, "feed")]
    if host.endswith(".wordpress.com") or "wordpress" in gen:
        return [urljoin(page_url if page_url.endswith("/") else page_url + "/", "feed/")]
    if "ghost" in gen:
        return [urljoin(root, "rss/")]
    if "hugo" in gen:
        return [urljoin(page_url if page_url.endswith("/") else page_url + "/", "index.xml")]
    if "jekyll" in gen:
        return [urljoin(root, "feed.xml")]
    return []


def well_known(page_url: str, generator: str | None = None) -> list[FeedLink]:
    """Addresses to try when a page names no feed: the platform's own first, then the
    common ones under the page's folder and under the site's root."""
    parts = urlsplit(page_url)
    folder = parts.path if parts.path.endswith("/") else parts.path.rsplit("/", 1)[0] + "/"
    bases = [urlunsplit((parts.scheme, parts.netloc, folder, "", ""))]
    root = urlunsplit((parts.scheme, parts.netloc, "/", "", ""))
    if root not in bases:
        bases.append(root)
    urls = _platform_guesses(page_url, generator)
    urls += [urljoin(base, path) for base in bases for path in GENERIC_PATHS]
    return [FeedLink(u, found="guess") for u in dict.fromkeys(urls)]


# --- fetching ----------------------------------------------------------------------------------


def _try_feed(get: Getter, url: str) -> tuple[FetchResult, ParsedFeed | None, str | None]:
    """Fetch and parse ``url``: (result, parsed feed or None, why not)."""
    return _judge(get(url, None), url)


def _judge(result: FetchResult, url: str) -> tuple[FetchResult, ParsedFeed | None, str | None]:
    if result.outcome is not Outcome.OK or result.body is None:
        return result, None, result.error or f"fetch {result.outcome.value}"
    try:
        feed = parse_feed(result.body, result.base_url, content_type=result.content_type)
    except ParseError as e:
        return result, None, str(e)
    if not feed.entries:
        return result, None, "the feed has no entries"
    return result, feed, None


def discover(url: str, get: Getter, get_many: ManyGetter | None = None) -> Discovery:
    """Find, fetch and parse the feed for ``url`` (a feed or a page).

    ``get`` fetches one URL; ``get_many``, if given, fetches the well-known addresses all
    at once (the first that works, in order, is still the one chosen).
    Raises :class:`DiscoveryError` with the reason when there is no usable feed.
    """
    first = get(url, PAGE_ACCEPT)
    if first.outcome is not Outcome.OK or first.body is None:
        raise DiscoveryError(f"cannot fetch {url}: {first.error or first.outcome.value}")
    page_url = first.final_url or url
    try:
        feed = parse_feed(first.body, page_url, content_type=first.content_type)
    except ParseError as e:
        if "HTML" not in str(e) and not _is_html(first):
            raise DiscoveryError(f"{url} is neither a feed nor a web page: {e}") from None
    else:
        if not feed.entries:
            raise DiscoveryError(f"{url} is a feed but has no entries")
        return Discovery(url=url, feed=feed, result=first)

    links, generator = read_page(_decode(first.body, first.content_type), page_url)
    ranked = rank(links)
    posts = [x for x in ranked if not x.is_comments]
    tried: list[tuple[str, str]] = []
    for candidate in posts:
        result, feed, why = _try_feed(get, candidate.url)
        if feed is not None:
            others = [x for x in ranked if x is not candidate]
            return Discovery(candidate.url, feed, result, page_url, candidate, others, tried)
        tried.append((candidate.url, why or ""))
    named = {feed_key(x.url) for x in ranked}
    guesses = [x for x in well_known(page_url, generator) if feed_key(x.url) not in named]
    if get_many is not None:
        fetched = get_many([x.url for x in guesses])
    else:
        fetched = (get(x.url, None) for x in guesses)
    for candidate, fetch_result in zip(guesses, fetched, strict=False):
        result, feed, why = _judge(fetch_result, candidate.url)
        if feed is not None:
            return Discovery(candidate.url, feed, result, page_url, candidate, ranked, tried)
        tried.append((candidate.url, why or ""))
    raise DiscoveryError(_nothing_found(url, ranked, posts, tried))


def _is_html(result: FetchResult) -> bool:
    ctype = (result.content_type or "").lower()
    return "html" in ctype or bool(
        re.match(rb"\s*(<!doctype html|<html)", result.body or b"", re.I)
    )


def _nothing_found(
    url: str, ranked: list[FeedLink], posts: list[FeedLink], tried: list[tuple[str, str]]
) -> str:
    if posts:
        main = posts[0]
        why = dict(tried).get(main.url, "")
        message = f"the feed {main.url} named by {url} cannot be used: {why}"
    elif ranked:
        message = (
            f"{url} names only comments feeds ({', '.join(x.url for x in ranked)}); "
            "give the posts feed's address, or the comments feed's own address to use it"
        )
    else:
        message = (
            f'no feed found: {url} has no <link rel="alternate"> to an RSS, Atom or JSON Feed, '
            f"and none of the usual feed addresses answered with a feed "
            f"(tried {len(tried)}: {', '.join(u for u, _ in tried[:4])}, ...)"
        )
    return message
