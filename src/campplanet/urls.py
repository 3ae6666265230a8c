"""URLs as campplanet fetches, compares and publishes them: the one module that rewrites them.

- :func:`normalise_url` encodes a URL for HTTP the way browsers do (IDNA host, percent-encoded
  path and query), for fetching: the fragment goes.
- :func:`publishable` is the same encoding for a URL campplanet writes into a page or feed:
  the fragment stays, credentials go, and anything but an absolute http(s) URL is refused.
- :func:`canonical_link` reduces a post's link to what identifies the post; :func:`feed_key`
  a feed's URL to what identifies the feed.
- :func:`home_page` is a blog's home page as the subscription list keeps it.
- :func:`is_valid_uri` says whether a string is an absolute URI by RFC 3986's grammar.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

# Query parameters that track a reader rather than name a page (Medium adds source=rss-…).
_TRACKING = re.compile(
    r"^(?:(?:utm_\w+|fbclid|gclid|mc_cid|mc_eid|ref_src)=.*|source=rss.*)$", re.IGNORECASE
)


def without_tracking(query: str) -> str:
    """A query string without its tracking parameters, the rest as written."""
    return "&".join(p for p in query.split("&") if p and not _TRACKING.match(p))


_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_ESCAPE = re.compile(r"(%[0-9A-Fa-f]{2})")


def _quote(text: str, safe: str) -> str:
    """Percent-encode ``text`` (UTF-8), keeping valid ``%XX`` escapes as they are."""
    pieces = _ESCAPE.split(text)
    return "".join(p if i % 2 else quote(p, safe=safe) for i, p in enumerate(pieces))


def _host(hostname: str) -> str:
    try:
        return hostname.encode("idna").decode("ascii") if not hostname.isascii() else hostname
    except UnicodeError:
        return hostname


# A URL already as normalise_url writes it: http(s), a lower-case host without port or
# user, and nothing in path, query or fragment that needs encoding.
_PLAIN = re.compile(
    r"https?://[a-z0-9.-]+(?P<rest>/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*)"
    r"(?P<fragment>#(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*)?"
)


@lru_cache(maxsize=32768)
def normalise_url(url: str, *, keep_fragment: bool = False, keep_userinfo: bool = True) -> str:
    """Encode a URL for HTTP the way browsers do: IDNA host in lower case, percent-encoded
    path, query and fragment (existing escapes and ``&``/``=`` kept), default port dropped."""
    url = url.strip()
    plain = _PLAIN.fullmatch(url)
    if plain is not None and not url.endswith(("?", "#")) and "?#" not in url:
        # most URLs: nothing to do (but maybe drop the fragment)
        return url if keep_fragment or not plain["fragment"] else url[: plain.start("fragment")]
    return _normalise(url, keep_fragment=keep_fragment, keep_userinfo=keep_userinfo)


def _normalise(url: str, *, keep_fragment: bool, keep_userinfo: bool) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    host = _host(parts.hostname or "").lower()
    netloc = f"[{host}]" if ":" in host else host  # an IPv6 literal
    scheme = parts.scheme.lower()
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        netloc += f":{port}"
    if keep_userinfo and parts.username is not None:
        userinfo = _quote(parts.username, "!$&'()*+,;=-._~")
        if parts.password is not None:
            userinfo += ":" + _quote(parts.password, "!$&'()*+,;=-._~")
        netloc = f"{userinfo}@{netloc}"
    path = _quote(parts.path, _PATH_SAFE) or "/"
    query = _quote(parts.query, _QUERY_SAFE)
    fragment = _quote(parts.fragment, _QUERY_SAFE) if keep_fragment else ""
    return urlunsplit((scheme, netloc, path, query, fragment))


@lru_cache(maxsize=32768)
def publishable(url: str | None) -> str | None:
    """``url`` as a valid absolute http(s) URI to write into a page or feed (non-ASCII
    percent-encoded, spaces encoded, credentials dropped), or None if it cannot be one."""
    if not url or not url.strip():
        return None
    text = url.strip()
    if _PLAIN.fullmatch(text) and not text.endswith(("?", "#")) and "?#" not in text:
        return text  # already what _publish would make of it
    return _publish(text)


def _publish(text: str) -> str | None:
    if not re.match(r"https?://", text, re.IGNORECASE):
        return None
    encoded = normalise_url(text, keep_fragment=True, keep_userinfo=False)
    try:
        host = urlsplit(encoded).hostname
    except ValueError:
        return None
    if not host or not is_valid_uri(encoded):
        return None
    return encoded


def canonical_link(url: str | None) -> str | None:
    """A link reduced to what identifies the post: scheme (http = https), host case,
    default port, tracking parameters and a trailing slash do not matter; a fragment does
    (posts of a linkblog or weeknotes page differ only by it)."""
    if not url or not url.strip():
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return url.strip()
    host = parts.hostname.lower()
    if port not in (None, 80, 443):
        host += f":{port}"
    query = urlencode(parse_qsl(without_tracking(parts.query), keep_blank_values=True))
    path = quote(unquote(parts.path.strip()), safe=_PATH_SAFE).rstrip("/") or "/"
    fragment = quote(unquote(parts.fragment), safe=_QUERY_SAFE)
    return urlunsplit(("https", host, path, query, fragment))


def feed_key(url: str) -> str:
    """One key for every spelling of the same feed: scheme, host case, ``www.``, default
    port, trailing slash, fragment and the country domains Blogger redirects to
    ``.blogspot.com`` do not matter."""
    parts = urlsplit(normalise_url(url))
    host = (parts.netloc or "").lower().removeprefix("www.")
    host = re.sub(r"\.blogspot\.(?:com?\.)?[a-z]{2,3}$", ".blogspot.com", host)
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("", host, path, parts.query, "")).removeprefix("//")


def home_page(url: str | None) -> str | None:
    """A blog's home page for the subscription list: http(s) only, without tracking
    parameters."""
    if not url or not re.match(r"^https?://", url, re.IGNORECASE):
        return None
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=without_tracking(parts.query)))


# RFC 3986, section 3: scheme ":" hier-part [ "?" query ] [ "#" fragment ], every character
# unreserved, reserved or a percent-escape. An http(s) URI needs a host.
_URI = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]|%[0-9A-Fa-f]{2})*"
)
_HTTP = re.compile(r"https?:", re.IGNORECASE)
_HTTP_WITH_HOST = re.compile(r"https?://(?:[^/?#\[\]@:]|\[)", re.IGNORECASE)


def is_valid_uri(text: str) -> bool:
    """Whether ``text`` is an absolute URI by RFC 3986's grammar, with at most one ``#``;
    an http(s) URI must name a host."""
    if not _URI.fullmatch(text) or text.count("#") > 1:
        return False
    return not _HTTP.match(text) or _HTTP_WITH_HOST.match(text) is not None
