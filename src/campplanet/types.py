"""Plain data passed between the pipeline's stages.

subscription list (OPML) -> :class:`Subscription`
fetch (HTTP)             -> :class:`FetchRequest` in, :class:`FetchResult` out
parse/normalise          -> :class:`ParsedFeed` with :class:`ParsedEntry` items
store (SQLite)           -> :class:`FeedState`, :class:`StoredEntry`
render (Jinja2)          -> :class:`EntryView` (naming its blog by :class:`FeedRef`),
                            :class:`FeedView`

All datetimes are timezone-aware and in UTC.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Subscription:
    """One feed outline of the subscription list."""

    url: str  # the feed URL (xmlUrl), encoded for HTTP
    title: str  # the blog's name (text or title attribute)
    html_url: str | None = None  # the blog's home page (htmlUrl)
    avatar: str | None = None  # avatar image URL (campplanet's `avatar` attribute)
    filter: str | None = None  # per-feed regex that overrides the global camp filter
    line: int = 0  # line of the outline in the OPML file, for messages
    categories: tuple[str, ...] = ()  # enclosing folder outlines, outermost first


@dataclass(frozen=True)
class FetchRequest:
    """What the fetcher needs to retrieve one feed politely."""

    url: str  # the URL to fetch now (a remembered permanent redirect target, if any)
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None  # hash of the last body parsed, to skip identical bodies
    key: str = ""  # the subscription URL this request belongs to (defaults to url)

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.url)


class Outcome(enum.StrEnum):
    """How a fetch ended."""

    OK = "ok"  # a new body to parse
    NOT_MODIFIED = "not_modified"  # 304, or the same body as last time
    GONE = "gone"  # 410: stop fetching until the OPML entry changes
    RATE_LIMITED = "rate_limited"  # 429/503; see retry_after
    TIMED_OUT = "timed_out"  # the feed's deadline passed (or connecting took too long)
    UNREACHABLE = "unreachable"  # no server reached: DNS, refused, no route to it
    FAILED = "failed"  # anything else that went wrong; see error

    @property
    def succeeded(self) -> bool:
        return self in (Outcome.OK, Outcome.NOT_MODIFIED)


@dataclass(frozen=True)
class FetchResult:
    """The outcome of retrieving one feed: data only, no decisions."""

    key: str  # FetchRequest.key
    url: str  # the URL that was requested
    outcome: Outcome
    status: int | None = None  # final HTTP status, if a response arrived
    final_url: str | None = None  # URL after redirects
    permanent_url: str | None = None  # end of an unbroken chain of 301/308 redirects
    body: bytes | None = None  # present only when outcome is OK
    body_hash: str | None = None
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    # the final response's Content-Location, absolute (resolved against final_url), http(s)
    content_location: str | None = None
    retry_after: datetime | None = None  # from a Retry-After header
    error: str | None = None  # human-readable reason when not OK
    elapsed: float = 0.0  # seconds

    @property
    def base_url(self) -> str:
        """What relative links in the body are relative to: the Content-Location the
        server named, else the URL the body came from (after redirects)."""
        return self.content_location or self.final_url or self.url


@dataclass(frozen=True)
class ParsedEntry:
    """One entry, normalised: sanitized HTML, plain-text title, absolute URLs, UTC dates."""

    key: str  # identity within its feed, see campplanet.identity.entry_key
    link: str | None
    title: str
    content: str  # sanitized, tidied HTML (campplanet.tidy): ready for the page
    summary: str  # plain text, about 60 words
    author: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    categories: tuple[str, ...] = ()
    guid: str | None = None  # the feed's own id/guid, when it had one


@dataclass(frozen=True)
class ParsedFeed:
    """A feed document, normalised."""

    title: str | None
    link: str | None  # the blog's home page
    entries: tuple[ParsedEntry, ...]
    image: str | None = None  # logo/icon URL
    problem: str | None = None  # e.g. "not well-formed XML at line 12" for a usable but broken feed


@dataclass
class FeedState:
    """What the database knows about one subscription's fetching."""

    url: str  # subscription URL, as in the OPML
    fetch_url: str | None = None  # remembered permanent redirect target
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    title: str | None = None  # from the feed
    link: str | None = None  # from the feed
    image: str | None = None
    added: datetime | None = None  # when a run first found this subscription in the list
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    failures: int = 0  # consecutive
    failing_since: datetime | None = None
    next_attempt: datetime | None = None
    gone: bool = False
    problem: str | None = None  # parse warning of the last successful fetch
    last_outcome: Outcome | None = None  # how the last fetch ended
    imported_at: datetime | None = None  # first successful import (new-feed flood control)
    at_founding: bool = False  # on the subscription list at the planet's first run


