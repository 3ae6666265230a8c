"""Fixtures for the adversarial suite; the kit itself is in hostile.py beside this file."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hostile import RawServer


@pytest.fixture
def raw_server() -> Iterator[RawServer]:
    with RawServer() as server:
        yield server


@pytest.fixture(scope="module")
def module_server() -> Iterator[RawServer]:
    with RawServer() as server:
        yield server
