"""Files replaced whole: every file campplanet writes (a published page or feed, the
subscription list) is written to a temporary file beside it, flushed to disk, and renamed
into place, so a run killed at any moment, or a power cut, leaves the old file or the new
one, never half of one."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

_TEMP_NAME = re.compile(r"^\..+\.\d+\.tmp$")


def replace_file(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` at once. ``mode``: the new file's permissions (default:
    the old file's, else 0644 less the umask)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        with contextlib.suppress(FileNotFoundError):
            mode = path.stat().st_mode & 0o7777
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666 if mode is None else 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_if_changed(path: Path, data: bytes) -> bool:
    """Replace ``path`` with ``data`` unless it already holds exactly these bytes (its
    modification time is then kept). Returns whether it was written."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    replace_file(path, data)
    return True


def remove_leftover_temp_files(folder: Path) -> None:
    """Delete the temporary files a killed run left in ``folder`` (the run lock is held, so
    nothing else is writing them), so they are never published."""
    for parent, _dirs, names in os.walk(folder):
        for name in names:
            if _TEMP_NAME.match(name):
                Path(parent, name).unlink(missing_ok=True)


def remove_stale_pages(out_dir: Path, paths: set[str]) -> list[str]:
    """Remove archive pages (``page/N/index.html``) not in ``paths``; returns them."""
    removed: list[str] = []
    pages = out_dir / "page"
    if not pages.is_dir():
        return removed
    for folder in sorted(pages.iterdir()):
        if not (folder.is_dir() and folder.name.isdigit()):
            continue
        rel = f"page/{folder.name}/index.html"
        if rel in paths:
            continue
        index = folder / "index.html"
        if index.is_file():
            index.unlink()
            removed.append(rel)
        with contextlib.suppress(OSError):  # something else lives there: leave it
            folder.rmdir()
    return removed


def remove_stale_files(out_dir: Path, paths: set[str], candidates: list[str]) -> list[str]:
    """Remove the ``candidates`` (files campplanet writes only with a setting, such as the
    about page) that this render did not write; returns them."""
    removed = []
    for rel in candidates:
        if rel in paths:
            continue
        path = out_dir / rel
        if path.is_file():
            path.unlink()
            removed.append(rel)
            with contextlib.suppress(OSError):  # its folder, if now empty
                if path.parent != out_dir:
                    path.parent.rmdir()
    return removed


def remove_stale_folder(out_dir: Path, folder: str, paths: set[str]) -> list[str]:
    """Remove the files under ``folder`` (say ``camps``, whose pages follow the settings)
    that this render did not write, and the folders they leave empty; returns them."""
    removed: list[str] = []
    root = out_dir / folder
    if not root.is_dir():
        return removed
    for path in sorted(root.rglob("*"), reverse=True):
        rel = path.relative_to(out_dir).as_posix()
        if path.is_file() and rel not in paths and not _TEMP_NAME.match(path.name):
            path.unlink()
            removed.append(rel)
        elif path.is_dir():
            with contextlib.suppress(OSError):  # only if now empty
                path.rmdir()
    with contextlib.suppress(OSError):
        root.rmdir()
    return sorted(removed)
