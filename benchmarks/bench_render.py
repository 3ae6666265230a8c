"""Render throughput: a database of 20,000 entries from 1,000 blogs into every page and feed.

    python benchmarks/bench_render.py [--runs 5] [--entries 20000] [--feeds 1000]

Entries have realistic content (paragraphs, links, images, headings; a third are long
enough to be cut), stored as a refresh stores them (sanitized and tidied) in a real
database with a 1,000-outline OPML. Each run is what ``campplanet render`` does: read the
OPML, load and choose the shown entries, render into a fresh folder; then the same again
into the same folder (nothing changed: archive pages kept by their fingerprints, the rest
compared, none rewritten); then again after 50 blogs (5%) each published a new post, as a
warm refresh renders. Prints medians, and the render alone (from entries already in memory,
into a fresh folder) for comparison.
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
from xml.sax.saxutils import quoteattr

from campplanet import update
from campplanet.config import PlanetSettings, Settings
from campplanet.render import render_site
from campplanet.sanitize import sanitize_html
from campplanet.storage import Storage
from campplanet.tidy import tidy_html
from campplanet.types import EntryView, FeedState, FeedView, StoredEntry
from campplanet.urls import canonical_link

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
                content=tidy_html(sanitize_html(content(rng, n), feed.site)),
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


def build_database(folder: Path, entries: list[EntryView], feeds: list[FeedView]) -> Settings:
    """The OPML, settings and database a refresh would have left for these views."""
    outlines = "\n".join(
        f'<outline type="rss" text={quoteattr(f.title)} xmlUrl={quoteattr(f.url)}'
        f" htmlUrl={quoteattr(f.site or '')}/>"
        for f in feeds
    )
    opml = folder / "feeds.opml"
    opml.write_text(
        f'<?xml version="1.0"?><opml version="2.0"><head><title>Bench</title></head>'
        f"<body>{outlines}</body></opml>"
    )
    settings = Settings(
        planet=PlanetSettings(
            opml=str(opml), db=str(folder / "planet.db"), output=str(folder / "public")
        )
    )
    with Storage(settings.path(settings.planet.db)) as storage, storage.transaction():
        for f in feeds:
            storage.save_feed(
                FeedState(
                    url=f.url,
                    title=f.title,
                    link=f.site,
                    image=f.avatar,
                    added=f.last_success,
                    last_attempt=f.last_success,
                    last_success=f.last_success,
                    imported_at=f.last_success,
                )
            )
        storage.save_entries(
            StoredEntry(
                feed_url=e.feed.url,
                key=e.id,
                link=e.link,
                title=e.title,
                content=e.content,
                summary=e.summary,
                author=e.author,
                published=e.date,
                updated=e.updated,
                categories=e.categories,
                first_seen=e.date,
                date=e.date,
                guid=e.id,
                canonical_link=canonical_link(e.link),
            )
            for e in entries
        )
    return settings


def add_posts(settings: Settings, feeds: list[FeedView], *, count: int, run: int) -> None:
    """``count`` blogs each publish one new post, newer than every stored one."""
    rng = random.Random(run)
    when = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(days=run)
    with Storage(settings.path(settings.planet.db)) as storage, storage.transaction():
        storage.save_entries(
            StoredEntry(
                feed_url=f.url,
                key=f"{f.url}#new-{run}",
                link=f"{f.site or f.url}new-{run}",
                title=f"New post {run}",
                content=tidy_html(sanitize_html(content(rng, 4), f.url)),
                summary="A new post.",
                author=None,
                published=when + timedelta(minutes=i),
                updated=when + timedelta(minutes=i),
                categories=(),
                first_seen=when + timedelta(minutes=i),
                date=when + timedelta(minutes=i),
            )
            for i, f in enumerate(rng.sample(feeds, count))
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--feeds", type=int, default=1_000)
    args = parser.parse_args()
    entries, feeds = make_views(args.entries, args.feeds)
    size = sum(len(e.content) for e in entries)
    print(f"{len(entries)} entries ({size / 1e6:.1f} MB of content) from {len(feeds)} feeds")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = build_database(folder, entries, feeds)
        db_mb = settings.path(settings.planet.db).stat().st_size / 1e6
        print(f"database: {db_mb:.0f} MB")
        fresh, again, after_posts, cpu, memory_only = [], [], [], [], []
        for run in range(args.runs):
            output = folder / f"public-{run}"
            run_settings = Settings(
                planet=PlanetSettings(
                    opml=settings.planet.opml, db=settings.planet.db, output=str(output)
                )
            )
            c = cpu_seconds()
            t = time.perf_counter()
            report = update.render(run_settings)
            fresh.append(time.perf_counter() - t)
            cpu.append(cpu_seconds() - c)
            t = time.perf_counter()
            second = update.render(run_settings)
            again.append(time.perf_counter() - t)
            assert not second.written, second.written
            add_posts(run_settings, feeds, count=len(feeds) // 20, run=run)
            t = time.perf_counter()
            third = update.render(run_settings)
            after_posts.append(time.perf_counter() - t)
            memory = Settings(planet=PlanetSettings(output=str(folder / f"memory-{run}")))
            t = time.perf_counter()
            render_site(memory, entries, feeds, last_refresh=entries[0].date)
            memory_only.append(time.perf_counter() - t)
    print(f"files: {len(report.written)} ({report.line()})")
    print(
        f"campplanet render (OPML, load, choose, render) into an empty folder: median "
        f"{statistics.median(fresh):.2f} s (min {min(fresh):.2f}, max {max(fresh):.2f}) "
        f"over {args.runs} runs"
    )
    print(
        f"  CPU time (both processes): median {statistics.median(cpu):.2f} s; load average "
        f"at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"  again, nothing changed: median {statistics.median(again):.2f} s "
        f"(min {min(again):.2f}, max {max(again):.2f})"
    )
    print(
        f"  after {len(feeds) // 20} new posts: median {statistics.median(after_posts):.2f} s "
        f"(min {min(after_posts):.2f}, max {max(after_posts):.2f}); {third.line()}, "
        f"{third.reused} archive pages kept without rendering"
    )
    print(
        f"render_site alone, entries already in memory: median "
        f"{statistics.median(memory_only):.2f} s"
    )


if __name__ == "__main__":
    main()
