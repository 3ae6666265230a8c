"""Render the site: the front page, archive pages, the subscriptions page, the merged feeds.

Every output is one line of :data:`OUTPUTS`: a template (from the default theme in
``templates/``, or from the folder ``render.templates`` names, which overrides templates one
by one) or a Python builder. Every value a template prints is escaped (autoescape is on for
HTML and XML alike) and stripped of the characters XML forbids; only the entry content,
sanitized and tidied when its feed was parsed (:mod:`campplanet.tidy`), is marked safe.

Output is a pure function of the inputs: no clock is read. A file whose bytes did not change
is left alone (its mtime kept); others are written to a temporary file beside them and
renamed into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import math
import multiprocessing
import os
import re
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from campplanet import xmlout
from campplanet.config import Settings
from campplanet.exceptions import CampplanetError
from campplanet.sanitize import strip_invalid_xml_chars
from campplanet.tidy import cut_html
from campplanet.types import EntryView, FeedView, content_digest
from campplanet.xmlout import strip_html_invalid

BADGE_COLOURS = 8  # .c0 … .c7 in style.css
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


class TemplateError(CampplanetError):
    """A template of the theme cannot be found, read or rendered."""


# ---------------------------------------------------------------------------------------------
# The registry of outputs


@dataclass(frozen=True)
class Output:
    """One file (or, when ``paged``, one series of pages) of the site."""

    path: str  # under the output folder; for paged outputs, the first page
    template: str | None = None  # the template rendered into it
    build: Callable[[Site], str] | None = None  # or a Python builder
    media_type: str | None = None  # set for the feeds the pages link to as alternates
    label: str = ""  # how the pages name it ("Atom", "RSS", ...)
    paged: bool = False  # index.html, page/2/index.html, ... planet.items entries each


OUTPUTS: tuple[Output, ...] = (
    Output("index.html", template="index.html", paged=True),
    Output("feeds.html", template="feeds.html"),
    Output("style.css", template="style.css"),
    Output("atom.xml", template="atom.xml", media_type="application/atom+xml", label="Atom"),
    Output("rss.xml", template="rss.xml", media_type="application/rss+xml", label="RSS"),
    Output(
        "feed.json", build=xmlout.json_feed, media_type="application/feed+json", label="JSON Feed"
    ),
    Output("opml.xml", template="opml.xml", media_type="text/x-opml", label="OPML"),
)


@dataclass
class RenderReport:
    """Which files a render wrote, left unchanged or removed (paths relative to the output)."""

    output: str
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    reused: int = 0  # of the unchanged: archive pages known current, so not rendered at all
    manifest: Manifest = field(default_factory=dict)  # what the archive pages now hold
    seconds: float = 0.0

    def line(self) -> str:
        total = len(self.written) + len(self.unchanged)
        text = (
            f"rendered {total} files into {self.output}: {len(self.written)} written, "
            f"{len(self.unchanged)} unchanged"
        )
        if self.removed:
            text += f", {len(self.removed)} removed"
        return f"{text}; {self.seconds:.1f}s"

    def fields(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "written": len(self.written),
            "unchanged": len(self.unchanged),
            "removed": len(self.removed),
            "reused": self.reused,
            "seconds": round(self.seconds, 3),
        }


# ---------------------------------------------------------------------------------------------
# What the templates see


@dataclass(slots=True)  # not frozen: building 20,000 frozen ones is measurably slower
class Item:
    """An entry ready to show: the view plus what the templates print for it."""

    entry: EntryView
    title: str
    content: Markup  # tidied, possibly cut; or the summary paragraph
    cut: bool  # the content was shortened: link to the full post
    day: date  # in planet.timezone
    time: str  # "21:08 GMT", in planet.timezone
    badge: str  # CSS colour class of the initials badge
    feed: FeedView
    link: str | None
    author: str | None  # the entry's author when it is not just the blog's name
    iso: str  # the entry's date, RFC 3339 in UTC, for <time datetime>


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


@dataclass
class Site:
    """Everything the templates and builders share."""

    settings: Settings
    entries: list[EntryView]  # every shown entry, newest first
    feeds: list[FeedView]  # every subscription
    last_refresh: datetime | None
    tz: ZoneInfo
    outputs: tuple[Output, ...]
    since: datetime | None = None  # when the planet began: the feeds' date while empty
    _feed_items: list[Item] | None = None
    _signature: bytes | None = None

    @property
    def planet(self):
        return self.settings.planet

    @property
    def url(self) -> str:
        """The planet's public URL, ending in a slash."""
        url = self.settings.planet.url
        return url if url.endswith("/") else url + "/"

    @property
    def feed_items(self) -> list[Item]:
        """The newest planet.items entries, each id once, for the merged feeds."""
        if self._feed_items is None:
            seen: set[str] = set()
            chosen = []
            for entry in self.entries:
                if entry.id in seen:
                    continue
                seen.add(entry.id)
                chosen.append(entry)
                if len(chosen) == self.settings.planet.items:
                    break
            self._feed_items = make_items(self.settings, chosen, self.tz)
        return self._feed_items

    @property
    def archive_count(self) -> int:
        """Archive pages: every entry not on the front page, planet.items a page."""
        per_page = self.settings.planet.items
        return math.ceil(max(0, len(self.entries) - per_page) / per_page)

    def page_entries(self, number: int) -> list[EntryView]:
        """The entries of page ``number`` (0 is the front page), newest first.

        Archive pages are filled from the oldest post: page 1 holds the oldest planet.items
        posts, and only the newest archive page is partly filled. So a new post changes the
        front page and the newest archive page, and every older page keeps its posts (and
        its bytes, and its address) until a post on it changes.
        """
        per_page = self.settings.planet.items
        if number == 0:
            return self.entries[:per_page]
        end = len(self.entries) - (number - 1) * per_page
        return self.entries[max(per_page, end - per_page) : end]

    def page(self, number: int) -> Page:
        """The front page (0) or archive page ``number``."""
        days: list[Day] = []
        for item in make_items(self.settings, self.page_entries(number), self.tz):
            if not days or days[-1].day != item.day:
                days.append(Day(item.day, day_label(item.day), []))
            days[-1].items.append(item)
        newest = self.archive_count
        if number == 0:
            newer, older = None, (page_link(0, newest) if newest else None)
        else:
            newer = page_link(number, number + 1 if number < newest else 0)
            older = page_link(number, number - 1) if number > 1 else None
        return Page(number, page_path(number), page_root(number), days, newer, older)

    @property
    def signature(self) -> bytes:
        """The :func:`theme_signature`, computed once (a forked child inherits it)."""
        if self._signature is None:
            self._signature = theme_signature(self.settings)
        return self._signature

    def page_fingerprint(self, number: int) -> str:
        """A digest of everything archive page ``number`` shows, with the theme and settings
        (:attr:`signature`): equal digests render equal bytes."""
        digest = hashlib.sha256(self.signature)
        newest = self.archive_count
        digest.update(f"{number}\x1f{number == newest}\x1f{number > 1}\x1e".encode())
        parts = []
        for e in self.page_entries(number):
            f = e.feed
            digest_of_text = e.content_hash or content_digest(e.content, e.summary)
            parts += (e.id, e.link or "", e.title, digest_of_text, e.author or "")
            parts += (e.date.isoformat(), e.updated.isoformat(), *e.categories)
            parts += (f.url, f.title, f.site or "", f.avatar or "", f.initials, "\x1e")
        digest.update("\x1f".join(parts).encode("utf-8", "surrogatepass"))
        return digest.hexdigest()[:32]

    @property
    def updated(self) -> datetime:
        """When the merged feeds last changed: their newest entry, else the last refresh."""
        dates = [i.entry.updated for i in self.feed_items]
        if dates:
            return max(dates)
        return self.last_refresh or self.since or datetime(1970, 1, 1, tzinfo=UTC)

    @property
    def alternates(self) -> list[Output]:
        return [o for o in self.outputs if o.media_type]

    @property
    def csp(self) -> str:
        frames = " ".join(
            f"https://{h}" for h in self.settings.render.iframe_hosts if _HOST.fullmatch(h)
        )
        return (
            "default-src 'none'; script-src 'none'; style-src 'self'; "
            "img-src http: https: data:; media-src http: https:; "
            f"frame-src {frames or chr(39) + 'none' + chr(39)}; "
            "base-uri 'none'; form-action 'none'"
        )

    def when(self, moment: datetime) -> str:
        return when_label(moment.astimezone(self.tz))

    @property
    def subscriptions(self) -> list[SubscriptionStatus]:
        """Every subscription with its health in words, by name."""
        feeds = sorted(self.feeds, key=lambda f: (f.title.casefold(), f.url))
        return [
            feed_status(f, self.tz, new_feed_items=self.settings.planet.new_feed_items)
            for f in feeds
        ]

    @property
    def health_counts(self) -> list[tuple[str, int]]:
        """("working", 38), ("failing", 3) … in a fixed order, zeros left out."""
        counts: dict[str, int] = {}
        for f in self.feeds:
            counts[f.health] = counts.get(f.health, 0) + 1
        words = {"working": "working", "moved": "moved", "failing": "failing", "gone": "gone"}
        words["new"] = "not read yet"
        return [(words[h], counts[h]) for h in words if counts.get(h)] + [
            (h, n) for h, n in sorted(counts.items()) if h not in words
        ]


