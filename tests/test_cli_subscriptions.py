"""``campplanet add`` and ``campplanet check`` through the real command line (CliRunner)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from campplanet.cli import main
from campplanet.opml import read_opml
from campplanet.storage import Storage
from campplanet.types import FeedState
from httpfarm import Farm

DATA = Path(__file__).parent / "data"
FEEDS = DATA / "feeds"
HTML = "text/html; charset=utf-8"

LIST = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Our blogs: keep them sorted by name. -->
<opml version="2.0">
  <head>
    <title>Test planet</title>
  </head>
  <body>
    <!-- councils -->
    <outline text="Alpha" title="Alpha" type="rss" xmlUrl="{base}/alpha/feed/"
      htmlUrl="{base}/alpha/"/>
    <outline type="rss"   text="Omega"  xmlUrl="{base}/omega.xml"/>
  </body>
</opml>
"""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def planet(tmp_path: Path, server: Farm) -> Path:
    path = tmp_path / "feeds.opml"
    path.write_text(LIST.format(base=server.base()))
    return path


def add(path: Path, *args: str) -> Result:
    return invoke(
        "add", *args, "--opml", str(path), "--db", str(path.parent / "planet.db"),
        "--allow-private-networks",
    )  # fmt: skip


def wordpress_site(server: Farm, prefix: str = "/wp") -> str:
    head = (
        '<meta name="generator" content="WordPress 6.4.2">'
        '<link rel="alternate" type="application/rss+xml" title="Manton &raquo; Comments Feed" '
        'href="comments/feed/">'
        '<link rel="alternate" type="application/rss+xml" title="Manton &raquo; Feed" href="feed/">'
    )
    page = f"<!DOCTYPE html><html><head><title>Manton</title>{head}</head><body></body></html>"
    server.serve(f"{prefix}/", page.encode(), content_type=HTML)
    server.serve_file(f"{prefix}/feed/", FEEDS / "wordpress" / "manton-wp4-rss2.rss")
    server.serve_file(
        f"{prefix}/comments/feed/", FEEDS / "wordpress-atom" / "allthingsrss-wordpress-atom.atom"
    )
    return server.url(f"{prefix}/")


# --- add -----------------------------------------------------------------------------------------


def test_add_from_a_home_page(planet: Path, server: Farm) -> None:
    before = planet.read_bytes()
    result = add(planet, wordpress_site(server))
    assert result.exit_code == 0, result.output
    assert f"Feeds of {server.url('/wp/')}:" in result.output
    assert f'chosen: {server.url("/wp/feed/")} (RSS, "Manton » Feed")' in result.output
    assert f"also:   {server.url('/wp/comments/feed/')}" in result.output
    assert (
        f'Added "Manton Reece" <{server.url("/wp/feed/")}> (10 entries) to {planet} line 11.'
        in (result.output)
    )
    after = planet.read_bytes()
    lines = after.splitlines(keepends=True)
    assert (
        lines[10]
        == (
            f'    <outline text="Manton Reece" title="Manton Reece" type="rss" '
            f'xmlUrl="{server.url("/wp/feed/")}" htmlUrl="http://www.manton.org/"/>\n'
        ).encode()
    )
    del lines[10]
    assert b"".join(lines) == before
    assert [s.title for s in read_opml(planet, allow_private_networks=True)] == [
        "Alpha",
        "Manton Reece",
        "Omega",
    ]


