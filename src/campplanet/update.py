"""One run of the planet: read the subscription list, fetch, parse, store, render.

This module wires the stages together and owns the I/O between them; every decision it
applies comes from :mod:`campplanet.policy`, :mod:`campplanet.schedule` and
:mod:`campplanet.views`.

Parsing is CPU-bound, so while the fetcher waits on the network, fetched bodies are parsed
in a pool of worker processes (one per core). Results are stored in the main process, one
transaction per feed, as they arrive.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from campplanet import fetch as fetcher
from campplanet import schedule
from campplanet.config import Settings
from campplanet.exceptions import CampplanetError
from campplanet.identity import FeedUpdate, plan_feed_update
from campplanet.opml import Problem, read_opml, read_subscriptions
from campplanet.parse import ParseError, parse_feed
from campplanet.render import RenderReport, render_site
from campplanet.storage import Storage
from campplanet.types import (
    FeedState,
    FetchRequest,
    FetchResult,
    Outcome,
    ParsedFeed,
    RunSummary,
    StoredEntry,
    Subscription,
)
from campplanet.views import build_views

# Called once per finished feed: (subscription, fetch result, parse error or None).
Progress = Callable[[Subscription, FetchResult, str | None], None]

# Below this many bodies to parse, worker processes cost more than they save.
POOL_THRESHOLD = 8


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
        return refresh_into(settings, subs, storage, now=now, progress=progress)


def refresh_into(
    settings: Settings,
    subs: Sequence[Subscription],
    storage: Storage,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> tuple[RunSummary, RenderReport]:
    """Fetch every due feed, then render the site.

    While the feeds are fetched (mostly waiting on the network), a background thread reads
    every stored entry; the render then re-reads only the feeds this run changed.
    """
    preload = EntryPreload(settings, subs)
    changed: set[str] = set()
    try:
        summary = fetch_into(settings, subs, storage, now=now, progress=progress, changed=changed)
    finally:
        rows = preload.result()
    return summary, render_into(settings, subs, storage, preloaded=(rows, changed))


def fetch(
    settings: Settings, *, now: datetime | None = None, progress: Progress | None = None
) -> RunSummary:
    subs = subscriptions(settings)
    with open_storage(settings) as storage:
        return fetch_into(settings, subs, storage, now=now, progress=progress)


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


def _modified(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(path.stat().st_mtime), UTC)
    except OSError:
        return None


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


def render_into(
    settings: Settings,
    subs: Sequence[Subscription],
    storage: Storage,
    *,
    preloaded: tuple[list[StoredEntry] | None, set[str]] | None = None,
) -> RenderReport:
    """Render the site from the database. ``preloaded``: every entry as read earlier in
    this run (None if that failed) and the feeds whose entries changed since.

    The database also keeps what the last render wrote into each archive page, so archive
    pages whose posts did not change are not rendered again.
    """
    with without_cycle_collection():
        states = storage.feed_states()
        urls = [sub.url for sub in subs]
        if preloaded is None or preloaded[0] is None:
            rows: Iterable[StoredEntry] = storage.all_entries(urls)
        else:
            earlier, changed = preloaded
            rows = [row for row in earlier if row.feed_url not in changed]
            rows += storage.all_entries(u for u in urls if u in changed)
        entries, feeds = build_views(settings, subs, states, rows)
        successes = [s.last_success for s in states.values() if s.last_success]
        output = str(settings.path(settings.planet.output))
        report = render_site(
            settings,
            entries,
            feeds,
            last_refresh=max(successes, default=None),
            since=storage.founded() or _modified(settings.path(settings.planet.opml)),
            manifest=storage.render_manifest(output),
        )
        storage.save_render_manifest(output, report.manifest)
        return report


class EntryPreload:
    """Every stored entry of the subscriptions, read by a background thread on its own
    connection (a consistent snapshot: SQLite's WAL lets it read while the run writes)."""

    def __init__(self, settings: Settings, subs: Sequence[Subscription]):
        self._rows: list[StoredEntry] | None = None
        self._thread = threading.Thread(
            target=self._load, args=(settings, [s.url for s in subs]), daemon=True
        )
        self._thread.start()

    def _load(self, settings: Settings, urls: list[str]) -> None:
        try:
            with open_storage(settings) as storage, without_cycle_collection():
                self._rows = list(storage.all_entries(urls))
        except Exception:  # the render then reads the entries itself
            self._rows = None

    def result(self) -> list[StoredEntry] | None:
        """The entries read, or None if reading them failed."""
        self._thread.join()
        return self._rows


@contextmanager
def without_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector for a short, bounded step that builds many objects.

    Loading and rendering every entry allocates hundreds of thousands of objects that all
    stay alive until the step ends; the collector would walk them again and again, for
    nothing (a tenth of the render's time). Reference counting still frees everything else.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def fetch_into(
    settings: Settings,
    subs: Sequence[Subscription],
    storage: Storage,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
    changed: set[str] | None = None,
) -> RunSummary:
    """Fetch every due feed into ``storage``; add to ``changed`` each feed (subscription
    URL) whose stored entries this run wrote."""
    started = time.monotonic()
    now = now or now_utc()
    storage.record_subscriptions([sub.url for sub in subs], now)
    run = _Run(settings, storage, now, progress)
    if changed is not None:
        run.changed = changed
    asyncio.run(run.fetch(subs))
    run.summary.seconds = time.monotonic() - started
    return run.summary


def _quiet_worker() -> None:
    """Parse workers leave signals to the run: Ctrl-C is ignored (the run stops the pool),
    SIGTERM ends a worker at once, without the run's handler or a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent()


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM to this worker when the run dies (even by SIGKILL), so
    no orphaned parse worker outlives a killed run."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: workers still exit when their queue closes


def parse_job(
    body: bytes,
    url: str,
    content_type: str | None,
    iframe_hosts: tuple[str, ...],
    max_entries: int,
):
    """Runs in a worker process: the parsed feed, or the reason it cannot be used."""
    try:
        return parse_feed(
            body,
            url,
            content_type=content_type,
            iframe_hosts=iframe_hosts,
            max_entries=max_entries,
        )
    except ParseError as e:
        return str(e)
    except (RecursionError, MemoryError, ValueError, TypeError, LookupError) as e:
        # A hostile or freak document must cost one feed, never the run.
        return f"could not parse the feed ({type(e).__name__}: {e})"


class _Run:
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
        self.changed: set[str] = set()  # feeds whose stored entries this run wrote

    def state_of(self, sub: Subscription) -> FeedState:
        return self.states.get(sub.url) or FeedState(url=sub.url, added=self.now)

    async def fetch(self, subs: Sequence[Subscription]) -> None:
        requests = []
        # A feed that timed out last time starts first, so a hung blog does not lengthen the run.
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
        if not requests:
            return
        pool: Executor | None = None
        if len(requests) >= POOL_THRESHOLD and (os.cpu_count() or 1) > 1:
            pool = ProcessPoolExecutor(max_workers=os.cpu_count(), initializer=_quiet_worker)
        try:
            tasks = []
            agent = fetcher.user_agent(self.settings.planet.url)
            async for result in fetcher.fetch_feeds(
                requests, self.settings.fetch, user_agent=agent
            ):
                if result.outcome is Outcome.OK:
                    tasks.append(asyncio.create_task(self.parse_and_store(result, pool)))
                else:
                    self.store(result, None, None)
            await asyncio.gather(*tasks)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)

    async def parse_and_store(self, result: FetchResult, pool: Executor | None) -> None:
        assert result.body is not None
        job = (
            result.body,
            result.base_url,
            result.content_type,
            self.settings.render.iframe_hosts,
            self.settings.fetch.max_entries,
        )
        if pool is None:
            outcome = parse_job(*job)
        else:
            try:
                outcome = await asyncio.get_running_loop().run_in_executor(pool, parse_job, *job)
            except BrokenProcessPool:
                outcome = "the parser process died on this feed"
        if isinstance(outcome, str):
            self.store(result, None, outcome)
        else:
            self.store(result, outcome, None)

    def store(
        self, result: FetchResult, parsed: ParsedFeed | None, parse_error: str | None
    ) -> None:
        sub = self.subs[result.key]
        state = schedule.record_fetch(
            self.state_of(sub), result, self.now, self.rng, parse_error=parse_error
        )
        update = None
        if parsed is not None:
            update = plan_feed_update(state, self.storage.entries_of(sub.url), parsed, self.now)
            state = update.state
        with self.storage.transaction():
            self.storage.save_feed(state)
            if update is not None and update.entries:
                self.changed.add(sub.url)
                self.storage.save_entries(update.entries)
        self.states[sub.url] = state
        self.count(sub, result, state, update, parse_error)

    def count(
        self,
        sub: Subscription,
        result: FetchResult,
        state: FeedState,
        update: FeedUpdate | None,
        parse_error: str | None,
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
            s.failures.append((sub.url, parse_error or result.error or result.outcome.value))
        if result.permanent_url and result.permanent_url != sub.url:
            s.moved.append((sub.url, result.permanent_url))
        if self.progress is not None:
            self.progress(sub, result, parse_error)


def stale_since(storage: Storage, settings: Settings, now: datetime) -> datetime | None:
    """When the planet went stale, if no feed has succeeded for ``planet.stale_after`` hours.

    That is the last successful fetch of any feed; for a planet none of whose feeds ever
    succeeded, the first attempt. None while the planet is fresh (or has never run).
    """
    states = storage.feed_states().values()
    successes = [s.last_success for s in states if s.last_success]
    since = max(successes, default=None)
    if since is None:
        attempts = [s.added or s.failing_since or s.last_attempt for s in states]
        since = min((a for a in attempts if a is not None), default=None)
    if since is not None and now - since > timedelta(hours=settings.planet.stale_after):
        return since
    return None
