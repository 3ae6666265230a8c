"""Adding a feed to an OPML file: one new line, every other byte kept."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campplanet.exceptions import OPMLError
from campplanet.opml import clean_name, lint_opml, read_opml
from campplanet.opml_edit import NewFeed, add_feed, insert_feed, new_document, outline_xml
from campplanet.types import Subscription

OPML = Path(__file__).parent / "data" / "opml"
REAL = Path(__file__).parent.parent / "feeds.opml"

COMMENTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<!-- The planet's blogs. Keep them in order of name. -->
<opml version="2.0">
\t<head>
\t\t<title>Planet</title>
\t</head>
\t<body>
\t\t<!-- councils -->
\t\t<outline xmlUrl="https://a.example/feed/" type="rss" text='Anne&apos;s' title="Anne's"/>
\t\t<outline text="Carol"   xmlUrl="https://c.example/feed/"
\t\t         htmlUrl="https://c.example/"/>
\t\t<!-- people -->
\t\t<outline text="Eve" xmlUrl="https://e.example/rss"/>
\t</body>
</opml>
"""


def lines_without(data: bytes, line: int) -> list[bytes]:
    lines = data.splitlines(keepends=True)
    del lines[line - 1]
    return lines


@pytest.mark.parametrize(
    ("name", "line"),
    [("Aaron", 9), ("bob", 10), ("Dave", 13), ("Zed", 14), ("carol", 13)],
)
def test_insert_keeps_every_other_byte(name: str, line: int) -> None:
    result, at = insert_feed(COMMENTED, NewFeed(name, f"https://{name}.example/feed/"))
    assert at == line
    assert b"".join(lines_without(result, at)) == COMMENTED
    new_line = result.splitlines()[at - 1]
    assert (
        new_line == b"\t\t" + outline_xml(NewFeed(name, f"https://{name}.example/feed/")).encode()
    )


def test_inserted_outline_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "feeds.opml"
    path.write_bytes(COMMENTED)
    feed = NewFeed(
        'Bob "the blog" <&> Smith',
        "https://bob.example/feed/?a=1&b=2",
        html_url="https://bob.example/",
        avatar="https://bob.example/me.png",
        filter=r"(?i)local\s*gov",
    )
    line = add_feed(path, feed)
    subs = read_opml(path)
    bob = next(s for s in subs if s.line == line)
    assert bob.title == 'Bob "the blog" <&> Smith'
    assert bob.url == "https://bob.example/feed/?a=1&b=2"
    assert (bob.html_url, bob.avatar, bob.filter) == (
        "https://bob.example/",
        "https://bob.example/me.png",
        r"(?i)local\s*gov",
    )
    assert lint_opml(path) == []


def test_real_feeds_opml_gets_one_line_in_order(tmp_path: Path) -> None:
    path = tmp_path / "feeds.opml"
    original = REAL.read_bytes()
    path.write_bytes(original)
    line = add_feed(path, NewFeed("Maidstone digital", "https://maidstone.example/feed/"))
    after = path.read_bytes()
    assert b"".join(lines_without(after, line)) == original
    names = [s.title.casefold() for s in read_opml(path)]
    assert names == sorted(names)
    assert "maidstone digital" in names


def test_crlf_file_keeps_crlf() -> None:
    data = COMMENTED.replace(b"\n", b"\r\n")
    result, line = insert_feed(data, NewFeed("Dan", "https://d.example/"))
    assert result.splitlines(keepends=True)[line - 1].endswith(b"/>\r\n")
    assert b"".join(lines_without(result, line)) == data
    assert result.count(b"\n") == result.count(b"\r\n")


def test_legacy_encoding_is_kept() -> None:
    data = (OPML / "yarr-windows-1251-nested.opml").read_bytes()
    result, line = insert_feed(data, NewFeed("Блог", "https://blog.example/feed/"))
    assert b"".join(lines_without(result, line)) == data
    assert "Блог".encode("windows-1251") in result.splitlines()[line - 1]


def test_characters_outside_the_encoding_become_references() -> None:
    data = (
        b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<opml version="2.0"><body>\n</body></opml>\n'
    )
    result, _ = insert_feed(data, NewFeed("Łódź ☃", "https://l.example/"))
    assert b"&#321;&#243;d&#378; &#9731;" not in result  # ó is in Latin-1
    assert b"&#321;\xf3d&#378; &#9731;" in result