def test_add_with_name_avatar_and_filter(planet: Path, server: Farm) -> None:
    url = server.serve_file("/heated", FEEDS / "substack" / "heated-substack-rss.xml")
    result = add(
        planet, url, "--name", "Zed & Co", "--avatar", "https://img.example/z.png",
        "--filter", "(?i)camp",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    zed = read_opml(planet, allow_private_networks=True)[-1]
    assert (zed.title, zed.url, zed.avatar, zed.filter) == (
        "Zed & Co",
        url,
        "https://img.example/z.png",
        "(?i)camp",
    )
    assert zed.line == 12


def test_add_refuses_a_duplicate_spelled_differently(planet: Path, server: Farm) -> None:
    before = planet.read_bytes()
    result = add(planet, f"HTTP://{server.base().split('://')[1]}/alpha/feed")
    assert result.exit_code == 1
    assert f"is already in {planet} on line 9: Alpha" in result.output
    assert planet.read_bytes() == before


def test_add_refuses_the_site_of_an_existing_feed(planet: Path, server: Farm) -> None:
    server.serve_file("/alpha/feed/", FEEDS / "wordpress" / "manton-wp4-rss2.rss")
    page = b'<html><head><link rel="alternate" type="application/rss+xml" href="/other.xml">'
    server.serve("/alpha/", page, content_type=HTML)
    server.serve_file("/other.xml", FEEDS / "ghost" / "cloudflare-blog-ghost3-rss.xml")
    result = add(planet, server.url("/alpha/"))
    assert result.exit_code == 1
    assert (
        f"not added: {server.url('/alpha/')} is the site of Alpha <{server.url('/alpha/feed/')}>"
        f", already in {planet} on line 9" in result.output
    )
    assert server.hits() == 0  # known without fetching


def test_add_refuses_a_page_that_redirects_to_a_listed_site(planet: Path, server: Farm) -> None:
    page = b'<html><head><link rel="alternate" type="application/rss+xml" href="/other.xml">'
    server.serve("/alpha/", page, content_type=HTML)
    server.serve("/alpha-old/", b"", status=301, headers={"Location": "/alpha/"})
    server.serve_file("/other.xml", FEEDS / "ghost" / "cloudflare-blog-ghost3-rss.xml")
    result = add(planet, server.url("/alpha-old/"))
    assert result.exit_code == 1
    assert (
        f"not added: {server.url('/alpha/')} is the site of Alpha <{server.url('/alpha/feed/')}>"
        f", already in {planet} on line 9" in result.output
    )


def test_add_refuses_a_feed_that_redirects_to_an_existing_one(planet: Path, server: Farm) -> None:
    server.serve_file("/alpha/feed/", FEEDS / "wordpress" / "manton-wp4-rss2.rss")
    server.serve("/old-alpha", b"", status=301, headers={"Location": "/alpha/feed/"})
    result = add(planet, server.url("/old-alpha"))
    assert result.exit_code == 1
    assert "on line 9: Alpha" in result.output


def test_add_refuses_a_known_redirect_from_the_database(planet: Path, server: Farm) -> None:
    moved = server.url("/omega/new.xml")
    with Storage(planet.parent / "planet.db") as storage:
        storage.save_feed(FeedState(url=server.url("/omega.xml"), fetch_url=moved))
    result = add(planet, moved)
    assert result.exit_code == 1
    assert f"{moved} is already in {planet} on line 11: Omega" in result.output
    assert server.hits() == 0  # refused before fetching anything


def test_add_follows_a_permanent_move(planet: Path, server: Farm) -> None:
    server.serve_file("/new.xml", FEEDS / "ghost" / "cloudflare-blog-ghost3-rss.xml")
    server.serve("/moved.xml", b"", status=308, headers={"Location": "/new.xml"})
    result = add(planet, server.url("/moved.xml"))
    assert result.exit_code == 0, result.output
    assert f"has moved permanently to {server.url('/new.xml')}" in result.output
    assert server.url("/new.xml") in [s.url for s in read_opml(planet, allow_private_networks=True)]


def test_add_says_when_the_feed_was_a_guess(planet: Path, server: Farm) -> None:
    server.serve("/blog/", b"<!DOCTYPE html><html><head></head></html>", content_type=HTML)
    server.serve_file("/blog/feed.xml", FEEDS / "jekyll" / "lineageos-jekyll-atom.xml")
    result = add(planet, server.url("/blog/"))
    assert result.exit_code == 0, result.output
    assert (
        f"  chosen: {server.url('/blog/feed.xml')} (a usual feed address: the page names no "
        "working posts feed)" in result.output
    )


def test_add_refuses_a_page_without_a_feed(planet: Path, server: Farm) -> None:
    before = planet.read_bytes()
    server.serve("/nothing/", b"<!DOCTYPE html><html><body>hi</body></html>", content_type=HTML)
    result = add(planet, server.url("/nothing/"))
    assert result.exit_code == 1
    assert "campplanet: not added: no feed found:" in result.output
    assert planet.read_bytes() == before


def test_add_refuses_an_empty_feed(planet: Path, server: Farm) -> None:
    url = server.serve(
        "/empty.xml",
        b'<rss version="2.0"><channel><title>E</title><link>http://e.example/</link></channel></rss>',
    )
    result = add(planet, url)
    assert result.exit_code == 1
    assert f"not added: {url} is a feed but has no entries" in result.output


def test_add_refuses_a_broken_feed(planet: Path, server: Farm) -> None:
    url = server.serve_file("/broken.xml", FEEDS / "broken" / "unclosed-root-tag.xml")
    result = add(planet, url)
    assert result.exit_code == 1
    assert f"not added: {url} is neither a feed nor a web page" in result.output


def test_add_creates_a_missing_list(tmp_path: Path, server: Farm) -> None:
    path = tmp_path / "new.opml"
    url = server.serve_file("/feed", FEEDS / "medium" / "medium-user-rss.xml")
    result = add(path, url)
    assert result.exit_code == 0, result.output
    assert f"Created {path}." in result.output
    [sub] = read_opml(path, allow_private_networks=True)
    assert sub.url == url


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--filter", "(("], "--filter '((' is not a valid regular expression"),
        (["--avatar", "me.png"], "--avatar 'me.png' must be an http(s) URL"),
    ],
)
def test_add_usage_errors(planet: Path, server: Farm, args: list[str], message: str) -> None:
    result = add(planet, server.url("/x"), *args)
    assert result.exit_code == 2
    assert message in result.output
    assert server.hits() == 0


def test_add_refuses_private_addresses_by_default(planet: Path) -> None:
    result = invoke(
        "add", "http://127.0.0.1:9/feed", "--opml", str(planet), "--db", str(planet.parent / "p.db")
    )
    assert result.exit_code == 2
    assert "127.0.0.1 is a loopback address" in result.output


def test_add_to_a_broken_list_is_refused(tmp_path: Path, server: Farm) -> None:
    path = tmp_path / "feeds.opml"
    path.write_bytes((DATA / "opml" / "capyreader-unescaped-ampersand-illformed.opml").read_bytes())
    result = add(path, server.url("/x"))
    assert result.exit_code == 2
    assert f"{path}:13:27: not well-formed XML" in result.output
    assert "fix them first" in result.output


# --- check ---------------------------------------------------------------------------------------


AMP = " (an unescaped & or < in an attribute? write &amp; or &lt;)"


def check(*args: str) -> Result:
    return invoke("check", *args)


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "feeds.opml"
    path.write_text(
        f'<?xml version="1.0"?>\n<opml version="2.0">\n<head><title>t</title></head>\n<body>\n'
        f"{body}\n</body>\n</opml>\n"
    )
    return path


def test_check_the_real_list() -> None:
    result = check(str(Path(__file__).parent.parent / "feeds.opml"))
    assert result.exit_code == 0
    assert "feeds, no errors, 0 warnings" in result.output


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "capyreader-unescaped-ampersand-illformed.opml",
            [":13:27: not well-formed XML: not well-formed (invalid token)" + AMP],
        ),
        (
            "plenary-export-opml10-illformed.opml",
            [":42:170: not well-formed XML: not well-formed (invalid token)" + AMP],
        ),
        (
            "netnewswire-subs-opml20-no-title-attrs.opml",
            [
                ":58: duplicate feed http://feed.katiefloyd.com/ (already on line 44)",
                ":87: duplicate feed http://natashatherobot.com/feed/ (already on line 57)",
            ],
        ),
        (
            "newsboat-category-attr-empty-title.opml",
            [':7: feed outline has no name: add text="Blog name"'],
        ),
    ],
)
def test_check_broken_corpus_files(name: str, expected: list[str]) -> None:
    path = DATA / "opml" / name
    result = check(str(path))
    assert result.exit_code == 2
    assert [line for line in result.stdout.splitlines()] == [f"{path}{e}" for e in expected]


