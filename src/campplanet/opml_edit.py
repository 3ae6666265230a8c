"""Editing the subscription list without disturbing the rest of the file.

Adding a feed: the new ``<outline>`` goes in as one line among its sibling feeds, in their
order of name, with the indentation, line endings and encoding of the file; every other byte
stays as it was (comments, attribute order, quoting). Sorting the feeds (``check
--fix-order``): each feed's element moves, byte for byte, into the place of another; what lies
between them stays. Either result is parsed again before it replaces the file, and the
replacement is atomic.
"""

from __future__ import annotations

import codecs
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path

from campplanet.exceptions import OPMLError
from campplanet.opml import Document, Outline, clean_name, feed_groups, name_key, parse_document


@dataclass(frozen=True)
class NewFeed:
    """What ``campplanet add`` writes for one blog."""

    name: str
    xml_url: str
    html_url: str | None = None
    avatar: str | None = None
    filter: str | None = None


def _quote(value: str) -> str:
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = value.replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;")
    return '"' + value.replace("\t", "&#9;") + '"'


def outline_xml(feed: NewFeed) -> str:
    """The ``<outline .../>`` element for ``feed``, attributes in the order feeds.opml uses."""
    name = clean_name(feed.name)
    attrs = [("text", name), ("title", name), ("type", "rss"), ("xmlUrl", feed.xml_url)]
    for name, value in (("htmlUrl", feed.html_url), ("avatar", feed.avatar)):
        if value:
            attrs.append((name, value))
    if feed.filter:
        attrs.append(("filter", feed.filter))
    return "<outline " + " ".join(f"{k}={_quote(v)}" for k, v in attrs) + "/>"


def new_document(title: str, created: datetime | None = None) -> bytes:
    """A fresh, empty subscription list (for ``add`` on a file that does not exist yet)."""
    head = f"    <title>{_quote(title)[1:-1]}</title>\n"
    if created is not None:
        head += f"    <dateCreated>{format_datetime(created, usegmt=True)}</dateCreated>\n"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">\n'
        f"  <head>\n{head}  </head>\n  <body>\n  </body>\n</opml>\n"
    ).encode()


def _line_start(data: bytes, offset: int) -> int:
    return data.rfind(b"\n", 0, offset) + 1


def _indent_of(data: bytes, offset: int) -> bytes:
    start = _line_start(data, offset)
    line = data[start:offset]
    return line[: len(line) - len(line.lstrip(b" \t"))]


def _only_space_before(data: bytes, offset: int) -> bool:
    return not data[_line_start(data, offset) : offset].strip()


def _container(doc: Document) -> int | None:
    """Where feeds live: <body> itself if it holds any feed (or nothing), else the folder of
    the first feed."""
    feeds = [o for o in doc.outlines if o.is_feed]
    if not feeds or any(o.parent is None for o in feeds):
        return None
    return feeds[0].parent