@dataclass(frozen=True)
class SubscriptionStatus:
    feed: FeedView
    badge: str
    tone: str  # ok / warn / bad / new: a CSS class
    label: str  # "Working", "Failing", …
    detail: str  # a sentence or two after the label
    counts: str  # "12 posts shown, newest 3 Nov 2026"
    notes: tuple[str, ...]  # posts held back or filtered out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def feed_status(feed: FeedView, tz: ZoneInfo, *, new_feed_items: int = 3) -> SubscriptionStatus:
    """How a subscription is doing, honestly and in words."""

    def when(moment: datetime) -> str:
        return when_label(moment.astimezone(tz))

    health = feed.health
    if health == "working":
        tone, label, detail = "ok", "Working", "Its feed was read without problems."
    elif health == "moved":
        tone, label = "warn", "Moved"
        detail = (
            f"The feed has moved permanently to {feed.moved_to}; it is read from there. "
            "The subscription list should be updated."
        )
    elif health == "failing":
        tone, label = "bad", "Failing"
        since = f" since {when(feed.failing_since)}" if feed.failing_since else ""
        reason = f": {feed.last_error.rstrip('.')}" if feed.last_error else ""
        worked = (
            f" It last worked on {when(feed.last_success)}."
            if feed.last_success
            else " It has not worked yet."
        )
        detail = f"The feed could not be read{since}{reason}.{worked}"
    elif health == "gone":
        tone, label = "bad", "Gone"
        detail = "The blog says this feed no longer exists (HTTP 410), so it is no longer read."
    elif health == "new":
        tone, label = "new", "Not read yet"
        detail = "It is read at the next refresh."
    else:
        tone, label, detail = "new", health.capitalize(), ""
    counts = _plural(feed.shown, "post") + " shown"
    if feed.updated:
        counts += f", newest {short_day(feed.updated.astimezone(tz).date())}"
    notes = []
    if feed.held_back:
        notes.append(
            f"{_plural(feed.held_back, 'older post')} held back: only the newest "
            f"{new_feed_items} posts of a newly added blog are shown."
        )
    if feed.filtered_out:
        notes.append(f"{_plural(feed.filtered_out, 'post')} not shown: outside the camp filter.")
    return SubscriptionStatus(feed, badge_class(feed), tone, label, detail, counts, tuple(notes))


