"""Render the site: the front page, archive pages, the subscriptions page, the merged feeds.

Every output is one line of :data:`OUTPUTS`: a template of the theme (:mod:`campplanet.theme`)
or a Python builder. The page model the templates receive is :mod:`campplanet.pages`; where
the files go, and which archive pages can be kept without rendering, is
:mod:`campplanet.publish`.

Output is a pure function of the inputs: no clock is read. A file whose bytes did not change
is left alone (its mtime kept); others are replaced whole (:mod:`campplanet.files`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from campplanet import branding, colour, files, fold, formats, jsonfeed, pages, theme, tidy, views
from campplanet.config import Settings
from campplanet.exceptions import CampplanetError
from campplanet.pages import CampPage, Channel, Shown, ShownList, Site, SiteInfo
from campplanet.publish import Manifest, Sink
from campplanet.types import EntryView, FeedView


@dataclass(frozen=True)
class Output:
    """One file (or, when ``paged``, one series of pages) of the site."""

    path: str  # under the output folder; for paged outputs, the first page
    template: str | None = None  # the template rendered into it
    # or a builder, given the site and the feed (channel) it writes
    build: Callable[[Site | SiteInfo, Channel], str] | None = field(default=None, repr=False)
    media_type: str | None = None  # set for the feeds the pages link to as alternates
    label: str = ""  # how the pages name it ("Atom", "RSS", ...)
    paged: bool = False  # index.html, page/N/index.html: planet.items entries each
    each_camp: bool = False  # one for each camp: ``path`` names it with {slug}
    # the setting without which there is no such output (the about page without planet.about)
    needs: Callable[[Settings], Any] | None = field(default=None, repr=False)
    # or a builder of files it names itself (the logo, whose name has the file's extension)
    files: Callable[[Site], dict[str, bytes]] | None = field(default=None, repr=False)


OUTPUTS: tuple[Output, ...] = (
    Output("index.html", template="index.html", paged=True),
    Output("feeds.html", template="feeds.html"),
    Output("style.css", template="style.css"),
    Output("atom.xml", template="atom.xml", media_type="application/atom+xml", label="Atom"),
    Output("rss.xml", template="rss.xml", media_type="application/rss+xml", label="RSS"),
    Output(
        "feed.json", build=jsonfeed.json_feed, media_type="application/feed+json", label="JSON Feed"
    ),
    Output("opml.xml", template="opml.xml", media_type="text/x-opml", label="OPML"),
    Output(branding.ABOUT_PATH, template="about.html", needs=lambda s: s.planet.about),
    Output("logo", files=branding.logo_files, needs=lambda s: s.planet.logo),
    Output("camps/index.html", template="camps.html", needs=lambda s: s.camps),
    Output("camps/{slug}/index.html", template="camp.html", each_camp=True),
    Output("camps/{slug}/atom.xml", template="atom.xml", each_camp=True),
    Output("camps/{slug}/feed.json", build=jsonfeed.json_feed, each_camp=True),
)

# The code whose every change may change a page: part of the theme signature.
CODE = (
    __file__,
    pages.__file__,
    theme.__file__,
    formats.__file__,
    tidy.__file__,
    fold.__file__,
    colour.__file__,
    branding.__file__,
    views.__file__,
    jsonfeed.__file__,
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


def render_site(
    settings: Settings,
    entries: Shown | Sequence[EntryView],
    feeds: Sequence[FeedView],
    *,
    last_refresh: datetime | None = None,
    since: datetime | None = None,
    manifest: Manifest | None = None,
    compiled: jinja2.BytecodeCache | None = None,
) -> RenderReport:
    """Write the site into ``settings.path(settings.planet.output)``.

    ``entries`` are the shown entries, newest first (a :class:`~campplanet.pages.Shown`,
    read a page at a time, or a list); ``feeds`` every subscription;
    ``last_refresh`` the time of the last successful fetch, shown on the subscriptions page;
    ``since`` when the planet began (the date of its feeds while it has no posts);
    ``manifest`` the previous render's :attr:`RenderReport.manifest`, if kept;
    ``compiled`` the theme's templates as compiled before (see
    :class:`campplanet.theme.CompiledTemplates`).
    """
    started = time.perf_counter()
    out_dir = settings.path(settings.planet.output)
    report = RenderReport(output=str(out_dir))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        files.remove_leftover_temp_files(out_dir)
        sink = Sink(out_dir, previous=manifest or {})
        _produce(
            settings,
            entries,
            feeds,
            sink,
            last_refresh=last_refresh,
            since=since,
            compiled=compiled,
        )
        report.written, report.unchanged = sorted(sink.written), sorted(sink.unchanged)
        report.reused, report.manifest = sink.reused, dict(sorted(sink.manifest.items()))
        report.removed = files.remove_stale_pages(out_dir, sink.paths)
        report.removed += files.remove_stale_files(out_dir, sink.paths, branding.stale_paths())
        report.removed += files.remove_stale_folder(out_dir, "camps", sink.paths)
    except OSError as e:
        raise CampplanetError(
            f"cannot write the site into {out_dir}: {e.strerror or e} ({e.filename or out_dir})"
        ) from None
    report.seconds = time.perf_counter() - started
    return report


def build_files(
    settings: Settings, entries: Shown | Sequence[EntryView], feeds: Sequence[FeedView], **context
) -> dict[str, bytes]:
    """Every file of the site, by path relative to the output folder (no I/O but the
    templates). ``context``: ``last_refresh``, ``since`` and ``outputs``, as for a render."""
    sink = _produce(settings, entries, feeds, Sink(), **context)
    return dict(sorted(sink.files.items()))


@dataclass
class _Pages:
    """The paged output: its template, and how to make and render each of its pages."""

    settings: Settings
    env: jinja2.Environment
    template: str
    site: Site
    signature: bytes | None  # the theme signature, when rendering into a folder

    def page(self, number: int) -> pages.Page:
        entries, per_page = self.site.entries, self.settings.planet.items
        chosen = pages.page_slice(number, len(entries), per_page)
        views = entries.views(chosen.start, chosen.stop)
        return pages.make_page(self.settings, number, views, len(entries), self.site.tz)

    def to_render(self, sink: Sink) -> list[tuple[int, str | None]]:
        """The front page, always, and every archive page the sink cannot keep as it is,
        with its fingerprint when written into a folder."""
        jobs: list[tuple[int, str | None]] = [(0, None)]
        if sink.out_dir is None or self.signature is None:
            total = len(self.site.entries)
            archive = pages.archive_count(total, self.settings.planet.items)
            return jobs + [(n, None) for n in range(archive, 0, -1)]
        marks = pages.fingerprints(
            self.site.entries, self.settings.planet.items, self.site.info, self.signature
        )
        for number, mark in marks:
            if not sink.current(pages.page_path(number), mark):
                jobs.append((number, mark))
        return jobs

    def render(self, jobs: list[tuple[int, str | None]], sink: Sink) -> None:
        """Render pages into ``sink``. The front page receives the whole site, archive
        pages only what every page knows of it (their fingerprints cover that)."""
        for number, mark in jobs:
            page = self.page(number)
            site: Site | SiteInfo = self.site if page.front else self.site.info
            html = theme.render_template(
                self.env, self.template, site=site, page=page, root=page.root
            )
            sink.put(page.path, _encode(html), mark)


def _produce(
    settings: Settings,
    entries: Shown | Sequence[EntryView],
    feeds: Sequence[FeedView],
    sink: Sink,
    *,
    last_refresh: datetime | None = None,
    since: datetime | None = None,
    outputs: tuple[Output, ...] = OUTPUTS,
    compiled: jinja2.BytecodeCache | None = None,
) -> Sink:
    """Render every output into ``sink``."""
    env = theme.make_environment(settings, compiled)
    site = Site(
        settings=settings,
        info=pages.site_info(settings, outputs),
        entries=entries if hasattr(entries, "versions") else ShownList(entries),
        feeds=list(feeds),
        last_refresh=last_refresh,
        tz=ZoneInfo(settings.planet.timezone),
        since=since,
    )
    # What fingerprints start from, when there are files to keep: worked out once.
    signature = theme.theme_signature(settings, CODE) if sink.out_dir is not None else None
    camp_files = [output for output in outputs if output.each_camp]
    for output in outputs:
        if output.needs is not None and not output.needs(settings):
            continue
        if output.paged:
            assert output.template is not None
            paged = _Pages(settings, env, output.template, site, signature)
            paged.render(paged.to_render(sink), sink)
        elif output.each_camp:
            if output is camp_files[0]:  # a camp's files are rendered together
                for camp in site.camps:
                    _camp_files(camp_files, env, sink, site, camp, signature)
        elif output.files is not None:
            for path, data in output.files(site).items():
                sink.put(path, data)
        else:
            _one(output, output.path, env, sink, site=site, channel=site.channel)
    return sink


def _camp_files(
    outputs: list[Output],
    env: jinja2.Environment,
    sink: Sink,
    site: Site,
    camp: CampPage,
    signature: bytes | None,
) -> None:
    """A camp's files, but those the sink keeps by their fingerprints. Their templates
    receive what every page knows of the site, the camp and its feed; the camp's write-ups
    are read once for all of them, and let go after."""
    paths = [output.path.format(slug=camp.camp.slug) for output in outputs]
    marks: list[str | None] = [None] * len(paths)
    if signature is not None:
        marks = [*pages.camp_fingerprints(site, camp, signature, paths)]
    camp = replace(camp)  # a copy, whose write-ups, once read, go with it
    channel = None
    for output, path, mark in zip(outputs, paths, marks, strict=True):
        if mark is not None and sink.current(path, mark):
            continue
        channel = channel or site.camp_channel(camp)
        _one(output, path, env, sink, mark, site=site.info, camp=camp, channel=channel)


def _one(
    output: Output,
    path: str,
    env: jinja2.Environment,
    sink: Sink,
    fingerprint: str | None = None,
    **context: Any,
) -> None:
    """Render one file of ``output`` at ``path``: its template, given ``context`` and the way
    back to the site's root, or its builder, given the site and the channel."""
    if output.template is not None:
        root = "../" * path.count("/")
        html = theme.render_template(env, output.template, root=root, **context)
        sink.put(path, _encode(html), fingerprint)
    elif output.build is not None:
        sink.put(path, _encode(output.build(context["site"], context["channel"])), fingerprint)


def _encode(text: str) -> bytes:
    # Anything unencodable left by a theme (a lone surrogate) becomes U+FFFD, not a crash.
    return text.encode("utf-8", "replace")
