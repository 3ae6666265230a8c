"""The commands a cron job runs: ``refresh``, ``fetch``, ``render``, ``prune``, ``status``."""

from __future__ import annotations

import functools
import json
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NoReturn
from urllib.parse import urlsplit

import click

from campplanet.cli.base import fail, main, planet_options, require_subscription_list
from campplanet.config import Settings
from campplanet.exceptions import EXIT_ALL_FAILED, EXIT_OK, CampplanetError
from campplanet.lock import run_lock
from campplanet.types import FetchResult, Outcome, RunSummary, Subscription

EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class Terminated(SystemExit):
    """SIGTERM arrived: stop like Ctrl-C does, and exit 143.

    A SystemExit, because asyncio lets only SystemExit and KeyboardInterrupt out of a task:
    any other exception raised in a task by the signal handler would be kept as that task's
    result while the run went on waiting for the slowest feed.
    """


class Reporter:
    """Says what a run is doing, in the manner the caller asked for.

    On a terminal: a progress counter on stderr. From cron (no TTY): nothing until the one
    summary line on stdout; failures on stderr. ``--quiet``: errors only. ``--verbose``:
    a line per feed. ``--log-format json``: one JSON object per line instead of text.
    """

    def __init__(self, *, quiet: bool, verbose: bool, log_format: str):
        self.quiet = quiet
        self.verbose = verbose and not quiet
        self.json = log_format == "json"
        self.tty = sys.stderr.isatty() and not quiet and not self.json and not self.verbose
        self.done = 0

    def emit(self, level: str, message: str, **fields: Any) -> None:
        if self.quiet and level not in ("error", "warning"):
            return
        err = level in ("error", "warning")
        self.clear_progress()
        if self.json:
            record = {"level": level, "message": message, **fields}
            click.echo(json.dumps(record, ensure_ascii=False, default=str), err=err)
        else:
            click.echo(message if level == "info" else f"campplanet: {message}", err=err)

    def clear_progress(self) -> None:
        if self.tty and self.done:
            click.echo("\r\033[K", nl=False, err=True)

    def feed_done(self, sub: Subscription, result: FetchResult, parse_error: str | None) -> None:
        self.done += 1
        if self.verbose or self.json:
            if parse_error or not result.outcome.succeeded:
                return  # failures are reported once, with the summary
            word = "ok" if result.outcome is Outcome.OK else "not modified"
            self.emit(
                "debug", f"{sub.title}: {word} ({result.elapsed:.1f}s)", feed=sub.url, result=word
            )
        elif self.tty:
            click.echo(f"\rfetched {self.done} feeds… {sub.title[:50]}\033[K", nl=False, err=True)

    def summary(self, summary: RunSummary, subs: dict[str, Subscription]) -> None:
        self.clear_progress()
        offline = seems_offline(summary)
        if offline:
            self.emit(
                "error",
                f"every feed failed before reaching its server ({offline}): this machine "
                "seems to be offline; check its network connection (and DNS), then run again",
                failed=summary.failed,
                reason=offline,
            )
        for failure in summary.failures:
            url, reason = failure.url, failure.reason
            name = subs[url].title if url in subs else url
            if offline:  # one line said it all; the details only when asked for
                if self.verbose or self.json:
                    self.emit("debug", f"{name} <{url}>: {reason}", feed=url, reason=reason)
            else:
                self.emit("error", f"{name} <{url}>: {reason}", feed=url, reason=reason)
        for url, new_url in summary.moved:
            name = subs[url].title if url in subs else url
            self.emit(
                "warning",
                f"{name} <{url}> moved: update feeds.opml to {new_url}",
                feed=url,
                moved_to=new_url,
            )
        self.emit("info", summary.line(), **{k: v for k, v in vars(summary).items()})


def _network_failure(reason: str) -> str:
    """A short name for a failure before any server answered, for the offline message."""
    reason = reason.lower()
    if reason.startswith("dns lookup failed"):
        return "DNS lookup failed"
    if reason.startswith("connection refused"):
        return "connection refused"
    if "unreachable" in reason or "no route" in reason:
        return "no route to the network"
    return "could not connect"


def seems_offline(summary: RunSummary) -> str | None:
    """What every feed failed with, when they all failed before reaching any server (DNS,
    no route, refused) and on more than one host: then the machine is the likely cause,
    not the blogs. None otherwise."""
    if summary.ok or summary.not_modified or len(summary.failures) < 2:
        return None
    if any(f.outcome is not Outcome.UNREACHABLE for f in summary.failures):
        return None
    if len({urlsplit(f.url).hostname for f in summary.failures}) < 2:
        return None  # one host down is that host's trouble
    return ", ".join(sorted({_network_failure(f.reason) for f in summary.failures}))


def run_options(run: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options every run command shares and pass a ``reporter`` instead of how it
    reports (``--quiet``, ``--verbose``, ``--log-format``); ``wait`` is passed on."""

    @functools.wraps(run)
    def command(quiet: bool, verbose: bool, log_format: str, **kwargs: Any) -> Any:
        reporter = Reporter(quiet=quiet, verbose=verbose, log_format=log_format)
        return run(reporter=reporter, **kwargs)

    command = click.option("-q", "--quiet", is_flag=True, help="Print errors only.")(command)
    command = click.option("-v", "--verbose", is_flag=True, help="A line per feed.")(command)
    command = click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="json: one JSON object per line, for log collectors.",
    )(command)
    command = click.option(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="If another run holds the lock, wait this long for it instead of exiting 75.",
    )(command)
    return command


def _quiet_asyncio() -> None:
    """Tasks cut short by the interruption are not errors: no "Task exception was never
    retrieved" tracebacks from asyncio as they are collected."""
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)


