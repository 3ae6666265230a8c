"""Render benchmark: time and peak memory of ``campplanet render`` as the store grows.

    python benchmarks/bench_render.py [--entries 20000,50000,100000] [--entries-per-feed 20]
        [--runs 3] [--new-posts 50] [--camps 0] [--profile]

For each size in ``--entries`` it builds a planet's folder (an OPML, a ``campplanet.toml``
and a database) holding that many stored entries from ``entries / --entries-per-feed``
blogs (1,000 blogs at 20,000 entries, 5,000 at 100,000), then, in each of ``--runs`` runs,
times three ``campplanet render`` commands, each in a fresh process so its peak memory is
its own:

- into an empty folder (every page and feed written);
- again into the same folder, nothing changed (archive pages kept by their fingerprints
  without rendering them, the rest rendered, compared and left alone);
- after ``--new-posts`` blogs each published a new post, as a warm refresh renders.

For each it prints the process's wall time (starting Python included: the line "Python and
campplanet's imports alone" says how much that is), its CPU time, its peak RSS (the
process's VmHWM, read as it ends: not ru_maxrss, which Linux makes at least the
benchmark's own peak in a spawned child; the summed RSS of its process tree, sampled from
/proc, is printed per run as a check that nothing else is forked) and the files it wrote.
Then one table of medians for every size.

Every blog is part of the planet's founding run (``Storage.record_subscriptions`` before
any import, and each FeedState ``at_founding``), so new-feed flood control holds nothing
back and every stored entry is shown: a blog that joined later would show only its newest
``planet.new_feed_items`` (3) posts, and the render would cover few of them.

The database is written as a year of refreshes would have left it: every entry built from
a ParsedEntry by ``campplanet.identity.merge_entry`` (as a fetch stores it, first seen ten
minutes after it was published), written by ``Storage.save_entries`` in batches, one
transaction each. Content is realistic (paragraphs, links, images, headings; a third long
enough to be folded), sanitized and tidied as a fetch stores it, but cheaply: a pool of
documents is sanitized and tidied once, and each entry takes one with its own number put
into its links and image URLs, so no two entries have the same content.

``--camps N`` also renders every size with N camps in the settings (into a folder of its
own, each render right after the same render without camps, so both see the same
database), and prints what the camps add. The camps' windows are spread over the stored
posts' year, each matching a tenth of the posts in it (``Post 123:`` by its last digit).

``--profile`` adds pyinstrument profiles of the three renders at the largest size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import quoteattr

sys.path.insert(0, str(Path(__file__).parent))

from proctree import Measured, peak_rss_mb, precompile, run_measured

HERE = Path(__file__).resolve()
KINDS = ("empty folder", "nothing changed", "after new posts")

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

MARK = "entrynumber"  # replaced by each entry's number in its pooled content (lower case:
# paragraphs are capitalized, which lowers the rest)
POOL = 1000  # distinct documents sanitized and tidied
BATCH = 5000  # entries per transaction
START = datetime(2026, 11, 26, 18, tzinfo=UTC)  # the newest stored post
PUBLISH_EVERY = timedelta(minutes=7)  # across the whole planet, going back from START


def paragraph(rng: random.Random, n: int | str) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(30, 90))]
    i = rng.randrange(len(words))
    words[i] = f'<a href="https://example.org/{n}/{words[i]}">{words[i]}</a>'
    if rng.random() < 0.3:
        words[0] = f"<strong>{words[0]}</strong>"
    return "<p>" + " ".join(words).capitalize() + ".</p>"


def content(rng: random.Random, n: int | str) -> str:
    parts = []
    for k in range(rng.choice((2, 3, 4, 6, 10, 16))):
        if k and rng.random() < 0.2:
            parts.append(f"<h2>Section {k}</h2>")
        if rng.random() < 0.15:
            parts.append(
                f'<p><img src="https://img.example.org/{n}/{k}.jpg" width="600" height="400" '
                'alt=""></p>'
            )
        parts.append(paragraph(rng, n))
    return "".join(parts)


class ContentPool:
    """Sanitized, tidied entry documents, made once; each entry's is one of them with its
    own number in its links."""

    def __init__(self, rng: random.Random, size: int = POOL):
        from campplanet.sanitize import sanitize_html
        from campplanet.tidy import tidy_html

        base = "https://blog.example.org/"
        self.contents = [tidy_html(sanitize_html(content(rng, MARK), base)) for _ in range(size)]
        self.summaries = [" ".join(rng.choice(WORDS) for _ in range(60)) for _ in range(size)]
        assert all(MARK in c for c in self.contents)

    def content(self, n: int) -> str:
        return self.contents[n % len(self.contents)].replace(MARK, str(n))

    def summary(self, n: int) -> str:
        return self.summaries[(n * 7) % len(self.summaries)]


@dataclass(frozen=True)
class Blog:
    url: str
    title: str
    site: str


def blogs(count: int) -> list[Blog]:
    return [
        Blog(
            f"https://blog{i}.example.org/feed/",
            f"Blog number {i}",
            f"https://blog{i}.example.org/",
        )
        for i in range(count)
    ]


def build_planet(folder: Path, n_entries: int, n_feeds: int) -> Path:
    """A planet's folder with ``n_entries`` stored entries from ``n_feeds`` blogs, every
    one of them founding (see the module docstring); returns its ``campplanet.toml``."""
    from campplanet.identity import merge_entry
    from campplanet.storage import Storage
    from campplanet.types import FeedState, ParsedEntry

    rng = random.Random(1)
    pool = ContentPool(rng)
    feeds = blogs(n_feeds)
    outlines = "\n".join(
        f'<outline type="rss" text={quoteattr(f.title)} xmlUrl={quoteattr(f.url)}'
        f" htmlUrl={quoteattr(f.site)}/>"
        for f in feeds
    )
    (folder / "feeds.opml").write_text(
        f'<?xml version="1.0"?><opml version="2.0"><head><title>Bench</title></head>'
        f"<body>{outlines}</body></opml>"
    )
    config = folder / "campplanet.toml"
    config.write_text('[planet]\nopml = "feeds.opml"\ndb = "planet.db"\noutput = "public"\n')
    oldest = START - PUBLISH_EVERY * n_entries
    founded = oldest - timedelta(hours=1)
    last_fetch = START + timedelta(minutes=30)
    with Storage(folder / "planet.db") as storage:
        # The founding run: every blog on the list from the start (at_founding).
        storage.record_subscriptions([f.url for f in feeds], founded)
        with storage.transaction():
            for i, f in enumerate(feeds):
                failing = i % 10 == 9
                storage.save_feed(
                    FeedState(
                        url=f.url,
                        title=f.title,
                        link=f.site,
                        image=f"{f.site}logo.png" if i % 3 == 0 else None,
                        added=founded,
                        at_founding=True,
                        imported_at=founded,
                        last_attempt=last_fetch,
                        last_success=last_fetch - timedelta(days=3) if failing else last_fetch,
                        last_status=500 if failing else 200,
                        last_error="HTTP 500" if failing else None,
                        failures=6 if failing else 0,
                        failing_since=last_fetch - timedelta(days=3) if failing else None,
                        etag=f'"{i}"',
                    )
                )
        for first in range(0, n_entries, BATCH):
            batch = []
            for n in range(first, min(first + BATCH, n_entries)):
                feed = feeds[rng.randrange(n_feeds)]
                published = START - PUBLISH_EVERY * n
                link = f"{feed.site}posts/{n}"
                parsed = ParsedEntry(
                    key=link,
                    link=link,
                    title=f"Post {n}: " + " ".join(rng.choice(WORDS) for _ in range(6)),
                    content=pool.content(n),
                    summary=pool.summary(n),
                    author=f"Author {n % 700}",
                    published=published,
                    updated=published,
                    categories=("localgov",),
                    guid=link,
                )
                seen = published + timedelta(minutes=10)
                batch.append(merge_entry(feed.url, None, parsed, seen, imported=True).entry)
            with storage.transaction():
                storage.save_entries(batch)
    return config


def with_camps(config: Path, n: int, n_entries: int) -> Path:
    """A copy of ``config`` with ``n`` camps (see the module docstring)."""
    span = PUBLISH_EVERY * n_entries
    tables = []
    for i in range(n):
        start = (START - span * (i + 0.5) / n).date()
        tables.append(
            f'[[camp]]\nname = "Camp {i}"\nslug = "camp-{i}"\nstart = {start}\n'
            f"end = {start + timedelta(days=1)}\nmatch = 'post \\d*{i % 10}:'\n"
        )
    camps = config.with_name("camps.toml")
    camps.write_text(config.read_text() + "\n" + "\n".join(tables))
    return camps


def add_posts(config: Path, n_feeds: int, *, count: int, run: int) -> None:
    """``count`` blogs each publish one new post, newer than every stored one."""
    from campplanet.identity import merge_entry
    from campplanet.sanitize import sanitize_html
    from campplanet.storage import Storage
    from campplanet.tidy import tidy_html
    from campplanet.types import ParsedEntry

    rng = random.Random(run)
    when = START + timedelta(days=1 + run)
    with Storage(config.parent / "planet.db") as storage, storage.transaction():
        entries = []
        for i, feed in enumerate(rng.sample(blogs(n_feeds), count)):
            link = f"{feed.site}new-{run}"
            published = when + timedelta(minutes=i)
            parsed = ParsedEntry(
                key=link,
                link=link,
                title=f"New post {run}",
                content=tidy_html(sanitize_html(content(rng, f"new-{run}-{i}"), feed.site)),
                summary="A new post.",
                published=published,
                updated=published,
                guid=link,
            )
            seen = published + timedelta(minutes=10)
            entries.append(merge_entry(feed.url, None, parsed, seen, imported=True).entry)
        storage.save_entries(entries)


# -- one measured render, in its own process --------------------------------------------------


def render(config: Path, output: Path, *, profile: bool = False) -> tuple[Measured, dict]:
    """``campplanet render`` into ``output``, in a fresh process: (measures, its report with
    the process's peak RSS, ``peak_mb``)."""
    command = [sys.executable, str(HERE), "--worker", str(config), str(output)]
    if profile:
        command.append("--profile")
    done = run_measured(command, cwd=config.parent)
    if done.returncode != 0:
        raise SystemExit(f"campplanet render failed ({done.returncode}):\n{done.stderr[-3000:]}")
    *lines, last = done.stdout.strip().splitlines()
    report = json.loads(last)
    report.update(json.loads(lines[-1]) if not profile else {"profile": "\n".join(lines)})
    return done, report


def worker(config: str, output: str, profile: bool) -> None:
    """``campplanet render --config CONFIG --output OUTPUT``, as the command runs it (its
    JSON report on stdout), then this process's peak RSS (VmHWM) as a last JSON line. With
    ``profile``, under pyinstrument, the profile instead of the report."""
    from campplanet.cli import main

    command = ["render", "--config", config, "--output", output, "--log-format", "json"]
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.002)
        profiler.start()
        command.append("--quiet")
    try:
        main(command, standalone_mode=False)
    finally:
        if profiler is not None:
            profiler.stop()
            text = profiler.output_text(unicode=False, color=False, show_all=False)
            print("\n".join(text.splitlines()[:80]))
    print(json.dumps({"peak_mb": peak_rss_mb()}))


