"""``campplanet add`` and ``campplanet check``: the subscription list, for attendees and CI."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import re
import subprocess
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import click

from campplanet import netguard
from campplanet.cli.base import main, planet_options
from campplanet.config import Settings
from campplanet.exceptions import EXIT_ALL_FAILED, EXIT_OK, EXIT_USAGE, LockHeld, OPMLError
from campplanet.lock import run_lock
from campplanet.opml import (
    Problem,
    changed_outlines,
    clean_name,
    lint_opml,
    parse_document,
    read_opml,
    read_subscriptions,
)
from campplanet.types import FetchRequest, FetchResult, Outcome, Subscription
from campplanet.urls import feed_key, home_page, normalise_url

EXIT_REFUSED = EXIT_ALL_FAILED  # add refused the blog; check --fetch saw a feed fail


def _stop(message: str, code: int) -> NoReturn:
    click.echo(f"campplanet: {message}", err=True)
    raise SystemExit(code)


def _user_agent(settings: Settings) -> str:
    from campplanet import fetch

    return fetch.user_agent(settings.planet.url)


# --- add ---------------------------------------------------------------------------------------


def _locked(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run the command holding the planet's run lock, as every run does (exit 75 if held)."""

    @functools.wraps(command)
    def wrapper(settings: Settings, **kwargs: Any) -> Any:
        try:
            with run_lock(settings.path(settings.planet.db)):
                return command(settings=settings, **kwargs)
        except LockHeld as e:
            _stop(str(e), e.exit_code)

    return wrapper


def _as_url(text: str) -> str:
    """What someone typed, as a URL: ``blog.example.org`` means ``https://blog.example.org/``."""
    text = text.strip()
    if "://" not in text and re.match(r"^[\w.-]+\.[a-z]{2,}(?::\d+)?(/|$)", text, re.I):
        text = "https://" + text
    return normalise_url(text)


def _existing(path: Path, settings: Settings) -> list[Subscription]:
    """The subscriptions already listed (none if the file does not exist yet)."""
    if not path.exists():
        return []
    try:
        return read_opml(path, allow_private_networks=settings.fetch.allow_private_networks)
    except OPMLError:
        problems = lint_opml(path, allow_private_networks=settings.fetch.allow_private_networks)
        for problem in problems:
            if problem.severity == "error":
                click.echo(str(problem), err=True)
        _stop(f"{path} has errors; fix them first (campplanet check lists them)", EXIT_USAGE)


def _known_redirects(settings: Settings) -> dict[str, str]:
    """feed key of a remembered permanent redirect target -> the subscription URL it is for."""
    db = settings.path(settings.planet.db)
    if not db.is_file():
        return {}
    from campplanet.storage import Storage

    try:
        with Storage(db) as storage:
            states = storage.feed_states()
    except Exception:  # a database we cannot read must not stop an add
        return {}
    return {feed_key(s.fetch_url): url for url, s in states.items() if s.fetch_url}


def duplicate_of(
    urls: Iterable[str | None],
    subs: list[Subscription],
    redirects: dict[str, str],
    page: str | None = None,
) -> Subscription | None:
    """The subscription that is already one of ``urls`` (or whose site is ``page``)."""
    by_key = {feed_key(s.url): s for s in subs}
    by_url = {s.url: s for s in subs}
    for url in urls:
        if not url:
            continue
        key = feed_key(url)
        if key in by_key:
            return by_key[key]
        if key in redirects and redirects[key] in by_url:
            return by_url[redirects[key]]
    if page:
        sites = {feed_key(s.html_url): s for s in subs if s.html_url}
        return sites.get(feed_key(page))
    return None


def _already_site(page: str, same: Subscription, path: Path) -> NoReturn:
    _stop(
        f"not added: {page} is the site of {same.title} <{same.url}>, already in {path} on "
        f"line {same.line} (to add another feed of that site, give the feed's address)",
        EXIT_REFUSED,
    )


