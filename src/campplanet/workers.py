"""Where fetched bodies are parsed: the one place that knows about worker processes.

Parsing is CPU-bound and the fetcher mostly waits on the network, so with many bodies to
parse they go to a pool of worker processes (one per core) while fetching goes on; with a
few, a pool costs more than it saves and they are parsed in the run's own process. Either
way the run sees one interface, :class:`Parser`: ``await parser.parse(parser.job(...))``.

A pool works through its queue at its own pace while the fetcher goes on, so bodies can
wait a while to be parsed: a pool's jobs keep their body in a file (spooled), not in the
run's memory, and the worker that parses it deletes it.

Workers leave signals to the run (Ctrl-C is ignored, SIGTERM ends them at once) and, on
Linux, ask to be sent SIGTERM when the run dies, even by SIGKILL, so no worker outlives a
killed run (and none keeps its lock: see :mod:`campplanet.lock`).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from campplanet.parse import ParseError, parse_feed
from campplanet.types import ParsedFeed, ParseFailure

# Below this many bodies to parse, worker processes cost more than they save.
POOL_THRESHOLD = 8


@dataclass(frozen=True)
class ParseJob:
    """One fetched body to parse, with what parsing it needs (picklable). The body is in
    ``body``, or in the file ``spooled`` names (which parsing the job deletes)."""

    body: bytes | None
    base_url: str
    content_type: str | None
    iframe_hosts: tuple[str, ...]
    max_entries: int
    spooled: str | None = None


def parse_job(job: ParseJob) -> ParsedFeed | ParseFailure:
    """The parsed feed, or why the body cannot be used. A hostile or freak document costs
    its feed, never the run."""
    try:
        body = job.body if job.spooled is None else _unspool(job.spooled)
        assert body is not None
    except OSError as e:
        return ParseFailure(f"could not read the fetched body back ({e.strerror or e})")
    try:
        return parse_feed(
            body,
            job.base_url,
            content_type=job.content_type,
            iframe_hosts=job.iframe_hosts,
            max_entries=job.max_entries,
        )
    except ParseError as e:
        return ParseFailure(str(e))
    except (RecursionError, MemoryError, ValueError, TypeError, LookupError) as e:
        return ParseFailure(f"could not parse the feed ({type(e).__name__}: {e})")


def _unspool(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    finally:
        Path(path).unlink(missing_ok=True)


class Parser:
    """Parses in the run's own process."""

    def job(
        self,
        body: bytes,
        base_url: str,
        content_type: str | None,
        iframe_hosts: tuple[str, ...],
        max_entries: int,
    ) -> ParseJob:
        """A job for this parser (the caller keeps no reference to ``body`` after it)."""
        spooled = self.spool_file(body)
        kept = None if spooled is not None else body
        return ParseJob(kept, base_url, content_type, iframe_hosts, max_entries, spooled)

    def spool_file(self, body: bytes) -> str | None:
        """The file where ``body`` waits for its parser, or None if it waits in memory."""
        return None

    async def parse(self, job: ParseJob) -> ParsedFeed | ParseFailure:
        return parse_job(job)


class PoolParser(Parser):
    """Parses in worker processes, while the event loop goes on fetching. Bodies wait for
    a worker in files under ``spool``, not in memory."""

    def __init__(self, pool: ProcessPoolExecutor, spool: Path):
        self.pool = pool
        self.spool = spool
        self.spooled = 0

    def spool_file(self, body: bytes) -> str | None:
        self.spooled += 1
        path = self.spool / f"{self.spooled}.body"
        try:
            path.write_bytes(body)
        except OSError:  # no room for it: it waits in memory instead
            with suppress(OSError):
                path.unlink(missing_ok=True)
            return None
        return str(path)

    async def parse(self, job: ParseJob) -> ParsedFeed | ParseFailure:
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, parse_job, job)
        except BrokenProcessPool:
            return ParseFailure("the parser process died on this feed")


@contextmanager
def parser_for(bodies: int) -> Iterator[Parser]:
    """A parser for a run that may parse up to ``bodies`` bodies."""
    cores = os.cpu_count() or 1
    if bodies < POOL_THRESHOLD or cores < 2:
        yield Parser()
        return
    spool = Path(tempfile.mkdtemp(prefix="campplanet-bodies-"))
    pool = ProcessPoolExecutor(max_workers=cores, initializer=_quiet_worker)
    try:
        yield PoolParser(pool, spool)
    finally:
        pool.shutdown(cancel_futures=True)
        shutil.rmtree(spool, ignore_errors=True)


def _quiet_worker() -> None:
    """Parse workers leave signals to the run: Ctrl-C is ignored (the run stops the pool),
    SIGTERM ends a worker at once, without the run's handler or a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent()


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM to this worker when the run dies (even by SIGKILL)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: workers still exit when their queue closes