@pytest.mark.parametrize(
    "name",
    [
        "netnewswire-nested-folders-opml11.opml",
        "winer-mysubscriptions-opml20-no-xml-decl.opml",
        "yarr-windows-1251-nested.opml",
        "flym-export-opml11-single-quotes-nested.opml",
        "antennapod-podcasts-opml20.opml",
    ],
)
def test_check_good_corpus_files(name: str) -> None:
    result = check(str(DATA / "opml" / name))
    assert result.exit_code == 0, result.output


def test_check_lists_every_problem_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '<outline text="Folder">\n'
        '  <outline text="A" type="rss" xmlUrl="https://a.example/feed/" colour="red"/>\n'
        "</outline>\n"
        '<outline text="B" type="rss" htmlUrl="https://b.example/"/>\n'
        '<outline text="C" type="rss" xmlUrl="ftp://c.example/feed"/>\n'
        '<outline text="D" type="rss" xmlUrl="http://A.example/feed"/>\n'
        '<outline text="E" type="rss" xmlUrl="https://e.example/" filter="(unclosed"/>\n'
        '<outline text="F" type="rss" xmlUrl="http://192.168.1.10/feed"/>\n'
        '<outline text="" type="rss" xmlUrl="https://g.example/"/>',
    )
    result = check(str(path))
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        f"{path}:6: warning: unknown attribute colour=",
        f'{path}:8: outline "B" has type="rss" but no xmlUrl',
        f"{path}:9: xmlUrl 'ftp://c.example/feed': refused: ftp: URLs are not fetched "
        "(only http and https)",
        f"{path}:10: duplicate feed http://A.example/feed (already on line 6)",
        f"{path}:11: filter '(unclosed' is not a valid regular expression: missing ), "
        "unterminated subpattern at position 0",
        f"{path}:12: xmlUrl 'http://192.168.1.10/feed': refused: 192.168.1.10 is a private "
        "address (set fetch.allow_private_networks to allow it)",
        f'{path}:13: feed outline has no name: add text="Blog name"',
    ]
    assert f"{path}: 6 errors, 1 warning" in result.stderr


