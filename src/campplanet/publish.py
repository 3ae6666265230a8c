"""Where rendered files go, and which archive pages need no rendering at all.

A :class:`Sink` takes rendered files: it keeps them in memory (:func:`campplanet.render.
build_files`) or writes them into the output folder, leaving a file whose bytes did not
change untouched (its modification time kept, so rsync and CDNs republish only what
changed).

Writing into a folder, the sink also keeps the :data:`Manifest` of the archive pages: each
page's fingerprint (:func:`campplanet.pages.fingerprint`), size and modification time as
the last render wrote it. The next render keeps a page whose fingerprint is unchanged and
whose file is still the one campplanet wrote, without rendering it. The manifest is a
cache: lost or broken, every page is rendered again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from campplanet.files import write_if_changed

# What a render wrote into each archive page: {path: [fingerprint, size, mtime_ns]}.
Manifest = dict[str, list[Any]]


class Sink:
    """Rendered files: kept in memory, or (``out_dir``) written into the output folder as
    they come, by whichever process rendered them. ``previous`` is the last render's
    manifest of that folder."""

    def __init__(self, out_dir: Path | None = None, previous: Manifest | None = None):
        self.out_dir = out_dir
        self.previous = previous or {}
        self.files: dict[str, bytes] = {}
        self.written: list[str] = []
        self.unchanged: list[str] = []
        self.manifest: Manifest = {}
        self.reused = 0

    def put(self, rel: str, data: bytes, fingerprint: str | None = None) -> None:
        if self.out_dir is None:
            self.files[rel] = data
            return
        path = self.out_dir / rel
        if write_if_changed(path, data):
            self.written.append(rel)
        else:
            self.unchanged.append(rel)
        if fingerprint is not None:
            st = path.stat()
            self.manifest[rel] = [fingerprint, st.st_size, st.st_mtime_ns]

    def known(self, rel: str) -> bool:
        """Whether the last render recorded ``rel`` (so it may be kept as it is)."""
        return self.out_dir is not None and rel in self.previous

    def current(self, rel: str, fingerprint: str) -> bool:
        """Keep ``rel`` as it is, if the last render wrote it with this fingerprint and the
        file is still what it wrote (same size and mtime)."""
        if self.out_dir is None:
            return False
        kept = self.previous.get(rel)
        if not (isinstance(kept, list) and len(kept) == 3 and kept[0] == fingerprint):
            return False
        try:
            st = (self.out_dir / rel).stat()
        except OSError:
            return False
        if [st.st_size, st.st_mtime_ns] != kept[1:]:
            return False
        self.unchanged.append(rel)
        self.manifest[rel] = kept
        self.reused += 1
        return True

    def merge(self, other: Sink) -> None:
        self.files.update(other.files)
        self.written += other.written
        self.unchanged += other.unchanged
        self.manifest.update(other.manifest)

    @property
    def paths(self) -> set[str]:
        return {*self.files, *self.written, *self.unchanged}
