"""Resource attacks against real local servers: endless bodies, gzip/deflate bombs, a
trickling server, a hung one, thousands of redirects, huge headers. Each is cut within its
deadline and size limit and reported; the healthy feeds of the same run are stored.

Brotli: httpx decodes ``br`` only when the brotli package is installed; it is not in
campplanet's environment and the fetcher neither asks for nor accepts ``br`` (a body sent
with it is refused as an unsupported Content-Encoding, case ``brotli-refused`` below).
"""

from __future__ import annotations

import asyncio
import threading
import time
import tracemalloc

import pytest
from hostile import (
    RawServer,
    bomb,
    compressed,
    double_gzip_bomb,
    endless,
    endless_chunked,
    feed_outline,
    hang,
    healthy_rss,
    huge_headers,
    opml,
    redirect_chain,
    run_planet,
    trickle,
    trickle_headers,
    write_planet,
)

from campplanet.config import FetchSettings
from campplanet.fetch import fetch_feeds
from campplanet.types import FetchRequest, Outcome

TIMEOUT = 2.0
MAX_BYTES = 256 * 1024

# name -> words the reported error must contain
EXPECTED = {
    "endless": "larger than 256 KiB",
    "endless-chunked": "larger than 256 KiB",
    "gzip-bomb": "larger than 256 KiB",
    "deflate-bomb": "larger than 256 KiB",
    "raw-deflate-bomb": "larger than 256 KiB",
    "double-gzip": "unsupported Content-Encoding",
    "brotli-refused": "unsupported Content-Encoding",
    "lying-length": "larger than 256 KiB",
    "trickle-body": "timed out after ",
    "trickle-headers": "timed out after ",
    "hang": "timed out after ",
    "redirect-chain": "too many redirects",
    "redirect-self": "redirect loop",
    "huge-header": "invalid HTTP response",
    "many-headers": "invalid HTTP response",
}


def build(server: RawServer, stop: threading.Event) -> dict[str, str]:
    size = 16 * 1024 * 1024  # 64x max_bytes
    routes = {
        "endless": endless(stop),
        "endless-chunked": endless_chunked(stop),
        "gzip-bomb": compressed(bomb(size, "gzip"), "gzip"),
        "deflate-bomb": compressed(bomb(size, "deflate"), "deflate"),
        "raw-deflate-bomb": compressed(bomb(size, "raw-deflate"), "deflate"),
        "double-gzip": compressed(double_gzip_bomb(size), "gzip, gzip"),
        "brotli-refused": compressed(b"\x1b\x00\x00", "br"),
        "lying-length": compressed(b"x" * 300_000, "identity"),
        "trickle-body": trickle(stop, healthy_rss("slow"), 0.05),
        "trickle-headers": trickle_headers(stop, 0.05),
        "hang": hang(stop),
        "redirect-chain": redirect_chain(server, "/chain"),
        "redirect-self": lambda conn, req: __import__("hostile").respond(
            conn, 302, b"", "text/plain", {"Location": server.url("/redirect-self")}
        ),
        "huge-header": huge_headers(1, 1_000_000),
        "many-headers": huge_headers(20_000, 20),
    }
    urls = {}
    for name, handler in routes.items():
        path = "/chain/0" if name == "redirect-chain" else f"/{name}"
        urls[name] = server.route(path, handler)
    for i in range(3):
        urls[f"healthy-{i}"] = server.serve(f"/healthy/{i}", healthy_rss(f"healthy{i}"))
    return urls


@pytest.fixture(scope="module")
def attacked():
    """Every attack fetched at once by the real fetcher, measuring time and allocations."""
    stop = threading.Event()
    with RawServer() as server:
        urls = build(server, stop)
        settings = FetchSettings(
            timeout=TIMEOUT, max_bytes=MAX_BYTES, allow_private_networks=True, max_redirects=5
        )

        async def go():
            requests = [FetchRequest(url=u) for u in urls.values()]
            return {r.key: r async for r in fetch_feeds(requests, settings, user_agent="t")}

        tracemalloc.start()
        started = time.monotonic()
        results = asyncio.run(go())
        seconds = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        stop.set()
        chain_hits = server.hits()
    return {name: results[url] for name, url in urls.items()}, seconds, peak, chain_hits


