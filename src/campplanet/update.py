"""One run of the planet, wiring the stages together; every decision is another module's.

    refresh(settings):
        subs = subscriptions(settings)                 # opml: broken outlines left out
        storage.record_subscriptions(subs)             # storage: facts flood control needs
        for each sub due (schedule.is_due), timed-out ones first (schedule.fetch_order_key):
            result = fetch_feeds(...)                  # fetch: HTTP, politely, in parallel
            state = schedule.record_fetch(state, result)   # when to fetch next
            parsed = parser.parse(body)                # workers -> parse: clean entries
            update = identity.plan_feed_update(state, stored, parsed)  # new or updated
            storage.save_feed(state); save_entries(update.entries)      # one transaction
        selection = views.select(subs, states, storage)    # what is shown (policy, identity)
        render_site(selection.shown, selection.feeds)      # render: pages and feeds

The fetcher is a parameter (``fetch_feeds``), so a run can be tested without sockets. I/O
between the stages lives here; parsing processes live in :mod:`campplanet.workers`. The
fetching machinery (httpx, the parser and its workers) is imported when a run fetches, so
``campplanet render`` starts without it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from campplanet import health, schedule, views
from campplanet.config import Settings
from campplanet.exceptions import CampplanetError
from campplanet.identity import FeedUpdate, plan_feed_update
from campplanet.opml import Problem, read_opml, read_subscriptions
from campplanet.render import RenderReport, render_site
from campplanet.storage import Storage
from campplanet.theme import CompiledTemplates
from campplanet.types import (
    Failure,
    FeedState,
    FetchRequest,
    FetchResult,
    Outcome,
    ParsedFeed,
    ParseFailure,
    RunSummary,
    Subscription,
)

if TYPE_CHECKING:
    from campplanet.workers import Parser

# Called once per finished feed: (subscription, fetch result, parse error or None).
Progress = Callable[[Subscription, FetchResult, str | None], None]
# What fetches a batch of feeds: campplanet.fetch.fetch_feeds, or a stand-in in tests.
FetchFeeds = Callable[..., AsyncIterator[FetchResult]]


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def subscriptions(
    settings: Settings, *, strict: bool = False, problems: list[Problem] | None = None
) -> list[Subscription]:
    """The subscription list. By default an outline with an error is left out and its
    problem appended to ``problems``; ``strict`` raises OPMLError for it instead."""
    path = settings.path(settings.planet.opml)
    allow = settings.fetch.allow_private_networks
    if strict:
        return read_opml(path, allow_private_networks=allow)
    subs, errors = read_subscriptions(path, allow_private_networks=allow)
    if problems is not None:
        problems.extend(errors)
    return subs


def open_storage(settings: Settings) -> Storage:
    return Storage(settings.path(settings.planet.db))


def refresh(
    settings: Settings, *, now: datetime | None = None, progress: Progress | None = None
) -> tuple[RunSummary, RenderReport]:
    """Fetch every due feed, then render the site."""
    subs = subscriptions(settings)
    with open_storage(settings) as storage:
        summary = fetch_into(settings, subs, storage, now=now, progress=progress)
        return summary, render_into(settings, subs, storage)


def render(settings: Settings, *, problems: list[Problem] | None = None) -> RenderReport:
    """Render the site from the database; outlines left out for an error are appended to
    ``problems``. Refuses to empty a published site (see :func:`refuse_empty_site`)."""
    found: list[Problem] = []
    subs = subscriptions(settings, problems=found)
    if problems is not None:
        problems.extend(found)
    refuse_empty_site(settings, subs, found)
    with open_storage(settings) as storage:
        return render_into(settings, subs, storage)


def refuse_empty_site(
    settings: Settings, subs: Sequence[Subscription], problems: Sequence[Problem]
) -> None:
    """Raise rather than replace a published site with an empty one because every outline
    of the subscription list was left out for an error (a broken edit, or a run without
    the setting the list needs, such as allowing private networks)."""
    if subs or not problems:
        return
    output = settings.path(settings.planet.output)
    if not (output / "index.html").is_file():
        return
    raise CampplanetError(
        f"every outline of {settings.path(settings.planet.opml)} was left out "
        f"({len(problems)} with errors, the first: {problems[0]}); not replacing the "
        f"site published in {output} with an empty one. Fix the list (campplanet check "
        "shows every problem) and run again"
    )


def render_into(settings: Settings, subs: Sequence[Subscription], storage: Storage) -> RenderReport:
    """Render the site from the database. The database also keeps what the last render
    wrote into each archive page, so archive pages whose posts did not change are kept
    without rendering them again."""
    states = storage.feed_states()
    selection = views.select(settings, subs, states, storage)
    output = str(settings.path(settings.planet.output))
    report = render_site(
        settings,
        selection.shown,
        selection.feeds,
        last_refresh=health.last_success(states.values()),
        since=storage.founded() or _modified(settings.path(settings.planet.opml)),
        manifest=storage.render_manifest(output),
        compiled=CompiledTemplates(storage.compiled_template, storage.save_compiled_template),
    )
    storage.save_render_manifest(output, report.manifest)
    return report


def _modified(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(path.stat().st_mtime), UTC)
    except OSError:
        return None


def fetch_into(
    settings: Settings,
    subs: Sequence[Subscription],
    storage: Storage,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
    fetch_feeds: FetchFeeds | None = None,
) -> RunSummary:
    """Fetch every due feed into ``storage``, one transaction per feed, with
    ``fetch_feeds`` (by default :func:`campplanet.fetch.fetch_feeds`)."""
    from campplanet import fetch as fetcher

    started = time.monotonic()
    now = now or now_utc()
    storage.record_subscriptions([sub.url for sub in subs], now)
    run = _Run(settings, storage, now, progress)
    agent = fetcher.user_agent(settings.planet.url)
    asyncio.run(run.fetch(subs, fetch_feeds or fetcher.fetch_feeds, agent))
    run.summary.seconds = time.monotonic() - started
    return run.summary


class _Run:
    """One fetch of the due feeds: fetch, parse and store each as it arrives."""

    def __init__(
        self, settings: Settings, storage: Storage, now: datetime, progress: Progress | None
    ):
        self.settings = settings
        self.storage = storage
        self.now = now
        self.progress = progress
        self.summary = RunSummary()
        self.rng = random.Random()
        self.states = storage.feed_states()
        self.subs: dict[str, Subscription] = {}

    def state_of(self, sub: Subscription) -> FeedState:
        return self.states.get(sub.url) or FeedState(url=sub.url, added=self.now)

    def due(self, subs: Sequence[Subscription]) -> list[FetchRequest]:
        """The requests for the feeds due now; those that timed out last time first, so a
        hung blog does not lengthen the run."""
        requests = []
        for sub in sorted(subs, key=lambda s: schedule.fetch_order_key(self.state_of(s))):
            state = self.state_of(sub)
            self.subs[sub.url] = sub
            if not schedule.is_due(state, self.now):
                self.summary.skipped += 1
                continue
            requests.append(
                FetchRequest(
                    url=state.fetch_url or sub.url,
                    etag=state.etag,
                    last_modified=state.last_modified,
                    body_hash=state.body_hash,
                    key=sub.url,
                )
            )
        return requests

    async def fetch(
        self, subs: Sequence[Subscription], fetch_feeds: FetchFeeds, agent: str
    ) -> None:
        from campplanet.workers import parser_for

        requests = self.due(subs)
        if not requests:
            return
        with parser_for(len(requests)) as parser:
            tasks = []
            async for result in fetch_feeds(requests, self.settings.fetch, user_agent=agent):
                if result.outcome is Outcome.OK:
                    tasks.append(asyncio.create_task(self.parse_and_store(result, parser)))
                else:
                    self.store(result, None)
            await asyncio.gather(*tasks)

    async def parse_and_store(self, result: FetchResult, parser: Parser) -> None:
        assert result.body is not None
        job = parser.job(
            result.body,
            result.base_url,
            result.content_type,
            self.settings.render.iframe_hosts,
            self.settings.fetch.max_entries,
        )
        result = replace(result, body=None)  # the job has it, spooled if it is to wait
        self.store(result, await parser.parse(job))

    def store(self, result: FetchResult, parsed: ParsedFeed | ParseFailure | None) -> None:
        sub = self.subs[result.key]
        error = parsed.reason if isinstance(parsed, ParseFailure) else None
        state = schedule.record_fetch(
            self.state_of(sub), result, self.now, self.rng, parse_error=error
        )
        update = None
        if isinstance(parsed, ParsedFeed):
            stored = self.storage.entries_of(sub.url, text=False)
            update = plan_feed_update(state, stored, parsed, self.now)
            state = update.state
        with self.storage.transaction():
            self.storage.save_feed(state)
            if update is not None and update.entries:
                self.storage.save_entries(update.entries)
        self.states[sub.url] = state
        self.count(sub, result, update, error)

    def count(
        self, sub: Subscription, result: FetchResult, update: FeedUpdate | None, error: str | None
    ) -> None:
        s = self.summary
        if update is not None:
            s.ok += 1
            s.new += update.new
            s.updated += update.updated
        elif result.outcome is Outcome.NOT_MODIFIED:
            s.not_modified += 1
        else:
            s.failed += 1
            reason = error or result.error or result.outcome.value
            s.failures.append(Failure(sub.url, reason, result.outcome))
        if result.permanent_url and result.permanent_url != sub.url:
            s.moved.append((sub.url, result.permanent_url))
        if self.progress is not None:
            self.progress(sub, result, error)


def stale_since(storage: Storage, settings: Settings, now: datetime) -> datetime | None:
    """When the planet went stale, if no feed has succeeded for ``planet.stale_after`` hours.

    That is the last successful fetch of any feed; for a planet none of whose feeds ever
    succeeded, the first attempt. None while the planet is fresh (or has never run).
    """
    states = storage.feed_states().values()
    since = health.last_success(states)
    if since is None:
        attempts = [s.added or s.failing_since or s.last_attempt for s in states]
        since = min((a for a in attempts if a is not None), default=None)
    if since is not None and now - since > timedelta(hours=settings.planet.stale_after):
        return since
    return None