_HOST = re.compile(r"[A-Za-z0-9.-]+")


# ---------------------------------------------------------------------------------------------
# Dates


def day_label(d: date) -> str:
    return f"{DAYS[d.weekday()]} {d.day} {MONTHS[d.month - 1]} {d.year}"


def short_day(d: date) -> str:
    return f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}"


def when_label(local: datetime) -> str:
    """ "26 Nov 2026, 21:08 GMT" """
    return f"{short_day(local.date())}, {local:%H:%M} {local.tzname() or ''}".rstrip()


# ---------------------------------------------------------------------------------------------
# Templates


def default_templates_dir() -> Path:
    """The default theme: the installed package's ``templates/``, else the repository's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parents[1] / "templates"):
        if (candidate / "index.html").is_file():
            return candidate
    raise TemplateError(
        f"campplanet's default templates are missing (looked in {here / 'templates'} and "
        f"{here.parents[1] / 'templates'}); reinstall campplanet"
    )


def _finalize(value: Any) -> Any:
    """Applied to every printed value: None prints nothing; XML-forbidden characters go."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value  # entry content, sanitized and tidied upstream
    if isinstance(value, str) and not value.isprintable():
        cleaned = strip_html_invalid(strip_invalid_xml_chars(value))
        if cleaned != value:
            return Markup(cleaned) if isinstance(value, Markup) else cleaned
    return value


