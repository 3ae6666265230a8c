"""Shared fixtures: a local web server and a planet folder (helpers live in planetkit.py,
the server in httpfarm.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from httpfarm import Farm

# No per-example deadline: hypothesis's default (200 ms) is an assertion on elapsed time,
# which a loaded machine breaks. A test whose cost is the behaviour bounds it itself.
settings.register_profile("campplanet", deadline=None)
settings.load_profile("campplanet")


@pytest.fixture
def server() -> Iterator[Farm]:
    """A farm of one web server on 127.0.0.1: ``server.serve(path, body, content_type=...,
    headers=...)`` returns the URL; ``server.hits(path)`` counts requests, ``server.hits()``
    all of them."""
    with Farm(addresses=["127.0.0.1"]) as farm:
        yield farm


@pytest.fixture
def planet(tmp_path: Path) -> Callable[..., list[str]]:
    """Command-line arguments for a planet living in tmp_path."""

    def args(*extra: str) -> list[str]:
        return [
            "--opml",
            str(tmp_path / "feeds.opml"),
            "--db",
            str(tmp_path / "planet.db"),
            "--output",
            str(tmp_path / "public"),
            "--allow-private-networks",
            *extra,
        ]

    return args
