"""``campplanet serve``: preview the output folder over HTTP, optionally refreshing it.

The server is the standard library's; it only reads the output folder, so a refresh from
cron may run beside it. With ``--refresh-every``, a background thread runs
``campplanet refresh`` as a child process at start and then every N minutes: the child takes
the run lock like any other run (a run already holding it means this refresh is skipped),
and whatever happens to it — a failing feed, a bad subscription list, a crash — is reported
and never stops the server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import click

from campplanet.cli.base import fail, main, planet_options
from campplanet.config import Settings
from campplanet.exceptions import EXIT_LOCKED, CampplanetError

# How long a refresh child may take to stop after SIGTERM when the server stops.
STOP_GRACE = 30.0

_OUTCOMES = {
    0: "done",
    1: "done, but every feed failed or the planet is stale",
    2: "failed: bad settings or subscription list",
    EXIT_LOCKED: "skipped: another campplanet run holds the lock",
    130: "interrupted",
    143: "terminated",
}


def log(message: str) -> None:
    click.echo(f"{time.strftime('%H:%M:%S')} {message}", err=True)


def refresh_argv(settings: Settings) -> list[str]:
    """The ``campplanet refresh`` command line that reproduces these settings."""
    argv = [sys.executable, "-m", "campplanet", "refresh"]
    if settings.config_path:
        argv += ["--config", os.path.abspath(settings.config_path)]
    argv += [
        "--opml",
        os.path.abspath(settings.path(settings.planet.opml)),
        "--db",
        os.path.abspath(settings.path(settings.planet.db)),
        "--output",
        os.path.abspath(settings.path(settings.planet.output)),
    ]
    if settings.fetch.allow_private_networks:
        argv.append("--allow-private-networks")
    return argv


class Refresher:
    """Runs ``campplanet refresh`` at start and then every ``interval`` seconds."""

    def __init__(self, argv: list[str], interval: float, report: Callable[[str], None] = log):
        self.argv = argv
        self.interval = interval
        self.report = report
        self.stopping = threading.Event()
        self.child: subprocess.Popen[str] | None = None
        self.thread = threading.Thread(target=self.loop, name="campplanet-refresh", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def loop(self) -> None:
        while not self.stopping.is_set():
            self.run_once()
            self.stopping.wait(self.interval)

    def run_once(self) -> int | None:
        """One refresh; its output is relayed line by line. Never raises."""
        if self.stopping.is_set():
            return None
        try:
            self.report("refresh: starting")
            with subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                start_new_session=True,  # Ctrl-C at the terminal reaches the server only
            ) as child:
                self.child = child
                assert child.stdout is not None
                for line in child.stdout:
                    if line.strip():
                        self.report(f"refresh: {line.rstrip()}")
                code = child.wait()
            self.child = None
            outcome = _OUTCOMES.get(code, f"failed with exit status {code}")
            self.report(f"refresh: {outcome}")
            return code
        except Exception as e:  # the server must outlive any refresh
            self.child = None
            self.report(f"refresh: could not run: {type(e).__name__}: {e}")
            return None

    def stop(self) -> None:
        """Stop the loop; a refresh in progress is asked to stop (it keeps finished feeds)."""
        self.stopping.set()
        child = self.child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                child.kill()
        self.thread.join(STOP_GRACE)


class PreviewHandler(SimpleHTTPRequestHandler):
    """Static files from the output folder, never cached, logged briefly."""

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        log(f"{self.address_string()} {format % args}")


class PreviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            return  # the browser went away mid-response: nothing to report
        log(f"error serving {client_address[0]}: {type(error).__name__}: {error}")


def make_server(folder: Path, bind: str, port: int) -> PreviewServer:
    """A server for ``folder`` listening on ``bind:port`` (IPv4 or IPv6)."""
    handler = partial(PreviewHandler, directory=str(folder))
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    server_class = type("Server", (PreviewServer,), {"address_family": family})
    try:
        return server_class((bind, port), handler)
    except OSError as e:
        raise CampplanetError(
            f"cannot listen on {bind} port {port}: {e.strerror or e}; "
            "choose another with --port or --bind"
        ) from None


class _Stop(BaseException):
    """SIGTERM arrived: stop serving."""


@main.command()
@planet_options
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--bind",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0 or :: for every interface).",
)
@click.option(
    "--refresh-every",
    type=click.FloatRange(min=0, min_open=True),
    metavar="MINUTES",
    help="Run a refresh now and then every MINUTES in the background.",
)
def serve(settings: Settings, port: int, bind: str, refresh_every: float | None) -> None:
    """Preview the site: serve the output folder over HTTP until Ctrl-C."""
    folder = settings.path(settings.planet.output).resolve()
    if refresh_every is None and not folder.is_dir():
        fail(
            CampplanetError(
                f"{folder} does not exist: run `campplanet refresh` first, "
                "or serve with --refresh-every MINUTES"
            )
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        server = make_server(folder, bind, port)
    except CampplanetError as e:
        fail(e)
    except OSError as e:
        fail(CampplanetError(f"{folder}: cannot create the output folder: {e.strerror or e}"))

    host, actual_port = server.server_address[:2]
    shown = f"[{host}]" if ":" in str(host) else host
    click.echo(f"serving {folder} at http://{shown}:{actual_port}/ (Ctrl-C to stop)")
    sys.stdout.flush()

    refresher = None
    if refresh_every is not None:
        refresher = Refresher(refresh_argv(settings), refresh_every * 60)
        refresher.start()

    def on_sigterm(signum: int, frame: object) -> None:
        raise _Stop

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if refresher is not None:
            refresher.stop()
        server.server_close()
    log("stopped")
