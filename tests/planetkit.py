"""Test helpers shared by the suite: the corpus, a local web server, OPML and RSS builders."""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from hypothesis import strategies as st

DATA = Path(__file__).parent / "data"
CORPUS = DATA / "feeds"
REPO = Path(__file__).resolve().parents[1]


def shared(*parts: str) -> Path:
    """A path in ``shared/`` beside the repository: other projects' test feeds and the
    validators. CI has it; a test that needs it fails (never skips) without it."""
    for folder in (REPO.parent / "shared", REPO.parent.parent / "shared"):
        if folder.is_dir():
            return folder.joinpath(*parts)
    raise AssertionError(f"shared/ not found beside {REPO}: the peers' feeds and the validators")


def run_tool(tool: str, *args: str) -> str:
    """Run one of the shared validators; fail with its report unless it passes."""
    result = subprocess.run(
        [str(shared("tools", tool)), *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Result: PASS" in output, output[-8000:]
    return output


@dataclass
class Route:
    body: bytes
    status: int = 200
    content_type: str = "application/xml"
    headers: dict[str, str] = field(default_factory=dict)


class LocalServer:
    """A real HTTP server on 127.0.0.1 serving routes that tests can change between runs."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                route = server.routes.get(self.path)
                if route is None:
                    route = Route(b"not found", status=404, content_type="text/plain")
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                for name, value in route.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str) -> str:
        return self.base + path

    def serve(self, path: str, body: bytes, **kwargs: object) -> str:
        self.routes[path] = Route(body, **kwargs)  # type: ignore[arg-type]
        return self.url(path)

    def serve_file(self, path: str, file: Path) -> str:
        return self.serve(path, file.read_bytes())


def opml_document(feeds: list[tuple[str, str]], *, extra: str = "") -> str:
    """An OPML 2.0 subscription list of (name, feed url) pairs."""
    outlines = "\n".join(
        f'    <outline type="rss" text={quoteattr(name)} title={quoteattr(name)} '
        f"xmlUrl={quoteattr(url)}{extra}/>"
        for name, url in feeds
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">\n'
        "  <head><title>Test planet</title></head>\n"
        f"  <body>\n{outlines}\n  </body>\n</opml>\n"
    )


def rss_feed(name: str, site: str, items: list[tuple[str, str, int]]) -> bytes:
    """A small RSS 2.0 feed; items are (guid, title, unix time)."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(name)}</title><link>{escape(site)}</link>",
        "<description>test</description>",
    ]
    for guid, title, when in items:
        parts.append(
            f"<item><title>{escape(title)}</title><link>{escape(site)}{guid}</link>"
            f"<guid>{escape(site)}{guid}</guid><pubDate>{formatdate(when)}</pubDate>"
            f"<description>&lt;p&gt;Body of {escape(title)}&lt;/p&gt;</description></item>"
        )
    parts.append("</channel></rss>")
    return "\n".join(parts).encode()


# Debian's Chromium, headless, offline: the flags every browser test starts it with.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Links as blogs write them: schemes, host case, ports, paths, queries and fragments.
URLS = st.builds(
    lambda scheme, host, port, path, query, frag: (
        f"{scheme}://{host}{port}/{path}{'?' + query if query else ''}{'#' + frag if frag else ''}"
    ),
    st.sampled_from(["http", "https", "HTTP", "Https"]),
    st.sampled_from(["blog.example.org", "Blog.Example.org", "xn--bcher-kva.example", "127.0.0.1"]),
    st.sampled_from(["", ":80", ":443", ":8080"]),
    st.text(alphabet="abc/%-_.~ é", max_size=20),
    st.text(alphabet="abc=&utm_sorce+;%", max_size=20),
    st.text(alphabet="ab#", max_size=5),
)
