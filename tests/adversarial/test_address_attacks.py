"""Address attacks: feed URLs, redirects and DNS names that lead to loopback, private,
link-local (cloud metadata) or otherwise non-public addresses, in every spelling, and
non-http schemes. All refused unless private networks are allowed, before any connection.

The suite's ``offline`` guard (conftest.py) makes sure no test here can reach beyond
127.0.0.0/8 or send a DNS query: either fails the test instead of leaving the machine. DNS
names used here resolve from its table (``intranet.test`` -> 127.0.0.2, ...).
"""

from __future__ import annotations

import asyncio

import pytest
from hostile import (
    healthy_rss,
    run_planet_inprocess,
    write_planet,
)

from campplanet import netguard
from campplanet.config import FetchSettings
from campplanet.fetch import fetch_feeds
from campplanet.types import FetchRequest, Outcome
from httpfarm import Farm, Route
from planetkit import opml_document, outline

PRIVATE_HOSTS = {
    "loopback": "127.0.0.1",
    "loopback-other": "127.1.2.3",
    "ten": "10.0.0.1",
    "ten-top": "10.255.255.254",
    "172-16": "172.16.0.1",
    "172-31": "172.31.255.254",
    "192-168": "192.168.1.1",
    "metadata": "169.254.169.254",
    "link-local": "169.254.0.1",
    "unspecified": "0.0.0.0",
    "zero-net": "0.1.2.3",
    "cgnat": "100.64.0.1",
    "multicast": "224.0.0.1",
    "broadcast": "255.255.255.255",
    "reserved": "240.0.0.1",
    "benchmark-net": "198.18.0.1",
    "v6-loopback": "[::1]",
    "v6-unspecified": "[::]",
    "v6-ula": "[fd00::1]",
    "v6-ula-top": "[fdff:ffff::1]",
    "v6-link-local": "[fe80::1]",
    "v6-link-local-zone": "[fe80::1%25eth0]",
    "v6-site-local": "[fec0::1]",
    "v6-multicast": "[ff02::1]",
    "v4-mapped-loopback": "[::ffff:127.0.0.1]",
    "v4-mapped-hex": "[::ffff:7f00:1]",
    "v4-mapped-private": "[::ffff:10.0.0.1]",
    "v4-mapped-metadata": "[::ffff:169.254.169.254]",
    "v4-compatible": "[::127.0.0.1]",
    "6to4-loopback": "[2002:7f00:1::]",
    "6to4-private": "[2002:a00:1::]",
    "decimal": "2130706433",
    "decimal-private": "167772161",
    "decimal-metadata": "2852039166",
    "octal": "0177.0.0.1",
    "octal-padded": "0177.0000.0000.0001",
    "octal-whole": "017700000001",
    "hex-short": "0x7f.1",
    "hex-whole": "0x7f000001",
    "hex-dotted": "0x7f.0x0.0x0.0x1",
    "hex-metadata": "0xa9.0xfe.0xa9.0xfe",
    "short-form": "127.1",
    "short-private": "10.1",
    "leading-zeros": "127.000.000.001",
    "localhost": "localhost",
    "localhost-upper": "LOCALHOST",
    "localhost-sub": "anything.localhost",
    "localhost-sub-upper": "ANYTHING.LocalHost",
}

SCHEMES = {
    "file": "file:///etc/passwd",
    "file-host": "file://localhost/etc/passwd",
    "ftp": "ftp://127.0.0.1/feed.xml",
    "gopher": "gopher://127.0.0.1:70/_GET%20/",
    "data": "data:application/rss+xml,<rss/>",
    "javascript": "javascript:alert(1)",
    "dict": "dict://127.0.0.1:11211/stat",
    "ldap": "ldap://127.0.0.1/",
    "jar": "jar:http://127.0.0.1/x.jar!/feed.xml",
    "no-scheme": "//127.0.0.1/feed.xml",
    "relative": "/etc/passwd",
}


def fetch(urls: list[str], *, private: bool = False, timeout: float = 5.0) -> dict:
    settings = FetchSettings(timeout=timeout, allow_private_networks=private, max_redirects=5)

    async def go():
        requests = [FetchRequest(url=u) for u in urls]
        return {r.key: r async for r in fetch_feeds(requests, settings, user_agent="test")}

    return asyncio.run(go())


PRIVATE = "127.0.0.2"


@pytest.fixture(scope="module")
def target():
    """The private service an attacker wants to reach, on 127.0.0.2. Refusal tests share it
    and each checks that it never saw a connection (:func:`untouched`)."""
    with Farm(addresses=[PRIVATE]) as farm:
        farm.serve("/", b"secret", content_type="text/plain")
        farm.serve("/latest/meta-data/", b"secret", content_type="text/plain")
        yield farm


@pytest.fixture
def reachable():
    """A private service the allow-private tests may reach."""
    with Farm(addresses=[PRIVATE]) as farm:
        farm.serve("/", b"secret", content_type="text/plain")
        yield farm


