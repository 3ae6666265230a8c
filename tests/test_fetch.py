"""The fetcher against real local HTTP servers (tests/httpfarm.py)."""

from __future__ import annotations

import asyncio
import random
import re
import tracemalloc
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from campplanet import __version__, schedule
from campplanet.config import FetchSettings
from campplanet.fetch import (
    allowed_time,
    fetch_feeds,
    fetch_one,
    human_size,
    parse_retry_after,
    seconds_text,
    user_agent,
)
from campplanet.types import FeedState, FetchRequest, FetchResult, Outcome
from httpfarm import Farm, Route, gzip_bomb

UA = "campplanet-test"
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HANG = 30.0  # how long a hung server stays silent: far longer than any deadline here


def settings(**changes) -> FetchSettings:
    values = {"timeout": 1.0, "allow_private_networks": True}
    values.update(changes)
    return FetchSettings(**values)


def fetch_all(
    requests: list[FetchRequest], s: FetchSettings | None = None
) -> dict[str, FetchResult]:
    async def run() -> dict[str, FetchResult]:
        return {r.key: r async for r in fetch_feeds(requests, s or settings(), user_agent=UA)}

    return asyncio.run(run())


def fetch(url: str, **request) -> FetchResult:
    return fetch_all([FetchRequest(url=url, **request)])[url]


@pytest.fixture
def farm():
    with Farm(hosts=4) as f:
        yield f


def test_user_agent_names_version_and_planet():
    assert user_agent("https://planet.example.org/") == (
        f"campplanet/{__version__} (+https://planet.example.org/)"
    )


def test_ok_sends_identity_headers_and_hashes_body(farm):
    url = farm.add("/feed", Route(RSS, etag='"v1"'))
    result = fetch(url)
    assert result.outcome is Outcome.OK and result.status == 200
    assert result.body == RSS and result.etag == '"v1"'
    assert result.content_type.startswith("application/rss+xml")
    import hashlib

    assert result.body_hash == hashlib.sha256(RSS).hexdigest()
    headers = farm.seen[-1].headers
    assert headers["user-agent"] == UA
    assert "application/atom+xml" in headers["accept"]
    assert "application/rss+xml" in headers["accept"]
    assert "if-none-match" not in headers


def test_etag_and_last_modified_round_trip_to_304(farm):
    lm = "Wed, 25 Nov 2026 10:00:00 GMT"
    url = farm.add("/feed", Route(RSS, etag='"v1"', last_modified=lm))
    first = fetch(url)
    state = schedule.record_fetch(FeedState(url=url), first, NOW, random.Random(1))
    assert (state.etag, state.last_modified) == ('"v1"', lm)

    second = fetch(url, etag=state.etag, last_modified=state.last_modified)
    sent = farm.seen[-1].headers
    assert sent["if-none-match"] == '"v1"' and sent["if-modified-since"] == lm
    assert second.outcome is Outcome.NOT_MODIFIED and second.status == 304
    assert second.body is None
    state = schedule.record_fetch(state, second, NOW, random.Random(1))
    assert (state.etag, state.last_modified) == ('"v1"', lm)

    farm.route(url).etag = '"v2"'
    farm.route(url).body = RSS + b" "
    third = fetch(url, etag=state.etag, last_modified=state.last_modified)
    assert third.outcome is Outcome.OK and third.etag == '"v2"'


def test_last_modified_alone_gives_304(farm):
    lm = "Wed, 25 Nov 2026 10:00:00 GMT"
    url = farm.add("/feed", Route(RSS, last_modified=lm))
    assert fetch(url, last_modified=lm).outcome is Outcome.NOT_MODIFIED


def test_identical_body_is_not_modified_without_body(farm):
    url = farm.add("/feed", Route(RSS))
    first = fetch(url)
    again = fetch(url, body_hash=first.body_hash)
    assert again.outcome is Outcome.NOT_MODIFIED and again.body is None
    assert again.body_hash == first.body_hash


def test_permanent_redirect_chain_is_remembered(farm):
    final = farm.add("/new", Route(RSS), host=1)
    middle = farm.add("/middle", Route(status=308, location=final), host=0)
    start = farm.add("/old", Route(status=301, location="/middle"), host=0)
    result = fetch(start)
    assert result.outcome is Outcome.OK
    assert result.final_url == final and result.permanent_url == final
    state = schedule.record_fetch(FeedState(url=start), result, NOW, random.Random(1))
    assert state.fetch_url == final
    assert farm.hits(middle) == 1