def test_check_allows_private_addresses_when_asked(tmp_path: Path) -> None:
    path = write(tmp_path, '<outline text="F" type="rss" xmlUrl="http://192.168.1.10/feed"/>')
    assert check(str(path)).exit_code == 2
    result = check(str(path), "--allow-private-networks")
    assert result.exit_code == 0
    assert f"{path}: 1 feed, no errors, 0 warnings" in result.output


def test_check_warnings_alone_pass(tmp_path: Path) -> None:
    path = write(tmp_path, '<outline text="A" xmlUrl="https://a.example/" colour="red"/>')
    result = check(str(path))
    assert result.exit_code == 0
    assert f"{path}: 1 feed, no errors, 1 warning" in result.output


def test_check_missing_file(tmp_path: Path) -> None:
    result = check(str(tmp_path / "nope.opml"))
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope.opml'}: subscription list not found" in result.stdout


def test_check_uses_the_opml_setting(tmp_path: Path) -> None:
    path = write(tmp_path, '<outline text="A" xmlUrl="ftp://a.example/"/>')
    result = check("--opml", str(path))
    assert result.exit_code == 2
    assert f"{path}:5: xmlUrl 'ftp://a.example/'" in result.stdout


def test_check_fetch(tmp_path: Path, server: Farm) -> None:
    server.serve_file("/good.xml", FEEDS / "wordpress" / "manton-wp4-rss2.rss")
    server.serve_file("/new.xml", FEEDS / "ghost" / "cloudflare-blog-ghost3-rss.xml")
    server.serve("/moved.xml", b"", status=301, headers={"Location": "/new.xml"})
    server.serve_file("/page.xml", FEEDS / "broken" / "html-page-instead-of-feed-nixos.xml")
    path = write(
        tmp_path,
        f'<outline text="Good" xmlUrl="{server.url("/good.xml")}"/>\n'
        f'<outline text="Moved" xmlUrl="{server.url("/moved.xml")}"/>\n'
        f'<outline text="Gone" xmlUrl="{server.url("/gone.xml")}"/>\n'
        f'<outline text="Page" xmlUrl="{server.url("/page.xml")}"/>',
    )
    result = check(str(path), "--fetch", "--allow-private-networks")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[1:] == [
        f"{path}:5: ok: Good <{server.url('/good.xml')}>: 10 entries",
        f"{path}:6: moved: Moved <{server.url('/moved.xml')}>: 1 entry; moved permanently to "
        f"{server.url('/new.xml')}: update xmlUrl",
        f"{path}:7: failing: Gone <{server.url('/gone.xml')}>: HTTP 404 Not Found",
        f"{path}:8: failing: Page <{server.url('/page.xml')}>: not a usable feed: "
        "returned an HTML page, not a feed",
        f"{path}: 4 feeds fetched: 2 ok (1 moved), 2 failing",
    ]


