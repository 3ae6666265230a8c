"""campplanet run unattended, as cron or systemd run it: real processes, a local farm of feeds.

Every test here starts ``python -m campplanet ...`` as a child process (no TTY unless a
test gives it one) against feeds served by :mod:`httpfarm` on loopback addresses, then
looks at exit codes, stdout/stderr, the database and the published files.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import html5lib
import pytest

from campplanet.config import load_settings
from campplanet.storage import Storage
from campplanet.types import FeedState
from campplanet.update import stale_since
from httpfarm import Farm, Route
from planetkit import CORPUS, blog, opml_document

CAMPPLANET = [sys.executable, "-m", "campplanet"]

# Real-world feeds that stay the same from run to run beside the generated ones.
CORPUS_FEEDS = [
    "wordpress/rsscom-blog-wp6-rss2.xml",
    "jekyll/qemu-jekyll-feed-atom.atom",
]


@dataclass
class Planet:
    """A planet folder and a farm serving its feeds."""

    root: Path
    farm: Farm
    feeds: list[tuple[str, str]] = field(default_factory=list)

    @property
    def db(self) -> Path:
        return self.root / "planet.db"

    @property
    def output(self) -> Path:
        return self.root / "public"

    @property
    def lock(self) -> Path:
        return self.root / "planet.db.lock"

    def args(self) -> list[str]:
        return [
            "--opml",
            str(self.root / "feeds.opml"),
            "--db",
            str(self.db),
            "--output",
            str(self.output),
            "--allow-private-networks",
        ]

    def add(self, name: str, route: Route, host: int = 0) -> str:
        url = self.farm.add(f"/{len(self.feeds)}/feed.xml", route, host=host)
        self.feeds.append((name, url))
        (self.root / "feeds.opml").write_text(opml_document(self.feeds))
        return url

    def start(self, command: str, *extra: str, **kwargs) -> subprocess.Popen[str]:
        """Start a campplanet command in its own process group (so it can be cleaned up)."""
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(
            [*CAMPPLANET, command, *self.args(), *extra],
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
            **kwargs,
        )

    def run(self, command: str, *extra: str, timeout: float = 60) -> subprocess.CompletedProcess:
        proc = self.start(command, *extra)
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            end_group(proc)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def end_group(proc: subprocess.Popen) -> None:
    """Kill what is left of a child's process group (orphaned parse workers)."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def farm():
    with Farm(hosts=2) as f:
        yield f


@pytest.fixture
def planet(tmp_path, farm) -> Planet:
    return Planet(tmp_path, farm)


# --- what must hold whenever no run is writing -------------------------------------------


def check_database(db: Path) -> None:
    """Integrity, and no entry stored twice: neither by key nor by canonical link."""
    if not db.exists():
        return  # killed before the database was created
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
        if "entries" not in tables:
            # killed before the schema was committed: an empty database, still version 0
            assert con.execute("PRAGMA user_version").fetchone()[0] == 0
            assert tables == set()
            return
        dupes = con.execute(
            "SELECT feed_url, key, count(*) FROM entries GROUP BY feed_url, key HAVING count(*) > 1"
        ).fetchall()
        assert dupes == []
        same_link = con.execute(
            "SELECT feed_url, canonical_link, count(*) FROM entries "
            "WHERE canonical_link IS NOT NULL GROUP BY feed_url, canonical_link "
            "HAVING count(*) > 1"
        ).fetchall()
        assert same_link == []
    finally:
        con.close()


def check_output(folder: Path) -> dict[str, bytes]:
    """Every published file parses completely; returns them by relative path."""
    files = {}
    if not folder.exists():
        return files
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        rel = str(path.relative_to(folder))
        data = path.read_bytes()
        files[rel] = data
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            continue  # a render's temporary file, never at a published name
        if path.suffix == ".html":
            # strict: a truncated page misses its end tags and fails
            html5lib.HTMLParser(strict=True).parse(data)
            assert data.rstrip().endswith(b"</html>"), rel
        elif path.suffix == ".xml":
            ET.fromstring(data)
        elif path.suffix == ".json":
            json.loads(data)
        elif path.suffix == ".css":
            assert data.count(b"{") == data.count(b"}"), rel
    return files