def baseline() -> tuple[Measured, float]:
    """Python with what ``campplanet render`` imports, and nothing else done: (measures,
    peak RSS)."""
    code = (
        "import campplanet.cli.run, campplanet.update, campplanet.render, sys; "
        f"sys.path.insert(0, {str(HERE.parent)!r}); from proctree import peak_rss_mb; "
        "print(peak_rss_mb())"
    )
    done = run_measured([sys.executable, "-c", code])
    return done, float(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", default="20000,50000,100000", help="sizes, comma-separated")
    parser.add_argument("--entries-per-feed", type=int, default=20, help="feeds = entries / this")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--new-posts", type=int, default=50, help="blogs that publish a post")
    parser.add_argument("--camps", type=int, default=0, help="also render with this many camps")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker, profile=args.profile)
        return
    sizes = [int(s) for s in args.entries.split(",") if s.strip()]
    precompile()
    base, base_mb = baseline()
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; Python and "
        f"campplanet's imports alone: {base.wall:.2f}s wall, {base_mb:.0f} MB peak RSS",
        flush=True,
    )
    table: list[tuple[int, int, float, str, str, list[Measured], list[dict]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            n_feeds = max(1, size // args.entries_per_feed)
            if args.new_posts > n_feeds:
                parser.error(f"--new-posts {args.new_posts} is more than {n_feeds} feeds")
            folder = Path(tmp) / str(size)
            folder.mkdir()
            started = time.perf_counter()
            config = build_planet(folder, size, n_feeds)
            db_mb = (folder / "planet.db").stat().st_size / 1e6
            print(
                f"\n{size} entries from {n_feeds} feeds: database {db_mb:.0f} MB, built in "
                f"{time.perf_counter() - started:.1f}s",
                flush=True,
            )
            variants = {"": config}
            if args.camps:
                variants[f" +{args.camps} camps"] = with_camps(config, args.camps, size)
            measured = {(k, v): ([], []) for k in KINDS for v in variants}
            for run in range(args.runs):
                for kind in KINDS:
                    if kind == "after new posts":
                        add_posts(config, n_feeds, count=args.new_posts, run=run)
                    for variant, settings in variants.items():
                        output = folder / f"public-{run}{variant.replace(' ', '-')}"
                        done, report = render(settings, output)
                        measured[kind, variant][0].append(done)
                        measured[kind, variant][1].append(report)
                        if kind == "nothing changed" and report["written"]:
                            print(f"  warning: {report['written']} files written with no change")
                        print(
                            f"  run {run + 1} {kind + variant:26} wall {done.wall:6.2f}s cpu "
                            f"{done.cpu:6.2f}s peak rss {report['peak_mb']:4.0f} MB (tree "
                            f"{done.tree_rss_mb:.0f} MB, {done.tree_peak_processes} process); "
                            f"{report['written']} written, {report['unchanged']} unchanged "
                            f"({report['reused']} kept without rendering); render_site "
                            f"{report['seconds']:.2f}s",
                            flush=True,
                        )
            for kind in KINDS:
                for variant in variants:
                    table.append((size, n_feeds, db_mb, kind, variant, *measured[kind, variant]))
            if args.profile and size == max(sizes):
                output = folder / "public-profile"
                for kind in KINDS:
                    if kind == "after new posts":
                        add_posts(config, n_feeds, count=args.new_posts, run=args.runs)
                    _, report = render(config, output, profile=True)
                    print(f"\n== pyinstrument: campplanet render, {kind}, {size} entries ==")
                    print(report["profile"])
    print(
        f"\nmedians of {args.runs} runs, each render a fresh process (wall includes starting "
        f"Python, {base.wall:.2f}s); load average now {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores"
    )
    print(
        f"{'entries':>8} {'feeds':>6} {'db':>7}  {'render':26} {'wall':>7} {'cpu':>7} "
        f"{'peak rss':>9} {'written':>8} {'kept':>6}"
    )
    plain: dict[tuple[int, str], float] = {}
    for size, n_feeds, db_mb, kind, variant, done, reports in table:
        label = kind if kind != "after new posts" else f"after {args.new_posts} posts"
        wall = statistics.median(d.wall for d in done)
        if not variant:
            plain[size, kind] = wall
        added = f"  camps add {wall / plain[size, kind] - 1:+.0%}" if variant else ""
        print(
            f"{size:8} {n_feeds:6} {db_mb:4.0f} MB  {label + variant:26} {wall:6.2f}s "
            f"{statistics.median(d.cpu for d in done):6.2f}s "
            f"{statistics.median(r['peak_mb'] for r in reports):6.0f} MB "
            f"{statistics.median(r['written'] for r in reports):8.0f} "
            f"{statistics.median(r['reused'] for r in reports):6.0f}{added}"
        )
    print("written: files written; kept: archive pages kept without rendering them")


if __name__ == "__main__":
    main()