def test_temporary_redirect_changes_nothing(farm):
    final = farm.add("/new", Route(RSS))
    start = farm.add("/old", Route(status=302, location=final))
    result = fetch(start)
    assert result.outcome is Outcome.OK and result.final_url == final
    assert result.permanent_url is None
    state = schedule.record_fetch(FeedState(url=start), result, NOW, random.Random(1))
    assert state.fetch_url is None


def test_permanent_then_temporary_remembers_only_the_permanent_part(farm):
    final = farm.add("/final", Route(RSS))
    moved = farm.add("/moved", Route(status=307, location=final))
    start = farm.add("/old", Route(status=301, location=moved))
    result = fetch(start)
    assert result.final_url == final and result.permanent_url == moved


def test_gone(farm):
    url = farm.add("/feed", Route(b"gone", status=410))
    result = fetch(url)
    assert result.outcome is Outcome.GONE and result.error == "HTTP 410 Gone"
    state = schedule.record_fetch(FeedState(url=url), result, NOW, random.Random(1))
    assert state.gone and not schedule.is_due(state, NOW + timedelta(days=365))


def test_rate_limited_with_retry_after_is_honoured(farm):
    url = farm.add("/feed", Route(b"slow down", status=429, retry_after="3600"))
    before = datetime.now(UTC)
    result = fetch(url)
    assert result.outcome is Outcome.RATE_LIMITED and result.status == 429
    assert result.error == "HTTP 429 Too Many Requests"
    assert before + timedelta(seconds=3590) < result.retry_after < before + timedelta(hours=2)
    state = schedule.record_fetch(FeedState(url=url), result, before, random.Random(1))
    assert state.next_attempt == result.retry_after
    assert not schedule.is_due(state, before + timedelta(minutes=59))


def test_503_with_http_date_retry_after(farm):
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    url = farm.add("/feed", Route(b"", status=503, retry_after=format_datetime(when, True)))
    result = fetch(url)
    assert result.outcome is Outcome.RATE_LIMITED and result.retry_after == when


def test_http_error_is_named(farm):
    result = fetch(farm.url("/missing"))
    assert result.outcome is Outcome.FAILED and result.status == 404
    assert result.error == "HTTP 404 Not Found"


def test_redirect_loop(farm):
    a = farm.url("/a")
    farm.add("/a", Route(status=302, location="/b"))
    farm.add("/b", Route(status=302, location=a))
    result = fetch(a)
    assert result.outcome is Outcome.FAILED and result.error == "redirect loop"


def test_too_many_redirects(farm):
    for i in range(7):
        farm.add(f"/r{i}", Route(status=302, location=f"/r{i + 1}"))
    farm.add("/r7", Route(RSS))
    result = fetch(farm.url("/r0"))
    assert result.error == "too many redirects (more than 5)"
    assert farm.hits(farm.url("/r5")) == 1 and farm.hits(farm.url("/r6")) == 0


def test_redirect_to_other_scheme_is_refused(farm):
    url = farm.add("/feed", Route(status=301, location="file:///etc/passwd"))
    result = fetch(url)
    assert result.outcome is Outcome.FAILED
    assert "file: URLs are not fetched" in result.error


def test_hung_server_is_cut_at_the_deadline(farm):
    url = farm.add("/feed", Route(hang=HANG))
    result = fetch(url)
    assert result.outcome is Outcome.TIMED_OUT and result.error == "timed out after 1 s"
    assert honest_timeout(result) == 1
    assert farm.ended(url) == ["client left"]  # cut while the server was still silent
    # ... and the next run starts it first (schedule.fetch_order_key)
    state = schedule.record_fetch(FeedState(url=url), result, NOW, random.Random(1))
    assert schedule.timed_out_last(state)


def test_trickling_server_is_cut_at_the_deadline(farm):
    url = farm.add("/feed", Route(RSS * 10, trickle=0.05))  # 40 s for the whole body
    result = fetch(url)
    assert result.error == "timed out after 1 s" and result.body is None
    assert honest_timeout(result) == 1
    assert farm.hits(url) == 1
    assert farm.ended(url) == ["client left"]  # cut while the server was still sending


