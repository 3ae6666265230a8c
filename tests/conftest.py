"""Shared fixtures: a local web server and a planet folder (helpers live in planetkit.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from planetkit import LocalServer


@pytest.fixture
def server() -> Iterator[LocalServer]:
    s = LocalServer()
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


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
