"""One run at a time: an OS file lock next to the database.

The kernel releases a ``flock`` when its process dies, however it dies, so a crashed run
never leaves a stale lock behind. The lock file holds the holder's pid, for messages only.

A ``flock`` belongs to the open file, and a forked child (a parse worker of the process
pool) inherits the descriptor: if the run were killed, orphaned workers would keep the lock
held for ever. So forked children close the lock descriptor at once.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from campplanet.exceptions import LockHeld

_held: set[int] = set()  # lock descriptors this process holds open


def _close_in_child() -> None:
    for fd in _held:
        with suppress(OSError):
            os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_close_in_child)


def lock_path(db_path: str | Path) -> Path:
    return Path(str(db_path) + ".lock")


@contextmanager
def run_lock(db_path: str | Path, *, wait: float = 0.0) -> Iterator[Path]:
    """Hold the planet's lock for the duration of the block.

    Raises :class:`LockHeld` at once, or after ``wait`` seconds, if another run has it.
    """
    path = lock_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    _held.add(fd)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                    raise LockHeld(
                        f"another campplanet run holds {path} (pid {holder}); "
                        "try again later or use --wait SECONDS"
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        _held.discard(fd)
        os.close(fd)  # closing the descriptor releases the lock