def test_check_fetch_all_good(tmp_path: Path, server: Farm) -> None:
    server.serve_file("/a.xml", FEEDS / "jekyll" / "qemu-jekyll-feed-atom.atom")
    server.serve_file("/b.xml", FEEDS / "blogger" / "quiltville-blogger-atom.atom")
    path = write(
        tmp_path,
        f'<outline text="A" xmlUrl="{server.url("/a.xml")}"/>\n'
        f'<outline text="B" xmlUrl="{server.url("/b.xml")}"/>',
    )
    result = check(str(path), "--fetch", "--allow-private-networks")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == f"{path}: 2 feeds fetched: 2 ok (0 moved), 0 failing"


def test_check_fetch_is_skipped_when_the_list_has_errors(tmp_path: Path, server: Farm) -> None:
    path = write(
        tmp_path, f'<outline text="A" type="rss"/>\n<outline text="B" xmlUrl="{server.url("/b")}"/>'
    )
    result = check(str(path), "--fetch", "--allow-private-networks")
    assert result.exit_code == 2
    assert server.hits() == 0


@pytest.mark.parametrize(
    ("typed", "url"),
    [
        ("blog.example.org", "https://blog.example.org/"),
        ("  Blog.Example.org/feed ", "https://blog.example.org/feed"),
        ("http://blog.example.org", "http://blog.example.org/"),
        ("localhost:8000/feed", "localhost:8000/feed"),  # not a host name with a dot: left alone
    ],
)
def test_typed_addresses(typed: str, url: str) -> None:
    from campplanet.cli.subscriptions import _as_url

    assert _as_url(typed) == url


def test_add_without_a_scheme_is_refused_clearly(planet: Path) -> None:
    result = invoke("add", "my blog", "--opml", str(planet), "--db", str(planet.parent / "p.db"))
    assert result.exit_code == 2
    assert "my blog: not an absolute URL (it needs http:// or https://)" in result.output


def test_duplicate_of() -> None:
    from campplanet.cli.subscriptions import duplicate_of
    from campplanet.types import Subscription

    subs = [
        Subscription("https://a.example/feed/", "A", html_url="https://a.example/", line=3),
        Subscription("https://b.example/rss", "B", line=4),
    ]
    redirects = {"c.example/feed": "https://b.example/rss"}
    assert duplicate_of(["http://www.A.example/feed"], subs, {}) is subs[0]
    assert duplicate_of(["https://c.example/feed/"], subs, redirects) is subs[1]
    assert duplicate_of(["https://c.example/feed/"], subs, {}) is None
    assert duplicate_of([None, "https://d.example/"], subs, {}, page="http://a.example") is subs[0]
    assert duplicate_of(["https://a.example/comments/feed/"], subs, {}) is None
