"""Parse throughput over the feed corpus, and what switching feedparser's sanitizer off gains.

    python benchmarks/bench_parse.py [--runs N] [--corpus DIR]

Modes, each timed over every file of the corpus (files that raise ParseError included, since
a planet pays for them too), median of N runs:

* ``campplanet``: parse_feed as shipped: feedparser with its sanitizer and relative-URI
  rewriting off, nh3 sanitizing once and resolving URLs.
* ``double``: the same parse_feed, but feedparser left at its defaults (its own sanitizer and
  URI resolution on) before nh3: sanitizing twice.
* ``feedparser-only (off)`` / ``feedparser-only (defaults)``: bare feedparser.parse, to show
  where the time goes.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import feedparser

from campplanet import parse as parse_module
from campplanet.parse import ParseError, parse_feed

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "feeds"
_REAL_PARSE = feedparser.parse


def load(corpus: Path) -> list[tuple[str, bytes]]:
    files = sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix != ".expect")
    return [(f"https://corpus.example/{p.relative_to(corpus)}", p.read_bytes()) for p in files]


def run_campplanet(docs: list[tuple[str, bytes]]) -> int:
    entries = 0
    for url, body in docs:
        with contextlib.suppress(ParseError):
            entries += len(parse_feed(body, url).entries)
    return entries


def run_double(docs: list[tuple[str, bytes]]) -> int:
    """parse_feed with feedparser's own sanitizer and URI resolution forced back on."""

    @functools.wraps(_REAL_PARSE)
    def defaults(*args, **kwargs):
        kwargs["sanitize_html"] = True
        kwargs["resolve_relative_uris"] = True
        return _REAL_PARSE(*args, **kwargs)

    parse_module.feedparser.parse = defaults
    try:
        return run_campplanet(docs)
    finally:
        parse_module.feedparser.parse = _REAL_PARSE


def _bare(docs: list[tuple[str, bytes]], sanitize: bool) -> int:
    entries = 0
    for url, body in docs:
        result = _REAL_PARSE(
            parse_module._prepare(body.strip() or b" ", None)[0],
            response_headers={
                "content-location": url,
                "content-type": "application/xml; charset=utf-8",
            },
            sanitize_html=sanitize,
            resolve_relative_uris=sanitize,
        )
        entries += len(result.entries)
    return entries


MODES: dict[str, Callable[[list[tuple[str, bytes]]], int]] = {
    "campplanet": run_campplanet,
    "double": run_double,
    "feedparser-only (off)": functools.partial(_bare, sanitize=False),
    "feedparser-only (defaults)": functools.partial(_bare, sanitize=True),
}


def measure(
    fn: Callable[[list[tuple[str, bytes]]], int], docs, runs: int
) -> tuple[float, float, int]:
    """Median wall-clock and CPU seconds (CPU time is steadier on a busy machine)."""
    wall, cpu = [], []
    entries = 0
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        entries = fn(docs)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu), entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    docs = load(args.corpus)
    megabytes = sum(len(b) for _, b in docs) / 1e6
    print(f"corpus: {len(docs)} files, {megabytes:.2f} MB; median of {args.runs} runs")
    results, cpus = {}, {}
    for name, fn in MODES.items():
        fn(docs[:3])  # warm up imports and caches
        seconds, cpu, entries = measure(fn, docs, args.runs)
        results[name], cpus[name] = seconds, cpu
        print(
            f"{name:28} {seconds:6.2f} s ({cpu:6.2f} s CPU)  {entries:5} entries  "
            f"{entries / seconds:7.0f} entries/s  {megabytes / seconds:5.2f} MB/s"
        )
    for label, table in (("wall-clock", results), ("CPU", cpus)):
        gain = table["double"] / table["campplanet"]
        print(
            f"feedparser's sanitizer off, by {label} time: {gain:.2f}x faster end to end "
            f"({(1 - table['campplanet'] / table['double']) * 100:.0f}% less time)"
        )


if __name__ == "__main__":
    main()
