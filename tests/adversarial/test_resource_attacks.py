"""Resource attacks against real local servers: endless bodies, gzip/deflate bombs, a
trickling server, a hung one, thousands of redirects, huge headers. Each is cut at its
deadline or size limit, while its server is still sending or hanging, and reported; the
healthy feeds of the same run are stored.

Brotli: httpx decodes ``br`` only when the brotli package is installed; it is not in
campplanet's environment and the fetcher neither asks for nor accepts ``br`` (a body sent
with it is refused as an unsupported Content-Encoding, case ``brotli-refused`` below).
"""

from __future__ import annotations

import asyncio
import re
import tracemalloc

import pytest
from hostile import (
    bomb,
    compressed,
    double_gzip_bomb,
    endless,
    endless_chunked,
    healthy_rss,
    huge_headers,
    redirect_chain,
    run_planet,
    trickle_headers,
    write_planet,
)

from campplanet.config import FetchSettings
from campplanet.fetch import fetch_feeds
from campplanet.types import FetchRequest, Outcome
from httpfarm import Farm, Route
from planetkit import opml_document, outline

TIMEOUT = 2.0
MAX_BYTES = 256 * 1024
HANG = 120.0  # the hung server's silence: longer than any run here may take

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
# The attacks whose server never stops on its own (for ``HANG`` seconds, or 1 GiB): the
# client must have cut them.
ENDLESS = ["endless", "endless-chunked", "trickle-body", "trickle-headers", "hang"]


def build(farm: Farm) -> dict[str, str]:
    size = 16 * 1024 * 1024  # 64x max_bytes
    routes = {
        "endless": endless(),
        "endless-chunked": endless_chunked(),
        "gzip-bomb": compressed(bomb(size, "gzip"), "gzip"),
        "deflate-bomb": compressed(bomb(size, "deflate"), "deflate"),
        "raw-deflate-bomb": compressed(bomb(size, "raw-deflate"), "deflate"),
        "double-gzip": compressed(double_gzip_bomb(size), "gzip, gzip"),
        "brotli-refused": compressed(b"\x1b\x00\x00", "br"),
        "lying-length": compressed(b"x" * 300_000, "identity"),
        "trickle-body": Route(healthy_rss("slow"), content_type="application/xml", trickle=0.05),
        "trickle-headers": trickle_headers(0.05),
        "hang": Route(hang=HANG),
        "redirect-chain": redirect_chain(farm, "/chain"),
        "redirect-self": Route(status=302, location=farm.url("/redirect-self")),
        "huge-header": huge_headers(1, 1_000_000),
        "many-headers": huge_headers(20_000, 20),
    }
    urls = {}
    for name, route in routes.items():
        path = "/chain/0" if name == "redirect-chain" else f"/{name}"
        urls[name] = farm.add(path, route)
    for i in range(3):
        urls[f"healthy-{i}"] = farm.serve(f"/healthy/{i}", healthy_rss(f"healthy{i}"))
    return urls


@pytest.fixture(scope="module")
def attacked():
    """Every attack fetched at once by the real fetcher, measuring allocations; and how the
    farm saw each endless attack end."""
    with Farm(addresses=["127.0.0.1"]) as farm:
        urls = build(farm)
        settings = FetchSettings(
            timeout=TIMEOUT, max_bytes=MAX_BYTES, allow_private_networks=True, max_redirects=5
        )

        async def go():
            requests = [FetchRequest(url=u) for u in urls.values()]
            return {r.key: r async for r in fetch_feeds(requests, settings, user_agent="t")}

        tracemalloc.start()
        results = asyncio.run(go())
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        ended = {name: farm.ended(urls[name]) for name in ENDLESS}
        hits = farm.hits()
    return {name: results[url] for name, url in urls.items()}, peak, hits, ended


@pytest.mark.parametrize("name", list(EXPECTED))
def test_attack_is_cut_and_reported(name, attacked):
    results, _, _, ended = attacked
    result = results[name]
    timed_out = EXPECTED[name].startswith("timed out")
    assert result.outcome is (Outcome.TIMED_OUT if timed_out else Outcome.FAILED), result
    assert EXPECTED[name] in result.error, result.error
    if timed_out:  # it names the deadline it had: the batch's (see fetch.allowed_time)
        said = float(re.fullmatch(r"timed out after (\d+(?:\.\d)?) s", result.error)[1])
        assert TIMEOUT / 2 <= said <= TIMEOUT, result.error
    assert result.body is None
    if name in ENDLESS:  # cut by the fetcher while the server was still going
        assert ended[name] == ["client left"], ended[name]
    assert result.elapsed < HANG / 4, (name, result.elapsed)  # nowhere near the hang


