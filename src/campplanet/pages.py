"""What the templates receive: the page model, and how the archive is laid out in pages.

The front page holds the newest ``planet.items`` posts. Archive pages are filled from the
oldest post: ``page/1/`` holds the oldest ``planet.items``, and only the newest archive page
is partly filled, so a new post changes the front page and the newest archive page while
every older page keeps its posts, its address and its bytes.

The entries come from a :class:`Shown`: in memory (:class:`ShownList`) or read from the
storage a page at a time (:class:`campplanet.views.StoredShown`).

An archive page's template receives a :class:`Page` made of its entries' views and a
:class:`SiteInfo`. Its fingerprint (:func:`fingerprint`) is a digest of what those are made
of: each entry's version token (which changes whenever anything its view is made of does),
each of its blogs' :class:`~campplanet.types.FeedRef`, the ``repr`` of the SiteInfo, the
page's place in the archive and the theme signature (settings, theme files, code). Equal
fingerprints render equal bytes, whatever fields a template prints.

A post's text is folded only when a template prints it, so fingerprinting or building a
page that needs no rendering reads none of its posts' text.

Within a page, posts are grouped by day, newest first; within a day, no more than
``render.per_blog`` posts of one blog follow each other while another blog's post of that day
can come between them (:func:`spread`). Which page a post is on depends on the date order
alone, so spreading never moves a post to another page.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from itertools import islice
from typing import TYPE_CHECKING, NamedTuple, Protocol, TypeVar
from zoneinfo import ZoneInfo

from markupsafe import Markup

from campplanet import branding, formats, health
from campplanet.config import CampSettings, PlanetSettings, Settings
from campplanet.fold import fold_html
from campplanet.types import EntryView, FeedRef, FeedView

if TYPE_CHECKING:
    from campplanet.render import Output


class Shown(Protocol):
    """The entries a planet shows, newest first."""

    def __len__(self) -> int: ...

    def views(self, start: int, stop: int, *, text: bool = True) -> list[EntryView]:
        """The views of the entries at positions ``start`` to ``stop``. Without ``text``,
        content and summary may be left empty (``content_hash`` stands for them)."""
        ...

    def versions(self) -> Iterator[tuple[str, str]]:
        """Every entry's version token and its blog's feed URL, in order (see
        :func:`fingerprints`): the token changes whenever anything its view is made of
        does."""
        ...

    def blogs(self) -> dict[str, FeedRef]:
        """The blogs of the entries, by feed URL."""
        ...

    def camp(self, slug: str, *, write_ups: bool = True) -> list[EntryView]:
        """The write-ups of camp ``slug``, oldest first (flood control does not hide them)."""
        ...

    def camp_versions(self, slug: str) -> Iterator[tuple[str, str]]:
        """The version token and blog of each write-up of camp ``slug``, oldest first (as
        :meth:`versions`)."""
        ...

    def camp_authors(self, slug: str) -> list[tuple[str | None, str]]:
        """The author (if any) and blog of each write-up of camp ``slug``."""
        ...


class ShownList(list[EntryView]):
    """Shown entries held in memory (tests, and sites built without a database)."""

    def views(self, start: int, stop: int, *, text: bool = True) -> list[EntryView]:
        return self[start:stop]

    def camp(self, slug: str, *, write_ups: bool = True) -> list[EntryView]:
        """The entries that are write-ups of camp ``slug``, oldest first."""
        return sorted((e for e in self if slug in e.camps), key=lambda e: (e.date, e.id))

    def camp_versions(self, slug: str) -> Iterator[tuple[str, str]]:
        for entry in self.camp(slug):
            yield repr(entry), entry.feed.url

    def camp_authors(self, slug: str) -> list[tuple[str | None, str]]:
        return [(entry.author, entry.feed.url) for entry in self.camp(slug)]

    def versions(self) -> Iterator[tuple[str, str]]:
        for entry in self:
            yield repr(entry), entry.feed.url

    def blogs(self) -> dict[str, FeedRef]:
        return {entry.feed.url: entry.feed for entry in self}


class PostText(NamedTuple):
    """What the page shows of a post's text."""

    content: Markup  # tidied: whole, or a long post's opening; or the summary paragraph
    cut: bool = False  # the rest is not on the page: link to the post
    rest: Markup = Markup("")  # a folded post's rest, if any
    rest_words: int = 0  # words in the rest
    rest_media: int = 0  # images, videos and embeds in the rest