def theme_folders(settings: Settings) -> list[Path]:
    """Where templates are looked up, in order: ``render.templates``, then the default."""
    folders = []
    if settings.render.templates:
        folder = settings.path(settings.render.templates)
        if not folder.is_dir():
            raise TemplateError(f"[render] templates: {folder} is not a folder")
        folders.append(folder)
    return [*folders, default_templates_dir()]


def make_environment(settings: Settings) -> jinja2.Environment:
    loaders = [jinja2.FileSystemLoader(str(folder)) for folder in theme_folders(settings)]
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["html_text"] = html_text
    env.filters["rfc3339"] = xmlout.rfc3339
    env.filters["rfc822"] = xmlout.rfc822
    env.filters["day_label"] = day_label
    env.filters["short_day"] = short_day
    return env


def html_text(text: str) -> str:
    """Plain text as HTML, for a field whose format says it holds HTML (RSS's
    ``<description>``): autoescape then escapes it once more for XML, so a reader shows
    "<script>" as text and never meets a script element."""
    return html.escape(text, quote=False)


def _render(env: jinja2.Environment, name: str, **context: Any) -> str:
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateNotFound as e:
        raise TemplateError(f"template {e.name} not found in the theme") from None
    except jinja2.TemplateSyntaxError as e:
        raise TemplateError(f"{e.filename or e.name}:{e.lineno}: {e.message}") from None
    except jinja2.UndefinedError as e:
        raise TemplateError(f"template {name}: {e.message}") from None


# ---------------------------------------------------------------------------------------------
# Building the site


def badge_class(feed: FeedView) -> str:
    return f"c{zlib.crc32(feed.url.encode('utf-8', 'replace')) % BADGE_COLOURS}"


def make_items(settings: Settings, entries: Sequence[EntryView], tz: ZoneInfo) -> list[Item]:
    summary_only = settings.render.content == "summary"
    cut_after = settings.render.cut_after
    items = []
    badges: dict[str, str] = {}
    for e in entries:
        if summary_only:
            content = Markup("<p>%s</p>") % e.summary if e.summary else Markup("")
            cut = bool(e.link)
        else:
            text, cut = cut_html(e.content, cut_after) if cut_after else (e.content, False)
            content = Markup(text)
        local = e.date.astimezone(tz)
        badge = badges.get(e.feed.url)
        if badge is None:
            badge = badges[e.feed.url] = badge_class(e.feed)
        items.append(
            Item(
                entry=e,
                title=e.title.strip() or "Untitled",
                content=content,
                cut=cut,
                day=local.date(),
                time=f"{local.hour:02}:{local.minute:02} {local.tzname() or ''}".rstrip(),
                badge=badge,
                feed=e.feed,
                link=e.link,
                author=e.author if e.author and e.author != e.feed.title else None,
                iso=xmlout.rfc3339(e.date),
            )
        )
    return items


def page_path(number: int) -> str:
    return "index.html" if number == 0 else f"page/{number}/index.html"


def page_root(number: int) -> str:
    return "" if number == 0 else "../../"


def page_link(from_number: int, to_number: int) -> str:
    root = page_root(from_number)
    return (root or "./") if to_number == 0 else f"{root}page/{to_number}/"


# What a render wrote into each archive page: {path: [fingerprint, size, mtime_ns]}. Given
# back to the next render, it lets an archive page whose fingerprint is unchanged, and whose
# file is as that render left it, be kept without rendering it again.
Manifest = dict[str, list[Any]]


def render_site(
    settings: Settings,
    entries: Sequence[EntryView],
    feeds: Sequence[FeedView],
    *,
    last_refresh: datetime | None = None,
    since: datetime | None = None,
    manifest: Manifest | None = None,
) -> RenderReport:
    """Write the site into ``settings.path(settings.planet.output)``.

    ``entries`` are the shown entries, newest first; ``feeds`` every subscription;
    ``last_refresh`` the time of the last successful fetch, shown on the subscriptions page;
    ``since`` when the planet began (the date of its feeds while it has no posts);
    ``manifest`` the previous render's :attr:`RenderReport.manifest`, if kept.
    """
    started = time.perf_counter()
    out_dir = settings.path(settings.planet.output)
    report = RenderReport(output=str(out_dir))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        remove_leftover_temp_files(out_dir)
        sink = Sink(out_dir, previous=manifest or {})
        _produce(settings, entries, feeds, last_refresh, OUTPUTS, sink, since=since)
        report.written, report.unchanged = sorted(sink.written), sorted(sink.unchanged)
        report.reused, report.manifest = sink.reused, dict(sorted(sink.manifest.items()))
        report.removed = remove_stale_pages(out_dir, sink.paths)
    except OSError as e:
        raise CampplanetError(
            f"cannot write the site into {out_dir}: {e.strerror or e} ({e.filename or out_dir})"
        ) from None
    report.seconds = time.perf_counter() - started
    return report


