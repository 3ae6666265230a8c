"""Render throughput: 20,000 entries from 1,000 blogs into every page and feed.

    python benchmarks/bench_render.py [--runs 5] [--entries 20000] [--feeds 1000]

Entries have realistic content (paragraphs, links, images, headings; a third are long
enough to be cut). Each run renders into a fresh folder, then once more into the same
folder (nothing changed: every file compared, none rewritten). Prints medians.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from campplanet.config import PlanetSettings, Settings
from campplanet.render import render_site
from campplanet.types import EntryView, FeedView

WORDS = (
    "council",
    "digital",
    "service",
    "users",
    "data",
    "team",
    "open",
    "design",
    "research",
    "public",
    "local",
    "government",
    "camp",
    "session",
    "notes",
    "accessibility",
    "content",
    "strategy",
    "agile",
    "delivery",
    "housing",
    "social",
    "care",
    "website",
    "platform",
    "community",
    "budget",
    "library",
    "planning",
    "roads",
    "waste",
    "api",
    "standards",
)


def paragraph(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(30, 90))]
    i = rng.randrange(len(words))
    words[i] = (
        f'<a href="https://example.org/{words[i]}" rel="nofollow ugc noopener">{words[i]}</a>'
    )
    if rng.random() < 0.3:
        words[0] = f"<strong>{words[0]}</strong>"
    return "<p>" + " ".join(words).capitalize() + ".</p>"


def content(rng: random.Random, n: int) -> str:
    parts = []
    for k in range(rng.choice((2, 3, 4, 6, 10, 16))):
        if k and rng.random() < 0.2:
            parts.append(f"<h2>Section {k}</h2>")
        if rng.random() < 0.15:
            parts.append(
                f'<p><img src="https://img.example.org/{n}/{k}.jpg" width="600" height="400" '
                'loading="lazy" decoding="async"></p>'
            )
        parts.append(paragraph(rng))
    return "".join(parts)


def make_views(n_entries: int, n_feeds: int) -> tuple[list[EntryView], list[FeedView]]:
    rng = random.Random(1)
    start = datetime(2026, 11, 26, 18, tzinfo=UTC)
    feeds = [
        FeedView(
            url=f"https://blog{i}.example.org/feed/",
            title=f"Blog number {i}",
            site=f"https://blog{i}.example.org/",
            avatar=f"https://blog{i}.example.org/logo.png" if i % 3 == 0 else None,
            initials=f"B{i % 10}",
            entries=n_entries // n_feeds,
            shown=n_entries // n_feeds,
            health=("working", "working", "failing", "moved", "gone")[i % 5],
            last_success=start,
            updated=start,
        )
        for i in range(n_feeds)
    ]
    entries = []
    for n in range(n_entries):
        date = start - timedelta(minutes=7 * n)
        feed = feeds[rng.randrange(n_feeds)]
        entries.append(
            EntryView(
                id=f"{feed.site}posts/{n}",
                link=f"{feed.site}posts/{n}",
                title=f"Post {n}: " + " ".join(rng.choice(WORDS) for _ in range(6)),
                content=content(rng, n),
                summary=" ".join(rng.choice(WORDS) for _ in range(60)),
                author=f"Author {n % 700}",
                date=date,
                updated=date,
                feed=feed,
                categories=("localgov",),
            )
        )
    return entries, feeds


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the page-rendering worker)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--feeds", type=int, default=1_000)
    args = parser.parse_args()
    entries, feeds = make_views(args.entries, args.feeds)
    size = sum(len(e.content) for e in entries)
    print(f"{len(entries)} entries ({size / 1e6:.1f} MB of content) from {len(feeds)} feeds")
    fresh, again, cpu = [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(planet=PlanetSettings(output=str(Path(tmp) / "public")))
            c = cpu_seconds()
            t = time.perf_counter()
            report = render_site(settings, entries, feeds, last_refresh=entries[0].date)
            fresh.append(time.perf_counter() - t)
            cpu.append(cpu_seconds() - c)
            t = time.perf_counter()
            second = render_site(settings, entries, feeds, last_refresh=entries[0].date)
            again.append(time.perf_counter() - t)
            assert not second.written, second.written
    print(f"files: {len(report.written)} ({report.line()})")
    print(
        f"render into an empty folder: median {statistics.median(fresh):.2f} s "
        f"(min {min(fresh):.2f}, max {max(fresh):.2f}) over {args.runs} runs"
    )
    print(
        f"CPU time of a render into an empty folder (both processes): median "
        f"{statistics.median(cpu):.2f} s; load average at the end {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores"
    )
    print(
        f"render again, nothing changed: median {statistics.median(again):.2f} s "
        f"(min {min(again):.2f}, max {max(again):.2f})"
    )


if __name__ == "__main__":
    main()