@dataclass(slots=True)  # not frozen: building 20,000 frozen ones is measurably slower
class Item:
    """An entry ready to show: the view plus what the templates print for it.

    Its text (:attr:`content`, and a folded post's :attr:`rest`) is worked out when a
    template first asks for it: an archive page whose fingerprint did not change is never
    rendered, so its posts are never folded.
    """

    entry: EntryView
    title: str
    day: date  # in planet.timezone
    time: str  # "21:08 GMT", in planet.timezone
    author: str | None  # the entry's author when it is not just the blog's name
    iso: str  # the entry's date, RFC 3339 in UTC, for <time datetime>
    camps: tuple[tuple[str, str], ...] = ()  # (slug, name) of the camps it is a write-up of
    shape: str = field(default="full", repr=False)  # render.content ("full" for the feeds)
    words: int = field(default=0, repr=False)  # render.cut_after: the opening of a fold
    _text: PostText | None = field(default=None, repr=False)  # worked out when first asked

    @property
    def feed(self) -> FeedRef:
        return self.entry.feed

    @property
    def link(self) -> str | None:
        return self.entry.link

    @property
    def text(self) -> PostText:
        if self._text is None:
            self._text = show(self.entry, self.shape, self.words)
        return self._text

    @property
    def content(self) -> Markup:
        return self.text.content

    @property
    def cut(self) -> bool:
        return self.text.cut

    @property
    def rest(self) -> Markup:
        return self.text.rest

    @property
    def more(self) -> str:
        """What a folded post's rest holds: "1,240 more words"."""
        return formats.more_label(self.text.rest_words, self.text.rest_media)


def show(e: EntryView, shape: str, words: int) -> PostText:
    """What the page shows of an entry's text: whole, folded or summed up (``shape``, as
    ``render.content``), the opening of a fold about ``words`` words long."""
    if shape == "summary":
        return PostText(Markup("<p>%s</p>") % e.summary if e.summary else _NOTHING, bool(e.link))
    if shape == "fold" and words and (folded := fold_html(e.content, words)) is not None:
        return PostText(
            Markup(folded.opening), False, Markup(folded.rest), folded.words, folded.media
        )
    return PostText(Markup(e.content))


@dataclass(frozen=True)
class Day:
    day: date
    label: str  # "Thursday 26 November 2026"
    items: list[Item]


@dataclass(frozen=True)
class Page:
    """The front page (``number`` 0) or archive page ``number`` (1 holds the oldest posts)."""

    number: int
    path: str  # relative to the output folder
    root: str  # from this page back to the output folder ("" or "../../")
    days: list[Day]
    newer: str | None  # link to the page of newer posts, relative to this one
    older: str | None

    @property
    def front(self) -> bool:
        return self.number == 0

    @property
    def first(self) -> Item | None:
        return self.days[0].items[0] if self.days else None

    @property
    def last(self) -> Item | None:
        return self.days[-1].items[-1] if self.days else None


@dataclass(frozen=True)
class SiteInfo:
    """What every page knows of the planet, however old the page: settings-derived only."""

    planet: PlanetSettings
    url: str  # the planet's public URL, ending in a slash
    alternates: tuple[Output, ...]  # the merged feeds pages link to
    csp: str  # the Content-Security-Policy every page carries
    camps: tuple[CampSettings, ...] = ()

    def camp(self, slug: str) -> CampSettings | None:
        """The camp ``slug`` (for the links of a post to the camps it is a write-up of)."""
        return next((c for c in self.camps if c.slug == slug), None)


_HOST = re.compile(r"[A-Za-z0-9.-]+")


def site_info(settings: Settings, outputs: tuple[Output, ...]) -> SiteInfo:
    url = settings.planet.url if settings.planet.url.endswith("/") else settings.planet.url + "/"
    frames = " ".join(f"https://{h}" for h in settings.render.iframe_hosts if _HOST.fullmatch(h))
    csp = (
        "default-src 'none'; script-src 'none'; style-src 'self'; "
        "img-src 'self' http: https: data:; media-src http: https:; "
        f"frame-src {frames or chr(39) + 'none' + chr(39)}; "
        "base-uri 'none'; form-action 'none'"
    )
    alternates = tuple(o for o in outputs if o.media_type)
    return SiteInfo(settings.planet, url, alternates, csp, settings.camps)