class Sink:
    """Where rendered files go: kept in memory, or (``out_dir``) written into the output
    folder as they come, by whichever process rendered them.

    Writing into a folder, the sink also keeps the :data:`Manifest` of the archive pages:
    ``previous`` is the last render's, and :meth:`current` says whether a page can be kept.
    """

    def __init__(self, out_dir: Path | None = None, previous: Manifest | None = None):
        self.out_dir = out_dir
        self.previous = previous or {}
        self.files: dict[str, bytes] = {}
        self.written: list[str] = []
        self.unchanged: list[str] = []
        self.manifest: Manifest = {}
        self.reused = 0

    def put(self, rel: str, data: bytes, fingerprint: str | None = None) -> None:
        if self.out_dir is None:
            self.files[rel] = data
            return
        path = self.out_dir / rel
        if write_if_changed(path, data):
            self.written.append(rel)
        else:
            self.unchanged.append(rel)
        if fingerprint is not None:
            st = path.stat()
            self.manifest[rel] = [fingerprint, st.st_size, st.st_mtime_ns]

    def current(self, rel: str, fingerprint: str) -> bool:
        """Keep ``rel`` as it is, if the last render wrote it with this fingerprint and the
        file is still what it wrote (same size and mtime)."""
        if self.out_dir is None:
            return False
        kept = self.previous.get(rel)
        if not (isinstance(kept, list) and len(kept) == 3 and kept[0] == fingerprint):
            return False
        try:
            st = (self.out_dir / rel).stat()
        except OSError:
            return False
        if [st.st_size, st.st_mtime_ns] != kept[1:]:
            return False
        self.unchanged.append(rel)
        self.manifest[rel] = kept
        self.reused += 1
        return True

    def merge(self, other: Sink) -> None:
        self.files.update(other.files)
        self.written += other.written
        self.unchanged += other.unchanged
        self.manifest.update(other.manifest)

    @property
    def paths(self) -> set[str]:
        return {*self.files, *self.written, *self.unchanged}


_TEMP_NAME = re.compile(r"^\..+\.\d+\.tmp$")


def remove_leftover_temp_files(out_dir: Path) -> None:
    """Delete temporary files a killed render left behind (the run lock is held, so no
    other render is writing), so they are never published."""
    for path in out_dir.rglob(".*.tmp"):
        if _TEMP_NAME.match(path.name) and path.is_file():
            path.unlink(missing_ok=True)


# Above this many pages, a second process renders half of them.
PARALLEL_PAGES = 40


def build_files(
    settings: Settings,
    entries: Sequence[EntryView],
    feeds: Sequence[FeedView],
    *,
    last_refresh: datetime | None = None,
    outputs: tuple[Output, ...] = OUTPUTS,
) -> dict[str, bytes]:
    """Every file of the site, by path relative to the output folder. No I/O but templates."""
    sink = _produce(settings, entries, feeds, last_refresh, outputs, Sink())
    return dict(sorted(sink.files.items()))


def _produce(
    settings: Settings,
    entries: Sequence[EntryView],
    feeds: Sequence[FeedView],
    last_refresh: datetime | None,
    outputs: tuple[Output, ...],
    sink: Sink,
    *,
    since: datetime | None = None,
) -> Sink:
    """Render every output into ``sink``."""
    env = make_environment(settings)
    site = Site(
        settings=settings,
        entries=list(entries),
        feeds=list(feeds),
        last_refresh=last_refresh,
        tz=ZoneInfo(settings.planet.timezone),
        outputs=outputs,
        since=since,
    )
    with contextlib.ExitStack() as stack:
        collect = []  # pages a second process renders while this one does the rest
        for output in outputs:
            if output.paged:
                assert output.template is not None
                pages = _pages_to_render(site, sink)
                mine, theirs = _share(pages)
                # the front page first: it compiles the templates a forked child inherits
                _pages(site, env, output.template, mine[:1], sink)
                if theirs:
                    child = _pages_elsewhere(site, env, output.template, theirs, sink.out_dir)
                    collect.append(stack.enter_context(child))
                _pages(site, env, output.template, mine[1:], sink)
            elif output.template is not None:
                sink.put(output.path, _encode(_render(env, output.template, site=site, root="")))
            elif output.build is not None:
                sink.put(output.path, _encode(output.build(site)))
        for future in collect:
            sink.merge(future.result())
    return sink