def _encoding(path: str, doc: Document, data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (
        doc.encoding and doc.encoding.lower().replace("_", "-").startswith(("utf-16", "utf-32"))
    ):
        raise OPMLError(path, None, "cannot edit a UTF-16 subscription list; save it as UTF-8")
    return doc.encoding or "utf-8"


def insert_feed(data: bytes, feed: NewFeed, *, path: str = "feeds.opml") -> tuple[bytes, int]:
    """``data`` with ``feed`` inserted in name order, and the line the new outline is on."""
    doc = parse_document(path, data)
    encoding = _encoding(path, doc, data)
    newline = b"\r\n" if b"\r\n" in data else b"\n"
    element = outline_xml(feed).encode(encoding, "xmlcharrefreplace")
    container = _container(doc)
    siblings = [o for o in doc.outlines if o.parent == container]
    feeds = [o for o in siblings if o.is_feed]
    key = clean_name(feed.name).casefold()

    anchor: Outline | None = next((o for o in feeds if o.name.casefold() > key), None)
    if anchor is None and feeds:
        anchor = next((o for o in siblings if o.start > feeds[-1].start), None)
    if anchor is not None:
        at = anchor.start
        indent = _indent_of(data, at)
    else:
        closing = doc.body_end if container is None else doc.outlines[container].close
        opening = doc.body_start if container is None else doc.outlines[container].start
        if closing is None or opening is None:
            raise OPMLError(
                path, None, "the <body> is empty and self-closing: write <body></body> first"
            )
        at = closing
        last = feeds[-1].start if feeds else None
        indent = _indent_of(data, last) if last is not None else _indent_of(data, opening) + b"  "
    if _only_space_before(data, at):
        at = _line_start(data, at)
        insertion = indent + element + newline
        offset_of_element = at + len(indent)
    else:
        closing_indent = _indent_of(data, at)
        if anchor is not None:
            insertion = element + newline + closing_indent
            offset_of_element = at
        else:
            insertion = newline + indent + element + newline + closing_indent
            offset_of_element = at + len(newline) + len(indent)
    result = data[:at] + insertion + data[at:]
    line = result.count(b"\n", 0, offset_of_element) + 1
    _verify(path, data, result, feed, offset_of_element)
    return result, line


def _verify(path: str, before: bytes, after: bytes, feed: NewFeed, offset: int) -> None:
    """The edited document must parse, with exactly one more feed, where we put it."""
    old = parse_document(path, before)
    new = parse_document(path, after)
    added = [o for o in new.outlines if o.is_feed and o.start == offset]
    if (
        len([o for o in new.outlines if o.is_feed])
        != len([o for o in old.outlines if o.is_feed]) + 1
        or len(added) != 1
        or added[0].attrs.get("xmlUrl") != feed.xml_url
    ):  # pragma: no cover - a bug guard: never write a file we did not mean to write
        raise OPMLError(
            path, None, "internal error: the edited subscription list did not check out"
        )


def write_atomic(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` all at once, keeping its permissions."""
    path = Path(path)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def add_feed(path: str | Path, feed: NewFeed) -> int:
    """Insert ``feed`` into the subscription list at ``path``; returns its line."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise OPMLError(name, None, f"cannot read the subscription list: {e.strerror}") from None
    result, line = insert_feed(data, feed, path=name)
    try:
        write_atomic(path, result)
    except OSError as e:
        raise OPMLError(name, None, f"cannot write the subscription list: {e.strerror}") from None
    return line


def sort_feeds(data: bytes, *, path: str = "feeds.opml") -> tuple[bytes, int]:
    """``data`` with the feeds of each folder (and of <body>) in order of name, and how many
    feeds moved. Each feed's element, with any line breaks inside it, takes the place of
    another; comments, folders and the space between elements stay where they are."""
    doc = parse_document(path, data)
    slots: list[tuple[int, int, bytes]] = []  # (start, end, element to put there)
    moved = 0
    for group in feed_groups(doc):
        parent = group[0].parent
        if parent is not None and doc.outlines[parent].is_feed:
            continue  # feeds inside a feed move with it
        ordered = sorted(group, key=name_key)
        for place, outline in zip(group, ordered, strict=True):
            if place is not outline:
                moved += 1
            slots.append((place.start, place.end, data[outline.start : outline.end]))
    if not moved:
        return data, 0
    result = bytearray(data)
    for start, end, element in sorted(slots, reverse=True):
        result[start:end] = element
    sorted_data = bytes(result)
    _verify_sorted(path, doc, sorted_data)
    return sorted_data, moved


def _verify_sorted(path: str, before: Document, after: bytes) -> None:
    """The sorted document must parse, with the same outlines, each folder's feeds in order."""
    new = parse_document(path, after)

    def outlines(doc: Document) -> list[tuple]:
        return sorted(
            (o.categories, tuple(sorted(o.attrs.items())), o.children) for o in doc.outlines
        )

    if outlines(new) != outlines(before) or any(
        [name_key(o) for o in group] != sorted(name_key(o) for o in group)
        for group in feed_groups(new)
        if group[0].parent is None or not new.outlines[group[0].parent].is_feed
    ):  # pragma: no cover - a bug guard: never write a file we did not mean to write
        raise OPMLError(
            path, None, "internal error: the sorted subscription list did not check out"
        )


def sort_feeds_in(path: str | Path) -> int:
    """Sort the feeds of the subscription list at ``path`` by name; returns how many moved."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise OPMLError(name, None, f"cannot read the subscription list: {e.strerror}") from None
    result, moved = sort_feeds(data, path=name)
    if moved:
        try:
            write_atomic(path, result)
        except OSError as e:
            raise OPMLError(
                name, None, f"cannot write the subscription list: {e.strerror}"
            ) from None
    return moved