@contextmanager
def guarded(settings: Settings, wait: float, reporter: Reporter | None = None) -> Iterator[None]:
    """Hold the run lock; turn errors, Ctrl-C and SIGTERM into messages and exit codes.

    With a ``reporter``, the messages come in its format (one JSON object with
    ``--log-format json``).
    """

    def stop(message: str, code: int) -> NoReturn:
        if reporter is None:
            click.echo(f"campplanet: {message}", err=True)
        else:
            reporter.emit("error", message, exit_code=code)
        sys.exit(code)

    def on_sigterm(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once is enough: the run is stopping
        raise Terminated

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        require_subscription_list(settings)  # before the lock: nothing written elsewhere
        with run_lock(settings.path(settings.planet.db), wait=wait):
            yield
    except CampplanetError as e:
        stop(str(e), e.exit_code)
    except KeyboardInterrupt:
        _quiet_asyncio()
        stop("interrupted; finished feeds are stored", EXIT_SIGINT)
    except Terminated:
        _quiet_asyncio()
        stop("terminated; finished feeds are stored", EXIT_SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_code(
    summary: RunSummary, stale: datetime | None, reporter: Reporter, *, left_out: int = 0
) -> int:
    if stale is not None:
        reporter.emit(
            "error",
            f"no feed has been fetched successfully since {stale:%Y-%m-%d %H:%M} UTC; "
            "the planet is stale",
            stale_since=stale,
        )
        return EXIT_ALL_FAILED
    attempted = summary.ok + summary.not_modified + summary.failed + left_out
    if attempted and summary.failed + left_out == attempted:
        reporter.emit("error", "every feed failed", failed=summary.failed, left_out=left_out)
        return EXIT_ALL_FAILED
    return EXIT_OK


def report_left_out(reporter: Reporter, problems: list) -> None:
    for problem in problems:
        reporter.emit("error", f"{problem} (this blog is left out until it is fixed)")


def _fetch_and_report(settings: Settings, reporter: Reporter, *, render: bool) -> int:
    from campplanet import update

    problems: list = []
    subs = update.subscriptions(settings, problems=problems)
    report_left_out(reporter, problems)
    if render:
        update.refuse_empty_site(settings, subs, problems)
    with update.open_storage(settings) as storage:
        now = update.now_utc()
        summary = update.fetch_into(settings, subs, storage, now=now, progress=reporter.feed_done)
        if render:
            update.render_into(settings, subs, storage)
        stale = update.stale_since(storage, settings, now)
    reporter.summary(summary, {s.url: s for s in subs})
    return _exit_code(summary, stale, reporter, left_out=len(problems))


@main.command()
@planet_options
@run_options
def refresh(settings: Settings, reporter: Reporter, wait: float) -> None:
    """Fetch every feed in the subscription list, then render the site.

    This is the command for cron. Exit status: 0 done (some feeds may have failed; they
    are listed on stderr, as are outlines of the subscription list left out for an error),
    1 every feed failed or the planet is stale, 2 bad settings or a subscription list that
    cannot be read at all, 75 another run holds the lock.
    """
    _run(settings, reporter, wait, render=True)


@main.command(name="fetch")
@planet_options
@run_options
def fetch_command(settings: Settings, reporter: Reporter, wait: float) -> None:
    """Fetch every due feed and store its entries, without rendering."""
    _run(settings, reporter, wait, render=False)


def _run(settings: Settings, reporter: Reporter, wait: float, *, render: bool) -> NoReturn:
    with guarded(settings, wait, reporter):
        code = _fetch_and_report(settings, reporter, render=render)
    sys.exit(code)


@main.command(name="render")
@planet_options
@run_options
def render_command(settings: Settings, reporter: Reporter, wait: float) -> None:
    """Render the site from the database, without fetching."""
    from campplanet import update

    problems: list = []
    with guarded(settings, wait, reporter):
        try:
            report = update.render(settings, problems=problems)
        finally:
            report_left_out(reporter, problems)
    reporter.emit("info", report.line(), **report.fields())


@main.command()
@planet_options
@click.option("--wait", type=float, default=0.0, metavar="SECONDS", help="Wait for the lock.")
def prune(settings: Settings, wait: float) -> None:
    """Delete the feeds (and their entries) no longer in the subscription list."""
    from campplanet import update

    with guarded(settings, wait):
        # Strict: a feed whose outline is broken for now must not lose its entries.
        keep = [s.url for s in update.subscriptions(settings, strict=True)]
        with update.open_storage(settings) as storage:
            feeds, entries = storage.prune(keep)
    click.echo(f"pruned {feeds} feeds and {entries} entries")


@main.command()
@planet_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(settings: Settings, as_json: bool) -> None:
    """Each feed's health, problems first: last success, HTTP status, errors, moves."""
    from campplanet import update
    from campplanet.status import feed_status_rows

    problems: list = []
    try:
        require_subscription_list(settings)
        subs = update.subscriptions(settings, problems=problems)
        with update.open_storage(settings) as storage:
            rows, last_success = feed_status_rows(settings, subs, storage, update.now_utc())
    except CampplanetError as e:
        fail(e)
    left_out = [str(p) for p in problems]
    if as_json:
        click.echo(
            json.dumps(
                {"last_success": last_success, "left_out": left_out, "feeds": rows},
                indent=2,
                default=str,
                ensure_ascii=False,
            )
        )
        return
    from campplanet.status import format_table

    when = f"{last_success:%Y-%m-%d %H:%M} UTC" if last_success else "never"
    click.echo(f"last successful fetch: {when}")
    click.echo(format_table(rows))
    for problem in left_out:
        click.echo(f"left out of every run until fixed: {problem}")