def test_healthy_feeds_of_the_same_batch_succeed(attacked):
    results, _, _, _ = attacked
    for i in range(3):
        assert results[f"healthy-{i}"].outcome is Outcome.OK


def test_the_whole_batch_is_bounded(attacked):
    _, peak, hits, ended = attacked
    assert all(how == ["client left"] for how in ended.values()), ended
    assert peak < 64 * 1024 * 1024, f"{peak / 1e6:.0f} MB allocated at peak"
    assert hits < 200  # the redirect chain stopped after max_redirects


@pytest.mark.slow
def test_attacks_through_the_cli_in_bounded_time_and_memory(tmp_path):
    """The real command in a child process: every attack is listed with its reason, the
    healthy feeds are stored, the run cuts every endless attack (it is over while their
    servers still send or hang) and stays under 300 MB."""
    with Farm(addresses=["127.0.0.1"]) as farm:
        urls = build(farm)
        write_planet(
            tmp_path,
            opml_document([outline(name, url) for name, url in urls.items()]),
            timeout=TIMEOUT,
            max_bytes=MAX_BYTES,
        )
        run = run_planet(tmp_path, limit=HANG / 2)
        ended = {name: farm.ended(urls[name]) for name in ENDLESS}
    assert all(how == ["client left"] for how in ended.values()), ended
    assert run.code == 0, run.output
    assert f"feeds: 3 ok, 0 not modified, {len(EXPECTED)} failed" in run.output
    for name in EXPECTED:
        assert urls[name] in run.stderr
    rows = run.feed_rows()
    for name, words in EXPECTED.items():
        assert words in (rows[urls[name]]["last_error"] or ""), name
    assert run.max_rss_kb < 300 * 1024, f"peak RSS {run.max_rss_kb / 1024:.0f} MB"


# --- huge but well-formed feeds: the parse stage --------------------------------------------


@pytest.mark.slow
def test_five_megabyte_title_is_clipped(tmp_path):
    from hostile import Feed, Item

    big = "T" * (5 * 1024 * 1024)
    with Farm(addresses=["127.0.0.1"]) as farm:
        url = farm.serve("/big", Feed(title=big, items=[Item(guid="g", title=big)]).rss())
        ok = farm.serve("/ok", healthy_rss("ok"))
        write_planet(
            tmp_path, opml_document([outline("Big", url), outline("Ok", ok)]), max_bytes=20 << 20
        )
        run = run_planet(tmp_path, limit=60)
    assert run.code == 0, run.output
    [entry] = run.entry_rows(url)
    assert len(entry["title"]) <= 300
    assert len(run.entry_rows(ok)) == 3
    assert run.max_rss_kb < 300 * 1024


@pytest.mark.slow
def test_feed_with_100000_entries_is_bounded(tmp_path):
    """100,000 tiny entries (3.7 MB): the run reads only the newest ``fetch.max_entries``
    of them, says so, and stays under 300 MB; it finishes well within a minute (a parse
    costing time quadratic in the entries would take hours)."""
    items = "".join(f"<item><guid>g{i}</guid><title>t{i}</title></item>" for i in range(100_000))
    body = f'<rss version="2.0"><channel><title>x</title>{items}</channel></rss>'.encode()
    with Farm(addresses=["127.0.0.1"]) as farm:
        url = farm.serve("/many", body)
        ok = farm.serve("/ok", healthy_rss("ok"))
        write_planet(
            tmp_path, opml_document([outline("Many", url), outline("Ok", ok)]), max_bytes=8 << 20
        )
        try:
            run = run_planet(tmp_path, limit=60)
        except Exception as e:  # subprocess.TimeoutExpired
            pytest.fail(f"a 100,000-entry feed kept the run busy for more than 60 s ({e})")
    assert run.code == 0, run.output
    read = FetchSettings().max_entries
    assert len(run.entry_rows(url)) == read
    problem = run.feed_rows()[url]["problem"]
    assert problem.endswith(f" entries; only the newest {read} were read"), problem
    assert len(run.entry_rows(ok)) == 3
    assert run.max_rss_kb < 300 * 1024
