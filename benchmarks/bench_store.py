"""Parse + store throughput over the real-world corpus, and the views/query cost.

    python benchmarks/bench_store.py [--runs 5] [--copies 20]

Each run parses every corpus feed that parses, then stores it ``--copies`` times (as
that many distinct subscriptions) into a fresh database, one transaction per feed, as a
refresh does; then loads and selects what the planet would show. Prints medians.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from campplanet.config import Settings
from campplanet.identity import plan_feed_update
from campplanet.parse import ParseError, parse_feed
from campplanet.storage import Storage
from campplanet.types import FeedState, Subscription
from campplanet.views import select

CORPUS = Path(__file__).parents[1] / "tests" / "data" / "feeds"


def parse_corpus() -> tuple[list, float, int]:
    parsed, size = [], 0
    start = time.perf_counter()
    for path in sorted(CORPUS.rglob("*")):
        if not path.is_file() or path.suffix == ".expect":  # an expectation, not a feed
            continue
        body = path.read_bytes()
        try:
            feed = parse_feed(body, f"https://example.org/{path.name}")
        except ParseError:
            continue
        size += len(body)
        parsed.append(feed)
    return parsed, time.perf_counter() - start, size


def store(parsed: list, copies: int, folder: Path) -> tuple[float, float, int]:
    now = datetime(2026, 11, 26, tzinfo=UTC)
    subs = []
    entries = 0
    start = time.perf_counter()
    with Storage(folder / "bench.db") as storage:
        for copy in range(copies):
            for n, feed in enumerate(parsed):
                url = f"https://feed{n}.example/{copy}"
                subs.append(Subscription(url=url, title=f"Feed {n}/{copy}"))
                update = plan_feed_update(
                    FeedState(url=url, added=now), storage.entries_of(url, text=False), feed, now
                )
                with storage.transaction():
                    storage.save_feed(update.state)
                    storage.save_entries(update.entries)
                entries += len(update.entries)
        stored = time.perf_counter() - start
        start = time.perf_counter()
        selection = select(Settings(), subs, storage.feed_states(), storage)
        selection.shown.views(0, len(selection.shown), text=False)
        selected = time.perf_counter() - start
    return stored, selected, entries


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--copies", type=int, default=20)
    args = ap.parse_args()
    parse_times, store_times, select_times = [], [], []
    for _ in range(args.runs):
        parsed, parse_s, size = parse_corpus()
        with tempfile.TemporaryDirectory() as tmp:
            store_s, select_s, entries = store(parsed, args.copies, Path(tmp))
        parse_times.append(parse_s)
        store_times.append(store_s)
        select_times.append(select_s)
    n_entries = sum(len(f.entries) for f in parsed)
    p, s, q = (statistics.median(x) for x in (parse_times, store_times, select_times))
    print(f"corpus: {len(parsed)} feeds, {n_entries} entries, {size / 1e6:.1f} MB")
    print(f"parse:  {p:.2f} s  ({n_entries / p:,.0f} entries/s, {size / 1e6 / p:.1f} MB/s)")
    print(f"store:  {s:.2f} s for {entries} entries  ({entries / s:,.0f} entries/s)")
    print(f"select: {q:.2f} s to load and choose what is shown from {entries} entries")
    print(f"(medians of {args.runs} runs)")


if __name__ == "__main__":
    main()
