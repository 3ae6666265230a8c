"""scripts/add-from-issue: a blog added from an "Add my blog" issue, and hostile issues.

The script runs as the workflow runs it: a child process in the planet's folder, the issue
in environment variables, its outputs in $GITHUB_OUTPUT and a folder. Blogs are served by a
local server; only the good-blog tests set the variable that lets campplanet reach it
(CAMPPLANET_TEST_ALLOW_PRIVATE_NETWORKS), which the workflow never sets. Every hostile
address here is refused before any lookup: nothing leaves this machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from campplanet.opml import read_opml
from httpfarm import Farm
from planetkit import opml_document, rss_feed

SCRIPT = Path(__file__).parent.parent / "scripts" / "add-from-issue"
HTML = "text/html; charset=utf-8"


def form(name: str, address: str, picture: str = "") -> str:
    """An issue body as GitHub renders the form."""
    return (
        f"### Your name or your blog's name\n\n{name}\n\n"
        f"### Blog address\n\n{address}\n\n"
        f"### Picture (optional)\n\n{picture or '_No response_'}"
    )


@dataclass
class Outcome:
    code: int
    outputs: dict[str, str]
    files: dict[str, str]
    log: str


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The planet's repository as checked out: a list of two blogs (addresses that are never
    fetched here)."""
    planet = tmp_path / "planet"
    planet.mkdir()
    feeds = [("Alpha", "https://alpha.example.org/feed/"), ("Omega", "https://o.example.org/")]
    (planet / "feeds.opml").write_text(opml_document(feeds))
    return planet


def run(folder: Path, body: str, *, number: str = "7", private: bool = False) -> Outcome:
    out = folder.parent / "out"
    outputs = folder.parent / "github-output"
    outputs.write_text("")
    env = {
        **{k: v for k, v in os.environ.items() if k != "CAMPPLANET_TEST_ALLOW_PRIVATE_NETWORKS"},
        "ISSUE_BODY": body,
        "ISSUE_NUMBER": number,
        "ISSUE_AUTHOR": "jo-bloggs",
        "GITHUB_OUTPUT": str(outputs),
    }
    if private:
        env["CAMPPLANET_TEST_ALLOW_PRIVATE_NETWORKS"] = "1"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    files = {p.name: p.read_text() for p in out.iterdir()} if out.exists() else {}
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines() if line)
    return Outcome(done.returncode, values, files, done.stdout + done.stderr)


def blog(server: Farm) -> str:
    feed = rss_feed("Jo's blog", server.url("/jo/"), [("p1", "LocalGovCamp 2026", 1_780_000_000)])
    server.serve("/jo/feed/", feed, content_type="application/rss+xml")
    page = (
        '<!DOCTYPE html><html><head><title>Jo</title><link rel="alternate" '
        'type="application/rss+xml" href="/jo/feed/"></head><body>Hello</body></html>'
    )
    return server.serve("/jo/", page.encode(), content_type=HTML)


def test_a_good_blog_becomes_a_pull_request(folder: Path, server: Farm) -> None:
    before = (folder / "feeds.opml").read_bytes()
    result = run(folder, form("Jo Bloggs", blog(server)), private=True)
    assert result.code == 0, result.log
    assert result.outputs == {"result": "added", "branch": "add-blog/issue-7"}
    subs = read_opml(folder / "feeds.opml", allow_private_networks=True)
    assert [s.title for s in subs] == ["Alpha", "Jo Bloggs", "Omega"]
    assert subs[1].url == server.url("/jo/feed/")
    added = (folder / "feeds.opml").read_bytes().splitlines(keepends=True)
    assert b"".join(line for line in added if b"Jo Bloggs" not in line) == before
    assert result.files["pr-title.txt"] == "Add Jo Bloggs to the planet\n"
    body = result.files["pr-body.md"]
    assert f"Adds **Jo Bloggs** (`{server.url('/jo/feed/')}`) to `feeds.opml`" in body
    assert "as asked in #7 by @jo-bloggs" in body and "Closes #7." in body
    assert 'Added "Jo Bloggs"' in body
    assert result.files["commit-message.txt"].startswith("feeds.opml: add Jo Bloggs\n")
    assert "comment.md" not in result.files


def test_a_picture_and_a_feed_name_from_the_feed(folder: Path, server: Farm) -> None:
    result = run(
        folder, form("_No response_", blog(server), "http://127.0.0.1/me.png"), private=True
    )
    assert result.outputs["result"] == "added", result.log
    [jo] = [s for s in read_opml(folder / "feeds.opml", allow_private_networks=True)
            if "jo" in s.url]  # fmt: skip
    assert jo.title == "Jo's blog" and jo.avatar == "http://127.0.0.1/me.png"


def test_a_name_cannot_inject_markdown_or_options(folder: Path, server: Farm) -> None:
    name = "--allow-private-networks [click](https://evil.example/) @everyone <b>"
    result = run(folder, form(name, blog(server)), private=True)
    assert result.outputs["result"] == "added", result.log
    body = result.files["pr-body.md"]
    assert r"\[click\]\(https://evil.example/\) \@everyone \<b\>" in body
    assert "[click](" not in body.split("```")[0]
    titles = [s.title for s in read_opml(folder / "feeds.opml", allow_private_networks=True)]
    assert name in titles  # a name, taken as it is: not an option


