"""campplanet.urls: URLs as campplanet fetches, compares and publishes them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campplanet.urls import (
    _normalise,
    _publish,
    canonical_link,
    feed_key,
    home_page,
    is_valid_uri,
    normalise_url,
    publishable,
)
from planetkit import URLS


@pytest.mark.parametrize(
    ("written", "encoded"),
    [
        ("https://example.org/feed", "https://example.org/feed"),
        ("  https://example.org/feed \n", "https://example.org/feed"),
        ("https://Example.ORG", "https://example.org/"),
        ("HTTP://example.org:80/x", "http://example.org/x"),
        ("https://example.org:443/x", "https://example.org/x"),
        ("https://example.org:8443/x", "https://example.org:8443/x"),
        ("https://example.org/a b/c", "https://example.org/a%20b/c"),
        ("https://example.org/feed?a=1&b=2", "https://example.org/feed?a=1&b=2"),
        ("https://example.org/feed?q=a b&x=ü", "https://example.org/feed?q=a%20b&x=%C3%BC"),
        ("https://example.org/feed#latest", "https://example.org/feed"),
        ("https://example.org/blög/", "https://example.org/bl%C3%B6g/"),
        ("https://bücher.example/feed", "https://xn--bcher-kva.example/feed"),
        ("https://example.org/a%20b", "https://example.org/a%20b"),  # escapes kept, not doubled
        ("https://example.org/100%", "https://example.org/100%25"),  # a bare % is encoded
        ("https://user:pa ss@example.org/f", "https://user:pa%20ss@example.org/f"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("https://example.org/a;b=c/@x", "https://example.org/a;b=c/@x"),
    ],
)
def test_normalise_url(written, encoded):
    assert normalise_url(written) == encoded


def test_feed_key():
    key = feed_key("https://www.Example.org/feed/")
    assert feed_key("http://example.org/feed") == key
    assert feed_key("https://example.org:443/feed#x") == key
    assert feed_key("https://example.org/other") != key
    assert feed_key("https://someone.blogspot.co.uk/feeds/posts/default") == feed_key(
        "https://someone.blogspot.com/feeds/posts/default"
    )


@pytest.mark.parametrize(
    ("link", "site"),
    [
        ("https://medium.com/@x?source=rss-abc------2", "https://medium.com/@x"),
        ("https://b.example/?utm_source=feed&p=2", "https://b.example/?p=2"),
        ("https://b.example/", "https://b.example/"),
        ("javascript:alert(1)", None),
        (None, None),
    ],
)
def test_home_page(link: str | None, site: str | None) -> None:
    assert home_page(link) == site


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("HTTPS://Blog.Example.ORG/post", "https://blog.example.org/post"),
        ("http://blog.example.org/post", "https://blog.example.org/post"),
        ("https://blog.example.org:443/post", "https://blog.example.org/post"),
        ("http://blog.example.org:80/post", "https://blog.example.org/post"),
        ("https://blog.example.org/post/", "https://blog.example.org/post"),
        ("https://blog.example.org/post?utm_source=rss&utm_medium=feed", "https://blog.example.org/post"),
        ("https://blog.example.org/?p=12&utm_campaign=x", "https://blog.example.org/?p=12"),
        ("https://blog.example.org", "https://blog.example.org/"),
        ("  https://blog.example.org/a  ", "https://blog.example.org/a"),
    ],
)  # fmt: skip
def test_canonical_link_equates_same_post(a: str, b: str) -> None:
    assert canonical_link(a) == canonical_link(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://blog.example.org/post", "https://blog.example.org/Post"),
        ("https://blog.example.org/?p=1", "https://blog.example.org/?p=2"),
        ("https://blog.example.org:8080/post", "https://blog.example.org/post"),
        ("https://a.example.org/post", "https://b.example.org/post"),
        # a fragment is part of a post's identity: linkblogs, weeknotes pages
        ("https://blog.example.org/week-23#monday", "https://blog.example.org/week-23#tuesday"),
        ("https://blog.example.org/post#comments", "https://blog.example.org/post"),
    ],
)
def test_canonical_link_keeps_different_posts_apart(a: str, b: str) -> None:
    assert canonical_link(a) != canonical_link(b)


def test_canonical_link_of_nothing() -> None:
    assert canonical_link(None) is None
    assert canonical_link("") is None
    assert canonical_link("   ") is None
    assert canonical_link("urn:isbn:123") == "urn:isbn:123"
    assert canonical_link("https://[broken/") == "https://[broken/"


@settings(max_examples=300, deadline=None)
@given(URLS)
def test_canonical_link_is_idempotent(url: str) -> None:
    once = canonical_link(url)
    assert canonical_link(once) == once


@settings(max_examples=300, deadline=None)
@given(URLS, st.sampled_from(["", "/"]), st.sampled_from(["utm_source=a", "utm_x=1"]))
def test_canonical_link_ignores_decoration(url: str, slash: str, tracking: str) -> None:
    base = url.split("#")[0].split("?")[0].strip()
    plain = canonical_link(base)
    decorated = base.rstrip("/") + "/" if slash == "/" else base + slash
    assert canonical_link(decorated) == plain
    assert canonical_link(f"{base}?{tracking}") == plain


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("https://a.example/p?q=1#f", True),
        ("tag:a.example,2026:1", True),
        ("urn:uuid:00000000-0000-0000-0000-000000000001", True),
        ("http://[::1]/x", True),
        ("http:///example.com/x", False),  # no host
        ("https://a.example/a b", False),
        ("https://a.example/é", False),  # an IRI, not a URI
        ("post 123", False),
        ("https://a.example/#a#b", False),
        ("", False),
    ],
)
def test_is_valid_uri(text, valid):
    assert is_valid_uri(text) is valid


@pytest.mark.parametrize(
    ("written", "published"),
    [
        ("https://b.example/café au lait/?q=été#sé", "https://b.example/caf%C3%A9%20au%20lait/?q=%C3%A9t%C3%A9#s%C3%A9"),
        ("https://user:secret@b.example/a", "https://b.example/a"),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ("HTTPS://B.example", "https://b.example/"),
        ("http:///example.com/x", None),
        ("ftp://b.example/", None),
        ("javascript:alert(1)", None),
        ("  ", None),
        (None, None),
    ],
)  # fmt: skip
def test_publishable(written, published):
    assert publishable(written) == published
    if published:
        assert is_valid_uri(published) and publishable(published) == published


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_whatever_publishable_returns_is_a_valid_uri(text):
    url = publishable("https://a.example/" + text)
    assert url is None or is_valid_uri(url)


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40))
def test_normalise_url_is_idempotent_and_ascii(path):
    once = normalise_url("https://example.org/" + path)
    assert once.isascii()
    assert normalise_url(once) == once


PLAIN_URLS = st.builds(
    lambda scheme, host, path, query, fragment: f"{scheme}://{host}/{path}{query}{fragment}",
    st.sampled_from(["http", "https"]),
    st.sampled_from(["a.example", "blog.example.org", "127.0.0.1"]),
    st.text(alphabet="abc/-._~!$&'()*+,;=:@%20", max_size=20),
    st.sampled_from(["", "?", "?a=1", "?a=1&b=%41"]),
    st.sampled_from(["", "#", "#x", "#a/b?c"]),
)


@settings(max_examples=500, deadline=None)
@given(PLAIN_URLS, st.booleans(), st.booleans())
def test_the_quick_path_of_normalise_url_agrees_with_the_full_one(url, fragment, userinfo):
    """normalise_url returns an already-normal URL as it is, without taking it apart."""
    full = _normalise(url, keep_fragment=fragment, keep_userinfo=userinfo)
    assert normalise_url(url, keep_fragment=fragment, keep_userinfo=userinfo) == full


@settings(max_examples=300, deadline=None)
@given(PLAIN_URLS)
def test_a_plain_url_is_published_as_it_is(url):
    published = publishable(url)
    assert published is None or is_valid_uri(published)
    assert _publish(url) == published  # the full steps agree
