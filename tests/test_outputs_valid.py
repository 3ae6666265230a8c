"""The site built from the whole corpus, judged by independent validators.

The validators live beside the repository in ``../shared/tools`` (Nu Html Checker, RFC 4287
schema with jing, JSON Feed schema, axe-core in Chromium). They install themselves on first
use. Where that folder is absent (a bare clone), these tests are skipped; in CI it exists.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from campplanet.render import render_site
from sitekit import T0, camp_site, corpus_views, settings_for

TOOLS = Path(__file__).resolve().parents[1].parent / "shared" / "tools"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not TOOLS.is_dir(), reason=f"validators not found at {TOOLS}"),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("corpus-site")
    entries, feeds = corpus_views()
    render_site(settings_for(tmp, items=60), entries, feeds, last_refresh=T0)
    return tmp / "public"


@pytest.fixture(scope="module")
def camp(tmp_path_factory) -> Path:
    """A planet with everything that makes it a camp's own: description, logo (a file,
    published beside the pages), accent, about page, folded posts, failing blogs."""
    return camp_site(tmp_path_factory.mktemp("camp"))


def run(tool: str, *args: str) -> str:
    result = subprocess.run(
        [str(TOOLS / tool), *args], capture_output=True, text=True, timeout=900, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "Result: PASS" in output, output[-6000:]
    return output


def test_html_valid(site):
    run("validate-html", str(site))


def test_feeds_valid(site):
    run("validate-feeds", "--require", "atom,rss,jsonfeed,opml", str(site))


@pytest.mark.browser
def test_accessible(site, tmp_path):
    pages = [site / "index.html", site / "feeds.html", site / "page" / "2" / "index.html"]
    run("check-a11y", "--shots", str(tmp_path / "shots"), *map(str, pages))


def test_camp_pages_valid(camp):
    pages = sorted(camp.rglob("*.html"))
    assert {p.relative_to(camp).as_posix() for p in pages} >= {
        "index.html",
        "page/1/index.html",
        "feeds.html",
        "about/index.html",
    }
    output = run("validate-html", *map(str, pages))
    assert f"{len(pages)} file" in output or str(len(pages)) in output


def test_camp_feeds_valid_with_their_logo(camp):
    assert "<logo>https://planet.example.org/logo.png</logo>" in (camp / "atom.xml").read_text()
    assert "<image>" in (camp / "rss.xml").read_text()
    run("validate-feeds", "--require", "atom,rss,jsonfeed,opml", str(camp))
