"""Fixtures for the adversarial suite; the kit itself is in hostile.py beside this file, the
web server is the suite's own (the ``server`` fixture of tests/conftest.py, a farm on 127.0.0.1).

Every test here runs offline by construction: a guard on ``socket.connect`` refuses (and
records) any connection beyond 127.0.0.0/8, and name resolution is answered from a table
(``localhost`` and the ``*.test`` names below) without sending a DNS query anywhere.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

# Names the tests may resolve. Anything else that is not an IP literal fails to resolve.
DNS: dict[str, list[str]] = {
    "localhost": ["127.0.0.1"],
    "anything.localhost": ["127.0.0.1"],
    "sub.localhost": ["127.0.0.1"],
    "intranet.test": ["127.0.0.2"],
    "metadata.test": ["169.254.169.254"],
    "private.test": ["10.0.0.1", "192.168.0.1"],
    "v6.test": ["::1"],
    "mapped.test": ["::ffff:127.0.0.2"],
    "mixed.test": ["127.0.0.2", "127.0.0.1"],  # one private, one (pretend) public
}


def _is_literal(host: str) -> bool:
    """An IP address, in any spelling the C library accepts (2130706433, 0x7f.1, ...)."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        try:
            socket.inet_aton(host)
        except OSError:
            return False
    return True


@pytest.fixture(scope="module", autouse=True)
def offline() -> Iterator[list[object]]:
    """No connection beyond loopback, no DNS query: both fail the module instead."""
    monkeypatch = pytest.MonkeyPatch()
    attempts: list[object] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(address: object) -> None:
        if isinstance(address, tuple):
            ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
            mapped = getattr(ip, "ipv4_mapped", None)
            if not (ip.is_loopback or (mapped is not None and mapped.is_loopback)):
                attempts.append(address)
                raise ConnectionRefusedError(f"test guard: no connection to {address!r}")

    def connect(self, address):
        check(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        if host is None or _is_literal(name.strip("[]")):
            return real_getaddrinfo(host, port, *args, **kwargs)
        key = name.lower().rstrip(".")
        if key not in DNS:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        out = []
        for ip in DNS[key]:
            if ":" in ip:
                out.append(
                    (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, int(port or 80), 0, 0))
                )
            else:
                out.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, int(port or 80))))
        return out

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield attempts
    monkeypatch.undo()
    assert attempts == [], f"connections beyond loopback were attempted: {attempts}"
