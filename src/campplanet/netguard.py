"""Which URLs and addresses campplanet may fetch.

Only http and https. Unless private networks are allowed, an address that is loopback,
private, link-local (cloud metadata services live there), multicast, reserved or
unspecified is refused. The fetcher checks the address it actually connects to (after DNS
and after every redirect); :func:`check_url` is the early check on what a URL says.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

ALLOW_HINT = "set fetch.allow_private_networks to allow it"


def address_problem(ip: str) -> str | None:
    """Why an IP address must not be fetched from, or None if it is public."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return f"{ip} is not an IP address"
    kind = _kind(addr)
    return f"{ip} is {kind} address" if kind else None


def _kind(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = addr.ipv4_mapped or addr.sixtofour  # IPv4 inside IPv6: judge the IPv4
        if embedded is not None and (inner := _kind(embedded)):
            return inner
    for test, kind in (
        (addr.is_loopback, "a loopback"),
        (addr.is_link_local, "a link-local"),
        (isinstance(addr, ipaddress.IPv6Address) and addr.is_site_local, "a site-local"),
        (addr.is_multicast, "a multicast"),
        (addr.is_unspecified, "an unspecified"),
        (addr.is_private, "a private"),
        (addr.is_reserved, "a reserved"),
        (not addr.is_global, "a non-public"),
    ):
        if test:
            return kind
    return None


_IPV4_CHARS = re.compile(r"[0-9a-fA-FxX.]+")


def _literal_ip(host: str) -> str | None:
    """The IP a host name spells, including the decimal/octal/hex forms inet_aton accepts."""
    host = host.strip("[]")
    if ":" not in host and not _IPV4_CHARS.fullmatch(host):
        return None  # a name: no IPv6 address lacks a colon, no IPv4 form has other letters
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if _IPV4_CHARS.fullmatch(host):
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            return None
    return None


def check_url(url: str, allow_private: bool = False) -> str | None:
    """Why this URL must not be fetched (scheme, no host, a private IP literal), or None.

    Host names are not resolved here; the fetcher checks the resolved address.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError as e:
        return f"not a valid URL ({e})"
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        if not scheme:
            return "not an absolute URL (it needs http:// or https://)"
        return f"refused: {scheme}: URLs are not fetched (only http and https)"
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as e:
        return f"not a valid URL ({e})"
    if not host:
        return "the URL has no host name"
    if allow_private:
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return f"refused: {host} is a loopback address ({ALLOW_HINT})"
    ip = _literal_ip(host)
    if ip is not None:
        problem = address_problem(ip)
        if problem:
            return f"refused: {problem} ({ALLOW_HINT})"
    return None
