"""Views, sites and inspectors shared by the render tests: feeds and entries as the
templates see them, settings for a site in a folder, a whole camp planet (for the browser
and the validators), every corpus feed as views, and the HTML checks (parsed as a browser
parses, never by substring)."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import html5lib

from campplanet.config import PlanetSettings, RenderSettings, Settings
from campplanet.parse import ParseError, parse_feed
from campplanet.render import render_site
from campplanet.sanitize import DEFAULT_IFRAME_HOSTS, IFRAME_SANDBOX
from campplanet.types import EntryView, FeedView
from campplanet.views import initials
from planetkit import corpus_files

T0 = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)


# --- views -------------------------------------------------------------------------------------


def feed(n: int = 0, **kw) -> FeedView:
    title = kw.pop("title", f"Blog {n}")
    values = dict(
        url=f"https://blog{n}.example.org/feed?a=1&b=<2>",
        title=title,
        site=f"https://blog{n}.example.org/",
        avatar=None,
        initials=initials(title),
        shown=3,
        entries=3,
        health="working",
        last_success=T0,
        updated=T0,
    )
    values.update(kw)
    return FeedView(**values)


def entry(n: int, f: FeedView | None = None, **kw) -> EntryView:
    date = kw.pop("date", T0 - timedelta(hours=5 * n))
    values = dict(
        id=f"https://example.org/post/{n}?x=1&y=2",
        link=f"https://example.org/post/{n}?x=1&y=2",
        title=f"Post {n}",
        content=f'<p>Body of post {n} with <a href="https://example.org/{n}">a link</a>.</p>',
        summary=f"Body of post {n}",
        author=f"Author {n}",
        date=date,
        updated=date,
        feed=f or feed(n % 3),
        categories=("camp",),
    )
    values.update(kw)
    return EntryView(**values)


def settings_for(tmp_path: Path, *, items: int = 5, **render) -> Settings:
    return Settings(
        planet=PlanetSettings(output=str(tmp_path / "public"), items=items, name="Test & Planet"),
        render=RenderSettings(**render),
    )


def parse_html(path: Path):
    return html5lib.parse(path.read_bytes(), namespaceHTMLElements=False)


def text_of(element) -> str:
    return "".join(element.itertext())


def words(n: int, tag: str = "w") -> str:
    return " ".join(f"{tag}{i}" for i in range(n))


def paragraphs(*sizes: int) -> str:
    return "".join(f"<p>{words(n, f'p{k}w')}</p>" for k, n in enumerate(sizes))


# --- every corpus feed as views ----------------------------------------------------------------


def corpus_views() -> tuple[list[EntryView], list[FeedView]]:
    """Every parseable corpus feed as a subscription, its entries as shown entries."""
    entries, feeds = [], []
    for i, path in enumerate(corpus_files()):
        url = f"https://feeds.example.org/{path.parent.name}/{path.name}"
        try:
            parsed = parse_feed(path.read_bytes(), url)
        except ParseError:
            continue
        title = parsed.title or path.name
        f = FeedView(
            url=url,
            title=title,
            site=parsed.link,
            avatar=parsed.image,
            initials=initials(title),
            entries=len(parsed.entries),
            shown=len(parsed.entries),
            health=("working", "failing", "moved", "working", "new")[i % 5],
            failing_since=T0 - timedelta(days=1),
            last_error="HTTP 503",
            moved_to=url + "?moved",
            updated=T0,
        )
        feeds.append(f)
        for j, e in enumerate(parsed.entries):
            date = e.published or e.updated or T0 - timedelta(hours=i + j)
            entries.append(
                EntryView(
                    id=e.guid or e.link or f"tag:feeds.example.org,2026:{i}-{j}",
                    link=e.link,
                    title=e.title,
                    content=e.content,
                    summary=e.summary,
                    author=e.author,
                    date=date,
                    updated=max(e.updated or date, date),
                    feed=f,
                    categories=e.categories,
                )
            )
    entries.sort(key=lambda e: (e.date, e.id), reverse=True)
    return entries, feeds


# --- a whole camp planet, for the browser and the validators ---------------------------------


def png(width: int, height: int, rgb: tuple[int, int, int] | Callable[[int, int], bytes]) -> bytes:
    """A PNG of one colour, or of ``rgb(x, y)``'s colours."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    def pixel(x: int, y: int) -> bytes:
        return rgb(x, y) if callable(rgb) else bytes(rgb)

    rows = b"".join(b"\0" + b"".join(pixel(x, y) for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def camp_logo(x: int, y: int) -> bytes:
    """A white tile with a green tent on it: the logo of the test camp."""
    inside = 12 <= y <= 50 and abs(x - 31.5) <= (y - 12) * 0.75
    return b"\x00\x70\x3c" if inside else b"\xff\xff\xff"


AVATAR_PNG = png(8, 8, (224, 122, 95))
BROKEN_AVATAR = "https://img.example.org/broken.png"  # the browser tests make it fail
WORKING_AVATAR = "https://img.example.org/ok.png"  # and serve AVATAR_PNG for this one


def camp_site(folder: Path, *, accent: str = "#00703c") -> Path:
    """A planet as a camp would run it: description, logo, accent, about page, long posts,
    a prolific blog, blogs with and without pictures, failing and moved blogs. Returns the
    output folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "logo.png").write_bytes(png(64, 64, camp_logo))
    (folder / "about.md").write_text(
        "# What this is\n\nLocalGovCamp is the unconference of UK local-government digital "
        "people. This planet gathers what attendees write about it.\n\n## Add your blog\n\n"
        "Add a line to the [subscription list](../feeds.html), or ask on the day.\n"
    )
    feeds = [
        feed(0, title="Sarah Lay", avatar=BROKEN_AVATAR),
        feed(1, title="Adur & Worthing Councils: Our stories, your councils"),
        feed(2, title="Dave Briggs", avatar=WORKING_AVATAR),
        feed(3, title="Ben Cheetham (LocalGov Digital)"),
        feed(
            4,
            title="A blog that broke",
            health="failing",
            last_error="HTTP 404",
            failing_since=T0 - timedelta(days=2),
            last_success=T0 - timedelta(days=3),
        ),
        feed(5, title="A blog that moved", health="moved", moved_to="https://new.example.org/f"),
        feed(6, title="Gone quiet", health="gone"),
    ]
    # subscription URLs as the OPML reader leaves them: encoded for HTTP
    feeds = [replace(f, url=f"https://blog{n}.example.org/feed/") for n, f in enumerate(feeds)]
    long = "".join(
        f"<p>{' '.join(['Paragraph', str(k), 'of', 'the', 'write-up', *['words'] * 55])}.</p>"
        for k in range(25)
    )
    entries = []
    for n in range(16):
        f = feeds[0] if n < 6 else feeds[n % 4]
        title = (
            "What we learned at LocalGovCamp about user research in housing services"
            if n == 1
            else f"Session notes {n}"
        )
        content = long if n % 3 == 0 else paragraphs(70)
        entries.append(entry(n, f, title=title, content=content, date=T0 - timedelta(hours=2 * n)))
    settings = Settings(
        planet=PlanetSettings(
            output=str(folder / "public"),
            items=10,
            name="LocalGovCamp Planet",
            description="Write-ups from LocalGovCamp, the unconference of UK local-government "
            "digital people",
            logo=str(folder / "logo.png"),
            about=str(folder / "about.md"),
        ),
        render=RenderSettings(accent=accent),
    )
    render_site(settings, entries, feeds, last_refresh=T0)
    return folder / "public"


# --- inert HTML ----------------------------------------------------------------------------------

# Elements that must never come out, whatever namespace the parser puts them in.
FORBIDDEN_ELEMENTS = {
    "script", "style", "base", "meta", "link", "object", "embed", "form", "input", "button",
    "textarea", "select", "svg", "math", "applet", "frame", "frameset", "template", "noscript",
    "xmp", "plaintext", "portal", "animate", "set", "handler", "listener", "use",
}  # fmt: skip
URL_ATTRIBUTES = {
    "href", "src", "srcset", "poster", "action", "formaction", "data", "background",
    "cite", "longdesc", "xlink:href", "lowsrc", "dynsrc", "codebase", "ping", "manifest",
}  # fmt: skip
FORBIDDEN_ATTRIBUTES = {"style", "srcdoc", "formaction", "action", "class", "id", "target"}
BAD_SCHEME = re.compile(r"^(javascript|vbscript|data|livescript|mocha|jar|file):", re.IGNORECASE)
_URL_NOISE = re.compile(r"[\x00-\x20\x7f-\x9f]")


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].lower()


def problems(fragment: str, iframe_hosts: tuple[str, ...] = DEFAULT_IFRAME_HOSTS) -> list[str]:
    """Everything in ``fragment`` that could run script or restyle the page, as a browser's
    HTML5 parser sees it. Empty when the fragment is inert."""
    found: list[str] = []
    tree = html5lib.parseFragment(fragment, treebuilder="etree", namespaceHTMLElements=False)
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue  # comments
        tag = _local(element.tag)
        if tag in FORBIDDEN_ELEMENTS:
            found.append(f"<{tag}> element")
        for raw_name, value in element.attrib.items():
            name = _local(raw_name)
            if name.startswith("on"):
                found.append(f"event handler {name} on <{tag}>")
            if name in FORBIDDEN_ATTRIBUTES:
                found.append(f"{name} attribute on <{tag}>")
            if name in URL_ATTRIBUTES or raw_name.endswith("}href"):
                candidates = value.split(",") if name == "srcset" else [value]
                for candidate in candidates:
                    url = _URL_NOISE.sub("", candidate)
                    if BAD_SCHEME.match(url):
                        found.append(f"{name}={value!r} on <{tag}>")
        if (
            tag == "a"
            and "href" in element.attrib
            and element.attrib.get("rel") != "nofollow ugc noopener"
        ):
            found.append(f"link without rel: {element.attrib}")
        if tag == "iframe":
            src = element.attrib.get("src", "")
            host = re.match(r"https://([^/:?#]+)", src)
            if not host or host.group(1).lower() not in iframe_hosts:
                found.append(f"iframe from {src!r}")
            if element.attrib.get("sandbox") != IFRAME_SANDBOX:
                found.append(f"iframe without sandbox: {element.attrib}")
    return found


def assert_inert(fragment: str, iframe_hosts: tuple[str, ...] = DEFAULT_IFRAME_HOSTS) -> None:
    found = problems(fragment, iframe_hosts)
    assert not found, f"{found} in {fragment!r}"
