"""Where fetched bodies are parsed: in the run's process for a few, in a pool of worker
processes for many, with bodies waiting for a worker in files rather than in memory."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from campplanet.types import ParsedFeed, ParseFailure
from campplanet.workers import POOL_THRESHOLD, Parser, PoolParser, parser_for
from planetkit import corpus_files

FEEDS = [path for path in corpus_files() if path.parent.name != "broken"][:12]


def parse_all(parser: Parser, bodies: list[bytes]) -> list[ParsedFeed | ParseFailure]:
    async def run():
        jobs = [parser.job(body, "https://example.org/", None, (), 100) for body in bodies]
        return await asyncio.gather(*(parser.parse(job) for job in jobs))

    return asyncio.run(run())


def test_a_few_bodies_are_parsed_in_the_run_and_keep_their_body():
    with parser_for(POOL_THRESHOLD - 1) as parser:
        assert type(parser) is Parser
        job = parser.job(b"<rss/>", "https://example.org/", None, (), 100)
        assert job.body == b"<rss/>" and job.spooled is None


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="a pool needs two cores")
def test_a_pool_parses_spooled_bodies_as_the_run_would_and_leaves_no_file():
    bodies = [path.read_bytes() for path in FEEDS]
    assert len(bodies) >= POOL_THRESHOLD
    in_process = parse_all(Parser(), bodies)
    with parser_for(len(bodies)) as parser:
        assert isinstance(parser, PoolParser)
        job = parser.job(bodies[0], "https://example.org/", None, (), 100)
        assert job.body is None and Path(job.spooled).read_bytes() == bodies[0]
        pooled = parse_all(parser, bodies)
        # each worker deleted the body it parsed; the one never parsed goes with the spool
        assert list(parser.spool.iterdir()) == [Path(job.spooled)]
    assert pooled == in_process
    assert sum(isinstance(r, ParsedFeed) for r in pooled) >= len(bodies) // 2
    # The run's spool is gone (other runs' spools, of tests running beside it, may come and go).
    assert parser.spool.name.startswith("campplanet-bodies-")
    assert not parser.spool.exists()


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="a pool needs two cores")
def test_a_body_whose_file_vanished_costs_its_feed_only():
    with parser_for(POOL_THRESHOLD) as parser:
        lost = parser.job(b"<rss/>", "https://example.org/", None, (), 100)
        Path(lost.spooled).unlink()
        kept = parser.job(FEEDS[0].read_bytes(), "https://example.org/", None, (), 100)

        async def both():
            return await asyncio.gather(parser.parse(lost), parser.parse(kept))

        lost_result, kept_result = asyncio.run(both())
    assert isinstance(lost_result, ParseFailure)
    assert lost_result.reason.startswith("could not read the fetched body back")
    assert isinstance(kept_result, ParsedFeed)


def test_a_spool_with_no_room_keeps_the_body_in_memory(tmp_path):
    full = tmp_path / "not-a-folder"
    full.write_text("")  # writing "not-a-folder/1.body" fails
    parser = PoolParser(pool=None, spool=full)  # type: ignore[arg-type]
    job = parser.job(b"<rss/>", "https://example.org/", None, (), 100)
    assert job.body == b"<rss/>" and job.spooled is None
