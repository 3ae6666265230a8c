"""The test suite's one local HTTP server (and the benchmarks'): a farm of real servers on
loopback addresses, answering slowly, hanging, trickling, redirecting, compressing,
answering conditionally, rate-limiting, or writing whatever bytes a test needs.

    from httpfarm import Farm, Route, gzip_bomb

    with Farm(hosts=3) as farm:                    # one listener per address 127.0.1.1 .. 127.0.1.3
        url = farm.add("/feed", Route(b"<rss/>", etag='"v1"'), host=0)
        farm.add("/old", Route(status=301, location="/feed"), host=0)
        farm.add("/slow", Route(b"x", latency=0.5), host=1)
        farm.add("/hung", Route(hang=60), host=2)  # accepts, reads the request, never answers
        farm.add("/raw", Route(raw=write_anything))  # the handler writes the response itself
        ... fetch ...
        farm.hits(url)            # requests served for that URL (or a path on host 0)
        farm.seen[-1].headers     # the last request's headers (lower-case names)
        farm.ended(url)           # how each request for it ended: "client left", "answered" ...
        farm.peak_active[farm.address(0)]  # most requests in flight at once on that address
        farm.peak_in_flight       # ... and on the whole farm

The ``server`` fixture (tests/conftest.py) is a one-address farm on 127.0.0.1 with a small
convenience API: ``server.serve(path, body, content_type=..., headers=...)`` returns the
URL, ``server.serve_file(path, file)``, ``server.url(path)``, ``server.hits(path)``.

A :class:`Route` is a plain mutable dataclass: change its fields between fetches (new body,
new ETag) and the next request sees them. ``Route.handler`` computes a route per request;
``Route.raw`` writes the whole response itself, any bytes at any pace, to misbehave in ways
no field describes. The servers speak HTTP/1.1 with keep-alive, run in a background thread
on their own asyncio loop (so synchronous and asynchronous tests can both use them) and bind
only to loopback addresses. Nothing here talks to anything but 127.0.0.0/8.
"""

from __future__ import annotations

import asyncio
import gzip
import http
import ipaddress
import ssl
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["Farm", "RawHandler", "Request", "Route", "gzip_bomb"]


@dataclass
class Request:
    """A request as the farm received it."""

    address: str
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    # How serving it ended, once it has: "answered" (the whole response was sent), "hung up"
    # (a hang ran out: closed without answering), "client left" (the client closed or reset
    # the connection before the response was complete), "stopped" (the farm stopped).
    ended: str = ""


