"""What every ``campplanet`` command shares: the :data:`main` group they register on, the
planet options that make their :class:`~campplanet.config.Settings`, and how they fail."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from campplanet import __version__
from campplanet.config import DEFAULT_CONFIG, Settings, load_settings
from campplanet.exceptions import CampplanetError, ConfigError, OPMLError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="campplanet")
def main() -> None:
    """campplanet gathers the blog posts of a community event into one page and one feed.

    Typical use from cron: campplanet refresh (fetch every feed in feeds.opml, then
    render public/).
    """


def planet_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options every command shares and pass ``settings`` instead of them."""

    @click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False),
        help="Settings file (default: campplanet.toml if present).",
    )
    @click.option("--opml", type=click.Path(dir_okay=False), help="Subscription list.")
    @click.option("--db", type=click.Path(dir_okay=False), help="SQLite database.")
    @click.option("--output", type=click.Path(file_okay=False), help="Folder for the site.")
    @click.option(
        "--allow-private-networks",
        is_flag=True,
        default=None,
        help="Allow feeds on loopback and private addresses.",
    )
    @functools.wraps(command)
    def wrapper(
        config_file: str | None,
        opml: str | None,
        db: str | None,
        output: str | None,
        allow_private_networks: bool | None,
        **kwargs: Any,
    ) -> Any:
        settings = settings_from_options(config_file, opml, db, output, allow_private_networks)
        return command(settings=settings, **kwargs)

    return wrapper


def settings_from_options(
    config_file: str | None,
    opml: str | None,
    db: str | None,
    output: str | None,
    allow_private_networks: bool | None,
) -> Settings:
    import os

    def absolute(p: str | None) -> str | None:
        return os.path.abspath(p) if p else None

    try:
        return load_settings(
            config_file,
            {
                "planet": {"opml": absolute(opml), "db": absolute(db), "output": absolute(output)},
                "fetch": {"allow_private_networks": allow_private_networks},
            },
        )
    except CampplanetError as e:
        fail(e)


def require_subscription_list(settings: Settings) -> None:
    """Raise a :class:`CampplanetError` (exit 2) if there is no subscription list to work on.

    Run commands call it before they take the lock, so a command started in the wrong
    folder leaves nothing behind (no lock file, no database) and says where it looked.
    """
    path = settings.path(settings.planet.opml)
    if path.exists():
        return
    if settings.config_path is None and not Path(settings.planet.opml).is_absolute():
        raise ConfigError(
            f"no {DEFAULT_CONFIG} and no {settings.planet.opml} in {Path.cwd()}: run "
            "campplanet in the planet's folder, or give its settings with --config FILE "
            "(or its subscription list with --opml FILE)"
        )
    raise OPMLError(str(path), None, "subscription list not found")


def fail(error: CampplanetError) -> None:
    """Report a campplanet error on stderr and exit with its code."""
    click.echo(f"campplanet: {error}", err=True)
    sys.exit(error.exit_code)
