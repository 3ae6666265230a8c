"""A local farm of realistic feeds for benchmarks, served from its own process.

    farm = FeedFarm(FarmPlan(feeds=1000)).start()   # a child process serving on 127.0.1.x
    FarmPlan(feeds=5000, hosts=250, entries_per_feed=20)  # 20 feeds per host, 20 entries each
    farm.urls                                        # one URL per feed
    farm.change(0.05, seed=1)                        # 5 % of feeds get a new entry + ETag
    farm.hang(0.02, seconds=120, seed=2)             # 2 % of feeds stop answering
    farm.reset()                                     # back to the initial bodies, nothing hung
    farm.stats()                                     # requests served, peak in flight per host
    farm.stop()

Feeds: 10–30 entries (or ``entries_per_feed``) of 1–6 KB of HTML each, RSS 2.0 or Atom,
with ETag and Last-Modified (conditional GETs get 304), 20–200 ms latency per request,
spread over ``hosts`` loopback addresses (127.0.1.1, 127.0.1.2, ...; by default one per 4
feeds), a fraction answering errors (404, 500, 410).
Everything is generated from ``seed``, so two tools see the same farm.
"""

from __future__ import annotations

import multiprocessing
import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from httpfarm import Farm, Route

WORDS = [
    "council",
    "digital",
    "service",
    "team",
    "user",
    "research",
    "local",
    "government",
    "open",
    "data",
    "budget",
    "platform",
    "housing",
    "planning",
    "waste",
    "recycling",
    "library",
    "social",
    "care",
    "transport",
    "highways",
    "agile",
    "discovery",
    "alpha",
    "beta",
    "live",
    "prototype",
    "design",
    "system",
    "accessibility",
    "content",
    "community",
    "camp",
    "session",
    "pitch",
    "unconference",
    "notes",
    "slides",
    "coffee",
    "lunch",
    "breakout",
    "procurement",
    "contract",
    "supplier",
    "cloud",
    "hosting",
    "security",
    "identity",
    "payment",
    "forms",
]

EPOCH = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FarmPlan:
    feeds: int = 1000
    hosts: int = 0  # 0: one host per 4 feeds
    entries_per_feed: int = 0  # 0: 10-30 entries per feed, drawn at random
    error_fraction: float = 0.03
    latency: tuple[float, float] = (0.020, 0.200)
    seed: int = 1

    @property
    def host_count(self) -> int:
        return self.hosts or max(1, self.feeds // 4)


def _paragraphs(rng: random.Random, count: int) -> list[str]:
    out = []
    for i in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(30, 90))]
        words[3] = f'<a href="https://example.org/{i}/{words[3]}">{words[3]}</a>'
        words[10] = f"<em>{words[10]}</em>"
        out.append("<p>" + " ".join(words).capitalize() + ".</p>")
    return out


class FeedSource:
    """Generates every feed's document; versions bump when a feed changes."""

    def __init__(self, plan: FarmPlan):
        self.plan = plan
        rng = random.Random(plan.seed)
        self.pool = _paragraphs(rng, 400)
        self.kinds = [rng.choice(("rss", "atom")) for _ in range(plan.feeds)]
        # Drawn even when fixed, so the rest of the farm is the same whatever the size.
        self.sizes = [rng.randint(10, 30) for _ in range(plan.feeds)]
        if plan.entries_per_feed:
            self.sizes = [plan.entries_per_feed] * plan.feeds
        self.latencies = [rng.uniform(*plan.latency) for _ in range(plan.feeds)]
        self.errors = {
            i: rng.choice((404, 500, 410))
            for i in rng.sample(range(plan.feeds), int(plan.feeds * plan.error_fraction))
        }

    def document(self, i: int, version: int) -> bytes:
        entries = []
        for n in range(self.sizes[i]):
            serial = self.sizes[i] + version - n  # newest first; a new version adds one
            rng = random.Random(i * 100_003 + serial)  # an entry's text never changes
            # Every blog posts every 5 hours up to EPOCH; a new version's post is newer than
            # any post on the farm, as a post just published is.
            when = EPOCH + timedelta(hours=(serial - self.sizes[i]) * 5 + i % 5)
            paras = []
            size = rng.randint(1000, 6000)
            while sum(map(len, paras)) < size:
                paras.append(rng.choice(self.pool))
            entries.append((serial, when, "".join(paras)))
        if self.kinds[i] == "rss":
            return _rss(i, entries)
        return _atom(i, entries)


def _rss(i: int, entries: list[tuple[int, datetime, str]]) -> bytes:
    items = "".join(
        f"<item><title>Post {serial} of blog {i}</title>"
        f"<link>https://blog{i}.example.org/posts/{serial}</link>"
        f"<guid>https://blog{i}.example.org/posts/{serial}</guid>"
        f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate>"
        f"<description>{escape(html)}</description></item>"
        for serial, when, html in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Blog {i}</title><link>https://blog{i}.example.org/</link>"
        f"<description>Notes from blog {i}</description>{items}</channel></rss>"
    ).encode()