def test_feeds_inside_a_folder_get_the_new_one_in_that_folder() -> None:
    data = (OPML / "netnewswire-nested-folders-opml11.opml").read_bytes()
    before = read_opml_bytes(data)
    result, line = insert_feed(data, NewFeed("Bbbb", "https://bbbb.example/"))
    after = read_opml_bytes(result)
    new = next(s for s in after if s.title == "Bbbb")
    assert new.line == line and len(after) == len(before) + 1
    assert b"".join(lines_without(result, line)) == data


def test_only_folders_puts_the_feed_in_the_first_feeds_folder() -> None:
    data = b"""<opml version="2.0"><body>
  <outline text="Folder">
    <outline text="M" xmlUrl="https://m.example/"/>
  </outline>
</body></opml>
"""
    result, line = insert_feed(data, NewFeed("Z", "https://z.example/"))
    assert line == 4
    [_, z] = read_opml_bytes(result)
    assert z.categories == ("Folder",)
    assert (
        result.splitlines()[3]
        == b'    <outline text="Z" title="Z" type="rss" xmlUrl="https://z.example/"/>'
    )


def test_body_on_one_line() -> None:
    data = b'<opml version="2.0"><head/><body></body></opml>'
    result, line = insert_feed(data, NewFeed("A", "https://a.example/"))
    assert line == 2
    assert read_opml_bytes(result)[0].url == "https://a.example/"


def test_outlines_sharing_a_line() -> None:
    data = (
        b'<opml version="2.0"><body><outline text="A" xmlUrl="https://a.example/"/>'
        b'<outline text="C" xmlUrl="https://c.example/"/></body></opml>\n'
    )
    result, _ = insert_feed(data, NewFeed("B", "https://b.example/"))
    assert [s.title for s in read_opml_bytes(result)] == ["A", "B", "C"]


def test_self_closing_body_is_refused() -> None:
    with pytest.raises(OPMLError, match="self-closing"):
        insert_feed(b'<opml version="2.0"><body/></opml>', NewFeed("A", "https://a.example/"))


def test_utf16_is_refused() -> None:
    data = '<?xml version="1.0" encoding="UTF-16"?><opml version="2.0"><body></body></opml>'
    with pytest.raises(OPMLError, match="UTF-16"):
        insert_feed(data.encode("utf-16"), NewFeed("A", "https://a.example/"))


def test_broken_file_is_not_edited(tmp_path: Path) -> None:
    path = tmp_path / "feeds.opml"
    original = (OPML / "capyreader-unescaped-ampersand-illformed.opml").read_bytes()
    path.write_bytes(original)
    with pytest.raises(OPMLError) as caught:
        add_feed(path, NewFeed("A", "https://a.example/"))
    assert caught.value.line == 13
    assert path.read_bytes() == original


def test_write_is_atomic_and_keeps_permissions(tmp_path: Path) -> None:
    path = tmp_path / "feeds.opml"
    path.write_bytes(COMMENTED)
    os.chmod(path, 0o640)
    inode = path.stat().st_ino
    add_feed(path, NewFeed("B", "https://b.example/"))
    assert path.stat().st_mode & 0o777 == 0o640
    assert path.stat().st_ino != inode  # replaced, not rewritten in place
    assert [p.name for p in tmp_path.iterdir()] == ["feeds.opml"]


def test_new_document() -> None:
    data = new_document("My & planet", datetime(2026, 6, 1, 9, tzinfo=UTC))
    assert b"<title>My &amp; planet</title>" in data
    assert b"<dateCreated>Mon, 01 Jun 2026 09:00:00 GMT</dateCreated>" in data
    result, line = insert_feed(data, NewFeed("A", "https://a.example/"))
    assert line == 8
    assert result.splitlines()[7].startswith(b"    <outline ")


def read_opml_bytes(data: bytes) -> list[Subscription]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.opml"
        path.write_bytes(data)
        return read_opml(path)


names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12
).filter(lambda s: s.strip() == s and "  " not in s)


@settings(max_examples=60, deadline=None)
@given(existing=st.lists(names, max_size=6, unique_by=str.casefold), new=names)
def test_any_insert_keeps_names_sorted(existing: list[str], new: str) -> None:
    existing = sorted(existing, key=str.casefold)
    data = new_document("t")
    for i, name in enumerate(existing):
        data, _ = insert_feed(data, NewFeed(name, f"https://f{i}.example/"))
    result, line = insert_feed(data, NewFeed(new, "https://new.example/"))
    assert b"".join(lines_without(result, line)) == data
    titles = [s.title for s in read_opml_bytes(result)]
    assert [t.casefold() for t in titles] == sorted(t.casefold() for t in titles)
    assert clean_name(new) in titles