def make_items(
    settings: Settings, entries: Sequence[EntryView], tz: ZoneInfo, *, fold: bool = True
) -> list[Item]:
    """The entries as the pages show them: whole, folded or summed up as ``render.content``
    says (``fold=False``: whole, for the merged feeds, which print the entry's own text)."""
    shape = settings.render.content if fold else "full"
    words = settings.render.cut_after
    camp_names = {camp.slug: camp.name for camp in settings.camps}
    items = []
    for e in entries:
        local = e.date.astimezone(tz)
        items.append(
            Item(
                entry=e,
                title=e.title.strip() or "Untitled",
                day=local.date(),
                time=f"{local.hour:02}:{local.minute:02} {local.tzname() or ''}".rstrip(),
                author=e.author if e.author and e.author != e.feed.title else None,
                iso=formats.rfc3339(e.date),
                camps=tuple((slug, camp_names[slug]) for slug in e.camps if slug in camp_names),
                shape=shape,
                words=words,
            )
        )
    return items


_NOTHING = Markup("")
T = TypeVar("T")


def spread(items: Sequence[T], per_blog: int, blog: Callable[[T], str]) -> list[T]:
    """``items`` (one day of a page, newest first) with no more than ``per_blog`` of one blog
    in a row while another blog's item remains: after ``per_blog`` in a row, the next item of
    another blog comes first, then the held-back ones go on. Each blog's items keep their
    order; ``per_blog`` 0 keeps the order as it is."""
    if per_blog <= 0 or len(items) <= per_blog:
        return list(items)
    run, longest, previous = 0, 0, None
    for item in items:
        b = blog(item)
        run = run + 1 if b == previous else 1
        previous, longest = b, max(longest, run)
    if longest <= per_blog:
        return list(items)
    rest, out = list(items), []
    previous, run = None, 0
    while rest:
        pick = 0
        if run >= per_blog and blog(rest[0]) == previous:
            pick = next((i for i, item in enumerate(rest) if blog(item) != previous), 0)
        item = rest.pop(pick)
        b = blog(item)
        run = run + 1 if b == previous else 1
        previous = b
        out.append(item)
    return out


def _blog(item: Item) -> str:
    return item.entry.feed.url


def page_path(number: int) -> str:
    return "index.html" if number == 0 else f"page/{number}/index.html"


def page_root(number: int) -> str:
    return "" if number == 0 else "../../"


def page_link(from_number: int, to_number: int) -> str:
    root = page_root(from_number)
    return (root or "./") if to_number == 0 else f"{root}page/{to_number}/"


def archive_count(total: int, per_page: int) -> int:
    """Archive pages for ``total`` shown entries: every entry not on the front page."""
    return math.ceil(max(0, total - per_page) / per_page)


def page_slice(number: int, total: int, per_page: int) -> slice:
    """Which of the ``total`` shown entries (newest first) page ``number`` holds."""
    if number == 0:
        return slice(0, min(per_page, total))
    end = total - (number - 1) * per_page
    return slice(max(per_page, end - per_page), end)


def make_page(
    settings: Settings, number: int, entries: Sequence[EntryView], total: int, tz: ZoneInfo
) -> Page:
    """Page ``number`` (0: the front page) of a planet showing ``total`` entries, holding
    ``entries`` (its :func:`page_slice`)."""
    days: list[Day] = []
    for item in make_items(settings, entries, tz):
        if not days or days[-1].day != item.day:
            days.append(Day(item.day, formats.day_label(item.day), []))
        days[-1].items.append(item)
    per_blog = settings.render.per_blog
    for day in days:
        day.items[:] = spread(day.items, per_blog, _blog)
    newest = archive_count(total, settings.planet.items)
    if number == 0:
        newer, older = None, (page_link(0, newest) if newest else None)
    else:
        newer = page_link(number, number + 1 if number < newest else 0)
        older = page_link(number, number - 1) if number > 1 else None
    return Page(number, page_path(number), page_root(number), days, newer, older)


