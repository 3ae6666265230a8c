"""``campplanet serve``: the real command in a child process, fetched over real HTTP."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path

import pytest

from campplanet.cli.serve import refresh_argv
from campplanet.config import load_settings
from httpfarm import Farm, Route
from planetkit import blog, opml_document


class Serving:
    """A running ``campplanet serve``; its stderr is collected line by line."""

    def __init__(self, args: list[str]):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "campplanet", "serve", "--port", "0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        assert first.startswith("serving "), (first, self.proc.stderr.read())
        self.url = first.split(" at ")[1].split()[0]
        self.log: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line.rstrip("\n"))

    def get(self, path: str) -> tuple[int, Message, bytes]:
        try:
            with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=10) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def wait_for_log(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.log):
            assert time.monotonic() < deadline, (text, self.log)
            assert self.proc.poll() is None, self.log
            time.sleep(0.05)

    def wait_for_page(self, path: str, text: bytes, timeout: float = 30) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            status, _, body = self.get(path)
            if status == 200 and text in body:
                return body
            assert time.monotonic() < deadline, (status, self.log)
            time.sleep(0.1)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 20) -> int:
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout)
        self.reader.join(5)
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


@pytest.fixture
def serve():
    started: list[Serving] = []

    def start(*args: str) -> Serving:
        s = Serving(list(args))
        started.append(s)
        return s

    yield start
    for s in started:
        s.close()


@pytest.fixture
def site(tmp_path) -> Path:
    public = tmp_path / "public"
    (public / "page" / "2").mkdir(parents=True)
    (public / "index.html").write_text("<!doctype html><title>Planet</title><p>front page")
    (public / "page" / "2" / "index.html").write_text("<!doctype html><p>older")
    (public / "atom.xml").write_text('<feed xmlns="http://www.w3.org/2005/Atom"/>')
    (tmp_path / "planet.db").write_text("not for the web")
    return public


def test_serves_the_output_folder_and_nothing_else(serve, site, tmp_path):
    s = serve("--output", str(site), "--db", str(tmp_path / "planet.db"))
    assert s.url.startswith("http://127.0.0.1:")
    status, headers, body = s.get("/")
    assert status == 200 and b"front page" in body
    assert headers["Cache-Control"] == "no-cache"  # a preview shows each refresh at once
    assert s.get("/page/2/")[2] == b"<!doctype html><p>older"
    status, headers, _ = s.get("/atom.xml")
    assert status == 200 and "xml" in headers["Content-Type"]
    assert s.get("/missing.html")[0] == 404

    # Not even a raw request can climb out of the folder to the database beside it.
    host, port = s.url.split("//")[1].rstrip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/../planet.db")
    response = conn.getresponse()
    assert response.status == 404 and b"not for the web" not in response.read()
    conn.close()

    assert s.stop() == 0
    assert s.log[-1].endswith("stopped")
    assert any('"GET / HTTP/1.1" 200' in line for line in s.log)


def test_ctrl_c_stops_it_too(serve, site):
    s = serve("--output", str(site))
    assert s.get("/")[0] == 200
    assert s.stop(signal.SIGINT) == 0


def test_missing_folder_without_refresh_is_a_clear_error(tmp_path):
    result = subprocess.run(
        [*serve_command(), "--output", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "nowhere does not exist: run `campplanet refresh` first" in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_is_a_clear_error(site):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*serve_command(), "--output", str(site), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1 port {port}" in result.stderr
    assert "--port" in result.stderr and "Traceback" not in result.stderr


def serve_command() -> list[str]:
    return [sys.executable, "-m", "campplanet", "serve"]


# --- background refresh ----------------------------------------------------------------


@pytest.fixture
def farm():
    with Farm() as f:
        yield f


def planet_args(tmp_path: Path) -> list[str]:
    return [
        "--opml",
        str(tmp_path / "feeds.opml"),
        "--db",
        str(tmp_path / "planet.db"),
        "--output",
        str(tmp_path / "public"),
        "--allow-private-networks",
    ]


def test_refreshes_now_and_then_every_interval(serve, farm, tmp_path):
    url = farm.add("/feed.xml", Route(blog(1, 0)))
    (tmp_path / "feeds.opml").write_text(opml_document([("Blog 1", url)]))
    s = serve(*planet_args(tmp_path), "--refresh-every", "0.02")  # every 1.2 s
    s.wait_for_page("/", b"Blog 1 post 3")
    # The page is written before the refresh logs its summary line.
    s.wait_for_log("refresh: feeds: 1 ok")
    farm.route(url).body = blog(1, 1)  # a new post appears on the blog
    s.wait_for_page("/", b"Blog 1 post 4")
    s.wait_for_log("refresh: done")
    assert s.stop() == 0


def test_a_refresh_skipped_or_failing_never_stops_the_server(serve, farm, tmp_path):
    url = farm.add("/feed.xml", Route(blog(1, 0)))
    opml = tmp_path / "feeds.opml"
    opml.write_text("<opml><body><outline")  # broken: every refresh fails with exit 2
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from campplanet.lock import run_lock\n"
            "with run_lock(sys.argv[1]):\n    print('held', flush=True); sys.stdin.readline()",
            str(tmp_path / "planet.db"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        s = serve(*planet_args(tmp_path), "--refresh-every", "0.01")
        s.wait_for_log("refresh: skipped: another campplanet run holds the lock")
        assert s.get("/")[0] == 200  # the (still empty) folder is served meanwhile
    finally:
        holder.kill()
        holder.wait()
    s.wait_for_log("refresh: failed: bad settings or subscription list")
    assert any("feeds.opml" in line for line in s.log)  # the child's message is relayed
    assert s.get("/")[0] == 200
    opml.write_text(opml_document([("Blog 1", url)]))
    s.wait_for_page("/", b"Blog 1 post 3")
    assert s.stop() == 0


def test_stopping_during_a_refresh_stops_the_refresh_cleanly(serve, farm, tmp_path):
    fast = farm.add("/fast.xml", Route(blog(1, 0)))
    hung = farm.add("/hung.xml", Route(blog(2, 0), hang=120))
    (tmp_path / "feeds.opml").write_text(opml_document([("Fast", fast), ("Hung", hung)]))
    s = serve(*planet_args(tmp_path), "--refresh-every", "60")
    s.wait_for_log("refresh: starting")
    deadline = time.monotonic() + 30
    while farm.hits(hung) == 0 or farm.hits(fast) == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)  # the fast feed is stored
    assert s.stop() == 0  # (stop allows 20 s; waiting out the hung feed would take 30)
    # The refresh was terminated, not waited for, and let go of the hung feed while its
    # server was still silent.
    assert any("refresh: terminated" in line for line in s.log), s.log
    assert farm.ended(hung) == ["client left"]
    # The refresh's lock is free again: nothing of it is left running.
    from campplanet.lock import run_lock

    with run_lock(tmp_path / "planet.db"):
        pass


def test_refresh_argv_reproduces_the_settings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conf").mkdir()
    config = tmp_path / "conf" / "planet.toml"
    config.write_text('[planet]\ndb = "data/p.db"\n[fetch]\nallow_private_networks = true\n')
    settings = load_settings("conf/planet.toml", {"planet": {"output": str(tmp_path / "www")}})
    argv = refresh_argv(settings)
    assert argv[:4] == [sys.executable, "-m", "campplanet", "refresh"]
    options = dict(zip(argv[4::2], argv[5::2], strict=False))
    assert options["--config"] == str(config)
    assert options["--db"] == str(tmp_path / "conf" / "data" / "p.db")
    assert options["--opml"] == str(tmp_path / "conf" / "feeds.opml")
    assert options["--output"] == str(tmp_path / "www")
    assert argv[-1] == "--allow-private-networks"