def test_slow_but_within_deadline_succeeds(farm):
    url = farm.add("/feed", Route(RSS, latency=0.5))
    assert fetch(url).outcome is Outcome.OK


def test_oversized_body_is_cut(farm):
    url = farm.add("/feed", Route(b"x" * 5000))
    result = fetch_all([FetchRequest(url)], settings(max_bytes=4096))[url]
    assert result.outcome is Outcome.FAILED and result.error == "response larger than 4 KiB"


def test_oversized_body_without_length_is_cut(farm):
    url = farm.add("/feed", Route(b"x" * 50_000, chunked=True))
    result = fetch_all([FetchRequest(url)], settings(max_bytes=4096))[url]
    assert result.outcome is Outcome.FAILED and result.error == "response larger than 4 KiB"
    farm.route(url).body = b"x" * 4000
    assert fetch_all([FetchRequest(url)], settings(max_bytes=4096))[url].body == b"x" * 4000


def test_gzip_body_is_decoded(farm):
    url = farm.add("/feed", Route(RSS, gzip=True))
    result = fetch(url)
    assert result.outcome is Outcome.OK and result.body == RSS
    assert "gzip" in farm.seen[-1].headers["accept-encoding"]


def test_gzip_bomb_is_cut_after_max_bytes(farm):
    url = farm.add("/bomb", gzip_bomb(200 * 1024 * 1024))
    tracemalloc.start()
    try:
        result = fetch_all([FetchRequest(url)], settings(max_bytes=1024 * 1024, timeout=5))[url]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.outcome is Outcome.FAILED and result.error == "response larger than 1 MiB"
    # Inflating stopped at the limit: a few MiB at most were ever held, not 200.
    assert peak < 16 * 1024 * 1024, f"{peak / 2**20:.0f} MiB allocated at peak"


def test_a_body_is_not_kept_once_its_result_is_handed_over(farm):
    """A run hands each body to its parser and keeps none: 60 feeds of 256 KiB fetched
    together must not all be in memory by the time the last one is handed over."""
    body = RSS + b"<!--" + b"x" * (256 * 1024) + b"-->"
    urls = [farm.add(f"/big{n}", Route(body), host=n % 4) for n in range(60)]
    requests = [FetchRequest(url) for url in urls]

    async def run() -> tuple[int, int]:
        handed_over, held = 0, 0
        tracemalloc.start()
        try:
            async for result in fetch_feeds(requests, settings(timeout=10), user_agent=UA):
                assert result.body == body
                handed_over += 1
                del result  # the consumer lets go of each body, as a run does
                if handed_over == len(requests):
                    held = tracemalloc.get_traced_memory()[0]
            return handed_over, held
        finally:
            tracemalloc.stop()

    handed_over, held = asyncio.run(run())
    assert handed_over == 60
    # Measured with the last body handed over: kept, the bodies would be 15 MiB.
    assert held < 4 * 1024 * 1024, f"{held / 2**20:.1f} MiB still held"


def test_deflate_zlib_and_raw(farm):
    import zlib

    wrapped = farm.add("/z", Route(zlib.compress(RSS), headers={"Content-Encoding": "deflate"}))
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    raw_body = raw.compress(RSS) + raw.flush()
    bare = farm.add("/r", Route(raw_body, headers={"Content-Encoding": "deflate"}))
    assert fetch(wrapped).body == RSS
    assert fetch(bare).body == RSS


def test_corrupt_gzip_is_a_clear_failure(farm):
    url = farm.add("/feed", Route(b"not gzip at all", headers={"Content-Encoding": "gzip"}))
    result = fetch(url)
    assert result.outcome is Outcome.FAILED
    assert result.error.startswith("the compressed body is corrupt")


def test_private_address_refused_by_default_and_allowed_by_flag(farm):
    url = farm.add("/feed", Route(RSS))
    refused = fetch_all([FetchRequest(url)], settings(allow_private_networks=False))[url]
    assert refused.outcome is Outcome.FAILED
    assert refused.error == (
        f"refused: {farm.address(0)} is a loopback address "
        "(set fetch.allow_private_networks to allow it)"
    )
    assert farm.hits(url) == 0
    assert fetch(url).outcome is Outcome.OK


