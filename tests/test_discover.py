"""Feed discovery against real local servers serving real-looking blog home pages."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from campplanet import fetch
from campplanet.config import FetchSettings
from campplanet.discover import (
    PAGE_ACCEPT,
    Discovery,
    DiscoveryError,
    FeedLink,
    discover,
    feed_links,
    rank,
    read_page,
    well_known,
)
from campplanet.types import FetchRequest, FetchResult
from httpfarm import Farm

FEEDS = Path(__file__).parent / "data" / "feeds"
HTML = "text/html; charset=utf-8"
SETTINGS = FetchSettings(allow_private_networks=True, timeout=10)


def get(url: str, accept: str | None) -> FetchResult:
    return fetch.fetch_one(url, SETTINGS, user_agent="campplanet-test", accept=accept)


def feed(kind: str, name: str) -> bytes:
    return (FEEDS / kind / name).read_bytes()


def page(head: str, body: str = "<p>Hello</p>") -> bytes:
    return (
        f'<!DOCTYPE html>\n<html lang="en-GB"><head><meta charset="utf-8">\n'
        f"<title>A blog</title>\n{head}\n</head><body>{body}</body></html>"
    ).encode()


def get_many(urls: list[str]) -> list[FetchResult]:
    async def all_of() -> dict[str, FetchResult]:
        requests = [FetchRequest(url=u) for u in urls]
        return {r.key: r async for r in fetch.fetch_feeds(requests, SETTINGS, user_agent="t")}

    results = asyncio.run(all_of())
    return [results[u] for u in urls]


def run(url: str, *, one_by_one: bool = False) -> Discovery:
    return discover(url, get, None if one_by_one else get_many)


# --- pages of each platform -----------------------------------------------------------------


def test_wordpress_prefers_posts_over_comments(server: Farm) -> None:
    # WordPress names its feeds absolutely; here the comments feed comes first.
    head = (
        '<meta name="generator" content="WordPress 6.4.2">\n'
        '<link rel="alternate" type="application/rss+xml" title="Blog &raquo; Comments Feed" '
        f'href="{server.base()}/comments/feed/" />\n'
        '<link rel="alternate" type="application/rss+xml" title="Blog &raquo; Feed" '
        f'href="{server.base()}/feed/" />\n'
        '<link rel="https://api.w.org/" href="/wp-json/" />\n'
        '<link rel="stylesheet" href="/style.css" />'
    )
    server.serve("/", page(head), content_type=HTML)
    server.serve("/feed/", feed("wordpress", "manton-wp4-rss2.rss"))
    server.serve("/comments/feed/", feed("wordpress-atom", "allthingsrss-wordpress-atom.atom"))
    found = run(server.url("/"))
    assert found.url == server.url("/feed/")
    assert found.page == server.url("/")
    assert found.chosen == FeedLink(server.url("/feed/"), "Blog » Feed", "RSS", "page")
    assert [a.url for a in found.alternatives] == [server.url("/comments/feed/")]
    assert found.alternatives[0].is_comments
    assert len(found.feed.entries) == 10
    assert server.hits("/comments/feed/") == 0  # never fetched: not needed


def test_blogger_relative_atom_and_rss(server: Farm) -> None:
    head = (
        "<meta content='blogger' name='generator'/>\n"
        "<link rel='alternate' type='application/atom+xml' title='Phil - Atom' "
        "href='feeds/posts/default'/>\n"
        "<link rel='alternate' type='application/rss+xml' title='Phil - RSS' "
        "href='feeds/posts/default?alt=rss'/>\n"
        "<link rel='service.post' type='application/atom+xml' title='Phil - Atom' "
        "href='https://www.blogger.com/feeds/123/posts/default'/>"
    )
    server.serve("/", page(head), content_type=HTML)
    server.serve("/feeds/posts/default", feed("blogger", "quiltville-blogger-atom.atom"))
    found = run(server.url("/"))
    assert found.url == server.url("/feeds/posts/default")
    assert found.chosen is not None and found.chosen.kind == "Atom"
    assert [a.url for a in found.alternatives] == [server.url("/feeds/posts/default?alt=rss")]
    assert found.feed.entries


def test_medium_user_page(server: Farm) -> None:
    head = (
        '<link rel="alternate" type="application/rss+xml" title="RSS" href="/feed/@SmartLondon"/>'
        '<link rel="alternate" href="android-app://com.medium.reader/https/medium.com/@x"/>'
    )
    server.serve("/@SmartLondon", page(head), content_type=HTML)
    server.serve("/feed/@SmartLondon", feed("medium", "medium-user-rss.xml"))
    found = run(server.url("/@SmartLondon"))
    assert found.url == server.url("/feed/@SmartLondon")
    assert found.alternatives == []


def test_ghost_relative_to_base_href(server: Farm) -> None:
    head = (
        '<meta name="generator" content="Ghost 5.75">\n<base href="/blog/">\n'
        '<link rel="alternate" type="application/rss+xml" title="News" href="rss/">'
    )
    server.serve("/blog/about/", page(head), content_type=HTML)
    server.serve("/blog/rss/", feed("ghost", "cloudflare-blog-ghost3-rss.xml"))
    found = run(server.url("/blog/about/"))
    assert found.url == server.url("/blog/rss/")


def test_json_feed_alternate(server: Farm) -> None:
    body = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Micro",
        "home_page_url": server.url("/"),
        "items": [{"id": "1", "url": server.url("/1"), "content_text": "Hi"}],
    }
    head = '<link rel="alternate" type="application/feed+json" title="JSON" href="feed.json">'
    server.serve("/", page(head), content_type=HTML)
    server.serve("/feed.json", json.dumps(body).encode(), content_type="application/feed+json")
    found = run(server.url("/"))
    assert found.chosen is not None and found.chosen.kind == "JSON Feed"
    assert found.feed.title == "Micro"


def test_jekyll_without_link_uses_its_platform_path(server: Farm) -> None:
    server.serve("/", page('<meta name="generator" content="Jekyll v4.3.2" />'), content_type=HTML)
    server.serve("/feed.xml", feed("jekyll", "qemu-jekyll-feed-atom.atom"))
    found = run(server.url("/"), one_by_one=True)
    assert found.url == server.url("/feed.xml")
    assert found.chosen is not None and found.chosen.found == "guess"
    assert server.hits("/feed/") == 0  # the platform's own path was tried first


def test_hugo_without_link_or_generator_falls_back_to_index_xml(server: Farm) -> None:
    server.serve("/posts/", page(""), content_type=HTML)
    server.serve("/index.xml", feed("hugo", "cowboyprogrammer-hugo-rss.xml"))
    server.serve("/atom.xml", feed("pelican", "dustri-pelican-atom-large.xml"))  # later in order
    found = run(server.url("/posts/"))
    assert found.url == server.url("/index.xml")
    tried = [u for u, _ in found.tried]
    assert tried[0] == server.url("/posts/feed/")
    assert all("404" in why for _, why in found.tried)


def test_only_a_comments_feed_then_the_well_known_posts_feed(server: Farm) -> None:
    head = (
        '<link rel="alternate" type="application/rss+xml" title="Comments" href="/comments/feed/">'
    )
    server.serve("/", page(head), content_type=HTML)
    server.serve("/comments/feed/", feed("wordpress-atom", "allthingsrss-wordpress-atom.atom"))
    server.serve("/feed/", feed("wordpress", "manton-wp4-rss2.rss"))
    found = run(server.url("/"))
    assert found.url == server.url("/feed/")
    assert [a.url for a in found.alternatives] == [server.url("/comments/feed/")]


def test_broken_main_feed_falls_back_to_the_next(server: Farm) -> None:
    head = (
        '<link rel="alternate" type="application/rss+xml" href="/broken.xml">'
        '<link rel="alternate" type="application/atom+xml" href="/atom.xml">'
    )
    server.serve("/", page(head), content_type=HTML)
    server.serve("/broken.xml", feed("broken", "unclosed-root-tag.xml"))
    server.serve("/atom.xml", feed("pelican", "dustri-pelican-atom-large.xml"))
    found = run(server.url("/"))
    assert found.url == server.url("/atom.xml")
    assert found.tried[0][0] == server.url("/broken.xml")


# --- the URL is the feed ------------------------------------------------------------------------


def test_url_that_is_a_feed(server: Farm) -> None:
    url = server.serve("/rss", feed("substack", "heated-substack-rss.xml"))
    found = run(url)
    assert (found.url, found.page, found.chosen) == (url, None, None)
    assert found.result.final_url == url


def test_permanent_redirect_is_reported(server: Farm) -> None:
    new = server.serve("/new/feed/", feed("wordpress", "manton-wp4-rss2.rss"))
    server.serve("/old/feed/", b"", status=301, headers={"Location": "/new/feed/"})
    found = run(server.url("/old/feed/"))
    assert found.result.permanent_url == new


# --- refusals ---------------------------------------------------------------------------------


def test_page_without_any_feed(server: Farm) -> None:
    server.serve("/", page("", "<h1>Under construction</h1>"), content_type=HTML)
    with pytest.raises(DiscoveryError) as caught:
        run(server.url("/"))
    message = str(caught.value)
    assert message.startswith(f'no feed found: {server.url("/")} has no <link rel="alternate">')
    assert server.url("/feed/") in message


def test_empty_feed_is_refused(server: Farm) -> None:
    url = server.serve(
        "/feed/",
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Nothing yet</title>'
        b"<link>http://x.example/</link><description>d</description></channel></rss>",
    )
    with pytest.raises(DiscoveryError, match="is a feed but has no entries"):
        run(url)


def test_not_a_feed_nor_a_page(server: Farm) -> None:
    url = server.serve("/feed", feed("broken", "unclosed-root-tag.xml"))
    with pytest.raises(DiscoveryError, match="is neither a feed nor a web page"):
        run(url)


def test_unreachable(server: Farm) -> None:
    with pytest.raises(DiscoveryError, match=r"cannot fetch .*/missing: HTTP 404"):
        run(server.url("/missing"))


def test_main_feed_that_does_not_parse_is_named(server: Farm) -> None:
    head = '<link rel="alternate" type="application/rss+xml" href="/feed/">'
    server.serve("/", page(head), content_type=HTML)
    server.serve("/feed/", feed("broken", "html-page-instead-of-feed-nixos.xml"), content_type=HTML)
    with pytest.raises(DiscoveryError) as caught:
        run(server.url("/"))
    assert str(caught.value) == (
        f"the feed {server.url('/feed/')} named by {server.url('/')} cannot be used: "
        "returned an HTML page, not a feed"
    )


def test_page_fetch_asks_for_html() -> None:
    assert PAGE_ACCEPT.startswith("text/html")


# --- the pure parts ------------------------------------------------------------------------------


def test_feed_links_resolve_and_filter() -> None:
    html = (
        '<html><head><base href="https://b.example/blog/">'
        '<LINK REL="Alternate" TYPE="application/atom+xml; charset=utf-8" HREF="../atom.xml">'
        '<link rel="alternate" type="text/html" hreflang="cy" href="/cy/">'
        '<link rel="alternate stylesheet" type="application/rss+xml" href="/x.xml">'
        '<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">'
        '<link rel="alternate" type="application/rss+xml" href="">'
        "</head></html>"
    )
    assert feed_links(html, "https://b.example/blog/post/") == [
        FeedLink("https://b.example/atom.xml", None, "Atom", "page")
    ]


def test_generator_is_read() -> None:
    _, generator = read_page('<meta name="Generator" content="Hugo 0.120">', "https://h.example/")
    assert generator == "Hugo 0.120"


def test_rank_deduplicates_and_puts_comments_last() -> None:
    links = [
        FeedLink("https://b.example/comments/feed/", "Comments Feed"),
        FeedLink("https://b.example/feed/", "Feed"),
        FeedLink("http://B.example/feed", "Feed again"),
        FeedLink("https://b.example/2024/post/feed/", "Post » Comments Feed"),
        FeedLink("https://b.example/category/news/feed/", "News"),
    ]
    assert [x.url for x in rank(links)] == [
        "https://b.example/feed/",
        "https://b.example/category/news/feed/",
        "https://b.example/comments/feed/",
        "https://b.example/2024/post/feed/",
    ]


@pytest.mark.parametrize(
    ("page_url", "generator", "first"),
    [
        ("https://medium.com/thriving-together", None, "https://medium.com/feed/thriving-together"),
        ("https://medium.com/@SmartLondon/some-post", None, "https://medium.com/feed/@SmartLondon"),
        ("https://marklumley3.medium.com/", None, "https://medium.com/feed/@marklumley3"),
        (
            "https://phil.blogspot.com/2024/09/x.html",
            None,
            "https://phil.blogspot.com/feeds/posts/default",
        ),
        ("https://news.substack.com/", None, "https://news.substack.com/feed"),
        ("https://x.wordpress.com/", None, "https://x.wordpress.com/feed/"),
        (
            "https://www.devon.gov.uk/reworkdevon/",
            "WordPress 6.4",
            "https://www.devon.gov.uk/reworkdevon/feed/",
        ),
        ("https://l.example/news/", "Ghost 5.2", "https://l.example/rss/"),
        ("https://j.example/blog/", "Jekyll v4", "https://j.example/feed.xml"),
        ("https://h.example/", "Hugo 0.1", "https://h.example/index.xml"),
        ("https://plain.example/blog/", None, "https://plain.example/blog/feed/"),
    ],
)
def test_well_known_tries_the_platform_first(
    page_url: str, generator: str | None, first: str
) -> None:
    urls = [x.url for x in well_known(page_url, generator)]
    assert urls[0] == first
    assert len(urls) == len(set(urls))
    assert all(x.found == "guess" for x in well_known(page_url, generator))


def test_well_known_covers_folder_and_root() -> None:
    urls = [x.url for x in well_known("https://s.example/blog/post.html")]
    assert "https://s.example/blog/feed.xml" in urls
    assert "https://s.example/atom.xml" in urls
    assert urls.index("https://s.example/blog/rss.xml") < urls.index("https://s.example/rss.xml")


@pytest.mark.parametrize(
    ("url", "title", "comments"),
    [
        ("https://b.example/comments/feed/", "Blog » Comments Feed", True),
        ("https://b.example/2024/05/post/feed/", "Blog » Post title Comments Feed", True),
        ("https://x.blogspot.com/feeds/comments/default", "X - Atom", True),
        ("https://x.blogspot.com/feeds/123/comments/default", None, True),
        ("https://b.example/comments.xml", None, True),
        ("https://b.example/feed/", "No Comment » Feed", False),
        ("https://b.example/feed/", "Comment is free", False),
        ("https://b.example/feed/", "Blog » Feed", False),
        ("https://commentsblog.example/feed/", None, False),
    ],
)
def test_comments_feeds_are_recognised(url: str, title: str | None, comments: bool) -> None:
    assert FeedLink(url, title).is_comments is comments
