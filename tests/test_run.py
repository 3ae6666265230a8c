"""A whole run (campplanet.update.fetch_into) against a fake fetcher: no sockets.

fetch_into takes the fetcher as a parameter, an async generator function with the signature
of campplanet.fetch.fetch_feeds. :class:`FakeWeb` stands in for it (as lemon24/reader's
tests inject a fake parser): it answers each request from what each URL serves now,
honouring the validators the run sends as the real fetcher does, and records every batch
it is asked for. What is checked is the orchestration: what the run asks for, in which
order, and what it counts and stores.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from campplanet.config import FetchSettings, PlanetSettings, Settings
from campplanet.storage import Storage
from campplanet.types import Failure, FetchRequest, FetchResult, Outcome, Subscription
from campplanet.update import fetch_into
from planetkit import EPOCH, rss_feed

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # after every post below (EPOCH is 28 May)
Answer = Callable[[FetchRequest], FetchResult]


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def serves(body: bytes, *, etag: str | None = None, moved_to: str | None = None) -> Answer:
    """A URL serving ``body``: 304 to a request with its ETag, "not modified" to one with
    the body's hash (as the real fetcher says them); ``moved_to``: reached through a
    permanent redirect to that URL."""

    def answer(request: FetchRequest) -> FetchResult:
        final = moved_to or request.url
        common = {"key": request.key, "url": request.url, "final_url": final, "etag": etag}
        common["permanent_url"] = moved_to
        if etag is not None and request.etag == etag:
            return FetchResult(outcome=Outcome.NOT_MODIFIED, status=304, **common)
        if request.body_hash == digest(body):
            return FetchResult(outcome=Outcome.NOT_MODIFIED, status=200, **common)
        return FetchResult(
            outcome=Outcome.OK,
            status=200,
            body=body,
            body_hash=digest(body),
            content_type="application/rss+xml",
            **common,
        )

    return answer


def fails(outcome: Outcome, error: str, status: int | None = None) -> Answer:
    def answer(request: FetchRequest) -> FetchResult:
        return FetchResult(request.key, request.url, outcome, status=status, error=error)

    return answer


class FakeWeb:
    """What each URL serves now (change it between runs), and the batches asked for."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.batches: list[list[FetchRequest]] = []

    async def fetch_feeds(
        self, requests: Iterable[FetchRequest], settings: FetchSettings, *, user_agent: str
    ) -> AsyncIterator[FetchResult]:
        batch = list(requests)
        self.batches.append(batch)
        for request in batch:
            yield self.answers[request.url](request)


def blog(name: str, *posts: int, edited: Iterable[int] = ()) -> bytes:
    """Blog ``name``'s feed with posts numbered ``posts``; ``edited``: posts retitled."""
    site = f"https://{name}.example/"
    edits = set(edited)
    items = [
        (f"p{n}", f"{name} post {n}{' (edited)' if n in edits else ''}", EPOCH + 3600 * n)
        for n in posts
    ]
    return rss_feed(name, site, items)


class Planet:
    """Runs of one planet against a fake web: ``planet.run(*subscriptions, at=NOW)``."""

    def __init__(self, folder: Path):
        self.web = FakeWeb()
        self.settings = Settings(planet=PlanetSettings(db=str(folder / "planet.db")))
        self.storage = Storage(folder / "planet.db")
        self.progress: list[tuple[str, Outcome, str | None]] = []

    def run(self, *subs: Subscription, at: datetime = NOW):
        return fetch_into(
            self.settings,
            subs,
            self.storage,
            now=at,
            progress=lambda sub, result, error: self.progress.append(
                (sub.url, result.outcome, error)
            ),
            fetch_feeds=self.web.fetch_feeds,
        )

    def titles(self, url: str) -> list[str]:
        return sorted(e.title for e in self.storage.entries_of(url))


@pytest.fixture
def planet(tmp_path: Path) -> Iterator[Planet]:
    p = Planet(tmp_path)
    yield p
    p.storage.close()


def sub(name: str) -> Subscription:
    return Subscription(url=f"https://{name}.example/feed", title=name)


A, B, C, D = (sub(n) for n in ("a", "b", "c", "d"))


def test_new_updated_and_not_modified_are_counted(planet):
    planet.web.answers[A.url] = serves(blog("a", 0, 1, 2), etag='"a1"')
    planet.web.answers[B.url] = serves(blog("b", 0, 1), etag='"b1"')
    planet.web.answers[C.url] = serves(blog("c", 0))  # no validators: only its hash
    first = planet.run(A, B, C)
    assert (first.ok, first.not_modified, first.failed) == (3, 0, 0)
    assert (first.new, first.updated) == (6, 0)

    # a gains a post and edits another; b and c do not change
    planet.web.answers[A.url] = serves(blog("a", 0, 1, 2, 3, edited=[2]), etag='"a2"')
    second = planet.run(A, B, C, at=NOW + timedelta(hours=1))
    assert (second.ok, second.not_modified, second.failed) == (1, 2, 0)
    assert (second.new, second.updated) == (1, 1)
    sent = {r.key: r for r in planet.web.batches[1]}
    assert sent[B.url].etag == '"b1"'  # the validators stored by the first run
    assert sent[C.url].body_hash == digest(blog("c", 0))
    assert planet.titles(A.url) == ["a post 0", "a post 1", "a post 2 (edited)", "a post 3"]
    reported = {url: outcome for url, outcome, _ in planet.progress[3:]}  # as each is done
    assert reported == {A.url: Outcome.OK, B.url: Outcome.NOT_MODIFIED, C.url: Outcome.NOT_MODIFIED}


