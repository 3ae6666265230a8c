"""Fetch feeds over HTTP: parallel, bounded, polite, and never taken down by one blog.

- One shared :class:`httpx.AsyncClient` (keep-alive reused across feeds of a host).
- At most ``per_host`` feeds of one host at once, and at most ``concurrency`` feeds
  actively fetched at once. A feed still waiting after ``slow_after`` seconds (a hung or
  trickling server) gives its concurrency slot to the next feed while it runs out its own
  deadline (at most ``PARK_FACTOR * concurrency`` feeds wait like that at once), so a run
  with many hung feeds costs about one deadline, not one per ``concurrency`` hung feeds.
- One all-in deadline per feed: connecting, every redirect hop, headers and body. A feed
  has ``timeout`` seconds from its own start (when it gets its slots), but in a batch
  (:func:`fetch_feeds`) no more than until the later of *batch start + timeout* and *its
  own start + timeout / 2* (see :func:`allowed_time`). So every feed started in the first
  half of the timeout is done by batch start + timeout, however many hung feeds were queued
  behind others, and on a planet so big that fetching legitimately takes longer, a late
  feed still gets at least half the timeout. A timed-out feed says how long it really had
  ("timed out after 24 s"). A single fetch (:func:`fetch_one`) always gets ``timeout``.
- Bodies are decompressed here, incrementally and bounded, so ``max_bytes`` counts
  decompressed bytes and a gzip bomb is stopped after ``max_bytes``.
- Redirects are followed by hand (at most ``max_redirects``) so each hop's URL is checked,
  loops are named, and an unbroken chain of permanent redirects is reported.
- The address actually connected to is checked (see :class:`GuardedBackend`) unless
  ``allow_private_networks``; TLS still verifies the URL's host name.

Every failure becomes a :class:`FetchResult` with a human-readable ``error``; nothing here
raises for one feed's failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import http
import ipaddress
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from campplanet import __version__, netguard
from campplanet.config import FetchSettings
from campplanet.types import FetchRequest, FetchResult, Outcome
from campplanet.urls import normalise_url

FEED_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.1"
)
REDIRECTS = frozenset({301, 302, 303, 307, 308})
PERMANENT = frozenset({301, 308})
PARK_FACTOR = 10


def user_agent(planet_url: str) -> str:
    """``campplanet/<version> (+<planet url>)``."""
    return f"campplanet/{__version__} (+{planet_url})"


async def fetch_feeds(
    requests: Iterable[FetchRequest], settings: FetchSettings, *, user_agent: str
) -> AsyncIterator[FetchResult]:
    """Fetch every request concurrently; yield each result as it completes.

    Nothing here keeps a result once it is yielded: a finished fetch's task is dropped as
    it is handed over (a task keeps its result, body included, for as long as it lives),
    so the bodies of a run's thousands of feeds are never all in memory at once.
    """
    requests = list(requests)
    if not requests:
        return
    async with Fetcher(settings, user_agent=user_agent) as fetcher:
        for r in requests:
            fetcher.pools.hold(_host(r.url))
        fetcher.batch_start = time.monotonic()
        running: set[asyncio.Task[FetchResult]] = set()
        finished: asyncio.Queue[asyncio.Task[FetchResult]] = asyncio.Queue()

        def hand_over(task: asyncio.Task[FetchResult]) -> None:
            running.discard(task)
            finished.put_nowait(task)

        for r in requests:
            running.add(task := asyncio.create_task(fetcher.fetch(r, held=True)))
            task.add_done_callback(hand_over)
        del task  # the loop variable would keep the last task, and its body, alive
        try:
            for _ in requests:
                yield (await finished.get()).result()
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)


def fetch_one(
    url: str, settings: FetchSettings, *, user_agent: str, accept: str | None = None
) -> FetchResult:
    """Fetch one URL synchronously (``campplanet add``, discovery). ``accept`` replaces the
    feed-types Accept header, e.g. to fetch an HTML page."""

    async def one() -> FetchResult:
        async with Fetcher(settings, user_agent=user_agent, accept=accept) as fetcher:
            return await fetcher.fetch(FetchRequest(url=url))

    return asyncio.run(one())


class AddressRefused(Exception):
    """The host resolved only to addresses campplanet must not connect to."""


class DNSFailed(Exception):
    def __init__(self, host: str):
        super().__init__(f"DNS lookup failed for {host}")


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolve the host, refuse non-public addresses, connect to the checked address.

    httpcore still starts TLS with the URL's host name (SNI and certificate checks), and
    httpx sends the URL's Host header; only the TCP connection goes to the checked IP.
    """

    def __init__(self, allow_private: bool, attempt_timeout: float | None = None):
        self.allow_private = allow_private
        self.attempt_timeout = attempt_timeout  # per address, when a host has several
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> httpcore.AsyncNetworkStream:
        refusal = None
        error: Exception | None = None
        addresses = await resolve(host, port)
        if len(addresses) > 1 and self.attempt_timeout:
            timeout = self.attempt_timeout  # an unreachable address must not eat the deadline
        for ip in addresses:
            problem = None if self.allow_private else netguard.address_problem(ip)
            if problem:
                refusal = problem
                continue
            try:
                return await self.inner.connect_tcp(
                    ip, port, timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                error = e
        if error is not None:
            raise error
        raise AddressRefused(f"refused: {refusal} ({netguard.ALLOW_HINT})")

    async def connect_unix_socket(self, *args, **kwargs):  # pragma: no cover - never used
        raise AddressRefused("refused: Unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


async def resolve(host: str, port: int) -> list[str]:
    """The host's addresses, in the resolver's order (an IP literal is its own address)."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise DNSFailed(host) from None
    addresses: list[str] = []
    for *_, sockaddr in infos:
        if sockaddr[0] not in addresses:
            addresses.append(sockaddr[0])
    if not addresses:
        raise DNSFailed(host)
    # IPv4 first: a host whose IPv6 is unreachable is common; the reverse is rare.
    return sorted(addresses, key=lambda ip: ":" in ip)


def allowed_time(timeout: float, start: float, batch_start: float | None) -> float:
    """Seconds a feed that got its slots at ``start`` may take, all in.

    ``timeout``, capped in a batch that began at ``batch_start`` so the feed ends by the
    later of ``batch_start + timeout`` and ``start + timeout / 2``. Without a batch
    (``batch_start`` None), ``timeout``.
    """
    if batch_start is None:
        return timeout
    waited = start - batch_start
    return min(timeout, max(timeout - waited, timeout / 2))


def seconds_text(seconds: float) -> str:
    """``seconds`` for a message: whole seconds from 10 s on, else one decimal ("0.8")."""
    return f"{round(seconds) if seconds >= 10 else round(seconds, 1):g}"


class Fetcher:
    """Shared client and limits for one batch of fetches (use as an async context manager).

    ``batch_start`` (a :func:`time.monotonic` time, set by :func:`fetch_feeds`) caps each
    feed's deadline as :func:`allowed_time` says; None (a single fetch) leaves ``timeout``.
    """

    def __init__(self, settings: FetchSettings, *, user_agent: str, accept: str | None = None):
        self.settings = settings
        self.headers = {
            "User-Agent": user_agent,
            "Accept": accept or FEED_ACCEPT,
            "Accept-Encoding": "gzip, deflate",
        }
        self.batch_start: float | None = None
        self.slow_after = min(2.0, settings.timeout / 5)
        self.slots = asyncio.Semaphore(settings.concurrency)
        self.parked = 0
        self.max_parked = PARK_FACTOR * settings.concurrency
        self.hosts: dict[str, asyncio.Semaphore] = {}
        self.pools = HostPools(settings)
        self.client = httpx.AsyncClient(
            transport=self.pools, timeout=None, follow_redirects=False, trust_env=False
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    def host_slot(self, host: str) -> asyncio.Semaphore:
        if host not in self.hosts:
            self.hosts[host] = asyncio.Semaphore(self.settings.per_host)
        return self.hosts[host]

    async def fetch(self, request: FetchRequest, *, held: bool = False) -> FetchResult:
        """Fetch one feed; every failure is described in the result.

        ``held``: the caller took a hold on the feed's host pool (see :class:`HostPools`),
        released here when the feed is done.
        """
        start = time.monotonic()
        allowed = self.settings.timeout
        url = normalise_url(request.url)
        host = _host(url)
        try:
            refusal = netguard.check_url(url, allow_private=self.settings.allow_private_networks)
            if refusal:
                return _failed(request, refusal, start)
            async with self.host_slot(host), _Slot(self):
                start = time.monotonic()
                allowed = allowed_time(self.settings.timeout, start, self.batch_start)
                async with asyncio.timeout(allowed):
                    return await self._get(request, url, host, start)
        except TimeoutError:
            message = f"timed out after {seconds_text(allowed)} s"
            return _failed(request, message, start, outcome=Outcome.TIMED_OUT)
        except Exception as e:  # one feed must never take down the run
            return _failed(request, describe_error(e), start, outcome=failure_kind(e))
        finally:
            if held:
                await self.pools.release(host)

    async def _get(self, request: FetchRequest, url: str, host: str, start: float) -> FetchResult:
        headers = dict(self.headers)
        if request.etag:
            headers["If-None-Match"] = request.etag
        if request.last_modified:
            headers["If-Modified-Since"] = request.last_modified
        seen = {url}
        permanent: str | None = None
        unbroken = True
        for _hop in range(self.settings.max_redirects + 1):
            hop_host = _host(url)
            self.pools.hold(hop_host)
            try:
                if hop_host == host:
                    response = await self._send(url, headers)
                else:
                    async with self.host_slot(hop_host):
                        response = await self._send(url, headers)
                try:
                    if response.status_code not in REDIRECTS:
                        return await self._result(request, url, response, permanent, start)
                    location = response.headers.get("location")
                    await drain(response)
                finally:
                    await response.aclose()
            finally:
                await self.pools.release(hop_host)
            if not location:
                return _failed(
                    request,
                    f"HTTP {response.status_code} redirect without a Location header",
                    start,
                    status=response.status_code,
                )
            target = normalise_url(urljoin(url, location.strip()))
            refusal = netguard.check_url(target, allow_private=self.settings.allow_private_networks)
            if refusal:
                return _failed(request, f"redirected to {target}: {refusal}", start)
            if target in seen:
                return _failed(request, "redirect loop", start, status=response.status_code)
            seen.add(target)
            unbroken = unbroken and response.status_code in PERMANENT
            if unbroken:
                permanent = target
            url = target
        return _failed(
            request, f"too many redirects (more than {self.settings.max_redirects})", start
        )

    async def _send(self, url: str, headers: dict[str, str]) -> httpx.Response:
        return await self.client.send(
            self.client.build_request("GET", url, headers=headers), stream=True
        )

    async def _result(
        self,
        request: FetchRequest,
        url: str,
        response: httpx.Response,
        permanent: str | None,
        start: float,
    ) -> FetchResult:
        status = response.status_code
        if not 200 <= status < 300:
            await drain(response)
        common = {
            "key": request.key,
            "url": request.url,
            "status": status,
            "final_url": url,
            "permanent_url": permanent,
            "content_type": response.headers.get("content-type"),
            "etag": response.headers.get("etag"),
            "last_modified": response.headers.get("last-modified"),
            "content_location": content_location(url, response.headers.get("content-location")),
        }
        if status == 304:
            common["etag"] = common["etag"] or request.etag
            common["last_modified"] = common["last_modified"] or request.last_modified
            return _result(Outcome.NOT_MODIFIED, common, start)
        if status == 410:
            return _result(Outcome.GONE, common, start, error=_status_error(response))
        if status in (429, 503):
            return _result(
                Outcome.RATE_LIMITED,
                common,
                start,
                error=_status_error(response),
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        if not 200 <= status < 300:
            return _result(Outcome.FAILED, common, start, error=_status_error(response))
        body = await read_body(response, self.settings.max_bytes)
        digest = hashlib.sha256(body).hexdigest()
        if digest == request.body_hash:
            return _result(Outcome.NOT_MODIFIED, common, start, body_hash=digest)
        return _result(Outcome.OK, common, start, body=body, body_hash=digest)


def content_location(url: str, value: str | None) -> str | None:
    """A Content-Location header resolved against the response's URL, if it makes an
    absolute http(s) URL with a host; else None."""
    if not value or not value.strip():
        return None
    try:
        location = urljoin(url, value.strip())
        parts = urlsplit(location)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return None
    return location if valid else None


class _Slot:
    """A concurrency slot that a slow feed gives up (parks) while it waits out its deadline."""

    def __init__(self, fetcher: Fetcher):
        self.fetcher = fetcher
        self.held = False
        self.parked = False
        self.timer: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> _Slot:
        await self.fetcher.slots.acquire()
        self.held = True
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.fetcher.slow_after, self.park)
        return self

    def park(self) -> None:
        f = self.fetcher
        if self.held and f.parked < f.max_parked:
            self.held, self.parked = False, True
            f.parked += 1
            f.slots.release()

    async def __aexit__(self, *exc: object) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.held:
            self.fetcher.slots.release()
        elif self.parked:
            self.fetcher.parked -= 1
        self.held = self.parked = False


DRAIN_LIMIT = 64 * 1024


async def drain(response: httpx.Response) -> None:
    """Read what is left of a small unwanted body (304, redirect, error page) so the
    connection goes back to the pool for keep-alive; a big one just closes it."""
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > DRAIN_LIMIT:
            break


class TooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"response larger than {human_size(limit)}")


async def read_body(response: httpx.Response, limit: int) -> bytes:
    """The decoded body, refusing more than ``limit`` bytes after decompression."""
    encodings = [
        e.strip().lower()
        for e in response.headers.get("content-encoding", "").split(",")
        if e.strip() and e.strip().lower() != "identity"
    ]
    if len(encodings) > 1 or (encodings and encodings[0] not in ("gzip", "x-gzip", "deflate")):
        raise ValueError(f"unsupported Content-Encoding {', '.join(encodings)}")
    length = response.headers.get("content-length", "")
    if not encodings and length.isdigit() and int(length) > limit:
        raise TooLarge(limit)
    decoder = _Decoder(encodings[0] if encodings else None, limit)
    chunks: list[bytes] = []
    async for raw in response.aiter_raw():
        chunks.append(decoder.feed(raw))
    chunks.append(decoder.flush())
    return b"".join(chunks)


class _Decoder:
    """Bounded incremental gzip/deflate decoding: never produces more than ``limit`` bytes."""

    def __init__(self, encoding: str | None, limit: int):
        self.limit = limit
        self.size = 0
        self.encoding = encoding
        self.zlib: zlib._Decompress | None = None
        if encoding in ("gzip", "x-gzip"):
            self.zlib = zlib.decompressobj(wbits=47)
        self.first = True

    def feed(self, data: bytes) -> bytes:
        if self.encoding == "deflate" and self.first:
            # "deflate" is zlib-wrapped by the spec, raw deflate by some servers.
            raw = not data or (data[0] & 0x0F) != 8
            self.zlib = zlib.decompressobj(wbits=-15 if raw else 15)
        self.first = False
        if self.zlib is None:
            return self._count(data)
        out = []
        try:
            out.append(self._count(self.zlib.decompress(data, self.limit - self.size + 1)))
            while self.zlib.unconsumed_tail:
                tail = self.zlib.unconsumed_tail
                out.append(self._count(self.zlib.decompress(tail, self.limit - self.size + 1)))
        except zlib.error as e:
            raise ValueError(f"the compressed body is corrupt ({e})") from None
        return b"".join(out)

    def flush(self) -> bytes:
        return self._count(self.zlib.flush()) if self.zlib is not None else b""

    def _count(self, data: bytes) -> bytes:
        self.size += len(data)
        if self.size > self.limit:
            raise TooLarge(self.limit)
        return data


def _host(url: str) -> str:
    """The host part of a normalised URL, as :class:`HostPools` keys it (IDNA, lower case)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


class HostPools(httpx.AsyncBaseTransport):
    """One connection pool per host, open while feeds of that host are pending.

    Keep-alive is reused across feeds of one host, and a host's idle connections are closed
    as soon as nothing more is expected from it (so a run over thousands of hosts does not
    hoard sockets). Small per-host pools also keep httpcore's pool bookkeeping, which scans
    every connection of a pool for every request, cheap. Callers :meth:`hold` a host
    before using it and :meth:`release` it after; the last release closes the pool.

    An httpx transport of our own over public httpcore pools (with the address-checking
    :class:`GuardedBackend`), adapting requests, responses and errors as httpx's own does.
    """

    def __init__(self, settings: FetchSettings):
        self.settings = settings
        # Loading CA certificates costs ~0.1 s: one context, shared by every host's pool.
        self.ssl_context = httpx.create_ssl_context(trust_env=False)
        self.backend = GuardedBackend(
            settings.allow_private_networks, attempt_timeout=settings.timeout / 3
        )
        self.pools: dict[str, httpcore.AsyncConnectionPool] = {}
        self.holds: dict[str, int] = {}

    def hold(self, host: str) -> None:
        self.holds[host] = self.holds.get(host, 0) + 1

    async def release(self, host: str) -> None:
        self.holds[host] = self.holds.get(host, 0) - 1
        if self.holds[host] <= 0:
            del self.holds[host]
            pool = self.pools.pop(host, None)
            if pool is not None:
                await pool.aclose()

    def pool(self, host: str) -> httpcore.AsyncConnectionPool:
        pool = self.pools.get(host)
        if pool is None:
            pool = self.pools[host] = httpcore.AsyncConnectionPool(
                ssl_context=self.ssl_context,
                max_connections=None,  # bounded by the per-host slots
                max_keepalive_connections=self.settings.per_host,
                keepalive_expiry=30.0,
                http1=True,
                http2=False,
                network_backend=self.backend,
            )
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        host = url.raw_host.decode("ascii", "replace").strip("[]").lower()
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with httpx_errors():
            response = await self.pool(host).handle_async_request(core)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=BodyStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        pools, self.pools = list(self.pools.values()), {}
        for pool in pools:
            await pool.aclose()


class BodyStream(httpx.AsyncByteStream):
    """An httpcore response body as httpx streams it (read as it arrives, errors mapped)."""

    def __init__(self, stream: AsyncIterable[bytes]):
        self.stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with httpx_errors():
            async for chunk in self.stream:
                yield chunk

    async def aclose(self) -> None:
        close = getattr(self.stream, "aclose", None)
        if close is not None:
            await close()


# httpcore's exceptions and httpx's, subclasses before their bases.
HTTPX_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def httpx_errors() -> Iterator[None]:
    """Raise httpcore's exceptions as httpx's (the httpcore one as the cause); others pass."""
    try:
        yield
    except Exception as e:
        public = next((p for core, p in HTTPX_ERRORS if isinstance(e, core)), None)
        if public is None:
            raise
        raise public(str(e)) from e


def parse_retry_after(value: str | None, now: datetime | None = None) -> datetime | None:
    """A Retry-After header (seconds or an HTTP date) as a UTC time, or None."""
    if not value:
        return None
    now = now or datetime.now(UTC)
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=min(int(value), 365 * 86400))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when.astimezone(UTC), now)


