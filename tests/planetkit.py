"""Test helpers shared by the suite: the corpus, the shared validators, OPML and RSS builders.

The local web server is httpfarm.Farm (the ``server`` fixture of conftest.py is one)."""

from __future__ import annotations

import subprocess
from email.utils import formatdate
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
