"""A first run that explains itself: started in the wrong folder, or on a machine offline.

Real ``python -m campplanet`` processes; "offline" is made of loopback addresses whose port
nobody listens on, so every connection is refused without leaving this machine.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from campplanet.cli.run import Reporter, seems_offline
from campplanet.types import Failure, Outcome, RunSummary
from planetkit import opml_document

UNREACHABLE = Outcome.UNREACHABLE

CAMPPLANET = [sys.executable, "-m", "campplanet"]


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CAMPPLANET, *args], cwd=folder, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("command", ["refresh", "fetch", "render", "prune", "status"])
def test_outside_the_planet_folder_says_where_it_looked_and_leaves_nothing(
    tmp_path: Path, command: str
) -> None:
    done = run(tmp_path, command)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"campplanet: no campplanet.toml and no feeds.opml in {tmp_path}: run campplanet in "
        "the planet's folder, or give its settings with --config FILE (or its subscription "
        "list with --opml FILE)"
    )
    assert list(tmp_path.iterdir()) == []  # no lock file, no database


def test_a_named_list_that_is_missing_leaves_no_lock_either(tmp_path: Path) -> None:
    done = run(tmp_path, "refresh", "--opml", str(tmp_path / "nope.opml"))
    assert done.returncode == 2
    assert f"campplanet: {tmp_path / 'nope.opml'}: subscription list not found" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_in_the_json_log_too(tmp_path: Path) -> None:
    done = run(tmp_path, "refresh", "--log-format", "json")
    record = json.loads(done.stderr)
    assert record["level"] == "error" and record["exit_code"] == 2
    assert str(tmp_path) in record["message"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def offline_planet(tmp_path: Path) -> Path:
    """Twelve blogs on six hosts, none of which answers."""
    port = closed_port()
    feeds = [(f"Blog {i}", f"http://127.0.0.{1 + i % 6}:{port}/feed{i}.xml") for i in range(12)]
    (tmp_path / "feeds.opml").write_text(opml_document(feeds))
    (tmp_path / "campplanet.toml").write_text("[fetch]\nallow_private_networks = true\n")
    return tmp_path


def test_offline_first_run_says_so_once(offline_planet: Path) -> None:
    done = run(offline_planet, "refresh")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "campplanet: every feed failed before reaching its server (connection refused): this "
        "machine seems to be offline; check its network connection (and DNS), then run again",
        "campplanet: every feed failed",
    ]
    assert "12 failed" in done.stdout


def report(capsys: pytest.CaptureFixture[str], summary: RunSummary, **kw: bool) -> list[str]:
    Reporter(quiet=False, verbose=kw.get("verbose", False), log_format="text").summary(summary, {})
    out = capsys.readouterr()
    return out.err.splitlines() + out.out.splitlines()


def test_offline_details_still_come_with_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    summary = RunSummary(
        failed=2,
        failures=[
            Failure("https://a.example/feed", "DNS lookup failed for a.example", UNREACHABLE),
            Failure("https://b.example/feed", "DNS lookup failed for b.example", UNREACHABLE),
        ],
    )
    quiet = report(capsys, summary)
    assert quiet[0].startswith("campplanet: every feed failed before reaching its server (DNS")
    assert not any("a.example" in line for line in quiet)
    verbose = report(capsys, summary, verbose=True)
    assert verbose[0] == quiet[0]
    assert (
        "campplanet: https://a.example/feed <https://a.example/feed>: DNS lookup failed"
        in (verbose[1])
    )


def test_a_mixed_failure_lists_every_feed(capsys: pytest.CaptureFixture[str]) -> None:
    summary = RunSummary(
        failed=2,
        failures=[
            Failure("https://a.example/feed", "DNS lookup failed for a.example", UNREACHABLE),
            Failure("https://b.example/feed", "HTTP 404 Not Found", Outcome.FAILED),
        ],
    )
    lines = report(capsys, summary)
    assert not any("offline" in line for line in lines)
    assert len([line for line in lines if line.startswith("campplanet: https://")]) == 2


def test_a_server_that_answered_is_not_an_offline_machine() -> None:
    failed = [
        Failure("https://a.example/", "connection refused", UNREACHABLE),
        Failure("https://b.example/", "timed out after 30 s", Outcome.TIMED_OUT),
    ]
    assert seems_offline(RunSummary(failed=2, failures=failed)) is None


@pytest.mark.parametrize(
    ("failures", "ok", "expected"),
    [
        (
            [("https://a.example/", "DNS lookup failed for a.example"),
             ("https://b.example/", "network error: network is unreachable"),
             ("https://c.example/", "could not connect ([Errno 113] No route to host)")],
            0,
            "DNS lookup failed, no route to the network",
        ),
        (  # one host down is that host's trouble, not the machine's
            [("https://a.example/1", "connection refused"),
             ("https://a.example/2", "connection refused")],
            0,
            None,
        ),
        (  # something got through
            [("https://a.example/", "connection refused"),
             ("https://b.example/", "connection refused")],
            1,
            None,
        ),
        ([("https://a.example/", "connection refused")], 0, None),
    ],
)  # fmt: skip
def test_seems_offline(failures: list[tuple[str, str]], ok: int, expected: str | None) -> None:
    failed = [Failure(url, reason, UNREACHABLE) for url, reason in failures]
    summary = RunSummary(ok=ok, failed=len(failed), failures=failed)
    assert seems_offline(summary) == expected