# A page to render: (its number, its fingerprint if already computed).
PageJob = tuple[int, str | None]


def _pages_to_render(site: Site, sink: Sink) -> list[PageJob]:
    """The front page, always, and every archive page the sink cannot keep as it is. A page
    the last render recorded is fingerprinted here, to compare; any other page is
    fingerprinted by the process that renders it."""
    jobs: list[PageJob] = [(0, None)]
    for number in range(1, site.archive_count + 1):
        fingerprint = None
        if page_path(number) in sink.previous:
            fingerprint = site.page_fingerprint(number)
            if sink.current(page_path(number), fingerprint):
                continue
        jobs.append((number, fingerprint))
    return jobs


def theme_signature(settings: Settings) -> bytes:
    """A digest of everything but the entries that shapes an archive page: the settings of
    the planet and of rendering, every file of the theme's folders and the code that
    renders."""
    digest = hashlib.sha256()
    digest.update(repr((settings.planet, settings.render)).encode())
    for folder in theme_folders(settings):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(f"\x1e{path}\x1f".encode("utf-8", "surrogateescape"))
            digest.update(path.read_bytes())
    for module in (__file__, xmlout.__file__, cut_html.__code__.co_filename):
        digest.update(Path(module).read_bytes())
    return digest.digest()


def _share(jobs: list[PageJob]) -> tuple[list[PageJob], list[PageJob]]:
    """The pages this process renders, and those a second process renders (with many pages
    and a second core). This process also renders every other output, so it takes fewer."""
    if len(jobs) < PARALLEL_PAGES or (os.cpu_count() or 1) < 2 or not _can_fork():
        return jobs, []
    split = len(jobs) * 47 // 100
    return jobs[:split], jobs[split:]


@contextlib.contextmanager
def _pages_elsewhere(
    site: Site, env: jinja2.Environment, template: str, jobs: list[PageJob], out_dir: Path | None
) -> Iterator[Future[Sink]]:
    """Render (and, with ``out_dir``, write) pages in a forked process; yields its future.
    The child inherits ``site`` and ``env`` (its templates already compiled)."""
    global _FORKED
    _FORKED = (site, env, template)
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            yield pool.submit(_pages_in_child, jobs, out_dir)
    finally:
        _FORKED = None


_FORKED: tuple[Site, jinja2.Environment, str] | None = None  # what a forked child renders


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def _pages_in_child(jobs: list[PageJob], out_dir: Path | None) -> Sink:
    assert _FORKED is not None
    site, env, template = _FORKED
    return _pages(site, env, template, jobs, Sink(out_dir))


def _pages(
    site: Site, env: jinja2.Environment, template: str, jobs: list[PageJob], sink: Sink
) -> Sink:
    """Render the pages of ``jobs`` into ``sink``; into a folder, with the fingerprint of
    each archive page."""
    for number, fingerprint in jobs:
        if fingerprint is None and number and sink.out_dir is not None:
            fingerprint = site.page_fingerprint(number)
        page = site.page(number)
        html = _render(env, template, site=site, page=page, root=page.root)
        sink.put(page.path, _encode(html), fingerprint)
    return sink


def _encode(text: str) -> bytes:
    # Anything unencodable left by a theme (a lone surrogate) becomes U+FFFD, not a crash.
    return text.encode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------
# Writing


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` atomically unless it already holds exactly these bytes."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


def remove_stale_pages(out_dir: Path, paths: set[str]) -> list[str]:
    """Remove archive pages (page/N/index.html) the site no longer has."""
    removed = []
    pages = out_dir / "page"
    if not pages.is_dir():
        return removed
    for folder in sorted(pages.iterdir()):
        if not (folder.is_dir() and folder.name.isdigit()):
            continue
        rel = f"page/{folder.name}/index.html"
        if rel in paths:
            continue
        index = folder / "index.html"
        if index.is_file():
            index.unlink()
            removed.append(rel)
        with contextlib.suppress(OSError):  # something else lives there: leave it
            folder.rmdir()
    return removed