@main.command()
@click.argument("url")
@click.option("--name", help="The blog's name (default: the feed's title).")
@click.option("--avatar", help="URL of a square picture of the author.")
@click.option("--filter", "filter_", metavar="REGEX", help="Show only posts matching REGEX.")
@planet_options
@_locked
def add(settings: Settings, url: str, name: str | None, avatar: str | None, filter_: str | None):
    """Add a blog to the subscription list.

    URL is the blog's home page or its feed. The feed is found, fetched and checked, then
    written into the list in alphabetical order, leaving the rest of the file as it was.
    """
    from campplanet import discover, fetch
    from campplanet.opml_edit import NewFeed, add_feed, insert_feed, new_document, write_atomic

    path = settings.path(settings.planet.opml)
    allow = settings.fetch.allow_private_networks
    target = _as_url(url)
    if reason := netguard.check_url(target, allow_private=allow):
        _stop(f"{url}: {reason}", EXIT_USAGE)
    if avatar and (
        not re.match(r"^https?://", avatar, re.I) or netguard.check_url(avatar, allow_private=allow)
    ):
        _stop(f"--avatar {avatar!r} must be an http(s) URL of a picture", EXIT_USAGE)
    if filter_ is not None:
        try:
            re.compile(filter_)
        except re.error as e:
            _stop(f"--filter {filter_!r} is not a valid regular expression: {e}", EXIT_USAGE)
    subs = _existing(path, settings)
    redirects = _known_redirects(settings)
    if same := duplicate_of([target], subs, redirects):
        _stop(
            f"{url} is already in {path} on line {same.line}: {same.title} <{same.url}>",
            EXIT_REFUSED,
        )
    if same := duplicate_of([], subs, redirects, page=target):
        _already_site(target, same, path)

    agent = _user_agent(settings)

    def get(address: str, accept: str | None) -> FetchResult:
        return fetch.fetch_one(address, settings.fetch, user_agent=agent, accept=accept)

    def get_many(addresses: list[str]) -> list[FetchResult]:
        return asyncio.run(_fetch_urls(addresses, settings, agent))

    try:
        found = discover.discover(target, get, get_many)
    except discover.DiscoveryError as e:
        _stop(f"not added: {e}", EXIT_REFUSED)
    result = found.result
    feed_url = result.permanent_url or found.url
    if same := duplicate_of([found.url, result.final_url, result.permanent_url], subs, redirects):
        _stop(
            f"not added: {feed_url} is already in {path} on line {same.line}: {same.title} "
            f"<{same.url}>",
            EXIT_REFUSED,
        )
    if found.page and (same := duplicate_of([], subs, redirects, page=found.page)):
        _already_site(found.page, same, path)

    if found.page:
        click.echo(f"Feeds of {found.page}:")
        chosen = found.chosen.describe() if found.chosen else feed_url
        if found.chosen and found.chosen.found == "guess":
            chosen += " (a usual feed address: the page names no working posts feed)"
        click.echo(f"  chosen: {chosen}")
        for other in found.alternatives:
            note = " (comments)" if other.is_comments else ""
            click.echo(f"  also:   {other.describe()}{note}")
    if feed_url != found.url:
        click.echo(f"{found.url} has moved permanently to {feed_url}; using the new address.")

    title = clean_name(name or found.feed.title or "") or (urlsplit(feed_url).hostname or feed_url)
    site = home_page(found.feed.link) or home_page(found.page)
    new = NewFeed(title, feed_url, html_url=site, avatar=avatar, filter=filter_)
    try:
        if path.exists():
            line = add_feed(path, new)
        else:
            data, line = insert_feed(new_document(settings.planet.name, datetime.now(UTC)), new)
            write_atomic(path, data)
            click.echo(f"Created {path}.")
    except OPMLError as e:
        _stop(str(e), EXIT_USAGE)
    except OSError as e:
        _stop(f"{path}: cannot write the subscription list: {e.strerror}", EXIT_USAGE)
    entries = len(found.feed.entries)
    click.echo(
        f'Added "{title}" <{feed_url}> ({entries} entr{"y" if entries == 1 else "ies"}) '
        f"to {path} line {line}."
    )
    raise SystemExit(EXIT_OK)