def fingerprints(
    shown: Shown, per_page: int, info: SiteInfo, signature: bytes
) -> Iterator[tuple[int, str]]:
    """(number, fingerprint) of every archive page, reading each entry's version once.

    A fingerprint digests what the page is made of (see the module docstring): equal
    fingerprints render equal bytes."""
    total = len(shown)
    newest = archive_count(total, per_page)
    versions = iter(shown.versions())
    front = page_slice(0, total, per_page).stop
    next(islice(versions, front, front), None)  # skip the front page's: always rendered
    base = hashlib.sha256(signature)
    base.update(repr(info).encode("utf-8", "surrogatepass"))
    blogs = shown.blogs()
    blog_reprs: dict[str, str] = {}  # a blog's repr, worked out once for every page
    for number in range(newest, 0, -1):  # in display order: the newest archive page first
        size = len(range(total)[page_slice(number, total, per_page)])
        digest = base.copy()
        digest.update(f"{number}\x1f{number == newest}".encode())
        rows = list(islice(versions, size))
        tokens = [token for token, _ in rows]
        urls = {url for _, url in rows}
        for url in sorted(urls):
            if url not in blog_reprs:
                blog_reprs[url] = repr(blogs[url])
            tokens.append(blog_reprs[url])
        digest.update("\x1e".join(tokens).encode("utf-8", "surrogatepass"))
        yield number, digest.hexdigest()[:32]


@dataclass(frozen=True)
class Channel:
    """One merged feed (Atom, JSON Feed): the planet's, or a camp's."""

    title: str
    subtitle: str
    home: str  # the page it follows, absolute: also the feed's id
    folder: str  # where its files (atom.xml, feed.json) are, under the site: "" or "camps/x/"
    items: list[Item]  # newest first
    updated: datetime
    # when each blog of its items last posted (atom:source's updated), by feed URL
    sources: dict[str, datetime | None] = field(default_factory=dict)


@dataclass(frozen=True)
class CampPage:
    """A camp: its page and its feeds. The list of camps and the fingerprints of a camp's
    files need only its counts; its write-ups (:attr:`items`) are read, with their text,
    when a template first asks for them."""

    camp: CampSettings
    path: str  # camps/<slug>/index.html
    count: int  # its write-ups
    people: int  # distinct authors (a post without an author: its blog)
    first: date  # the first and last days of its window, for the page
    last: date
    load: Callable[[], list[Item]] = field(repr=False, compare=False)  # reads :attr:`items`

    @cached_property
    def items(self) -> list[Item]:
        """Its write-ups, oldest first: the story of the camp as it was written."""
        return self.load()

    @property
    def newest(self) -> list[Item]:
        return self.items[::-1]


def camp_path(slug: str, name: str = "index.html") -> str:
    return f"camps/{slug}/{name}"


def camp_fingerprints(site: Site, page: CampPage, signature: bytes, paths: list[str]) -> list[str]:
    """The fingerprint of each of a camp's files at ``paths``: a digest of what their
    templates receive (what every page knows, the camp and its feed: see
    :meth:`Site.camp_channel`), made as the archive pages' are (:func:`fingerprints`): that
    SiteInfo, the camp (its settings and counts), each write-up's version token, each of
    their blogs' FeedRef, when the feed changed if it has no write-ups, the file's path and
    the theme signature. Equal fingerprints render equal bytes."""
    versions = list(site.entries.camp_versions(page.camp.slug))
    urls = sorted({url for _, url in versions})
    blogs = site.entries.blogs()
    parts = [repr(site.info), repr(page), *(token for token, _ in versions)]
    parts += [repr(blogs[url]) for url in urls]
    if not versions:
        parts.append(repr(site.updated))
    digest = hashlib.sha256(signature)
    digest.update("\x1e".join(parts).encode("utf-8", "surrogatepass"))
    marks = []
    for path in paths:
        mark = digest.copy()
        mark.update(f"\x1e{path}".encode("utf-8", "surrogatepass"))
        marks.append(mark.hexdigest()[:32])
    return marks


def sources(items: Sequence[Item], blogs: dict[str, FeedView]) -> dict[str, datetime | None]:
    """When each blog of ``items`` last posted, by feed URL (the blogs still subscribed)."""
    return {i.feed.url: blogs[i.feed.url].updated for i in items if i.feed.url in blogs}