def untouched(farm: Farm) -> bool:
    """Whether no connection at all reached the farm."""
    return sum(farm.connections.values()) == 0


def pretend_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend 127.0.0.1 is a public address (a blog on the internet); everything else keeps
    its real classification. Lets a local server play the public side of an attack."""
    real = netguard.address_problem
    monkeypatch.setattr(
        netguard, "address_problem", lambda ip: None if ip == "127.0.0.1" else real(ip)
    )


@pytest.fixture
def public_loopback(monkeypatch):
    pretend_public(monkeypatch)


# --- literal addresses and names in the feed URL ---------------------------------------------

DNS_NAMES = ["intranet.test", "metadata.test", "private.test", "v6.test", "mapped.test"]
TRAILING_DOT = ["localhost.", "LOCALHOST.", "sub.localhost."]


@pytest.fixture(scope="module")
def refusals(target):
    """Every refused URL of this section, fetched in one batch with private networks off."""
    urls = [f"http://{host}:{target.ports[PRIVATE]}/" for host in PRIVATE_HOSTS.values()]
    urls += [f"http://{name}:{target.ports[PRIVATE]}/" for name in DNS_NAMES + TRAILING_DOT]
    urls += list(SCHEMES.values())
    results = fetch(urls)
    results.update(
        {f"allowed:{u}": r for u, r in fetch(list(SCHEMES.values()), private=True).items()}
    )
    return results


@pytest.mark.parametrize("name", list(PRIVATE_HOSTS))
def test_private_url_refused_before_connecting(name, target, refusals):
    url = f"http://{PRIVATE_HOSTS[name]}:{target.ports[PRIVATE]}/"
    reason = netguard.check_url(url)
    assert reason is not None and reason.startswith("refused:"), reason  # before any network
    result = refusals[url]
    assert result.outcome is Outcome.FAILED
    assert result.error.startswith("refused:"), result.error
    assert "allow_private_networks" in result.error
    assert untouched(target)


@pytest.mark.parametrize(
    "host", ["127.0.0.2", "2130706434", "0x7f.0.0.2", "127.2", "[::ffff:127.0.0.2]"]
)
def test_private_url_allowed_by_the_flag(host, reachable):
    url = f"http://{host}:{reachable.ports[PRIVATE]}/"
    result = fetch([url], private=True)[url]
    assert result.outcome is Outcome.OK, result.error
    assert result.body == b"secret"
    assert reachable.hits("/") == 1


@pytest.mark.parametrize("name", TRAILING_DOT)
def test_localhost_with_trailing_dot_refused_at_connect(name, target, refusals):
    url = f"http://{name}:{target.ports[PRIVATE]}/"
    assert netguard.check_url(url) is None  # not caught by name: the connect check must
    result = refusals[url]
    assert result.outcome is Outcome.FAILED
    assert result.error.startswith("refused:") and "loopback" in result.error, result.error
    assert untouched(target)


@pytest.mark.parametrize("name", list(SCHEMES))
def test_other_schemes_refused(name, refusals):
    url = SCHEMES[name]
    assert netguard.check_url(url) is not None
    assert netguard.check_url(url, allow_private=True) is not None  # the flag never allows them
    for result in (refusals[url], refusals[f"allowed:{url}"]):
        assert result.outcome is Outcome.FAILED
        assert result.error.startswith(("refused:", "not an absolute URL")), result.error
        assert "root:" not in (result.error or "")


# --- DNS names that resolve to private addresses ------------------------------------------------


@pytest.mark.parametrize("name", DNS_NAMES)
def test_name_resolving_to_private_address_refused(name, target, refusals):
    url = f"http://{name}:{target.ports[PRIVATE]}/"
    assert netguard.check_url(url) is None  # a name says nothing until it is resolved
    result = refusals[url]
    assert result.outcome is Outcome.FAILED
    assert result.error.startswith("refused:"), result.error
    assert untouched(target)


def test_name_with_public_and_private_addresses_connects_only_to_public(public_loopback):
    # mixed.test -> 127.0.0.2 (private) then 127.0.0.1 (pretend public), same port on both.
    with Farm(addresses=["127.0.0.1", PRIVATE], same_port=True) as farm:
        farm.serve("/feed", b"public", content_type="text/plain", host=0)
        farm.serve("/feed", b"secret", content_type="text/plain", host=1)
        url = f"http://mixed.test:{farm.ports['127.0.0.1']}/feed"
        result = fetch([url])[url]
        assert result.outcome is Outcome.OK, result.error
        assert result.body == b"public"
        assert farm.connections[PRIVATE] == 0


# --- redirects from a (pretend) public server to private places -----------------------------------

REDIRECT_TARGETS = {
    "loopback": "http://127.0.0.2:{port}/",
    "decimal": "http://2130706434:{port}/",
    "hex": "http://0x7f.0.0.2:{port}/",
    "octal": "http://0177.0.0.2:{port}/",
    "v4-mapped": "http://[::ffff:127.0.0.2]:{port}/",
    "localhost": "http://localhost:{port}/",
    "localhost-dot": "http://localhost.:{port}/",
    "dns-intranet": "http://intranet.test:{port}/",
    "dns-mapped": "http://mapped.test:{port}/",
    "metadata": "http://169.254.169.254/latest/meta-data/",
    "dns-metadata": "http://metadata.test/latest/meta-data/",
    "ten": "http://10.0.0.1/",
    "v6-loopback": "http://[::1]:{port}/",
    "v6-ula": "http://[fd00::1]/",
    "file": "file:///etc/passwd",
    "ftp": "ftp://127.0.0.2/",
    "gopher": "gopher://127.0.0.2:{port}/_",
    "javascript": "javascript:alert(1)",
    "data": "data:text/plain,secret",
}
STATUSES = (301, 302, 303, 307, 308)


@pytest.fixture(scope="module")
def redirect_results(target):
    monkeypatch = pytest.MonkeyPatch()
    pretend_public(monkeypatch)
    try:
        with Farm(addresses=["127.0.0.1"]) as public:
            urls = {}
            for name, location in REDIRECT_TARGETS.items():
                for status in STATUSES:
                    urls[name, status] = public.add(
                        f"/r/{name}/{status}",
                        Route(status=status, location=location.format(port=target.ports[PRIVATE])),
                    )
            results = fetch(list(urls.values()))
            hits = {key: public.hits(url) for key, url in urls.items()}
    finally:
        monkeypatch.undo()
    return {key: (results[url], hits[key]) for key, url in urls.items()}


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("name", list(REDIRECT_TARGETS))
def test_redirect_to_private_place_refused(name, status, target, redirect_results):
    result, hits = redirect_results[name, status]
    assert hits == 1  # the public side was asked
    assert result.outcome in (Outcome.FAILED, Outcome.UNREACHABLE)
    # Refused by policy, or a Location httpx itself rejects ("0177.0.0.2", "javascript:"):
    # either way named, never an "unexpected error", and nothing connected.
    assert "refused" in result.error or "invalid url" in result.error.lower(), result.error
    assert "unexpected error" not in result.error
    assert "secret" not in result.error
    assert result.body is None
    assert untouched(target)


def test_redirect_to_private_place_followed_when_allowed(server, reachable):
    url = server.add(
        "/feed", Route(status=302, location=f"http://intranet.test:{reachable.ports[PRIVATE]}/")
    )
    result = fetch([url], private=True)[url]
    assert result.outcome is Outcome.OK, result.error
    assert result.body == b"secret"


def test_redirect_chain_through_public_hops_into_private_refused(server, target, public_loopback):
    server.add("/a", Route(status=301, location=server.url("/b")))
    server.add("/b", Route(status=308, location=server.url("/c")))
    server.add("/c", Route(status=302, location=f"http://0x7f000002:{target.ports[PRIVATE]}/"))
    url = server.url("/a")
    result = fetch([url])[url]
    assert result.outcome is Outcome.FAILED
    assert "refused" in result.error
    assert server.hits() == 3
    assert untouched(target)


# --- the real CLI ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["loopback", "metadata", "v6-ula", "decimal", "hex-short", "localhost"]
)
def test_cli_refuses_private_subscription_by_default(name, tmp_path, target):
    url = f"http://{PRIVATE_HOSTS[name]}:{target.ports[PRIVATE]}/"
    write_planet(tmp_path, opml_document([outline("Intranet", url)]))
    run = run_planet_inprocess(tmp_path, private=False)
    # The outline is left out of the run with its line named; with no other feed, the run
    # has nothing that worked and exits 1.
    assert run.code == 1, run.output
    assert "feeds.opml:" in run.output and "refused" in run.output
    assert "left out until it is fixed" in run.output
    assert "allow_private_networks" in run.output
    assert untouched(target)


def test_cli_private_feeds_refused_others_fetched(tmp_path, server, target, public_loopback):
    good = server.serve("/good", healthy_rss("good"))
    hop = server.add(
        "/hop", Route(status=301, location=f"http://127.0.0.2:{target.ports[PRIVATE]}/")
    )
    feeds = [
        outline("Good blog", good),
        outline("Redirects inside", hop),
        outline("Intranet name", f"http://intranet.test:{target.ports[PRIVATE]}/"),
        outline("Metadata name", "http://metadata.test/latest/meta-data/"),
        outline("Localhost dot", f"http://localhost.:{target.ports[PRIVATE]}/"),
    ]
    write_planet(tmp_path, opml_document(feeds))
    run = run_planet_inprocess(tmp_path, private=False)
    assert run.code == 0, run.output
    assert "feeds: 1 ok, 0 not modified, 4 failed" in run.output
    rows = run.feed_rows()
    for feed in feeds[1:]:
        error = rows[feed["xmlUrl"]]["last_error"] or ""
        assert "refused" in error, (feed["text"], error)
    assert rows[good]["last_error"] is None
    assert len(run.entry_rows(good)) == 3
    assert untouched(target)
