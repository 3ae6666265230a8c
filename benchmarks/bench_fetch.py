"""Refresh benchmark on a local feed farm: campplanet against reader (PyPI), same farm.

    python benchmarks/bench_fetch.py [--feeds 1000] [--hosts 0] [--entries-per-feed 0]
        [--runs 3] [--hang 120] [--timeout 10] [--tools campplanet,reader] [--profile]
    python benchmarks/bench_fetch.py --feeds 5000 --hosts 250 --entries-per-feed 20 \\
        --tools campplanet

The farm (benchmarks/feedfarm.py) serves ``--feeds`` feeds from ``--hosts`` loopback
addresses (default: one per 4 feeds), each with ``--entries-per-feed`` entries (default: 10
to 30), 20-200 ms of latency each, 3 % answering errors. Each run: a cold refresh (empty
database), a warm refresh (5 % of feeds changed, the rest answer 304), then a refresh with
2 % of feeds hung for ``--hang`` seconds. Every refresh runs in a fresh Python process;
for each one the benchmark prints

- wall: the refresh itself (``update.refresh`` or ``update_feeds``), without starting
  Python and importing; CPU: the refresh process's and its parse workers';
- peak RSS summed over the process tree: the refresh process and all its descendants (its
  parse workers), their VmRSS read from /proc every ``--sample-ms`` ms and summed, the
  largest sum seen; beside it the peak of the process alone (VmHWM; its ru_maxrss would
  include the benchmark's own, which Linux carries over into a spawned child) and
  ru_maxrss of its largest parse worker;
- for a warm run, the network limit (feeds x mean latency / concurrency: the time the
  farm's latencies alone take at that concurrency) and the run's ratio to it.

Then medians over ``--runs`` runs, campplanet's ratio to reader for each kind of run, and
whether the hung run meets the target hung <= max(warm, timeout) + 3 s. The hung run is
the first in which those feeds hang, so campplanet does not yet start them first (it does
in the run after a time-out): each holds a concurrency slot until it parks, as a feed that
has just begun to hang does.

campplanet runs ``campplanet.update.refresh`` (fetch, parse, store, render) with default
settings except ``fetch.allow_private_networks`` (the farm is on 127.0.1.x) and
``fetch.timeout`` (``--timeout``, 10 s by default). reader runs ``update_feeds(workers=16)``
on every feed every time (``scheduled=False``), its read timeout set to the same
``--timeout`` (reader's default is 60 s) so a hung run measures both against one deadline.
``--tools campplanet`` leaves reader out (it is slow at 5,000 feeds). The tool
``campplanet-inprocess`` is campplanet parsing every body in the run's own process, without
the pool of parse workers: ``--tools campplanet,campplanet-inprocess`` shows what the pool
buys at a size.

``--profile`` adds pyinstrument profiles of a cold and a warm campplanet refresh (as it
runs, with a parse pool, and with parsing in-process so the profile shows it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from proctree import peak_rss_mb, precompile, run_measured

HERE = Path(__file__).resolve()
PHASES = ("cold", "warm", "hung")
READER_WORKERS = 16
INPROCESS = "campplanet-inprocess"  # campplanet without its pool of parse workers
READER_CONNECT_TIMEOUT = 3.05  # reader's own default


# -- one measured refresh, in its own process -------------------------------------------------


class Usage:
    """CPU seconds from now on (this process's, and its children's once waited for), the
    peak RSS of this process (VmHWM: its ru_maxrss would include the benchmark's own, see
    proctree) and ru_maxrss of its largest child (a parse worker, forked: its shared pages
    count)."""

    def __init__(self) -> None:
        own = resource.getrusage(resource.RUSAGE_SELF)
        self.start = own.ru_utime + own.ru_stime

    def done(self) -> dict:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "cpu": own.ru_utime + own.ru_stime - self.start + kids.ru_utime + kids.ru_stime,
            "rss_mb": peak_rss_mb(),
            "child_rss_mb": kids.ru_maxrss / 1024,
        }


def _settings(folder: Path, opml: Path, timeout: float):
    from campplanet.config import FetchSettings, PlanetSettings, Settings

    return Settings(
        planet=PlanetSettings(
            opml=str(opml), db=str(folder / "planet.db"), output=str(folder / "public")
        ),
        fetch=FetchSettings(allow_private_networks=True, timeout=timeout),
    )


def worker_campplanet(
    folder: Path, opml: Path, timeout: float, profile: str | None, *, inprocess: bool = False
) -> dict:
    from campplanet import update

    settings = _settings(folder, opml, timeout)
    if inprocess or profile == "inprocess":
        from campplanet import workers

        workers.POOL_THRESHOLD = 10**9  # parse in this process (and show it in a profile)
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.002)
        profiler.start()
    usage = Usage()
    start = time.perf_counter()
    summary, _report = update.refresh(settings)
    wall = time.perf_counter() - start
    out = {"wall": wall, "fetch_store": summary.seconds, "line": summary.line(), **usage.done()}
    if profiler is not None:
        profiler.stop()
        out["profile"] = profiler.output_text(unicode=False, color=False, show_all=False)
    return out


def worker_reader(folder: Path, urls_file: Path, timeout: float) -> dict:
    from reader import make_reader

    reader = make_reader(
        str(folder / "reader.sqlite"), session_timeout=(READER_CONNECT_TIMEOUT, timeout)
    )
    for url in urls_file.read_text().split():
        reader.add_feed(url, exist_ok=True)
    usage = Usage()
    start = time.perf_counter()
    results = list(reader.update_feeds_iter(workers=READER_WORKERS, scheduled=False))
    wall = time.perf_counter() - start
    errors = sum(1 for r in results if isinstance(r.value, Exception))
    new = sum(r.value.new for r in results if r.value and not isinstance(r.value, Exception))
    reader.close()
    return {
        "wall": wall,
        "line": f"{len(results)} feeds, {errors} errors, {new} new",
        **usage.done(),
    }


def worker_fetch_only(urls_file: Path, timeout: float) -> dict:
    """fetch_feeds alone: a cold pass, then a conditional pass with the validators it got."""
    import asyncio
    from collections import Counter

    from campplanet.config import FetchSettings
    from campplanet.fetch import fetch_feeds
    from campplanet.types import FetchRequest

    settings = FetchSettings(allow_private_networks=True, timeout=timeout)

    async def run(requests: list[FetchRequest]) -> tuple[Counter, list[FetchRequest]]:
        counts: Counter = Counter()
        again = []
        async for result in fetch_feeds(requests, settings, user_agent="bench"):
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
    }


def measure(tool: str, folder: Path, opml: Path, urls: Path, args, profile: str = "") -> dict:
    """Run one refresh in a fresh process, sampling its process tree's memory."""
    command = [sys.executable, str(HERE), "--worker", tool, "--dir", str(folder)]
    command += ["--opml", str(opml), "--urls", str(urls), "--timeout", str(args.timeout)]
    if profile:
        command += ["--profile-mode", profile]
    done = run_measured(command, interval=args.sample_ms / 1000)
    if done.returncode != 0:
        raise SystemExit(f"{tool} worker failed:\n{done.stderr[-3000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["tree_rss_mb"] = done.tree_rss_mb
    out["tree_processes"] = done.tree_peak_processes
    out["process_wall"] = done.wall
    return out


# -- the benchmark ----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=0, help="farm hosts (0: one per 4 feeds)")
    parser.add_argument(
        "--entries-per-feed", type=int, default=0, help="entries in each feed (0: 10 to 30)"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hang", type=float, default=120.0, help="seconds hung feeds hang")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="fetch.timeout (reader: read timeout)"
    )
    parser.add_argument("--tools", default="campplanet,reader")
    parser.add_argument("--sample-ms", type=float, default=25.0, help="RSS sampling interval")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--opml", help=argparse.SUPPRESS)
    parser.add_argument("--urls", help=argparse.SUPPRESS)
    parser.add_argument("--profile-mode", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        folder, opml, urls = Path(args.dir), Path(args.opml), Path(args.urls)
        if args.worker in ("campplanet", INPROCESS):
            out = worker_campplanet(
                folder,
                opml,
                args.timeout,
                args.profile_mode or None,
                inprocess=args.worker == INPROCESS,
            )
        elif args.worker == "reader":
            out = worker_reader(folder, urls, args.timeout)
        else:
            out = worker_fetch_only(urls, args.timeout)
        print(json.dumps(out))
        return

    from feedfarm import FarmPlan, FeedFarm, FeedSource

    from campplanet.config import FetchSettings

    tools = args.tools.split(",")
    precompile()
    unknown = set(tools) - {"campplanet", INPROCESS, "reader"}
    if unknown:
        parser.error(f"unknown tools: {', '.join(sorted(unknown))}")
    if args.hang <= args.timeout:
        print(f"warning: --hang {args.hang:g} is not longer than --timeout {args.timeout:g}")
    plan = FarmPlan(feeds=args.feeds, hosts=args.hosts, entries_per_feed=args.entries_per_feed)
    entries = f"{plan.entries_per_feed}" if plan.entries_per_feed else "10-30"
    print(
        f"farm: {plan.feeds} feeds on {plan.host_count} loopback hosts, {entries} entries "
        f"each, {plan.error_fraction:.0%} errors, latency {plan.latency[0] * 1000:.0f}-"
        f"{plan.latency[1] * 1000:.0f} ms; fetch.timeout {args.timeout:g} s; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    mean_latency = statistics.mean(FeedSource(plan).latencies)
    concurrency = {
        "campplanet": FetchSettings().concurrency,
        INPROCESS: FetchSettings().concurrency,
        "reader": READER_WORKERS,
    }
    limits = {tool: plan.feeds * mean_latency / concurrency[tool] for tool in tools}
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
                prepare = {
                    "cold": lambda: None,
                    "warm": lambda run=run: farm.change(0.05, seed=100 + run),
                    "hung": lambda run=run: farm.hang(0.02, args.hang, seed=200 + run),
                }
                for phase in PHASES:
                    prepare[phase]()
                    for tool in tools:
                        farm.stats()  # reset the farm's counters
                        out = measure(tool, folders[tool], opml, urls, args)
                        out["farm"] = farm.stats()
                        results.setdefault((tool, phase), []).append(out)
                        line = (
                            f"run {run + 1} {phase:4} {tool:20} wall {out['wall']:6.2f}s "
                            f"cpu {out['cpu']:6.2f}s peak rss {out['tree_rss_mb']:4.0f} MB "
                            f"summed over {out['tree_processes']} processes (main "
                            f"{out['rss_mb']:.0f}, largest worker {out['child_rss_mb']:.0f})"
                        )
                        if phase == "warm":
                            line += (
                                f"; network limit {limits[tool]:.2f}s, "
                                f"ratio {out['wall'] / limits[tool]:.2f}"
                            )
                        print(f"{line}\n    {out['line']}; farm {out['farm']}", flush=True)
                farm.reset()
                fetch_only = measure("fetch", root, opml, urls, args)
                results.setdefault(("fetch-only", "cold"), []).append(fetch_only)
                print(
                    f"run {run + 1} fetch_feeds alone: cold wall {fetch_only['wall']:.2f}s "
                    f"cpu {fetch_only['cpu']:.2f}s; conditional wall "
                    f"{fetch_only['warm_wall']:.2f}s cpu {fetch_only['warm_cpu']:.2f}s; "
                    f"{fetch_only['line']}",
                    flush=True,
                )
            report(results, tools, plan, mean_latency, concurrency, limits, args)
            if args.profile:
                for mode in ("pool", "inprocess"):
                    farm.reset()
                    folder = root / f"profile-{mode}"
                    folder.mkdir()
                    for phase in ("cold", "warm"):
                        if phase == "warm":
                            farm.change(0.05, seed=999)
                        out = measure("campplanet", folder, opml, urls, args, profile=mode)
                        print(f"\n== pyinstrument: {phase} campplanet refresh, parsing {mode} ==")
                        print("\n".join(out["profile"].splitlines()[:80]))
    finally:
        farm.stop()


def report(results, tools, plan, mean_latency, concurrency, limits, args) -> None:
    def med(tool: str, phase: str, key: str = "wall") -> float:
        return statistics.median(r[key] for r in results[(tool, phase)])

    runs = len(results[(tools[0], "cold")])
    print(
        f"\nmedians of {runs} runs: {plan.feeds} feeds on {plan.host_count} hosts, "
        f"fetch.timeout {args.timeout:g} s, hung feeds hang {args.hang:g} s; load average "
        f"now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"  {'tool':10} {'kind':4} {'wall':>8} {'cpu':>8} {'peak rss (tree)':>16} "
        f"{'main process':>15} {'largest worker':>15}"
    )
    for tool in tools:
        for phase in PHASES:
            print(
                f"  {tool:20} {phase:4} {med(tool, phase):7.2f}s {med(tool, phase, 'cpu'):7.2f}s "
                f"{med(tool, phase, 'tree_rss_mb'):13.0f} MB {med(tool, phase, 'rss_mb'):12.0f} MB"
                f" {med(tool, phase, 'child_rss_mb'):12.0f} MB"
            )
    if "campplanet" in tools:
        for phase in PHASES:
            fetch = med("campplanet", phase, "fetch_store")
            print(
                f"  campplanet {phase}: fetch+parse+store {fetch:.2f}s, "
                f"the rest (OPML, render) {med('campplanet', phase) - fetch:.2f}s"
            )
    print(
        f"  fetch_feeds alone, no parsing or storing: cold {med('fetch-only', 'cold'):.2f}s,"
        f" all conditional (304) {med('fetch-only', 'cold', 'warm_wall'):.2f}s"
    )
    for tool in tools:
        ratios = [r["wall"] / limits[tool] for r in results[(tool, "warm")]]
        print(
            f"  {tool} network limit, feeds x mean latency / concurrency = {plan.feeds} x "
            f"{mean_latency * 1000:.0f} ms / {concurrency[tool]} = {limits[tool]:.2f}s; "
            f"warm / limit: {', '.join(f'{x:.2f}' for x in ratios)} "
            f"(median {statistics.median(ratios):.2f})"
        )
    if "campplanet" in tools and "reader" in tools:
        print("  campplanet / reader (below 1: campplanet is faster or smaller):")
        for phase in PHASES:
            ratios = {
                key: med("campplanet", phase, key) / med("reader", phase, key)
                for key in ("wall", "cpu", "tree_rss_mb")
            }
            print(
                f"    {phase:4}: wall {ratios['wall']:.2f}, cpu {ratios['cpu']:.2f}, "
                f"peak rss {ratios['tree_rss_mb']:.2f}"
            )
    if "campplanet" in tools and INPROCESS in tools:
        print("  campplanet with its parse pool / parsing in-process (below 1: the pool pays):")
        for phase in PHASES:
            ratios = {
                key: med("campplanet", phase, key) / med(INPROCESS, phase, key)
                for key in ("wall", "cpu", "tree_rss_mb")
            }
            print(
                f"    {phase:4}: wall {ratios['wall']:.2f}, cpu {ratios['cpu']:.2f}, "
                f"peak rss {ratios['tree_rss_mb']:.2f}"
            )
    if "campplanet" in tools:
        warm, hung = med("campplanet", "warm"), med("campplanet", "hung")
        target = max(warm, args.timeout) + 3
        print(
            f"  campplanet hung {hung:.2f}s against the target max(warm {warm:.2f}s, timeout "
            f"{args.timeout:g}s) + 3s = {target:.2f}s: {'met' if hung <= target else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
