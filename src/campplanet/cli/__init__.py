"""The ``campplanet`` command: a thin layer over the library.

Each command lives in a module of this package and registers itself on :data:`main`
(:mod:`campplanet.cli.base`), which importing this package imports them all onto.
Shared options (``--config``, ``--opml``, ``--db``, ``--output``, ``--allow-private-networks``)
come from :func:`planet_options`, which turns them into a :class:`~campplanet.config.Settings`.
"""

from campplanet.cli import camps, run, serve, subscriptions
from campplanet.cli.base import fail, main, planet_options, require_subscription_list

__all__ = [
    "camps",
    "fail",
    "main",
    "planet_options",
    "require_subscription_list",
    "run",
    "serve",
    "subscriptions",
]