def test_host_names_are_checked_on_the_resolved_address():
    """The network backend resolves the name and checks the address it connects to."""
    from campplanet.fetch import AddressRefused, GuardedBackend

    farm = Farm(addresses=["127.0.0.1"]).start()
    port = farm.ports["127.0.0.1"]

    async def connect(allow_private: bool) -> None:
        stream = await GuardedBackend(allow_private).connect_tcp("localhost", port)
        await stream.aclose()

    with pytest.raises(AddressRefused, match=r"^refused: 127\.0\.0\.1 is a loopback address"):
        asyncio.run(connect(False))
    asyncio.run(connect(True))
    farm.stop()


def test_non_http_scheme_refused():
    for url, scheme in (("ftp://example.org/feed", "ftp"), ("file:///etc/passwd", "file")):
        result = fetch_all([FetchRequest(url)])[url]
        assert result.outcome is Outcome.FAILED
        assert result.error == f"refused: {scheme}: URLs are not fetched (only http and https)"


def test_connection_refused_and_dns_failure():
    results = fetch_all(
        [FetchRequest("http://127.0.0.1:1/feed"), FetchRequest("http://no-such-host.invalid/")]
    )
    assert results["http://127.0.0.1:1/feed"].error == "connection refused"
    assert results["http://no-such-host.invalid/"].error == (
        "DNS lookup failed for no-such-host.invalid"
    )


def test_iri_spaces_ampersands_and_fragments_are_encoded(farm):
    farm.add("/bl%C3%B6g/feed%20x?a=1&b=2", Route(RSS))
    url = farm.base(0) + "/blög/feed x?a=1&b=2#top"
    result = fetch(url)
    assert result.outcome is Outcome.OK
    assert farm.seen[-1].path == "/bl%C3%B6g/feed%20x?a=1&b=2"
    assert result.key == url


def test_one_failing_feed_does_not_affect_the_others(farm):
    good = [farm.add(f"/ok{i}", Route(RSS, latency=0.05), host=i % 4) for i in range(12)]
    bad = [
        farm.add("/hung", Route(hang=HANG), host=0),
        farm.add("/404", Route(status=404), host=1),
        farm.add("/bomb", gzip_bomb(20 * 1024 * 1024), host=2),
        "ftp://example.org/x",
        "http://127.0.0.1:1/",
    ]
    results = fetch_all([FetchRequest(u) for u in good + bad], settings(max_bytes=1 << 20))
    assert len(results) == len(good) + len(bad)
    assert all(results[u].outcome is Outcome.OK for u in good)
    assert [results[u].outcome for u in bad] == [
        Outcome.TIMED_OUT,
        Outcome.FAILED,
        Outcome.FAILED,
        Outcome.FAILED,
        Outcome.UNREACHABLE,
    ]


def test_per_host_limit_is_honoured(farm):
    urls = [farm.add(f"/f{i}", Route(RSS, latency=0.1), host=0) for i in range(12)]
    urls += [farm.add(f"/g{i}", Route(RSS, latency=0.1), host=1) for i in range(12)]
    results = fetch_all([FetchRequest(u) for u in urls], settings(per_host=3, concurrency=20))
    assert all(r.outcome is Outcome.OK for r in results.values())
    assert farm.peak_active[farm.address(0)] == 3
    assert farm.peak_active[farm.address(1)] == 3
    # keep-alive: connections are reused across feeds of one host
    assert farm.connections[farm.address(0)] <= 3


def test_global_concurrency_limit_is_honoured(farm):
    urls = [farm.add(f"/f{i}", Route(RSS, latency=0.1), host=i % 4) for i in range(24)]
    fetch_all([FetchRequest(u) for u in urls], settings(per_host=10, concurrency=2))
    assert sum(farm.peak_active[a] for a in farm.addresses) <= 4  # peaks may not coincide
    assert max(farm.peak_active[a] for a in farm.addresses) <= 2


def test_many_hung_feeds_cost_about_one_deadline():
    """100 hung feeds in 20 slots would take 5 deadlines if each kept its slot until cut; a
    hung feed parks its slot after ``slow_after`` (0.2 s here) and runs out its deadline
    beside the others, so they all wait at once, about one deadline in all."""
    with Farm(hosts=25) as farm:
        hung = [farm.add(f"/h{i}", Route(hang=HANG), host=i % 25) for i in range(100)]
        good = [farm.add(f"/ok{i}", Route(RSS, latency=0.02), host=i % 25) for i in range(50)]
        results = fetch_all([FetchRequest(u) for u in hung + good], settings(concurrency=20))
        ended = [how for url in hung for how in farm.ended(url)]
    assert all(results[u].outcome is Outcome.OK for u in good)
    # Each hung feed had the batch's deadline (never more than the timeout, never less than
    # half of it) and was cut by the fetcher, none waited out.
    said = [honest_timeout(results[u]) for u in hung]
    assert all(0.5 <= s <= 1 for s in said), said
    assert ended == ["client left"] * 100
    # Parked feeds gave their slots away: far more hung requests were waiting at once than
    # there are slots (with each keeping its slot, never more than 20).
    assert farm.peak_in_flight > 2 * 20, farm.peak_in_flight


