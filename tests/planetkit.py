"""Test helpers shared by the suite: the corpus, the shared validators, OPML and RSS builders.

The local web server is httpfarm.Farm (the ``server`` fixture of conftest.py is one)."""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from hypothesis import strategies as st

from campplanet.config import FetchSettings, PlanetSettings, Settings

DATA = Path(__file__).parent / "data"
CORPUS = DATA / "feeds"
REPO = Path(__file__).resolve().parents[1]


def corpus_files() -> list[Path]:
    """The real-world feeds of tests/data/feeds, sorted (without their ``.expect`` files)."""
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".expect")


def expectation(path: Path) -> dict[str, list[str]]:
    """What a corpus file is expected to give, stated beside it in ``<file>.expect`` (the
    file stays byte for byte as captured), by Planet Venus's convention: a ``Description:``
    line and ``Expect:`` lines, each a Python expression over the parse that must hold.
    Empty when there is no such file."""
    sidecar = path.with_name(path.name + ".expect")
    text = sidecar.read_text(encoding="utf-8") if sidecar.is_file() else ""
    fields: dict[str, list[str]] = {}
    for line in text.splitlines():
        found = re.match(r"\s*(Description|Expect):\s*(.*?)\s*$", line)
        if found:
            fields.setdefault(found[1], []).append(found[2])
    return fields


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


@contextlib.contextmanager
def cpu_seconds(limit: float) -> Iterator[None]:
    """Fail if the block uses ``limit`` seconds of this process's CPU time or more: for the
    tests where the cost is the behaviour (a pattern that must not backtrack, nesting that
    must not cost quadratic time). CPU time, not elapsed time: other processes on a loaded
    machine do not count, so ``limit`` stays far above what the work costs (a fraction of a
    second) and far below what the regression would (minutes), whatever else runs."""
    start = time.process_time()
    yield
    used = time.process_time() - start
    assert used < limit, f"{used:.1f} s of CPU time; the limit is {limit} s"


# --- feeds and subscription lists ------------------------------------------------------------

XML_DECL = '<?xml version="1.0" encoding="utf-8"?>'
RSS_NAMESPACES = (
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom"'
)
# Characters XML cannot carry at all (NUL, C0 controls, lone surrogates, U+FFFE/FFFF).
_XML_INVALID = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Post:
    """One item of :func:`rss_feed`. Without a ``link``, ``guid`` is a path on the site and
    the post's permalink (its link and guid); with one, ``guid`` is an opaque id."""

    guid: str
    title: str
    when: int  # unix time
    link: str | None = None


def rss_feed(name: str, site: str, items: Iterable[Post | tuple[str, str, int]]) -> bytes:
    """A small RSS 2.0 feed of a blog whose home page is ``site``; items are posts, or
    (guid, title, unix time) triples: ``Post(guid, title, when)``."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(name)}</title><link>{escape(site)}</link>",
        "<description>test</description>",
    ]
    for item in items:
        post = item if isinstance(item, Post) else Post(*item)
        if post.link is None:
            link, guid = site + post.guid, f"<guid>{escape(site + post.guid)}</guid>"
        else:
            link, guid = post.link, f'<guid isPermaLink="false">{escape(post.guid)}</guid>'
        parts.append(
            f"<item><title>{escape(post.title)}</title><link>{escape(link)}</link>"
            f"{guid}<pubDate>{formatdate(post.when)}</pubDate>"
            f"<description>&lt;p&gt;Body of {escape(post.title)}&lt;/p&gt;</description></item>"
        )
    parts.append("</channel></rss>")
    return "\n".join(parts).encode()


def rss_document(*items: str, channel: str = "<title>Blog</title><link>/</link>") -> bytes:
    """An RSS 2.0 document around raw XML: ``channel``'s elements, then the ``items``
    (whole ``<item>`` elements). The content, dc and atom namespaces are declared."""
    body = channel + "".join(items)
    return f'{XML_DECL}<rss version="2.0" {RSS_NAMESPACES}><channel>{body}</channel></rss>'.encode()


def atom_document(*entries: str, feed: str = "<title>Atom blog</title>", base: str = "") -> bytes:
    """An Atom 1.0 document around raw XML: ``feed``'s elements, then the ``entries``
    (whole ``<entry>`` elements); ``base``: an xml:base on the feed element."""
    xml_base = f' xml:base="{base}"' if base else ""
    body = feed + "".join(entries)
    return f'{XML_DECL}<feed xmlns="http://www.w3.org/2005/Atom"{xml_base}>{body}</feed>'.encode()


def outline(name: str, url: str, **attributes: str) -> dict[str, str]:
    """A feed outline's attributes, for :func:`opml_document`."""
    return {"type": "rss", "text": name, "title": name, "xmlUrl": url, **attributes}


def opml_document(
    feeds: Iterable[tuple[str, str] | Mapping[str, str]],
    *,
    title: str = "Test planet",
    head: str = "",
) -> str:
    """An OPML 2.0 subscription list, one outline per line from the fifth: (name, feed url)
    pairs, or outlines' attributes (:func:`outline`). Characters XML cannot carry at all
    are left out of the attribute values; ``head``: raw XML for the head after the title."""

    def line(feed: tuple[str, str] | Mapping[str, str]) -> str:
        attributes = feed if isinstance(feed, Mapping) else outline(*feed)
        values = " ".join(
            f"{name}={quoteattr(_XML_INVALID.sub('', value))}" for name, value in attributes.items()
        )
        return f"    <outline {values}/>"

    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">\n'
        f"  <head><title>{escape(title)}</title>{head}</head>\n"
        "  <body>\n" + "".join(line(feed) + "\n" for feed in feeds) + "  </body>\n</opml>\n"
    )


EPOCH = 1_780_000_000  # a fixed point in 2026 for generated blogs' dates
YESTERDAY = int(time.time()) - 86400  # when the posts of blog_items start


def blog(index: int, generation: int) -> bytes:
    """Blog ``index`` as it looks at ``generation``: one more post each time, and the
    newest older post retitled (an edit). Blog 0 also moves every post to a new guid each
    generation while keeping its link, as a platform migration does."""
    site = f"https://blog{index}.example.org/"
    posts = []
    for post in range(generation + 4):
        guid = f"urn:blog{index}:post{post}"
        if index == 0:
            guid = f"urn:gen{generation}:blog0:post{post}"
        title = f"Blog {index} post {post}"
        if post == generation + 2:
            title += f" (edited in generation {generation})"
        when = EPOCH + index * 60 + post * 3600
        posts.append(Post(guid, title, when, link=f"{site}posts/{post}/"))
    return rss_feed(f"Blog {index}", site, posts[::-1])


def blog_items(blog: int, count: int, *, edited: bool = False) -> list[tuple[str, str, int]]:
    """``count`` posts of blog ``blog`` for :func:`rss_feed`, ten minutes apart from
    yesterday on; ``edited``: every title changed."""
    return [
        (
            f"post-{n}",
            f"Blog {blog} post {n}{' (edited)' if edited else ''}",
            YESTERDAY + 600 * n + blog,
        )
        for n in range(count)
    ]


def planet_settings(folder: Path, output: str = "public") -> Settings:
    """Settings of a planet in ``folder`` fetching from the local farm (a few archive pages)."""
    return Settings(
        planet=PlanetSettings(
            opml=str(folder / "feeds.opml"),
            db=str(folder / "planet.db"),
            output=str(folder / output),
            items=5,
        ),
        fetch=FetchSettings(allow_private_networks=True, timeout=10),
    )


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