@dataclass
class Site:
    """What the front page, the subscriptions page and the merged feeds receive."""

    settings: Settings
    info: SiteInfo
    entries: Shown  # every shown entry, newest first
    feeds: list[FeedView]  # every subscription
    last_refresh: datetime | None
    tz: ZoneInfo
    since: datetime | None = None  # when the planet began: the feeds' date while empty
    _feed_items: list[Item] | None = None
    _by_url: dict[str, FeedView] | None = None
    _camps: list[CampPage] | None = None
    _subscriptions: list[health.SubscriptionStatus] | None = None

    @property
    def planet(self) -> PlanetSettings:
        return self.info.planet

    @property
    def url(self) -> str:
        return self.info.url

    @property
    def alternates(self) -> tuple[Output, ...]:
        return self.info.alternates

    @property
    def csp(self) -> str:
        return self.info.csp

    @property
    def feed_items(self) -> list[Item]:
        """The newest planet.items entries, each id once, for the merged feeds."""
        if self._feed_items is None:
            wanted = self.settings.planet.items
            seen: set[str] = set()
            chosen: list[EntryView] = []
            start = 0
            while len(chosen) < wanted and start < len(self.entries):
                for entry in self.entries.views(start, start + wanted):
                    if entry.id not in seen and len(chosen) < wanted:
                        seen.add(entry.id)
                        chosen.append(entry)
                start += wanted
            self._feed_items = make_items(self.settings, chosen, self.tz, fold=False)
        return self._feed_items

    @property
    def channel(self) -> Channel:
        """The planet's merged feed."""
        planet = self.planet
        subtitle = planet.description or f"Posts from the blogs {planet.name} follows"
        items = self.feed_items
        return Channel(
            planet.name, subtitle, self.url, "", items, self.updated, sources(items, self.by_url)
        )

    @property
    def camps(self) -> list[CampPage]:
        """Every camp with its write-ups, newest camp first."""
        if self._camps is None:
            pages = [self._camp_page(camp) for camp in self.settings.camps]
            self._camps = sorted(pages, key=lambda c: (c.camp.start, c.camp.slug), reverse=True)
        return self._camps

    def _camp_page(self, camp: CampSettings) -> CampPage:
        """The camp with its counts; its write-ups are read when first asked for."""
        authors = self.entries.camp_authors(camp.slug)
        blogs = self.entries.blogs()
        people = {(author or blogs[url].title).casefold() for author, url in authors}
        return CampPage(
            camp,
            camp_path(camp.slug),
            len(authors),
            len(people),
            camp.start - timedelta(days=camp.before),
            camp.end + timedelta(days=camp.after),
            lambda: make_items(self.settings, self.entries.camp(camp.slug), self.tz, fold=False),
        )

    def camp_channel(self, page: CampPage) -> Channel:
        """A camp's feed: every write-up, newest first. Its entries' sources do not say when
        their blogs last posted, so that the feed changes only when its write-ups do."""
        camp, planet = page.camp, self.planet
        newest = page.newest
        return Channel(
            f"{camp.name} · {planet.name}",
            f"Write-ups of {camp.name}, gathered by {planet.name}",
            self.url + camp_path(camp.slug, ""),
            camp_path(camp.slug, ""),
            newest,
            max((i.entry.updated for i in newest), default=self.updated),
        )

    def feed(self, url: str) -> FeedView | None:
        """The subscription ``url`` (for what a post's blog is doing now)."""
        return self.by_url.get(url)

    @property
    def by_url(self) -> dict[str, FeedView]:
        """The subscriptions, by feed URL."""
        if self._by_url is None:
            self._by_url = {f.url: f for f in self.feeds}
        return self._by_url

    @property
    def updated(self) -> datetime:
        """When the merged feeds last changed: their newest entry, else the last refresh,
        else when the planet began."""
        dates = [i.entry.updated for i in self.feed_items]
        if dates:
            return max(dates)
        return self.last_refresh or self.since or datetime(1970, 1, 1, tzinfo=UTC)

    def when(self, moment: datetime) -> str:
        return formats.when_label(moment.astimezone(self.tz))

    @property
    def subscriptions(self) -> list[health.SubscriptionStatus]:
        """Every subscription with its health in words, by name."""
        if self._subscriptions is None:
            feeds = sorted(self.feeds, key=lambda f: (f.title.casefold(), f.url))
            new_feed_items = self.settings.planet.new_feed_items
            self._subscriptions = [
                health.feed_status(f, self.tz, new_feed_items=new_feed_items) for f in feeds
            ]
        return self._subscriptions

    @property
    def health_counts(self) -> list[tuple[str, int]]:
        return health.health_counts(self.feeds)

    @property
    def needing_attention(self) -> list[health.SubscriptionStatus]:
        """The subscriptions whose feeds are gone, failing or moved: worst first."""
        return health.needing_attention(self.subscriptions)

    @property
    def writers(self) -> list[FeedView]:
        """The blogs with posts on the planet, by name: the "Who writes here" list."""
        return sorted((f for f in self.feeds if f.shown), key=lambda f: (f.title.casefold(), f.url))

    @property
    def about(self) -> Markup:
        """The about page's text (``planet.about``), sanitized and tidied."""
        return branding.about_html(self.settings, self.url)