def temp_files(folder: Path) -> list[str]:
    """Render's temporary files (``.NAME.PID.tmp``) left in the output folder."""
    if not folder.exists():
        return []
    return [p.name for p in folder.rglob(".*.tmp")]


def temp_file_pids(folder: Path) -> set[int]:
    return {int(name.rsplit(".", 2)[-2]) for name in temp_files(folder)}


def wait_for_lock_holder(planet: Planet, proc: subprocess.Popen, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if planet.lock.exists() and planet.lock.read_text().strip() == str(proc.pid):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("the run never took the lock")


# --- one run at a time -----------------------------------------------------------------


def held_planet(planet: Planet, feeds: int = 3) -> threading.Event:
    """Feeds that answer only once the returned gate is set: a run holds the lock, in the
    middle of its fetch, for as long as the test needs."""
    gate = threading.Event()
    for i in range(feeds):
        planet.add(f"Blog {i}", Route(blog(i, 0), gate=gate), host=i % 2)
    return gate


def test_second_refresh_exits_75_naming_lock_and_pid_while_first_completes(planet):
    gate = held_planet(planet)
    first = planet.start("refresh")
    try:
        wait_for_lock_holder(planet, first)
        second = planet.run("refresh")
        assert first.poll() is None  # refused while the first still ran: at once
        assert second.returncode == 75, second
        assert second.stdout == ""
        assert f"another campplanet run holds {planet.lock} (pid {first.pid})" in second.stderr, (
            second.stderr
        )
        assert "Traceback" not in second.stderr
        gate.set()
        out, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
        assert out.startswith("feeds: 3 ok"), out
    finally:
        gate.set()
        end_group(first)
    check_database(planet.db)


def test_wait_runs_after_the_holder_finishes(planet):
    gate = held_planet(planet)
    first = planet.start("refresh")
    try:
        wait_for_lock_holder(planet, first)
        second = planet.start("refresh", "--wait", "60")
        time.sleep(0.5)
        assert second.poll() is None and first.poll() is None  # still waiting for the first
        gate.set()
        out2, err2 = second.communicate(timeout=90)
        assert first.poll() is not None  # the second could only finish after the first
        out1, err1 = first.communicate(timeout=10)
        assert first.returncode == 0 and out1.startswith("feeds: 3 ok"), err1
        assert second.returncode == 0, err2
        # The second run came after the first had stored everything: nothing was new.
        assert out2.startswith("feeds: 0 ok, 3 not modified"), out2
    finally:
        gate.set()
        end_group(first)


def test_lock_message_in_json_for_log_collectors(planet):
    gate = held_planet(planet, feeds=1)
    first = planet.start("refresh")
    try:
        wait_for_lock_holder(planet, first)
        second = planet.run("fetch", "--log-format", "json")
    finally:
        gate.set()
        end_group(first)
    assert second.returncode == 75
    assert second.stdout == ""
    [record] = [json.loads(line) for line in second.stderr.splitlines()]
    assert record["level"] == "error" and record["exit_code"] == 75
    assert f"holds {planet.lock} (pid {first.pid})" in record["message"]


@pytest.mark.parametrize("command", ["fetch", "render", "prune", "refresh", "add"])
def test_every_run_command_takes_the_lock(planet, command):
    planet.add("Blog", Route(blog(1, 0)))
    opml = (planet.root / "feeds.opml").read_text()
    extra = [planet.farm.add("/another.xml", Route(blog(2, 0)))] if command == "add" else []
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from campplanet.lock import run_lock\n"
            "with run_lock(sys.argv[1]):\n    print('held', flush=True); sys.stdin.readline()",
            str(planet.db),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        result = planet.run(command, *extra)
        assert result.returncode == 75, result
        assert f"holds {planet.lock} (pid {holder.pid})" in result.stderr
        # Nothing was done behind the holder's back.
        assert not planet.output.exists() and not planet.db.exists()
        assert (planet.root / "feeds.opml").read_text() == opml
    finally:
        holder.kill()
        holder.wait()
    result = planet.run(command, *extra)
    assert result.returncode == 0, result
    if command == "add":
        assert extra[0] in (planet.root / "feeds.opml").read_text()


# --- quiet for cron --------------------------------------------------------------------


@pytest.fixture
def mixed_planet(planet):
    """Two working blogs and one that answers 404."""
    planet.add("Blog A", Route(blog(1, 0)))
    planet.add("Blog B", Route(blog(2, 0)), host=1)
    planet.add("Dead blog", Route(b"gone fishing", status=404, content_type="text/plain"))
    return planet


def test_without_a_tty_one_summary_line_and_failures_on_stderr(mixed_planet):
    result = mixed_planet.run("refresh")
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert re.fullmatch(
        r"feeds: 2 ok, 0 not modified, 1 failed; entries: 8 new, 0 updated; \d+\.\ds", lines[0]
    ), lines[0]
    errors = result.stderr.splitlines()
    assert len(errors) == 1, result.stderr
    dead = mixed_planet.feeds[2][1]
    assert "Dead blog" in errors[0] and dead in errors[0] and "404" in errors[0]
    assert "\r" not in result.stderr and "\033" not in result.stderr  # no progress display


def test_quiet_prints_nothing_on_success_and_only_errors_otherwise(planet):
    planet.add("Blog A", Route(blog(1, 0)))
    ok = planet.run("refresh", "--quiet")
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    planet.add("Dead blog", Route(b"no", status=500, content_type="text/plain"))
    failing = planet.run("refresh", "--quiet")
    assert failing.returncode == 0
    assert failing.stdout == ""
    assert failing.stderr.count("\n") == 1 and "Dead blog" in failing.stderr


def test_verbose_gives_a_line_per_feed(mixed_planet):
    result = mixed_planet.run("refresh", "-v")
    assert result.returncode == 0
    assert "Blog A: ok" in result.stdout and "Blog B: ok" in result.stdout
    assert "Dead blog" in result.stderr


def test_json_log_lines_all_parse(mixed_planet):
    result = mixed_planet.run("refresh", "--log-format", "json")
    assert result.returncode == 0, result
    records = [json.loads(line) for line in (result.stdout + result.stderr).splitlines()]
    assert all({"level", "message"} <= r.keys() for r in records)
    summary = [r for r in records if r["level"] == "info"]
    assert len(summary) == 1 and summary[0]["ok"] == 2 and summary[0]["failed"] == 1
    errors = [r for r in records if r["level"] == "error"]
    assert [r["feed"] for r in errors] == [mixed_planet.feeds[2][1]]


def test_on_a_terminal_progress_goes_to_stderr_and_is_cleared(mixed_planet):
    controller, terminal = pty.openpty()
    try:
        proc = mixed_planet.start("refresh", stderr=terminal)
        os.close(terminal)
        out, _ = proc.communicate(timeout=60)
        chunks = []
        with contextlib.suppress(OSError):
            while data := os.read(controller, 65536):
                chunks.append(data)
    finally:
        os.close(controller)
    err = b"".join(chunks).decode()
    assert proc.returncode == 0
    assert out.startswith("feeds: 2 ok")
    assert "fetched" in err and "\r" in err  # the progress counter
    assert "Dead blog" in err


# --- interrupted runs ------------------------------------------------------------------


def read_json_until(proc: subprocess.Popen, wanted: int, timeout: float = 30) -> list[dict]:
    """Read --log-format json records from stdout until ``wanted`` feeds reported ok."""
    records: list[dict] = []
    deadline = time.monotonic() + timeout
    while sum(r.get("result") == "ok" for r in records) < wanted:
        assert time.monotonic() < deadline, records
        line = proc.stdout.readline()
        assert line, (records, proc.stderr.read())
        records.append(json.loads(line))
    return records


@pytest.fixture
def hanging_planet(planet):
    """Nine feeds that answer at once and one that never answers (a pool of parse workers
    is used from eight feeds up)."""
    for i in range(9):
        planet.add(f"Blog {i}", Route(blog(i, 0)), host=i % 2)
    return planet


def rendered_then_hang(planet: Planet) -> dict[str, bytes]:
    """Render once with every feed working; then make every blog change and one hang."""
    planet.add("Hung blog", Route(blog(20, 0)))
    assert planet.run("refresh").returncode == 0
    before = check_output(planet.output)
    for i in range(9):
        planet.farm.route(planet.feeds[i][1]).body = blog(i, 1)
    planet.farm.route(planet.feeds[9][1]).hang = 120
    return before


@pytest.mark.parametrize("whole_group", [False, True], ids=["main-process", "process-group"])
def test_sigterm_mid_run_exits_143_with_finished_feeds_stored(hanging_planet, whole_group):
    """SIGTERM to the run (cron's kill) or to its whole group (systemd's stop)."""
    planet = hanging_planet
    before = rendered_then_hang(planet)
    proc = planet.start("refresh", "--log-format", "json")
    try:
        read_json_until(proc, 9)
        if whole_group:
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    finally:
        end_group(proc)
    assert proc.returncode == 143, err
    assert "Traceback" not in err, err
    records = [json.loads(line) for line in err.splitlines()]  # --log-format json holds
    assert records[-1]["message"] == "terminated; finished feeds are stored"
    assert records[-1]["exit_code"] == 143
    check_database(planet.db)
    with Storage(planet.db) as storage:
        for name, url in planet.feeds[:9]:
            keys = {e.key for e in storage.entries_of(url)}
            assert len(keys) == 5, name  # generation 1's new post is stored
    # The site was not rendered by the interrupted run: it is whole, and as it was.
    assert check_output(planet.output) == before


def test_ctrl_c_mid_run_exits_130_with_finished_feeds_stored(hanging_planet):
    planet = hanging_planet
    before = rendered_then_hang(planet)
    # A child of a non-interactive shell may inherit SIGINT ignored; a terminal's Ctrl-C
    # reaches a process that has Python's usual handler, so give it that.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "from campplanet.cli import main; sys.argv[0] = 'campplanet'; main()",
            "refresh",
            *planet.args(),
            "--log-format",
            "json",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        read_json_until(proc, 9)
        os.killpg(proc.pid, signal.SIGINT)  # the terminal signals the whole foreground group
        _out, err = proc.communicate(timeout=20)
    finally:
        end_group(proc)
    assert proc.returncode == 130, err
    assert "interrupted; finished feeds are stored" in err
    assert "Traceback" not in err, err
    check_database(planet.db)
    with Storage(planet.db) as storage:
        assert all(len(storage.entries_of(url)) == 5 for _, url in planet.feeds[:9])
    assert check_output(planet.output) == before


KILLS = 20  # a fixed number, however long they take: a loaded machine makes none fewer


@pytest.mark.slow
def test_sigkill_at_random_moments_never_corrupts_anything(planet):
    """Kill -9 a run at a random moment and check; after every second kill, a normal run
    and check again; ``KILLS`` times, every blog changing each time so each run writes.

    Only the run's main process is killed, as the OOM killer or ``kill -9 PID`` would: its
    orphaned parse workers live on during the next run, and must not hold the lock.
    """
    seed = int(os.environ.get("CAMPPLANET_KILL_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    blogs = 12
    for i in range(blogs):
        # Spread answers over the run so kills land between stored feeds.
        planet.add(f"Blog {i}", Route(blog(i, 0), latency=0.05 * i), host=i % 2)
    for j, path in enumerate(CORPUS_FEEDS):
        planet.add(f"Corpus {j}", Route((CORPUS / path).read_bytes(), latency=0.2), host=j % 2)

    landed: Counter[str] = Counter()
    victims: list[subprocess.Popen] = []
    killed: set[int] = set()
    startup = 1.0  # seconds before a run stores its first feed: a guess, then measured
    generation = 0
    try:
        while generation < KILLS:
            generation += 1
            for i in range(blogs):
                planet.farm.route(planet.feeds[i][1]).body = blog(i, generation)
            victim = planet.start("refresh", "-v")  # -v: a line as each feed is stored
            victims.append(victim)
            killed.add(victim.pid)
            kill_at_random_moment(victim, rng, feeds=len(planet.feeds), startup=startup)
            check_database(planet.db)
            files = check_output(planet.output)
            landed[where_it_landed(planet, files, generation, blogs)] += 1
            if generation % 2 == 0:
                after, startup = timed_run(planet)
                check_recovered(planet, after, generation, blogs, seed, killed)
    finally:
        for victim in victims:
            end_group(victim)
    if generation % 2:
        check_recovered(planet, timed_run(planet)[0], generation, blogs, seed, killed)
    print(
        f"seed {seed}: {generation} kills landed {dict(landed)}; "
        f"temporary files left by killed runs: {len(temp_files(planet.output))}"
    )
    assert landed["mid-fetch"] >= 3, dict(landed)  # the kills did land inside runs

    # The database holds each post of each blog exactly once, whatever the kills did.
    with Storage(planet.db) as storage:
        for i in range(blogs):
            links = sorted(e.link for e in storage.entries_of(planet.feeds[i][1]))
            expected = sorted(
                f"https://blog{i}.example.org/posts/{post}/" for post in range(generation + 4)
            )
            assert links == expected, (seed, i)


def kill_at_random_moment(
    victim: subprocess.Popen, rng: random.Random, *, feeds: int, startup: float
) -> None:
    """SIGKILL the run: during start-up, or just after its k-th feed was stored (mid-fetch,
    mid-write), or after the last one (while it renders)."""
    roll = rng.random()
    if roll < 0.2:
        time.sleep(rng.uniform(0.05, startup))
    else:
        stored = rng.randrange(1, feeds) if roll < 0.7 else feeds
        for _ in range(stored):
            if not victim.stdout.readline():
                break  # it finished (or failed) first
        time.sleep(rng.uniform(0, 0.08) if stored < feeds else rng.uniform(0, 0.5))
    victim.kill()
    victim.wait()


def timed_run(planet: Planet) -> tuple[subprocess.CompletedProcess, float]:
    """A normal run, and how long it took to store its first feed."""
    started = time.monotonic()
    proc = planet.start("refresh", "-v")
    try:
        first = proc.stdout.readline()
        startup = time.monotonic() - started
        out, err = proc.communicate(timeout=60)
    finally:
        end_group(proc)
    summary = [line for line in (first + out).splitlines() if line.startswith("feeds: ")]
    return subprocess.CompletedProcess(proc.args, proc.returncode, "\n".join(summary), err), startup


def check_recovered(
    planet: Planet,
    after: subprocess.CompletedProcess,
    generation: int,
    blogs: int,
    seed: int,
    killed: set[int],
) -> None:
    """The normal run after kills completed, stored and published everything, once."""
    assert after.returncode == 0, (seed, after.stderr)
    assert after.stdout.startswith("feeds: "), after.stdout
    check_database(planet.db)
    files = check_output(planet.output)
    # A completed run leaves no temporary file of its own; one killed in the middle of
    # writing a file may (render does not sweep them yet), never at a published name.
    assert temp_file_pids(planet.output) <= killed, (seed, temp_files(planet.output))
    ids = [e.findtext("{http://www.w3.org/2005/Atom}id") for e in entries(files)]
    assert len(ids) == len(set(ids)), seed
    newest = f"Blog {blogs - 1} post {generation + 3}".encode()
    assert newest in files["index.html"], seed


def entries(files: dict[str, bytes]) -> list[ET.Element]:
    return ET.fromstring(files["atom.xml"]).findall("{http://www.w3.org/2005/Atom}entry")


def where_it_landed(planet: Planet, files: dict[str, bytes], generation: int, blogs: int) -> str:
    """Which stage the kill interrupted, judged by what it left behind."""
    with Storage(planet.db) as storage:
        stored = (
            sum(
                any(
                    e.title.startswith(f"Blog {i} post {generation + 3}")
                    for e in storage.entries_of(planet.feeds[i][1])
                )
                for i in range(blogs)
            )
            if planet.db.exists()
            else 0
        )
    shown = b"post %d" % (generation + 3) in files.get("index.html", b"")
    if stored == 0:
        return "before-any-store"
    if stored < blogs:
        return "mid-fetch"
    return "rendered" if shown else "before-or-mid-render"


# --- staleness -------------------------------------------------------------------------

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def states_db(path: Path, *states: FeedState) -> Storage:
    storage = Storage(path)
    with storage.transaction():
        for state in states:
            storage.save_feed(state)
    return storage


def hours(n: float) -> datetime:
    return NOW - timedelta(hours=n)


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([], None),  # a planet that never ran is not stale
        ([FeedState("a", added=hours(30), last_success=hours(23))], None),
        ([FeedState("a", added=hours(30), last_success=hours(25))], hours(25)),
        (  # the newest success of any feed counts
            [
                FeedState("a", added=hours(90), last_success=hours(80)),
                FeedState("b", added=hours(90), last_success=hours(2)),
            ],
            None,
        ),
        (  # never any success: stale once the first attempt is old enough
            [FeedState("a", added=hours(25), last_attempt=hours(1), failures=9)],
            hours(25),
        ),
        ([FeedState("a", added=hours(3), last_attempt=hours(1), failures=2)], None),
        (
            [
                FeedState("a", added=hours(26), failures=9, failing_since=hours(26)),
                FeedState("b", added=hours(40), failures=9, failing_since=hours(40)),
            ],
            hours(40),
        ),
        (  # rows without "added" fall back to when they started failing
            [FeedState("a", failures=9, failing_since=hours(30), last_attempt=hours(1))],
            hours(30),
        ),
    ],
)
def test_stale_since(tmp_path, states, expected):
    settings = load_settings(None, {})
    with states_db(tmp_path / "stale.db", *states) as storage:
        assert stale_since(storage, settings, NOW) == expected


@pytest.mark.parametrize("ever_succeeded", [True, False])
def test_refresh_exits_1_when_stale_and_status_shows_the_last_success(planet, ever_succeeded):
    url = planet.add("Dead blog", Route(b"no", status=500, content_type="text/plain"))
    long_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=30)
    state = FeedState(url, added=long_ago, failures=5, failing_since=long_ago)
    if ever_succeeded:
        state = FeedState(url, added=long_ago - timedelta(days=9), last_success=long_ago)
    states_db(planet.db, state).close()

    result = planet.run("refresh", "--quiet")
    assert result.returncode == 1, result
    assert result.stdout == ""
    assert (
        f"no feed has been fetched successfully since {long_ago:%Y-%m-%d %H:%M} UTC"
        in result.stderr
    ), result.stderr

    status = planet.run("status")
    when = f"{long_ago:%Y-%m-%d %H:%M} UTC" if ever_succeeded else "never"
    assert f"last successful fetch: {when}" in status.stdout
    page = (planet.output / "feeds.html").read_text()
    if ever_succeeded:
        assert long_ago.strftime("%Y-%m-%dT%H:%M") in page
    else:
        assert "No feed has been read successfully yet" in page