def human_size(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:g} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


def _status_error(response: httpx.Response) -> str:
    try:
        phrase = http.HTTPStatus(response.status_code).phrase
    except ValueError:
        phrase = response.reason_phrase or ""
    return f"HTTP {response.status_code} {phrase}".rstrip()


def describe_error(exc: BaseException) -> str:
    """A person-readable reason for a failed fetch."""
    chain = list(_causes(exc))
    for e in chain:
        if isinstance(e, AddressRefused | DNSFailed | TooLarge):
            return str(e)
        if isinstance(e, ssl.SSLCertVerificationError):
            return _certificate_error(e)
        if isinstance(e, ssl.SSLError):
            return f"TLS handshake failed ({e.reason or e})"
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, ConnectionResetError):
            return "connection reset by the server"
        if isinstance(e, socket.gaierror):
            return "DNS lookup failed"
    for e in chain:
        if isinstance(e, httpx.InvalidURL):
            # httpx refuses some Location values itself (javascript:, data:) before we see them
            return f"invalid URL in a redirect or request ({e})"
        if isinstance(e, httpx.RemoteProtocolError | httpcore.RemoteProtocolError):
            if "without sending" in str(e) or "closed" in str(e).lower():
                return "the server closed the connection without a complete response"
            return f"invalid HTTP response ({e})"
        if isinstance(e, httpx.ConnectTimeout | httpcore.ConnectTimeout):
            return "timed out connecting"
        if isinstance(e, httpx.ReadError | httpcore.ReadError):
            return "the connection broke while reading the response"
        if isinstance(e, httpx.ConnectError | httpcore.ConnectError):
            return f"could not connect ({e})" if str(e) else "could not connect"
        if isinstance(e, OSError) and e.strerror:
            return f"network error: {e.strerror.lower()}"
        if isinstance(e, ValueError):
            return str(e)
    return f"unexpected error ({type(exc).__name__}: {exc})"