@pytest.mark.parametrize(
    ("outcome", "error", "status"),
    [
        (Outcome.FAILED, "HTTP 404 Not Found", 404),
        (Outcome.TIMED_OUT, "timed out after 30 s", None),
        (Outcome.UNREACHABLE, "connection refused", None),
        (Outcome.RATE_LIMITED, "HTTP 429 Too Many Requests", 429),
        (Outcome.GONE, "HTTP 410 Gone", 410),
    ],
)
def test_a_failure_is_recorded_with_its_outcome(planet, outcome, error, status):
    planet.web.answers[A.url] = serves(blog("a", 0))
    planet.web.answers[B.url] = fails(outcome, error, status)
    summary = planet.run(A, B)
    assert (summary.ok, summary.failed, summary.new) == (1, 1, 1)
    assert summary.failures == [Failure(B.url, error, outcome)]
    state = planet.storage.feed_state(B.url)
    assert (state.last_error, state.last_outcome, state.failures) == (error, outcome, 1)
    assert state.gone is (outcome is Outcome.GONE)
    assert planet.storage.entries_of(B.url) == []
    assert (B.url, outcome, None) in planet.progress


def test_a_permanent_redirect_is_remembered_and_followed_next_time(planet):
    new = "https://a.example/new-feed"
    planet.web.answers[A.url] = serves(blog("a", 0, 1), moved_to=new)
    planet.web.answers[new] = serves(blog("a", 0, 1, 2))
    first = planet.run(A)
    assert first.moved == [(A.url, new)]
    assert planet.storage.feed_state(A.url).fetch_url == new

    second = planet.run(A, at=NOW + timedelta(hours=1))
    [request] = planet.web.batches[1]
    assert (request.url, request.key) == (new, A.url)  # the new place, for the same blog
    assert (second.new, second.moved) == (1, [])
    assert planet.titles(A.url) == ["a post 0", "a post 1", "a post 2"]


def test_a_body_that_is_not_a_feed_is_a_failure_and_fetched_in_full_next_time(planet):
    page = b"<!DOCTYPE html><html><head><title>A blog</title></head><body>Hi</body></html>"
    planet.web.answers[A.url] = serves(page, etag='"page"')
    summary = planet.run(A)
    assert (summary.ok, summary.failed) == (0, 1)
    # the fetch worked (its outcome is OK); what it brought could not be used
    assert summary.failures == [Failure(A.url, "returned an HTML page, not a feed", Outcome.OK)]
    assert planet.progress == [(A.url, Outcome.OK, "returned an HTML page, not a feed")]
    state = planet.storage.feed_state(A.url)
    assert (state.last_error, state.failures) == ("returned an HTML page, not a feed", 1)

    planet.web.answers[A.url] = serves(blog("a", 0), etag='"feed"')
    again = planet.run(A, at=NOW + timedelta(days=1))
    [request] = planet.web.batches[1]
    assert (request.etag, request.body_hash) == (None, None)  # no validator of the page
    assert (again.ok, again.failed, again.new) == (1, 0, 1)


def test_feeds_that_timed_out_are_started_first_on_the_next_run(planet):
    for s in (A, B, D):
        planet.web.answers[s.url] = serves(blog(s.title, 0))
    planet.web.answers[B.url] = fails(Outcome.FAILED, "HTTP 500 Internal Server Error", 500)
    planet.web.answers[C.url] = fails(Outcome.TIMED_OUT, "timed out after 30 s")
    planet.run(A, B, C, D)
    planet.run(A, B, C, D, at=NOW + timedelta(days=1))
    first, second = ([r.key for r in batch] for batch in planet.web.batches)
    assert first == [A.url, B.url, C.url, D.url]  # the subscription list's order
    assert second == [C.url, A.url, B.url, D.url]  # the one that timed out, then as listed


def test_entries_are_stored_once_across_runs(planet):
    # The same three posts each run, but never the same bytes (as a feed with a build
    # date does), so every run parses them again and finds nothing new.
    bodies = [
        blog("a", 0, 1, 2),
        blog("a", 2, 1, 0),
        blog("a", 0, 1, 2).replace(b"<description>test</description>", b""),
    ]
    counts = []
    for day, body in enumerate(bodies):
        planet.web.answers[A.url] = serves(body)
        summary = planet.run(A, at=NOW + timedelta(days=day))
        counts.append((summary.ok, summary.new, summary.updated))
    assert counts == [(1, 3, 0), (1, 0, 0), (1, 0, 0)]
    assert planet.titles(A.url) == ["a post 0", "a post 1", "a post 2"]