def _atom(i: int, entries: list[tuple[int, datetime, str]]) -> bytes:
    items = "".join(
        f"<entry><title>Post {serial} of blog {i}</title>"
        f'<link href="https://blog{i}.example.org/posts/{serial}"/>'
        f"<id>tag:blog{i}.example.org,2026:{serial}</id>"
        f"<updated>{when.isoformat()}</updated>"
        f'<content type="html">{escape(html)}</content></entry>'
        for serial, when, html in entries
    )
    updated = entries[0][1].isoformat() if entries else EPOCH.isoformat()
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f'<title>Blog {i}</title><link href="https://blog{i}.example.org/"/>'
        f"<id>tag:blog{i}.example.org,2026:feed</id><updated>{updated}</updated>"
        f"<author><name>Author {i}</name></author>{items}</feed>"
    ).encode()


def _serve(plan: FarmPlan, conn) -> None:
    """The farm process: serve the plan's feeds, obey commands from ``conn``."""
    source = FeedSource(plan)
    farm = Farm(hosts=plan.host_count)
    farm.record = False
    farm.start()
    versions = [0] * plan.feeds
    paths = [f"/blog{i}/feed.xml" for i in range(plan.feeds)]

    def publish(i: int) -> None:
        modified = EPOCH + timedelta(days=versions[i])
        status = source.errors.get(i, 200)
        farm.add(
            paths[i],
            Route(
                source.document(i, versions[i]) if status == 200 else b"error",
                status=status,
                content_type="application/rss+xml; charset=utf-8"
                if source.kinds[i] == "rss"
                else "application/atom+xml; charset=utf-8",
                etag=f'"{i}-{versions[i]}"',
                last_modified=format_datetime(modified, usegmt=True),
                latency=source.latencies[i],
            ),
            host=i % plan.host_count,
        )

    for i in range(plan.feeds):
        publish(i)
    conn.send([farm.url(paths[i], i % plan.host_count) for i in range(plan.feeds)])
    while True:
        command, *args = conn.recv()
        if command == "change":
            fraction, seed = args
            for i in random.Random(seed).sample(range(plan.feeds), int(plan.feeds * fraction)):
                versions[i] += 1
                publish(i)
        elif command == "hang":
            fraction, seconds, seed = args
            for i in random.Random(seed).sample(range(plan.feeds), int(plan.feeds * fraction)):
                farm.route(farm.url(paths[i], i % plan.host_count)).hang = seconds
        elif command == "reset":
            versions = [0] * plan.feeds
            for i in range(plan.feeds):
                publish(i)
        elif command == "stats":
            conn.send(
                {
                    "requests": sum(farm.counts.values()),
                    "peak_per_host": max(farm.peak_active.values(), default=0),
                    "connections": sum(farm.connections.values()),
                }
            )
            farm.counts.clear()
            farm.peak_active.clear()
            farm.connections.clear()
            continue
        elif command == "stop":
            farm.stop()
            conn.send("stopped")
            return
        conn.send("done")


class FeedFarm:
    """Runs :func:`_serve` in a child process and talks to it over a pipe."""

    def __init__(self, plan: FarmPlan):
        self.plan = plan
        self.urls: list[str] = []

    def start(self) -> FeedFarm:
        self.conn, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(self.plan, child), daemon=True
        )
        self.process.start()
        self.urls = self.conn.recv()
        return self

    def _call(self, *command):
        self.conn.send(command)
        return self.conn.recv()

    def change(self, fraction: float, seed: int) -> None:
        self._call("change", fraction, seed)

    def hang(self, fraction: float, seconds: float, seed: int) -> None:
        self._call("hang", fraction, seconds, seed)

    def reset(self) -> None:
        self._call("reset")

    def stats(self) -> dict:
        return self._call("stats")

    def stop(self) -> None:
        try:
            self._call("stop")
        finally:
            self.process.join(timeout=10)
            if self.process.is_alive():
                self.process.kill()

    def opml(self, path: Path) -> Path:
        outlines = "".join(
            f'<outline type="rss" text="Blog {i}" xmlUrl="{escape(url, {chr(34): "&quot;"})}"/>'
            for i, url in enumerate(self.urls)
        )
        path.write_text(
            '<?xml version="1.0"?><opml version="2.0"><head><title>farm</title></head>'
            f"<body>{outlines}</body></opml>",
            encoding="utf-8",
        )
        return path


if __name__ == "__main__":
    farm = FeedFarm(FarmPlan(feeds=int(sys.argv[1]) if len(sys.argv) > 1 else 20)).start()
    print("\n".join(farm.urls[:5]), "...", sep="\n")
    farm.stop()