def honest_timeout(result: FetchResult) -> float:
    """The seconds a "timed out after N s" error names. The feed had at least that long
    (give or take the rounding of the message): it is never cut early. How late it may be
    cut on a busy machine is not measured, only that it was well before the server gave up.
    """
    match = re.fullmatch(r"timed out after (\d+(?:\.\d)?) s", result.error or "")
    assert match, result.error
    said = float(match.group(1))
    assert result.elapsed >= said - 0.06, (said, result.elapsed)
    assert result.elapsed < HANG / 2, (said, result.elapsed)
    return said


@pytest.mark.parametrize(
    ("waited", "allowed"),
    [
        (0.0, 30.0),  # started with the batch: the whole timeout
        (6.0, 24.0),  # queued 6 s: still ends with the batch deadline
        (15.0, 15.0),  # half-way: the two caps meet
        (20.0, 15.0),  # late in a long batch: at least half the timeout
        (600.0, 15.0),
        (-1.0, 30.0),  # never more than the timeout
    ],
)
def test_allowed_time_caps_at_the_batch_deadline_but_not_below_half(waited, allowed):
    assert allowed_time(30.0, 1000.0 + waited, 1000.0) == pytest.approx(allowed)


def test_allowed_time_without_a_batch_is_the_timeout():
    assert allowed_time(30.0, 1e6, None) == 30.0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (30.0, "30"),
        (29.96, "30"),
        (24.4, "24"),
        (15.0, "15"),
        (9.96, "10"),
        (2.5, "2.5"),
        (0.999, "1"),
        (0.84, "0.8"),
        (1.0, "1"),
    ],
)
def test_seconds_text(seconds, text):
    assert seconds_text(seconds) == text


def test_hung_feeds_queued_behind_others_end_with_the_batch_deadline():
    # One slot: the fast feeds go one by one, the hung ones start 0.4-0.9 s in (a hung feed
    # parks its slot after 0.4 s). With only per-feed deadlines each would have 2 s.
    with Farm(hosts=2) as farm:
        fast = [farm.add(f"/ok{i}", Route(RSS, latency=0.1), host=i % 2) for i in range(4)]
        hung = [farm.add(f"/h{i}", Route(hang=HANG), host=i % 2) for i in range(2)]
        results = fetch_all(
            [FetchRequest(u) for u in fast + hung], settings(timeout=2.0, concurrency=1)
        )
        started = [r.path for r in farm.seen]
    assert started == ["/ok0", "/ok1", "/ok2", "/ok3", "/h0", "/h1"]  # queued behind them
    assert all(results[u].outcome is Outcome.OK for u in fast)
    assert all(results[u].outcome is Outcome.TIMED_OUT for u in hung)
    said = [honest_timeout(results[u]) for u in hung]
    assert all(1.0 <= s <= 1.7 for s in said), said  # less than 2 s: they started late


def test_a_feed_started_late_in_a_long_batch_gets_half_the_timeout():
    # One slot, fast feeds ahead, each parking it after 0.4 s: the slow feed starts 1.6 s
    # in and, needing 0.6 s, still succeeds although it ends after batch start + timeout
    # (it has half the timeout, not the 0.4 s left); the hung one behind it gets 1 s, not 0.
    with Farm(hosts=1) as farm:
        fast = [farm.add(f"/ok{i}", Route(RSS, latency=0.5)) for i in range(4)]
        slow = farm.add("/slow", Route(RSS, latency=0.6))
        hung = farm.add("/hung", Route(hang=HANG))
        results = fetch_all(
            [FetchRequest(u) for u in [*fast, slow, hung]], settings(timeout=2.0, concurrency=1)
        )
        started = [r.path for r in farm.seen]
    assert started == ["/ok0", "/ok1", "/ok2", "/ok3", "/slow", "/hung"]
    assert all(results[u].outcome is Outcome.OK for u in [*fast, slow])
    assert results[hung].error == "timed out after 1 s"
    assert honest_timeout(results[hung]) == 1


