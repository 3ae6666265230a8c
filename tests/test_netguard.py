"""URL and address policy: which URLs may be fetched, and URLs as people write them."""

from __future__ import annotations

import pytest

from campplanet.netguard import address_problem, check_url

HINT = "(set fetch.allow_private_networks to allow it)"


@pytest.mark.parametrize(
    ("ip", "kind"),
    [
        ("127.0.0.1", "a loopback"),
        ("127.45.6.7", "a loopback"),
        ("::1", "a loopback"),
        ("169.254.169.254", "a link-local"),  # cloud metadata
        ("fe80::1", "a link-local"),
        ("224.0.0.1", "a multicast"),
        ("ff02::1", "a multicast"),
        ("0.0.0.0", "an unspecified"),
        ("::", "an unspecified"),
        ("10.1.2.3", "a private"),
        ("172.16.0.1", "a private"),
        ("192.168.1.1", "a private"),
        ("fd00::1", "a private"),
        ("240.0.0.1", "a private"),  # reserved class E; Python files it under private too
        ("100.64.0.1", "a non-public"),  # carrier-grade NAT
        ("::ffff:127.0.0.1", "a loopback"),  # IPv4-mapped
        ("::ffff:10.0.0.1", "a private"),
        ("2002:7f00:1::", "a loopback"),  # 6to4 of 127.0.0.1
    ],
)
def test_non_public_addresses(ip, kind):
    assert address_problem(ip) == f"{ip} is {kind} address"
    assert address_problem(ip) is not None


@pytest.mark.parametrize("ip", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "8.8.8.8"])
def test_public_addresses(ip):
    assert address_problem(ip) is None


def test_not_an_address():
    assert address_problem("example.org") == "example.org is not an IP address"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.org/feed", "refused: ftp: URLs are not fetched (only http and https)"),
        ("file:///etc/passwd", "refused: file: URLs are not fetched (only http and https)"),
        ("javascript:alert(1)", "refused: javascript: URLs are not fetched (only http and https)"),
        ("example.org/feed", "not an absolute URL (it needs http:// or https://)"),
        ("http:///feed", "the URL has no host name"),
        ("http://example.org:99999/", "not a valid URL (Port out of range 0-65535)"),
        ("http://127.0.0.1/feed", f"refused: 127.0.0.1 is a loopback address {HINT}"),
        ("http://localhost:8080/", f"refused: localhost is a loopback address {HINT}"),
        ("http://a.localhost/", f"refused: a.localhost is a loopback address {HINT}"),
        ("http://[::1]/", f"refused: ::1 is a loopback address {HINT}"),
        (
            "http://169.254.169.254/latest/",
            f"refused: 169.254.169.254 is a link-local address {HINT}",
        ),
        ("http://2130706433/", f"refused: 127.0.0.1 is a loopback address {HINT}"),  # decimal
        ("http://0x7f.1/", f"refused: 127.0.0.1 is a loopback address {HINT}"),  # hex short form
        ("http://0X7F000001/", f"refused: 127.0.0.1 is a loopback address {HINT}"),  # 0X
        ("http://10.0.0.1/", f"refused: 10.0.0.1 is a private address {HINT}"),
    ],
)
def test_check_url_refusals(url, reason):
    assert check_url(url) == reason


@pytest.mark.parametrize(
    "url",
    ["https://example.org/feed", "http://93.184.215.14/rss", "HTTPS://Example.ORG/atom.xml"],
)
def test_check_url_accepts_public(url):
    assert check_url(url) is None


def test_allow_private_allows_addresses_but_never_other_schemes():
    assert check_url("http://127.0.0.1:8000/feed", allow_private=True) is None
    assert check_url("http://localhost/", allow_private=True) is None
    assert check_url("ftp://127.0.0.1/", allow_private=True) == (
        "refused: ftp: URLs are not fetched (only http and https)"
    )