# --- check -------------------------------------------------------------------------------------


@main.command()
@click.argument("opml_file", metavar="[OPML]", required=False, type=click.Path(dir_okay=False))
@click.option("--fetch", "do_fetch", is_flag=True, help="Also fetch and parse every feed.")
@click.option(
    "--changed-since",
    "since",
    metavar="REF",
    help="Judge only the outlines added or changed since the git commit REF (a pull "
    "request's base): only they are fetched, and problems of the others are warnings.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "github"]),
    default="text",
    show_default=True,
    help="github: each problem as a GitHub Actions annotation on its line.",
)
@click.option(
    "--fix-order",
    is_flag=True,
    help="First sort the feeds by name, rewriting the file with every other byte kept.",
)
@planet_options
def check(
    settings: Settings,
    opml_file: str | None,
    do_fetch: bool,
    since: str | None,
    output_format: str,
    fix_order: bool,
) -> None:
    """Check the subscription list: every problem, one per line as FILE:LINE: message.

    Exits 0 when the list is good, 2 when it has errors, and with --fetch 1 when a feed
    cannot be fetched or parsed. With --changed-since REF only what a change added or
    altered since REF can fail the check.
    """
    path = Path(opml_file) if opml_file else settings.path(settings.planet.opml)
    out = _Output(output_format)
    allow = settings.fetch.allow_private_networks
    if fix_order:
        from campplanet.opml_edit import sort_feeds_in

        try:
            moved = sort_feeds_in(path)
        except OPMLError as e:
            out.problem(Problem(e.path, e.line, "error", e.message, e.column))
            click.echo(f"{path}: not sorted: fix the error first", err=True)
            raise SystemExit(EXIT_USAGE) from None
        click.echo(
            f"{path}: put {_count(moved, 'feed')} back in name order"
            if moved
            else f"{path}: the feeds are in name order"
        )
    changed = _changed_since(path, since) if since is not None else None
    problems = lint_opml(path, allow_private_networks=allow, changed=changed)
    if changed is not None:
        problems = [_as_before(p, changed, since or "") for p in problems]
    for problem in problems:
        out.problem(problem)
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    if errors:
        click.echo(f"{path}: {_count(errors, 'error')}, {_count(warnings, 'warning')}", err=True)
        raise SystemExit(EXIT_USAGE)
    subs, _ = read_subscriptions(path, allow_private_networks=allow)
    click.echo(f"{path}: {_count(len(subs), 'feed')}, no errors, {_count(warnings, 'warning')}")
    if changed is not None:
        judged = [s for s in subs if s.line in changed]
        click.echo(f"{path}: {_count(len(judged), 'feed')} added or changed since {since}")
    else:
        judged = subs
    if not do_fetch or not judged:
        raise SystemExit(EXIT_OK)
    urls = [s.url for s in judged]
    fetched = asyncio.run(_fetch_urls(urls, settings, _user_agent(settings)))
    results = dict(zip(urls, fetched, strict=True))
    failing = moved = 0
    for sub in judged:
        verdict, text = judge(sub, results[sub.url])
        failing += verdict == "failing"
        moved += verdict == "moved"
        out.verdict(path, sub, verdict, text)
    ok = len(judged) - failing
    click.echo(
        f"{path}: {_count(len(judged), 'feed')} fetched: {ok} ok ({moved} moved), {failing} failing"
    )
    raise SystemExit(EXIT_REFUSED if failing else EXIT_OK)