def failure_kind(exc: BaseException) -> Outcome:
    """TIMED_OUT for a connection that took too long, UNREACHABLE for a failure before any
    server was reached (DNS, refused, no route), else FAILED."""
    chain = list(_causes(exc))
    if any(isinstance(e, ssl.SSLError | AddressRefused) for e in chain):
        return Outcome.FAILED  # refused by our guard, or a server's TLS we do not accept
    for e in chain:
        if isinstance(e, httpx.ConnectTimeout | httpcore.ConnectTimeout):
            return Outcome.TIMED_OUT
        if isinstance(e, DNSFailed | socket.gaierror | ConnectionRefusedError):
            return Outcome.UNREACHABLE
        if isinstance(e, OSError) and e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return Outcome.UNREACHABLE
        if isinstance(e, httpx.ConnectError | httpcore.ConnectError):
            return Outcome.UNREACHABLE
    return Outcome.FAILED


def _causes(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            for inner in current.exceptions:
                yield from _causes(inner)
        current = current.__cause__ or current.__context__


def _certificate_error(e: ssl.SSLCertVerificationError) -> str:
    message = (e.verify_message or str(e)).lower()
    if "expired" in message:
        return "TLS certificate expired"
    if "not yet valid" in message:
        return "TLS certificate is not yet valid"
    if "self-signed" in message or "self signed" in message:
        return "TLS certificate is self-signed"
    if "hostname mismatch" in message or "ip address mismatch" in message:
        return "TLS certificate is for another host name"
    if "issuer" in message:
        return "TLS certificate is from an unknown authority"
    return f"TLS certificate not accepted ({e.verify_message or e})"


def _failed(
    request: FetchRequest,
    error: str,
    start: float,
    *,
    status: int | None = None,
    outcome: Outcome = Outcome.FAILED,
) -> FetchResult:
    return FetchResult(
        key=request.key,
        url=request.url,
        outcome=outcome,
        status=status,
        error=error,
        elapsed=time.monotonic() - start,
    )


def _result(outcome: Outcome, common: dict, start: float, **extra: object) -> FetchResult:
    return FetchResult(outcome=outcome, **common, **extra, elapsed=time.monotonic() - start)  # type: ignore[arg-type]
