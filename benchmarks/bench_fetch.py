"""Refresh benchmark on a local feed farm: campplanet against reader (PyPI), same farm.

    python benchmarks/bench_fetch.py [--feeds 1000] [--runs 3] [--hang 120] [--profile]

Each run: cold refresh (empty database), warm refresh (5 % of feeds changed, the rest
answer 304), then a refresh with 2 % of feeds hung for ``--hang`` seconds. Every refresh
runs in a fresh Python process, so CPU seconds (including parse workers) and peak RSS are
its own. campplanet runs ``campplanet.update.refresh`` (fetch, parse, store, render) with
default settings except ``allow_private_networks`` (the farm is on 127.0.1.x);
reader runs ``update_feeds(workers=16, scheduled=False)`` (every feed, every time).
Prints medians. ``--profile`` adds pyinstrument profiles of a cold and a warm campplanet
refresh (as it runs, and with parsing in-process).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

HERE = Path(__file__).resolve()


# -- one measured refresh, in its own process -------------------------------------------------


def _usage() -> dict:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "cpu": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
        "rss_mb": me.ru_maxrss / 1024,
        "child_rss_mb": kids.ru_maxrss / 1024,
    }


def _settings(folder: Path, opml: Path):
    from campplanet.config import FetchSettings, PlanetSettings, Settings

    return Settings(
        planet=PlanetSettings(
            opml=str(opml), db=str(folder / "planet.db"), output=str(folder / "public")
        ),
        fetch=FetchSettings(allow_private_networks=True),
    )


def worker_campplanet(folder: Path, opml: Path, profile: str | None) -> dict:
    from campplanet import update

    settings = _settings(folder, opml)
    if profile == "inprocess":
        update.POOL_THRESHOLD = 10**9  # parse in this process, so the profile shows it
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.002)
        profiler.start()
    start = time.perf_counter()
    summary, _report = update.refresh(settings)
    wall = time.perf_counter() - start
    out = {"wall": wall, "fetch_store": summary.seconds, "line": summary.line(), **_usage()}
    if profiler is not None:
        profiler.stop()
        out["profile"] = profiler.output_text(unicode=False, color=False, show_all=False)
    return out


def worker_reader(folder: Path, urls_file: Path) -> dict:
    from reader import make_reader

    reader = make_reader(str(folder / "reader.sqlite"))
    for url in urls_file.read_text().split():
        reader.add_feed(url, exist_ok=True)
    start = time.perf_counter()
    results = list(reader.update_feeds_iter(workers=16, scheduled=False))
    wall = time.perf_counter() - start
    errors = sum(1 for r in results if isinstance(r.value, Exception))
    new = sum(r.value.new for r in results if r.value and not isinstance(r.value, Exception))
    reader.close()
    return {"wall": wall, "line": f"{len(results)} feeds, {errors} errors, {new} new", **_usage()}


def worker_fetch_only(urls_file: Path) -> dict:
    """fetch_feeds alone: a cold pass, then a conditional pass with the validators it got."""
    import asyncio
    from collections import Counter

    from campplanet.config import FetchSettings
    from campplanet.fetch import fetch_feeds
    from campplanet.types import FetchRequest

    async def run(requests: list[FetchRequest]) -> tuple[Counter, list[FetchRequest]]:
        counts: Counter = Counter()
        again = []
        async for result in fetch_feeds(
            requests, FetchSettings(allow_private_networks=True), user_agent="bench"
        ):
            counts[result.outcome.value] += 1
            again.append(FetchRequest(result.url, etag=result.etag, body_hash=result.body_hash))
        return counts, again

    urls = urls_file.read_text().split()
    start, cpu = time.perf_counter(), time.process_time()
    counts, again = asyncio.run(run([FetchRequest(url) for url in urls]))
    cold, cold_cpu = time.perf_counter() - start, time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    warm_counts, _ = asyncio.run(run(again))
    return {
        "wall": cold,
        "cpu": cold_cpu,
        "warm_wall": time.perf_counter() - start,
        "warm_cpu": time.process_time() - cpu,
        "line": f"cold {dict(counts)}, conditional {dict(warm_counts)}",
        **_usage(),
    }


def measure(tool: str, folder: Path, opml: Path, urls: Path, profile: str = "") -> dict:
    command = [sys.executable, str(HERE), "--worker", tool, "--dir", str(folder)]
    command += ["--opml", str(opml), "--urls", str(urls)]
    if profile:
        command += ["--profile-mode", profile]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{tool} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the benchmark ----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hang", type=float, default=120.0, help="seconds hung feeds hang")
    parser.add_argument("--tools", default="campplanet,reader")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--worker")
    parser.add_argument("--dir")
    parser.add_argument("--opml")
    parser.add_argument("--urls")
    parser.add_argument("--profile-mode", default="")
    args = parser.parse_args()
    if args.worker:
        folder, opml, urls = Path(args.dir), Path(args.opml), Path(args.urls)
        if args.worker == "campplanet":
            out = worker_campplanet(folder, opml, args.profile_mode or None)
        elif args.worker == "reader":
            out = worker_reader(folder, urls)
        else:
            out = worker_fetch_only(urls)
        print(json.dumps(out))
        return

    from feedfarm import FarmPlan, FeedFarm, FeedSource

    from campplanet.config import FetchSettings

    plan = FarmPlan(feeds=args.feeds)
    tools = args.tools.split(",")
    print(
        f"farm: {plan.feeds} feeds on {plan.host_count} loopback hosts, "
        f"{plan.error_fraction:.0%} errors, latency {plan.latency[0] * 1000:.0f}-"
        f"{plan.latency[1] * 1000:.0f} ms; {os.cpu_count()} cores",
        flush=True,
    )
    mean_latency = statistics.mean(FeedSource(plan).latencies)
    concurrency = FetchSettings().concurrency
    started = time.perf_counter()
    farm = FeedFarm(plan).start()
    print(f"farm ready in {time.perf_counter() - started:.1f}s", flush=True)
    results: dict[tuple[str, str], list[dict]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            opml = farm.opml(root / "feeds.opml")
            urls = root / "urls.txt"
            urls.write_text("\n".join(farm.urls))
            for run in range(args.runs):
                farm.reset()
                folders = {tool: root / f"{tool}-{run}" for tool in tools}
                for folder in folders.values():
                    folder.mkdir()
                phases = [
                    ("cold", lambda: None),
                    ("warm", lambda run=run: farm.change(0.05, seed=100 + run)),
                    ("hung", lambda run=run: farm.hang(0.02, args.hang, seed=200 + run)),
                ]
                for phase, prepare in phases:
                    prepare()
                    for tool in tools:
                        farm.stats()  # reset the farm's counters
                        out = measure(tool, folders[tool], opml, urls)
                        out["farm"] = farm.stats()
                        results.setdefault((tool, phase), []).append(out)
                        print(
                            f"run {run + 1} {phase:4} {tool:10} wall {out['wall']:6.2f}s "
                            f"cpu {out['cpu']:6.2f}s rss {out['rss_mb']:.0f}+"
                            f"{out['child_rss_mb']:.0f} MB  {out['line']}  farm {out['farm']}",
                            flush=True,
                        )
                farm.reset()
                fetch_only = measure("fetch", root, opml, urls)
                results.setdefault(("fetch-only", "cold"), []).append(fetch_only)
                print(
                    f"run {run + 1} fetch_feeds alone: cold wall {fetch_only['wall']:.2f}s "
                    f"cpu {fetch_only['cpu']:.2f}s; conditional wall "
                    f"{fetch_only['warm_wall']:.2f}s cpu {fetch_only['warm_cpu']:.2f}s; "
                    f"{fetch_only['line']}",
                    flush=True,
                )
            report(results, tools, plan, mean_latency, concurrency, args.hang)
            if args.profile:
                for mode in ("pool", "inprocess"):
                    farm.reset()
                    folder = root / f"profile-{mode}"
                    folder.mkdir()
                    for phase in ("cold", "warm"):
                        if phase == "warm":
                            farm.change(0.05, seed=999)
                        out = measure("campplanet", folder, opml, urls, profile=mode)
                        print(f"\n== pyinstrument: {phase} campplanet refresh, parsing {mode} ==")
                        print("\n".join(out["profile"].splitlines()[:80]))
    finally:
        farm.stop()


def report(results, tools, plan, mean_latency, concurrency, hang) -> None:
    def med(tool: str, phase: str, key: str = "wall") -> float:
        return statistics.median(r[key] for r in results[(tool, phase)])

    runs = len(results[(tools[0], "cold")])
    limit = plan.feeds * mean_latency / concurrency
    print(f"\nmedians of {runs} runs, {plan.feeds} feeds")
    for tool in tools:
        every = [r for p in ("cold", "warm", "hung") for r in results[(tool, p)]]
        print(
            f"  {tool:10} cold {med(tool, 'cold'):6.2f}s wall {med(tool, 'cold', 'cpu'):6.2f}s cpu"
            f" | warm {med(tool, 'warm'):6.2f}s | hung 2% ({hang:g}s) {med(tool, 'hung'):6.2f}s"
            f" | peak rss {max(r['rss_mb'] for r in every):.0f} MB main,"
            f" {max(r['child_rss_mb'] for r in every):.0f} MB largest child"
        )
    for phase in ("cold", "warm", "hung"):
        if ("campplanet", phase) in results:
            fetch = statistics.median(r["fetch_store"] for r in results[("campplanet", phase)])
            print(
                f"  campplanet {phase}: fetch+parse+store {fetch:.2f}s, "
                f"the rest (OPML, render) {med('campplanet', phase) - fetch:.2f}s"
            )
    print(
        f"  fetch_feeds alone, no parsing or storing: cold {med('fetch-only', 'cold'):.2f}s,"
        f" all conditional (304) {med('fetch-only', 'cold', 'warm_wall'):.2f}s"
    )
    print(
        f"  network limit N x mean latency / concurrency = {plan.feeds} x "
        f"{mean_latency * 1000:.0f} ms / {concurrency} = {limit:.2f}s"
    )
    if "campplanet" in tools and "reader" in tools:
        for phase in ("cold", "warm", "hung"):
            ratio = med("campplanet", phase) / med("reader", phase)
            print(f"  campplanet / reader, {phase}: {ratio:.2f}")
        print(f"  campplanet warm / network limit: {med('campplanet', 'warm') / limit:.2f}")


if __name__ == "__main__":
    main()