def test_the_guard_stays_on_without_the_test_variable(folder: Path, server: Farm) -> None:
    # The same good blog on 127.0.0.1: refused, as any private address is for the workflow.
    # A name that reads like the option does not switch the guard off.
    before = (folder / "feeds.opml").read_bytes()
    result = run(folder, form("--allow-private-networks", blog(server)))
    assert result.outputs == {"result": "refused"}
    assert "127.0.0.1 is a loopback address" in result.files["comment.md"]
    assert server.hits() == 0
    assert (folder / "feeds.opml").read_bytes() == before


def test_a_planet_that_allows_private_addresses_refuses_issues(folder: Path) -> None:
    (folder / "campplanet.toml").write_text("[fetch]\nallow_private_networks = true\n")
    result = run(folder, form("Jo", "http://127.0.0.1:9/"))
    assert result.outputs == {"result": "refused"}
    assert "allows private network addresses" in result.files["comment.md"]


HOSTILE = [
    ("$(touch {canary})", "http://127.0.0.1/", "127.0.0.1 is a loopback address"),
    ("Jo", "$(touch {canary})", "without spaces"),
    ("Jo", "$(touch${{IFS}}{canary})", "not an absolute URL"),
    ("Jo", "`touch {canary}`", "without spaces"),
    ("Jo", "`touch${{IFS}}{canary}`", "not an absolute URL"),
    ("`touch {canary}`", "http://10.0.0.1/`touch${{IFS}}{canary}`", "10.0.0.1 is a private"),
    ("Jo; rm -rf {home}", "https://127.0.0.1/; rm -rf {home}", "without spaces"),
    ("Jo", "https://127.0.0.1/;rm${{IFS}}-rf${{IFS}}{home}", "127.0.0.1 is a loopback address"),
    ("Jo", "http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local"),
    ("Jo", "http://[::1]:8080/feed", "is a loopback address"),
    ("Jo", "--allow-private-networks", "is not a web address"),
    ("Jo", "-h", "is not a web address"),
    ("Jo", "file:///etc/passwd", "must start with https://"),
    ("Jo", "javascript:alert(1)", "javascript: URLs are not fetched"),
    ("Jo", "_No response_", "The blog address is empty"),
    ("Jo", "", "The blog address is empty"),
    ("Jo", "http://127.0.0.1/\n\nhttp://127.0.0.2/", "without spaces or line breaks"),
    ("Jo\u202e", "http://127.0.0.1/", "control characters"),
    ("x" * 101, "http://127.0.0.1/", "longer than 100 characters"),
]


@pytest.mark.parametrize(("name", "address", "reason"), HOSTILE)
def test_hostile_issues_run_nothing_and_get_a_clear_comment(
    folder: Path, tmp_path: Path, name: str, address: str, reason: str
) -> None:
    canary = tmp_path / "pwned"
    home = tmp_path / "home"
    home.mkdir()
    (home / "precious").write_text("keep")
    before = (folder / "feeds.opml").read_bytes()
    body = form(name.format(canary=canary, home=home), address.format(canary=canary, home=home))
    result = run(folder, body)
    assert result.code == 0, result.log
    assert result.outputs == {"result": "refused"}
    comment = result.files["comment.md"]
    assert comment.startswith("Thank you for asking to add your blog. It could not be added:")
    assert reason in comment
    assert set(result.files) == {"comment.md"}
    assert not canary.exists()
    assert (home / "precious").read_text() == "keep"
    assert (folder / "feeds.opml").read_bytes() == before


def test_a_page_that_is_not_a_feed_is_refused(folder: Path, server: Farm) -> None:
    page = server.serve(
        "/page/", b"<!DOCTYPE html><html><body>No feed</body></html>", content_type=HTML
    )
    before = (folder / "feeds.opml").read_bytes()
    result = run(folder, form("Jo", page), private=True)
    assert result.outputs == {"result": "refused"}
    assert "not added" in result.files["comment.md"]
    assert (folder / "feeds.opml").read_bytes() == before


def test_a_blog_already_listed_is_refused(folder: Path, server: Farm) -> None:
    url = blog(server)
    assert run(folder, form("Jo", url), private=True).outputs["result"] == "added"
    again = run(folder, form("Jo again", url), private=True)
    assert again.outputs == {"result": "refused"}
    assert "already in" in again.files["comment.md"]


def test_a_huge_body_is_refused_unread(folder: Path) -> None:
    # About as long as GitHub lets an issue be (65,536 characters).
    body = form("Jo", "http://127.0.0.1/") + "\n" + "$(touch x)" * 6_000
    result = run(folder, body)
    assert result.outputs == {"result": "refused"}
    assert "longer than 10000 characters" in result.files["comment.md"]
    assert not (folder / "x").exists()


def test_an_issue_not_made_with_the_form(folder: Path) -> None:
    result = run(folder, "Please add https://myblog.example.org/ thanks!")
    assert result.outputs == {"result": "refused"}
    assert 'not made with the "Add my blog" form' in result.files["comment.md"]


def test_backticks_in_the_reason_cannot_break_out_of_the_comment(folder: Path) -> None:
    result = run(folder, form("Jo", "````x````"))
    comment = result.files["comment.md"]
    assert "`````text\n" in comment  # a fence longer than any run of backticks inside


@pytest.mark.parametrize("number", ["", "0", "7; rm -rf /", "$(id)", "12345678901"])
def test_a_bad_issue_number_stops_the_script(folder: Path, number: str) -> None:
    result = run(folder, form("Jo", "http://127.0.0.1/"), number=number)
    assert result.code == 2
    assert result.outputs == {}
