"""``campplanet check`` for pull requests: --changed-since, --format github and --fix-order.

The --changed-since tests build a real git repository in a temporary folder and serve the
feeds from a real local server.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from campplanet.cli import main
from campplanet.cli.subscriptions import github_annotation
from campplanet.opml import lint_opml, read_opml
from httpfarm import Farm

FEEDS = Path(__file__).parent / "data" / "feeds"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.org",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.org",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<!-- One outline per blog, in alphabetical order of name. -->
<opml version="2.0">
  <head><title>Test planet</title></head>
  <body>
"""  # the body's first outline is on line 6
TAIL = "  </body>\n</opml>\n"


def outline(name: str, url: str, extra: str = "") -> str:
    return f'    <outline text="{name}" title="{name}" type="rss" xmlUrl="{url}"{extra}/>\n'


def check(*args: str) -> Result:
    return CliRunner().invoke(main, ["check", *args], catch_exceptions=False)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository whose first commit has a subscription list with two blogs: one that
    works and one long dead (its address answers 404), plus an old filter mistake."""
    folder = tmp_path / "planet"
    folder.mkdir()
    git(folder, "init", "-q", "-b", "main")
    return folder


def commit(repo: Path, text: str, message: str) -> str:
    (repo / "feeds.opml").write_text(text)
    git(repo, "add", "feeds.opml")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def base(repo: Path, server: Farm) -> str:
    server.serve_file("/good.xml", FEEDS / "wordpress" / "manton-wp4-rss2.rss")
    text = (
        HEAD
        + outline("Dead blog", server.url("/dead.xml"))  # line 6
        + outline("Old filter", server.url("/good.xml"), ' filter="(unclosed"')  # line 7
        + TAIL
    )
    return commit(repo, text, "two blogs")


def test_a_dead_old_blog_does_not_fail_a_good_new_one(repo: Path, base: str, server: Farm) -> None:
    server.serve_file("/new.xml", FEEDS / "jekyll" / "qemu-jekyll-feed-atom.atom")
    path = repo / "feeds.opml"
    text = path.read_text().replace(TAIL, outline("Quite new", server.url("/new.xml")) + TAIL)
    path.write_text(text)
    result = check(str(path), "--fetch", "--changed-since", base, "--allow-private-networks")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{path}:7: warning: filter '(unclosed' is not a valid regular")
    assert lines[0].endswith(f"(unchanged since {base})")
    assert lines[1:] == [
        f"{path}: 2 feeds, no errors, 1 warning",
        f"{path}: 1 feed added or changed since {base}",
        f"{path}:8: ok: Quite new <{server.url('/new.xml')}>: 10 entries",
        f"{path}: 1 feed fetched: 1 ok (0 moved), 0 failing",
    ]
    assert server.hits("/dead.xml") == 0  # the unchanged blogs are not fetched
    assert server.hits("/new.xml") == 1


def test_a_bad_new_blog_fails_naming_its_line(repo: Path, base: str, server: Farm) -> None:
    server.serve("/page.html", b"<!DOCTYPE html><html><body>Hi</body></html>", content_type="t/h")
    path = repo / "feeds.opml"
    path.write_text(path.read_text().replace(TAIL, outline("New", server.url("/page.html")) + TAIL))
    result = check(str(path), "--fetch", "--changed-since", base, "--allow-private-networks")
    assert result.exit_code == 1
    failing = f"{path}:8: failing: New <{server.url('/page.html')}>: not a usable feed"
    assert failing in result.stdout
    assert "Dead blog" not in result.stdout


def test_a_changed_address_is_judged_again(repo: Path, base: str, server: Farm) -> None:
    path = repo / "feeds.opml"
    path.write_text(path.read_text().replace("/dead.xml", "/still-dead.xml"))
    result = check(str(path), "--fetch", "--changed-since", base, "--allow-private-networks")
    assert result.exit_code == 1
    assert f"{path}:6: failing: Dead blog <{server.url('/still-dead.xml')}>: HTTP 404" in (
        result.stdout
    )


def test_an_error_on_a_new_line_still_fails(repo: Path, base: str, server: Farm) -> None:
    path = repo / "feeds.opml"
    path.write_text(path.read_text().replace(TAIL, '    <outlin text="Typo" xmlUrl="x"/>\n' + TAIL))
    result = check(str(path), "--changed-since", base, "--allow-private-networks")
    assert result.exit_code == 2
    assert f"{path}:8:5: <outlin> is not an <outline>" in result.stdout


def test_a_duplicate_is_reported_on_the_added_line(repo: Path, base: str, server: Farm) -> None:
    path = repo / "feeds.opml"
    dead = server.url("/dead.xml")
    # The new outline sits above the old one, as name order puts it.
    path.write_text(path.read_text().replace(HEAD, HEAD + outline("A dead blog", dead)))
    result = check(str(path), "--changed-since", base, "--allow-private-networks")
    assert result.exit_code == 2
    assert f"{path}:6: duplicate feed {dead} (already on line 7)" in result.stdout.splitlines()
    # Without --changed-since there is no telling which is new: the later one is named.
    result = check(str(path), "--allow-private-networks")
    assert f"{path}:7: duplicate feed {dead} (already on line 6)" in result.stdout.splitlines()


def test_a_file_missing_at_ref_is_all_new(repo: Path, server: Farm) -> None:
    (repo / "README").write_text("x")
    git(repo, "add", "README")
    git(repo, "commit", "-q", "-m", "no list yet")
    path = repo / "feeds.opml"
    path.write_text(HEAD + outline("A", server.url("/a.xml")) + TAIL)
    result = check(str(path), "--fetch", "--changed-since", "HEAD", "--allow-private-networks")
    assert result.exit_code == 1
    assert f"{path}: 1 feed added or changed since HEAD" in result.stdout
    assert f"{path}:6: failing: A <{server.url('/a.xml')}>: HTTP 404 Not Found" in result.stdout


def test_nothing_changed_fetches_nothing(repo: Path, base: str, server: Farm) -> None:
    result = check(str(repo / "feeds.opml"), "--fetch", "--changed-since", "HEAD")
    assert result.exit_code == 0
    assert "0 feeds added or changed since HEAD" in result.stdout
    assert server.hits() == 0


@pytest.mark.parametrize("ref", ["no-such-branch", "--output=x", ""])
def test_an_unknown_ref_is_a_usage_error(repo: Path, base: str, ref: str) -> None:
    result = check(str(repo / "feeds.opml"), "--changed-since", ref)
    assert result.exit_code == 2
    assert "--changed-since" in result.stderr


def test_changed_since_outside_a_repository(tmp_path: Path) -> None:
    path = tmp_path / "feeds.opml"
    path.write_text(HEAD + TAIL)
    result = check(str(path), "--changed-since", "HEAD")
    assert result.exit_code == 2
    assert f"{tmp_path} is not in a git repository" in result.stderr


# --- --format github --------------------------------------------------------------------------


def test_github_annotations_on_the_exact_lines(
    repo: Path, base: str, server: Farm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)  # as in a workflow: the repository is the working folder
    path = repo / "feeds.opml"
    path.write_text(
        path.read_text().replace(
            TAIL, outline("Zz, new: 100%", server.url("/gone.xml")) + '    <outlin text="x"/>\n'
        )
        + TAIL
    )
    result = check(
        "feeds.opml", "--changed-since", base, "--format", "github", "--allow-private-networks"
    )
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        "::warning file=feeds.opml,line=7::filter '(unclosed' is not a valid regular expression: "
        f"missing ), unterminated subpattern at position 0 (unchanged since {base})",
        "::error file=feeds.opml,line=9,col=5::<outlin> is not an <outline>, so this line is "
        "left out (a typo? each blog is one <outline …/>)",
    ]
    path.write_text(path.read_text().replace('    <outlin text="x"/>\n', ""))
    result = check(
        str(path), "--fetch", "--changed-since", base, "--format", "github",
        "--allow-private-networks",
    )  # fmt: skip
    assert result.exit_code == 1
    annotation = (
        f"::error file=feeds.opml,line=8::failing: Zz, new: 100%25 <{server.url('/gone.xml')}>: "
        "HTTP 404 Not Found"
    )
    assert annotation in result.stdout.splitlines()


def test_github_annotations_escape_what_github_reads() -> None:
    assert (
        github_annotation("error", "dir,1/a:b%.opml", 3, 7, "50% of\r\nit")
        == "::error file=dir%2C1/a%3Ab%25.opml,line=3,col=7::50%25 of%0D%0Ait"
    )
    assert github_annotation("warning", "f.opml", None, None, "x") == "::warning file=f.opml::x"


def test_github_annotations_name_the_file_relative_to_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lists").mkdir()
    assert github_annotation("error", str(tmp_path / "lists" / "f.opml"), 1, None, "m") == (
        "::error file=lists/f.opml,line=1::m"
    )


# --- --fix-order --------------------------------------------------------------------------------

UNSORTED = b"""<?xml version="1.0" encoding="UTF-8"?>\r
<!-- Blogs, kept in name order. -->\r
<opml version="2.0">\r
<head><title>t</title></head>\r
<body>\r
\t<!-- Councils -->\r
\t<outline text="Zebra Council"   xmlUrl="https://z.example/feed/"/>\r
\t<outline\r
\t    text="alpha" xmlUrl="https://a.example/feed/"\r
\t    htmlUrl="https://a.example/"/>\r
\t<outline text="Folder">\r
\t\t<outline text="Yak" xmlUrl="https://y.example/"/><outline text="Bee" xmlUrl="https://b.example/"/>\r
\t</outline>\r
\t<!-- People -->\r
\t<outline text="Mo" xmlUrl="https://m.example/"></outline>\r
</body>\r
</opml>\r
"""


def test_fix_order_sorts_and_keeps_every_other_byte(tmp_path: Path) -> None:
    path = tmp_path / "feeds.opml"
    path.write_bytes(UNSORTED)
    warned = [p for p in lint_opml(path) if "out of name order" in p.message]
    assert [p.line for p in warned] == [7, 12]
    result = check(str(path), "--fix-order")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"{path}: put 5 feeds back in name order"
    data = path.read_bytes()
    assert [s.title for s in read_opml(path)] == ["alpha", "Mo", "Bee", "Yak", "Zebra Council"]
    elements = [
        b'<outline text="Zebra Council"   xmlUrl="https://z.example/feed/"/>',
        b'<outline\r\n\t    text="alpha" xmlUrl="https://a.example/feed/"\r\n'
        b'\t    htmlUrl="https://a.example/"/>',
        b'<outline text="Yak" xmlUrl="https://y.example/"/>',
        b'<outline text="Bee" xmlUrl="https://b.example/"/>',
        b'<outline text="Mo" xmlUrl="https://m.example/"></outline>',
    ]

    def skeleton(b: bytes) -> bytes:
        for element in elements:
            assert b.count(element) == 1
            b = b.replace(element, b"@")
        return b

    assert skeleton(data) == skeleton(UNSORTED)  # only the feeds moved, whole
    assert data.index(elements[1]) < data.index(elements[4]) < data.index(elements[0])
    assert not [p for p in lint_opml(path) if "order" in p.message]
    again = check(str(path), "--fix-order")
    assert again.stdout.splitlines()[0] == f"{path}: the feeds are in name order"
    assert path.read_bytes() == data


def test_fix_order_leaves_a_broken_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "feeds.opml"
    broken = UNSORTED.replace(b"</outline>\r\n\t<!--", b"\r\n\t<!--")
    path.write_bytes(broken)
    result = check(str(path), "--fix-order")
    assert result.exit_code == 2
    assert f"{path}:11:2: <outline> is never closed" in result.stdout
    assert path.read_bytes() == broken


def test_the_real_list_is_in_the_order_it_asks_for() -> None:
    real = Path(__file__).parent.parent / "feeds.opml"
    assert lint_opml(real) == []
    from campplanet.opml_edit import sort_feeds

    assert sort_feeds(real.read_bytes()) == (real.read_bytes(), 0)


@pytest.mark.parametrize("name", ["Aardvark Council", "Lambeth", "zz top blog"])
def test_add_keeps_the_real_list_in_the_order_check_asks_for(tmp_path: Path, name: str) -> None:
    from campplanet.opml_edit import NewFeed, insert_feed

    real = Path(__file__).parent.parent / "feeds.opml"
    data, line = insert_feed(real.read_bytes(), NewFeed(name, "https://new.example.org/feed/"))
    path = tmp_path / "feeds.opml"
    path.write_bytes(data)
    assert lint_opml(path) == []
    # The same line put at the top instead is named as out of order, on its own line.
    lines = data.splitlines(keepends=True)
    moved = lines.pop(line - 1)
    first = next(i for i, text in enumerate(lines) if text.lstrip().startswith(b"<outline "))
    lines.insert(first, moved)
    path.write_bytes(b"".join(lines))
    warned = [p for p in lint_opml(path) if "out of name order" in p.message]
    if name != "Aardvark Council":
        assert [(p.line, p.severity) for p in warned] == [(first + 1, "warning")]