# Writes a whole response (status line, headers, body: any bytes) to the writer; the farm
# closes the connection when it returns. Raising ConnectionError means the client left.
RawHandler = Callable[[Request, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Route:
    """How the farm answers one path."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)  # extra headers, sent as given
    etag: str | None = None  # sent; a matching If-None-Match gets 304
    last_modified: str | None = None  # sent; an equal If-Modified-Since gets 304
    location: str | None = None  # Location header (for 3xx)
    retry_after: str | None = None  # Retry-After header (for 429/503)
    latency: float = 0.0  # seconds to wait before answering
    hang: float = 0.0  # seconds to wait, then close without answering (sooner if the client leaves)
    trickle: float = 0.0  # seconds between single body bytes (headers go at once)
    gzip: bool = False  # gzip the body (Content-Encoding: gzip)
    chunked: bool = False  # send the body chunked, without a Content-Length
    gate: threading.Event | None = None  # answer only once it is set (holds a client mid-fetch)
    handler: Callable[[Request], Route] | None = None  # compute the route per request
    raw: RawHandler | None = None  # write the whole response yourself (see RawHandler)


def gzip_bomb(decompressed_size: int) -> Route:
    """A route whose gzip body is tiny but inflates to ``decompressed_size`` zero bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    parts = []
    left = decompressed_size
    while left > 0:
        parts.append(compressor.compress(chunk[: min(left, len(chunk))]))
        left -= len(chunk)
    parts.append(compressor.flush())
    return Route(b"".join(parts), headers={"Content-Encoding": "gzip"})


def loopback(index: int) -> str:
    """The ``index``-th farm address: 127.0.1.1, 127.0.1.2, ... (skips .0 and .255)."""
    block, offset = divmod(index, 254)
    return str(ipaddress.IPv4Address("127.0.1.1") + block * 256 + offset)


class Farm:
    """``hosts`` local HTTP servers, one per loopback address, each on its own port."""

    def __init__(
        self,
        hosts: int = 1,
        *,
        addresses: list[str] | None = None,
        same_port: bool = False,
        tls: ssl.SSLContext | None = None,
    ):
        """``addresses``: loopback addresses to listen on instead of 127.0.1.1 ...;
        ``same_port``: every address on one port (a host name resolving to several of them);
        ``tls``: a server-side SSL context, the farm then speaks https."""
        self.addresses = addresses or [loopback(i) for i in range(hosts)]
        self.same_port = same_port
        self.tls = tls
        self.ports: dict[str, int] = {}
        self.routes: dict[tuple[str, str], Route] = {}
        self.seen: list[Request] = []
        self.counts: dict[tuple[str, str], int] = defaultdict(int)
        self.active: dict[str, int] = defaultdict(int)  # requests in flight per address
        self.peak_active: dict[str, int] = defaultdict(int)
        self.in_flight = 0  # requests in flight on the whole farm
        self.peak_in_flight = 0
        self.connections: dict[str, int] = defaultdict(int)  # total connections accepted
        self.record = True  # keep every Request in ``seen`` (turn off for big benchmarks)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._tasks: set[asyncio.Task] = set()

    # -- setting up -------------------------------------------------------------------------

    def address(self, host: int = 0) -> str:
        return self.addresses[host]

    def base(self, host: int = 0) -> str:
        address = self.addresses[host]
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{address}:{self.ports[address]}"

    def url(self, path: str, host: int = 0) -> str:
        return self.base(host) + path

    def add(self, path: str, route: Route | None = None, host: int = 0, **fields) -> str:
        """Serve ``route`` (or ``Route(**fields)``) at ``path`` on host ``host``; its URL."""
        self.routes[(self.addresses[host], path)] = route or Route(**fields)
        return self.url(path, host)

    def serve(
        self, path: str, body: bytes = b"", *, content_type: str = "application/xml", **fields
    ) -> str:
        """Serve ``body`` at ``path`` (``fields``: any other :class:`Route` field, and
        ``host``); its URL. Unlike a bare Route, the Content-Type names no charset, so the
        document's own declaration decides, as for a file on a web server."""
        host = fields.pop("host", 0)
        return self.add(path, Route(body, content_type=content_type, **fields), host)

    def serve_file(self, path: str, file: Path, **fields) -> str:
        return self.serve(path, file.read_bytes(), **fields)

    def route(self, url: str) -> Route:
        """The route of a URL (or of a path on host 0)."""
        return self.routes[self._key(url)]

    def hits(self, url: str | None = None) -> int:
        """Requests served for a URL (or a path on host 0); without one, on the whole farm."""
        if url is None:
            return sum(self.counts.values())
        return self.counts.get(self._key(url), 0)

    def requests(self, url: str) -> list[Request]:
        """The requests recorded for a URL (or a path on host 0), oldest first."""
        key = self._key(url)
        return [r for r in self.seen if (r.address, r.path) == key]

    def ended(self, url: str, timeout: float = 10.0) -> list[str]:
        """How each request for a URL (or a path on host 0) ended (see :attr:`Request.ended`),
        waiting up to ``timeout`` seconds for those still being served to end: the farm
        notices a client leaving a moment after the client has moved on."""
        give_up = time.monotonic() + timeout
        while any(not r.ended for r in self.requests(url)) and time.monotonic() < give_up:
            time.sleep(0.01)
        return [r.ended or "still being served" for r in self.requests(url)]

    def _key(self, url: str) -> tuple[str, str]:
        if url.startswith("/"):
            return (self.addresses[0], url)
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return (parts.hostname or "", path)

    # -- running ----------------------------------------------------------------------------

    def start(self) -> Farm:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._listen())
            except BaseException as e:  # reported to the starting thread
                failure.append(e)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="httpfarm", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        future.result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop = None

    def __enter__(self) -> Farm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _listen(self) -> None:
        port = 0
        for address in self.addresses:
            server = await asyncio.start_server(
                lambda r, w, a=address: self._connection(r, w, a),
                address,
                port,
                backlog=1024,
                ssl=self.tls,
            )
            self._servers.append(server)
            self.ports[address] = server.sockets[0].getsockname()[1]
            if self.same_port:
                port = self.ports[address]

    async def _shutdown(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- serving ----------------------------------------------------------------------------

    async def _connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: str
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections[address] += 1
        request: Request | None = None
        try:
            while True:
                request = await self._read_request(reader, address)
                if request is None:
                    return
                self.active[address] += 1
                self.peak_active[address] = max(self.peak_active[address], self.active[address])
                self.in_flight += 1
                self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
                try:
                    keep_alive = await self._respond(request, reader, writer)
                finally:
                    self.active[address] -= 1
                    self.in_flight -= 1
                if not keep_alive:
                    return
        except (ConnectionError, ssl.SSLError):
            if request is not None and not request.ended:
                request.ended = "client left"
        except asyncio.CancelledError:
            if request is not None and not request.ended:
                request.ended = "stopped"
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _read_request(self, reader: asyncio.StreamReader, address: str) -> Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ConnectionError,
            ssl.SSLError,
        ):
            return None
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            return None
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if length:
            await reader.readexactly(length)
        return Request(address, method, target, headers)

    async def _respond(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        key = (request.address, request.path)
        self.counts[key] += 1
        if self.record:
            self.seen.append(request)
        route = self.routes.get(key) or Route(b"not found", 404, "text/plain")
        if route.handler is not None:
            route = route.handler(request)
        if route.gate is not None:
            while not route.gate.is_set():
                await asyncio.sleep(0.01)
        if route.hang:
            left = await _client_leaves(reader, route.hang)
            request.ended = "client left" if left else "hung up"
            return False
        if route.latency:
            await asyncio.sleep(route.latency)
        if route.raw is not None:
            await route.raw(request, writer)
            await writer.drain()
            request.ended = "answered"
            return False
        status, body = route.status, route.body
        headers = {"Content-Type": route.content_type}
        for name, value in (
            ("ETag", route.etag),
            ("Last-Modified", route.last_modified),
            ("Location", route.location),
            ("Retry-After", route.retry_after),
        ):
            if value is not None:
                headers[name] = value
        if self._not_modified(route, request.headers):
            status, body = 304, b""
        elif route.gzip:
            body = gzip.compress(body, 5)
            headers["Content-Encoding"] = "gzip"
        headers.update(route.headers)
        if route.chunked and status != 304:
            headers["Transfer-Encoding"] = "chunked"
            body = (
                b"".join(
                    b"%x\r\n%s\r\n" % (len(body[i : i + 4096]), body[i : i + 4096])
                    for i in range(0, len(body), 4096)
                )
                + b"0\r\n\r\n"
            )
        elif status != 304:
            headers.setdefault("Content-Length", str(len(body)))
        phrase = _phrase(status)
        head = f"HTTP/1.1 {status} {phrase}\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        writer.write(head.encode("latin-1") + b"\r\n")
        if request.method == "HEAD" or status == 304:
            await writer.drain()
            request.ended = "answered"
            return True
        if route.trickle:
            await writer.drain()
            for i in range(len(body)):
                writer.write(body[i : i + 1])
                await writer.drain()
                await asyncio.sleep(route.trickle)
        else:
            writer.write(body)
            await writer.drain()
        request.ended = "answered"
        return request.headers.get("connection", "").lower() != "close"

    @staticmethod
    def _not_modified(route: Route, headers: dict[str, str]) -> bool:
        if route.status != 200:
            return False
        if route.etag is not None and "if-none-match" in headers:
            return route.etag in [t.strip() for t in headers["if-none-match"].split(",")]
        if route.last_modified is not None and "if-modified-since" in headers:
            return headers["if-modified-since"] == route.last_modified
        return False


async def _client_leaves(reader: asyncio.StreamReader, seconds: float) -> bool:
    """Wait ``seconds``; True as soon as the client closes its end of the connection."""

    async def until_eof() -> None:
        while await reader.read(65536):
            pass  # a client waiting for an answer sends nothing more; ignore it if it does

    try:
        await asyncio.wait_for(until_eof(), seconds)
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