def test_fetch_one_gets_the_whole_timeout(farm):
    url = farm.add("/feed", Route(hang=HANG))
    result = fetch_one(url, settings(timeout=1.5), user_agent=UA)
    assert result.error == "timed out after 1.5 s"
    assert honest_timeout(result) == 1.5
    assert farm.ended(url) == ["client left"]


def test_results_arrive_as_they_complete(farm):
    slow = farm.add("/slow", Route(RSS, latency=0.6))
    fast = farm.add("/fast", Route(RSS))

    async def run() -> list[str]:
        return [
            r.key
            async for r in fetch_feeds(
                [FetchRequest(slow), FetchRequest(fast)], settings(), user_agent=UA
            )
        ]

    assert asyncio.run(run()) == [fast, slow]


def test_fetch_one_with_accept_for_html_pages(farm):
    url = farm.add("/", Route(b"<html></html>", content_type="text/html"))
    result = fetch_one(url, settings(), user_agent=UA, accept="text/html")
    assert result.outcome is Outcome.OK and result.body == b"<html></html>"
    assert farm.seen[-1].headers["accept"] == "text/html"


def test_fetch_feeds_with_nothing_to_do():
    assert fetch_all([]) == {}


def test_parse_retry_after_forms():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("120", now) == now + timedelta(seconds=120)
    assert parse_retry_after("Thu, 01 Jan 2026 01:00:00 GMT", now) == now + timedelta(hours=1)
    assert parse_retry_after("Wed, 31 Dec 2025 01:00:00 GMT", now) == now  # past: now
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_human_size():
    assert human_size(10 * 1024 * 1024) == "10 MiB"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(100) == "100 bytes"


def test_keep_alive_survives_304s_redirects_and_error_pages(farm):
    urls = [farm.add(f"/nm{i}", Route(RSS, etag='"e"')) for i in range(6)]
    urls += [farm.add(f"/r{i}", Route(status=302, location=f"/nm{i}")) for i in range(6)]
    urls += [farm.add(f"/e{i}", Route(b"oops" * 100, status=500)) for i in range(6)]
    results = fetch_all([FetchRequest(u, etag='"e"') for u in urls], settings(per_host=2))
    assert [r.outcome for r in results.values()].count(Outcome.NOT_MODIFIED) == 12
    assert farm.connections[farm.address(0)] <= 2


def test_a_hosts_connections_close_when_its_feeds_are_done(farm):
    from campplanet.fetch import Fetcher

    fast = [farm.add(f"/f{i}", Route(RSS), host=0) for i in range(3)]
    slow = farm.add("/slow", Route(RSS, latency=0.5), host=1)

    async def run() -> tuple[set[str], set[str]]:
        async with Fetcher(settings(), user_agent=UA) as f:
            for url in [*fast, slow]:
                f.pools.hold(farm.address(0) if url in fast else farm.address(1))
            tasks = [asyncio.create_task(f.fetch(FetchRequest(u), held=True)) for u in fast]
            slow_task = asyncio.create_task(f.fetch(FetchRequest(slow), held=True))
            await asyncio.gather(*tasks)
            during = set(f.pools.pools)
            await slow_task
            return during, set(f.pools.pools)

    during, after = asyncio.run(run())
    assert during == {farm.address(1)}  # host 0 is done: its pool is closed
    assert after == set()


def test_content_location_is_resolved_against_the_final_url(farm):
    final = farm.add(
        "/blog/feeds/atom", Route(RSS, headers={"Content-Location": "../archive/feed.xml"}), host=1
    )
    start = farm.add(
        "/old", Route(status=301, location=final, headers={"Content-Location": "/wrong"})
    )
    result = fetch(start)
    assert result.outcome is Outcome.OK and result.final_url == final
    assert result.content_location == farm.base(1) + "/blog/archive/feed.xml"

    route = farm.route(final)
    for value, expected in [
        ("https://blog.example.org/feed.xml", "https://blog.example.org/feed.xml"),
        ("//mirror.example.org/f", "http://mirror.example.org/f"),
        ("javascript:alert(1)", None),
        ("mailto:me@example.org", None),
        ("http://[::1/", None),
        ("   ", None),
    ]:
        route.headers["Content-Location"] = value
        assert fetch(final).content_location == expected, value
    del route.headers["Content-Location"]
    assert fetch(final).content_location is None