def _changed_since(path: Path, ref: str) -> set[int] | None:
    """The lines of the outlines of ``path`` added or changed since the git commit ``ref``
    (every outline if the file did not exist then); None if the file cannot be read now
    (the check reports why)."""
    if not ref or ref.startswith("-"):
        _stop(f"--changed-since {ref!r}: not a git revision", EXIT_USAGE)
    folder = path.resolve().parent

    def git(*args: str) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(["git", "-C", str(folder), *args], capture_output=True)
        except FileNotFoundError:
            _stop("--changed-since needs git, and git is not installed", EXIT_USAGE)

    top = git("rev-parse", "--show-toplevel")
    if top.returncode:
        _stop(f"--changed-since: {folder} is not in a git repository", EXIT_USAGE)
    commit = git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if commit.returncode:
        _stop(
            f"--changed-since {ref}: no such commit in this repository (a shallow clone? "
            "fetch more history)",
            EXIT_USAGE,
        )
    root = Path(os.fsdecode(top.stdout.strip())).resolve()
    inside = path.resolve().relative_to(root).as_posix()
    before = git("cat-file", "blob", f"{commit.stdout.decode().strip()}:{inside}")
    try:
        now = parse_document(str(path), path.read_bytes())
    except (OPMLError, OSError):
        return None
    old = None
    if before.returncode == 0:  # a file missing at REF: every outline is new
        try:
            old = parse_document(f"{ref}:{inside}", before.stdout)
        except OPMLError:
            old = None  # broken then: every outline counts as changed
    return changed_outlines(now, old)


def _as_before(problem: Problem, changed: set[int], ref: str) -> Problem:
    """An error on an outline the change did not touch, as a warning."""
    if problem.severity != "error" or problem.line is None or problem.line in changed:
        return problem
    return dataclasses.replace(
        problem, severity="warning", message=f"{problem.message} (unchanged since {ref})"
    )


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(
    severity: str, path: str, line: int | None, column: int | None, message: str
) -> str:
    """A GitHub Actions workflow command that annotates ``path`` at ``line``."""
    file = Path(path)
    if file.is_absolute():
        with contextlib.suppress(ValueError):
            file = file.relative_to(Path.cwd())
    props = [f"file={_escape_property(file.as_posix())}"]
    if line is not None:
        props.append(f"line={line}")
        if column is not None:
            props.append(f"col={column}")
    return f"::{severity} {','.join(props)}::{_escape_data(message)}"


class _Output:
    """Prints problems and verdicts as text lines or as GitHub annotations."""

    def __init__(self, output_format: str):
        self.github = output_format == "github"

    def problem(self, problem: Problem) -> None:
        if self.github:
            click.echo(
                github_annotation(
                    problem.severity, problem.path, problem.line, problem.column, problem.message
                )
            )
        else:
            click.echo(str(problem))

    def verdict(self, path: Path, sub: Subscription, verdict: str, text: str) -> None:
        message = f"{verdict}: {sub.title} <{sub.url}>: {text}"
        if self.github and verdict != "ok":
            severity = "error" if verdict == "failing" else "warning"
            click.echo(github_annotation(severity, str(path), sub.line, None, message))
        else:
            click.echo(f"{path}:{sub.line}: {message}")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


async def _fetch_urls(urls: list[str], settings: Settings, agent: str) -> list[FetchResult]:
    """Fetch ``urls`` in parallel (the refresh fetcher); results in the order of ``urls``."""
    from campplanet import fetch

    requests = [FetchRequest(url=u) for u in dict.fromkeys(urls)]
    results = {
        r.key: r async for r in fetch.fetch_feeds(requests, settings.fetch, user_agent=agent)
    }
    return [results[u] for u in urls]


def judge(sub: Subscription, result: FetchResult) -> tuple[str, str]:
    """("ok" | "moved" | "failing", what to say) for one fetched subscription."""
    from campplanet.parse import ParseError, parse_feed

    if result.outcome is not Outcome.OK or result.body is None:
        return "failing", result.error or result.outcome.value
    try:
        feed = parse_feed(result.body, result.base_url, content_type=result.content_type)
    except ParseError as e:
        return "failing", f"not a usable feed: {e}"
    entries = _count(len(feed.entries), "entry").replace("entrys", "entries")
    if result.permanent_url and result.permanent_url != sub.url:
        return "moved", f"{entries}; moved permanently to {result.permanent_url}: update xmlUrl"
    return "ok", entries