@dataclass
class StoredEntry:
    """An entry as kept in the database."""

    feed_url: str
    key: str
    link: str | None
    title: str
    content: str
    summary: str
    author: str | None
    published: datetime | None
    updated: datetime | None
    categories: tuple[str, ...]
    first_seen: datetime
    date: datetime  # the date the planet orders and shows it by
    guid: str | None = None
    last_seen: datetime | None = None
    backdated: bool = False  # appeared after the feed's first import, dated a day or more earlier
    content_hash: str = ""  # content_digest(content, summary), written by the storage
    canonical_link: str | None = None  # campplanet.urls.canonical_link(link): identity


class Health(enum.StrEnum):
    """How a subscription is doing."""

    NEW = "new"  # not read yet
    WORKING = "working"
    FAILING = "failing"
    MOVED = "moved"  # read from where a permanent redirect leads
    GONE = "gone"  # the server said 410: no longer read


@dataclass(frozen=True)
class FeedRef:
    """A blog as its posts name it, on pages and in the merged feeds."""

    url: str  # the subscription's feed URL
    title: str
    site: str | None  # home page
    avatar: str | None
    initials: str  # for the badge shown when there is no avatar


@dataclass(frozen=True)
class FeedView(FeedRef):
    """A subscription as the subscriptions page, the status and the OPML see it."""

    entries: int = 0
    shown: int = 0
    held_back: int = 0  # hidden by new-feed flood control
    filtered_out: int = 0  # outside the camp filter
    health: Health = Health.NEW
    last_success: datetime | None = None
    failing_since: datetime | None = None
    last_error: str | None = None
    moved_to: str | None = None
    updated: datetime | None = None  # newest entry date
    new_blog: bool = False  # joined after the planet's first run (new-feed flood control)

    @property
    def ref(self) -> FeedRef:
        return FeedRef(self.url, self.title, self.site, self.avatar, self.initials)


@dataclass(frozen=True)
class EntryView:
    """An entry as the templates and merged feeds see it.

    ``repr`` leaves out the text (content and summary): ``content_hash`` stands for it, so
    a page's fingerprint (the digest of what its template receives) never reads it.
    """

    id: str  # globally unique id for merged feeds (original guid, else link, else tag: URI)
    link: str | None
    title: str
    content: str = field(repr=False)  # sanitized, tidied HTML (campplanet.tidy)
    summary: str = field(repr=False)
    author: str | None
    date: datetime  # UTC
    updated: datetime  # UTC
    feed: FeedRef
    categories: tuple[str, ...] = ()
    content_hash: str = ""  # content_digest(content, summary); computed if not given
    camps: tuple[str, ...] = ()  # slugs of the camps it is a write-up of

    def __post_init__(self) -> None:
        if not self.content_hash:
            object.__setattr__(self, "content_hash", content_digest(self.content, self.summary))


def content_digest(content: str, summary: str) -> str:
    """A digest of an entry's content and summary: the storage keeps it beside them, so
    the render can tell a changed page without reading every post's text again."""
    data = f"{content}\x1f{summary}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:32]


@dataclass(frozen=True)
class ParseFailure:
    """Why a fetched body could not be used as a feed (in plain words)."""

    reason: str


@dataclass(frozen=True)
class Failure:
    """A feed that failed in a run."""

    url: str  # the subscription
    reason: str
    outcome: Outcome


@dataclass
class RunSummary:
    """Counts for the one-line summary a run prints."""

    ok: int = 0
    not_modified: int = 0
    failed: int = 0
    skipped: int = 0  # not due yet (backing off, gone, rate limited)
    new: int = 0
    updated: int = 0
    seconds: float = 0.0
    moved: list[tuple[str, str]] = field(default_factory=list)  # (subscription url, new url)
    failures: list[Failure] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"feeds: {self.ok} ok, {self.not_modified} not modified, {self.failed} failed"
            + (f", {self.skipped} not due" if self.skipped else "")
            + f"; entries: {self.new} new, {self.updated} updated; {self.seconds:.1f}s"
        )