def test_transport_raises_httpx_errors(farm):
    """httpcore's exceptions reach the caller as httpx's, the httpcore one as the cause."""
    import httpcore
    import httpx

    from campplanet.fetch import Fetcher

    hung = farm.add("/hung", Route(hang=0.05))

    async def run(url: str) -> BaseException:
        async with Fetcher(settings(), user_agent=UA) as f:
            with pytest.raises(httpx.HTTPError) as caught:
                await f.client.get(url)
            return caught.value

    refused = asyncio.run(run("http://127.0.0.1:1/"))
    assert isinstance(refused, httpx.ConnectError)
    assert isinstance(refused.__cause__, httpcore.ConnectError)
    closed = asyncio.run(run(hung))
    assert isinstance(closed, httpx.RemoteProtocolError)
    assert isinstance(closed.__cause__, httpcore.RemoteProtocolError)


# -- TLS ---------------------------------------------------------------------------------------


def make_certificate(folder, san: str) -> tuple[str, str]:
    """A self-signed certificate and key for ``san`` (e.g. "IP:127.0.1.1"), made by openssl."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=campplanet test",
         "-addext", f"subjectAltName={san}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def tls_farm(cert: str, key: str) -> Farm:
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return Farm(tls=context)


def fetch_trusting(url: str, cert: str | None) -> FetchResult:
    from campplanet.fetch import Fetcher

    async def run() -> FetchResult:
        async with Fetcher(settings(), user_agent=UA) as f:
            if cert:
                f.pools.ssl_context.load_verify_locations(cert)
            return await f.fetch(FetchRequest(url))

    return asyncio.run(run())


def test_tls_verifies_the_url_host_through_the_guarded_connection(tmp_path):
    cert, key = make_certificate(tmp_path, "IP:127.0.1.1")
    with tls_farm(cert, key) as farm:
        url = farm.add("/feed", Route(RSS))
        assert url.startswith("https://127.0.1.1:")
        untrusted = fetch_trusting(url, None)
        assert untrusted.outcome is Outcome.FAILED
        assert untrusted.error == "TLS certificate is self-signed"
        trusted = fetch_trusting(url, cert)
        assert trusted.outcome is Outcome.OK and trusted.body == RSS


def test_tls_certificate_for_another_host(tmp_path):
    cert, key = make_certificate(tmp_path, "DNS:blog.example.org")
    with tls_farm(cert, key) as farm:
        result = fetch_trusting(farm.add("/feed", Route(RSS)), cert)
    assert result.error == "TLS certificate is for another host name"


@pytest.mark.parametrize(
    ("verify_message", "error"),
    [
        ("certificate has expired", "TLS certificate expired"),
        ("certificate is not yet valid", "TLS certificate is not yet valid"),
        ("self-signed certificate in certificate chain", "TLS certificate is self-signed"),
        ("unable to get local issuer certificate", "TLS certificate is from an unknown authority"),
        ("certificate revoked", "TLS certificate not accepted (certificate revoked)"),
    ],
)
def test_certificate_errors_are_named(verify_message, error):
    import ssl

    import httpx

    from campplanet.fetch import describe_error

    cause = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED]")
    cause.verify_message = verify_message
    try:
        try:
            raise cause
        except ssl.SSLError as e:
            raise httpx.ConnectError(str(e)) from e
    except httpx.ConnectError as wrapped:
        assert describe_error(wrapped) == error


def test_server_closing_without_an_answer(farm):
    url = farm.add("/feed", Route(hang=0.05))
    result = fetch(url)
    assert result.outcome is Outcome.FAILED
    assert result.error == "the server closed the connection without a complete response"


def test_resolved_addresses_ipv4_first_and_literals_as_given():
    from campplanet.fetch import resolve

    assert asyncio.run(resolve("127.0.3.4", 80)) == ["127.0.3.4"]
    assert asyncio.run(resolve("[::1]", 80)) == ["::1"]
    addresses = asyncio.run(resolve("localhost", 80))
    assert "127.0.0.1" in addresses
    assert addresses == sorted(addresses, key=lambda ip: ":" in ip)
