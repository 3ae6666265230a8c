"""campplanet's errors: one hierarchy, each with a message a person can act on."""

from __future__ import annotations

# Exit codes, shared by every command.
EXIT_OK = 0
EXIT_ALL_FAILED = 1  # the run completed but every feed failed, or the planet is stale
EXIT_USAGE = 2  # bad command line, config or OPML
EXIT_LOCKED = 75  # another run holds the lock (EX_TEMPFAIL)


class CampplanetError(Exception):
    """Base of every error campplanet reports to the user."""

    exit_code = EXIT_USAGE


class ConfigError(CampplanetError):
    """The configuration file or a command-line setting is wrong."""


class OPMLError(CampplanetError):
    """The subscription list cannot be read. ``str()`` gives ``FILE:LINE: message``."""

    def __init__(self, path: str, line: int | None, message: str, column: int | None = None):
        self.path = path
        self.line = line
        self.column = column
        self.message = message
        where = path if line is None else f"{path}:{line}"
        if line is not None and column is not None:
            where += f":{column}"
        super().__init__(f"{where}: {message}")


class LockHeld(CampplanetError):
    """Another campplanet run holds the lock."""

    exit_code = EXIT_LOCKED


class StorageError(CampplanetError):
    """The database cannot be opened or is from an unknown (newer) campplanet."""