@pytest.mark.parametrize("name", list(EXPECTED))
def test_attack_is_cut_and_reported(name, attacked):
    results, _, _, _ = attacked
    result = results[name]
    timed_out = EXPECTED[name].startswith("timed out")
    assert result.outcome is (Outcome.TIMED_OUT if timed_out else Outcome.FAILED), result
    assert EXPECTED[name] in result.error, result.error
    assert result.body is None
    assert result.elapsed < TIMEOUT + 1.0, (name, result.elapsed)


def test_healthy_feeds_of_the_same_batch_succeed(attacked):
    results, _, _, _ = attacked
    for i in range(3):
        assert results[f"healthy-{i}"].outcome is Outcome.OK


def test_the_whole_batch_is_bounded(attacked):
    _, seconds, peak, hits = attacked
    assert seconds < TIMEOUT + 2.0
    assert peak < 64 * 1024 * 1024, f"{peak / 1e6:.0f} MB allocated at peak"
    assert hits < 200  # the redirect chain stopped after max_redirects


@pytest.mark.slow
def test_attacks_through_the_cli_in_bounded_time_and_memory(tmp_path):
    """The real command in a child process: every attack is listed with its reason, the
    healthy feeds are stored, the run takes about one deadline and stays under 300 MB."""
    stop = threading.Event()
    with RawServer() as server:
        urls = build(server, stop)
        write_planet(
            tmp_path,
            opml([feed_outline(name, url) for name, url in urls.items()]),
            timeout=TIMEOUT,
            max_bytes=MAX_BYTES,
        )
        run = run_planet(tmp_path, limit=60)
        stop.set()
    assert run.code == 0, run.output
    assert f"feeds: 3 ok, 0 not modified, {len(EXPECTED)} failed" in run.output
    for name in EXPECTED:
        assert urls[name] in run.stderr
    rows = run.feed_rows()
    for name, words in EXPECTED.items():
        assert words in (rows[urls[name]]["last_error"] or ""), name
    assert run.seconds < TIMEOUT + 10
    assert run.max_rss_kb < 300 * 1024, f"peak RSS {run.max_rss_kb / 1024:.0f} MB"


# --- huge but well-formed feeds: the parse stage --------------------------------------------


@pytest.mark.slow
def test_five_megabyte_title_is_clipped(tmp_path):
    from hostile import Feed, Item

    big = "T" * (5 * 1024 * 1024)
    with RawServer() as server:
        url = server.serve("/big", Feed(title=big, items=[Item(guid="g", title=big)]).rss())
        ok = server.serve("/ok", healthy_rss("ok"))
        write_planet(
            tmp_path, opml([feed_outline("Big", url), feed_outline("Ok", ok)]), max_bytes=20 << 20
        )
        run = run_planet(tmp_path, limit=60)
    assert run.code == 0, run.output
    [entry] = run.entry_rows(url)
    assert len(entry["title"]) <= 300
    assert len(run.entry_rows(ok)) == 3
    assert run.max_rss_kb < 300 * 1024


@pytest.mark.slow
def test_feed_with_100000_entries_is_bounded(tmp_path):
    """100,000 tiny entries (3.7 MB): the run must finish within 10 s and 300 MB."""
    items = "".join(f"<item><guid>g{i}</guid><title>t{i}</title></item>" for i in range(100_000))
    body = f'<rss version="2.0"><channel><title>x</title>{items}</channel></rss>'.encode()
    with RawServer() as server:
        url = server.serve("/many", body)
        ok = server.serve("/ok", healthy_rss("ok"))
        write_planet(
            tmp_path, opml([feed_outline("Many", url), feed_outline("Ok", ok)]), max_bytes=8 << 20
        )
        try:
            run = run_planet(tmp_path, limit=10)
        except Exception as e:  # subprocess.TimeoutExpired
            pytest.fail(f"a 100,000-entry feed kept the run busy for more than 10 s ({e})")
    assert run.code == 0, run.output
    assert len(run.entry_rows(ok)) == 3
    assert run.max_rss_kb < 300 * 1024
