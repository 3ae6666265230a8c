"""The rendered page in a real browser: Debian's Chromium, headless.

Checks that the entries render, that the page logs nothing to the console, and that no script
from a feed runs: escaped where it is text, blocked by the page's Content-Security-Policy
even if hostile HTML reached the content unsanitized.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import html5lib
import pytest

from campplanet.render import render_site
from campplanet.sanitize import sanitize_html
from planetkit import CHROMIUM, CHROMIUM_FLAGS
from sitekit import entry, feed, settings_for

# scripts/test installs Debian's chromium; without it these tests fail rather than skip.
pytestmark = pytest.mark.browser

PAYLOADS = (
    "<script>document.title='PWNED'</script>"
    "<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','img')\">"
    "<svg onload=\"document.documentElement.setAttribute('data-pwned','svg')\"></svg>"
    "<a href=\"javascript:document.title='PWNED'\">click</a>"
    "<iframe srcdoc=\"<script>parent.document.title='PWNED'</script>\"></iframe>"
)


def chromium(page: Path, tmp_path: Path) -> tuple[str, str]:
    """The DOM after load, and the console messages Chromium logged."""
    result = subprocess.run(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=2000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return result.stdout, "\n".join(console)


def test_page_renders_entries_without_console_messages(tmp_path):
    entries = [entry(n) for n in range(8)]
    render_site(settings_for(tmp_path, items=5), entries, [feed(0), feed(1), feed(2)])
    dom, console = chromium(tmp_path / "public" / "index.html", tmp_path)
    doc = html5lib.parse(dom, namespaceHTMLElements=False)
    titles = ["".join(h.itertext()) for h in doc.findall(".//article//h3")]
    assert titles == [f"Post {n}" for n in range(5)]
    assert doc.find(".//title").text == "Test & Planet"
    assert console == ""  # no errors, and the stylesheet was not refused


def test_no_script_from_a_feed_runs(tmp_path):
    hostile_title = "<script>document.title='PWNED'</script> Title"
    entries = [
        # what the pipeline stores: sanitized content
        entry(0, title=hostile_title, author=PAYLOADS, content=sanitize_html(PAYLOADS, None)),
        # and, as if the sanitizer had failed, raw hostile HTML: the CSP must stop it
        entry(1, content=PAYLOADS),
    ]
    render_site(settings_for(tmp_path), entries, [entries[0].feed, entries[1].feed])
    dom, console = chromium(tmp_path / "public" / "index.html", tmp_path)
    assert "PWNED" not in re.sub(r"<script>.*?</script>", "", dom).split("<body")[0]
    doc = html5lib.parse(dom, namespaceHTMLElements=False)
    assert doc.find(".//title").text == "Test & Planet"
    assert doc.get("data-pwned") is None
    assert "".join(doc.find(".//article//h3").itertext()) == hostile_title
    # the raw payload reached the page and was refused by the Content-Security-Policy
    assert "Content Security Policy" in console
