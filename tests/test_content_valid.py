"""Entry content validates inside the page, whatever the feeds send (Nu Html Checker).

Every file of the other planets' test corpora (``shared/corpus/peers``: feedparser's ~2,100
feeds, ``wellformed/sanitize/`` alone 745 files of hostile HTML, and Planet Venus's ~210) and
of ``tests/data/feeds`` is parsed as a fetched feed is; the stored content of every entry is
written into HTML5 pages the way the site prints it (inside an ``article``, under the entry's
``h3``). One more page holds hostile fragments made here: each element the sanitizer allows
in many contexts, each allowed attribute with values it must not keep as they are, and one
case or more of each class of error the checker ever found in entry content. The validator
then runs once over all the pages, and must find no error.

The validators live beside the repository, in ``shared/tools`` (in a worktree, the main
checkout's). Without them this test fails rather than skips: it is the real check of
:mod:`campplanet.sanitize` and :mod:`campplanet.tidy` (html5lib does not know content models).
"""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path

import pytest

from campplanet.parse import ParseError, parse_feed
from campplanet.sanitize import ATTRIBUTES, TAGS, sanitize_html
from campplanet.tidy import tidy_html

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BASE = "http://example.org/feed/"
PER_PAGE = 300


def shared_folder() -> Path | None:
    for candidate in (ROOT.parent / "shared", Path("/work/shared")):
        if (candidate / "tools" / "validate-html").is_file():
            return candidate
    return None


SHARED = shared_folder()

# --- hostile fragments ------------------------------------------------------------------------

CONTEXTS = [
    "", "p", "span", "a href=/x", "h2", "pre", "ul", "li", "table", "tr", "td", "th", "caption",
    "details", "summary", "figure", "picture", "video", "audio", "ruby", "hgroup", "address",
    "footer", "dfn", "q", "time", "data", "bdo", "button", "label",
]  # fmt: skip
BODIES = ["text", "<div>block</div>", "<h2>h</h2>", '<a href="/y">l</a>']
VOID = {"br", "hr", "img", "source", "track", "wbr", "col"}
HOSTILE_VALUES = [
    "", " ", "x", "0", "-1", "1.5", "99999", "auto", "RTL", "en_US", "javascript:alert(1)",
    "http://u:p@h.example/a", "http://h.example/a b[c]|d%zz#e#f", "http://h..example/",
    "http://h.example:99999/", "2024-02-30", "2024-01-02", "img.png 1x, img2.png 1x",
    "img.png 100w", "(min-width: 10px)", "video/mp4;", "subtitles",
]  # fmt: skip
# One case or more of every class of error the checker found in entry content.
CLASSES = [
    '<img alt="no source">', "<img>", '<img src="a.png" srcset="b.png 100w">',
    "<time></time>", "<time>yesterday</time>", "<time>2024-02-30</time>",
    '<time datetime="soon">x</time>', '<del datetime="2024">x</del>',
    '<p><source src="v.mp4"></p>', '<track src="t.vtt">',
    '<picture><source src="a.webp"><img src="a.png" alt=""></picture>',
    '<video><track src="t.vtt"><source srcset="v.mp4">x</video>',
    "<details>no summary</details>", "<details><p>a</p><summary>late</summary></details>",
    "<summary>alone</summary>", "<figcaption>alone</figcaption>",
    "<figure><p>a</p><figcaption>middle</figcaption><p>b</p></figure>",
    '<p dir="">x</p>', '<p dir="up">x</p>', '<bdo dir="auto">x</bdo>', "<bdo>x</bdo>",
    "<data>x</data>", '<span lang="english">x</span>', '<a href="/x" hreflang="">x</a>',
    '<a href="https://user:pass@h.example/">x</a>', '<img src="https://u:p@h.example/a.png">',
    '<a href="https://h.example/a b">x</a>', '<a href="https://h.example/%zz">x</a>',
    '<img src="" alt="x">', '<video src="v.mp4" poster=" " controls="yes" preload="x"></video>',
    '<iframe src="https://www.youtube.com/embed/x" allowfullscreen="true"></iframe>',
    '<table><tr><td colspan="173">a</td></tr><tr><td>b</td><td>c</td></tr></table>',
    '<table><tr><td rowspan="5">a</td></tr></table>', "<table><tr></tr></table>",
    '<table><tr><td headers="h">a</td><th scope="sideways">b</th></tr></table>',
    '<table><colgroup><col span="3"></colgroup><tr><td>a</td></tr></table>',
    "<table><tr><td>a</td></tr><caption>late</caption></table>",
    "<ruby>base</ruby>", "<rt>alone</rt>", "<ruby>a<rtc>b</rtc></ruby>",
    "<hgroup><p>no heading</p></hgroup>", "<ul>text</ul>", "<ol><div>x</div></ol>",
    "<h2><ul><li>list in a heading</li></ul></h2>", "<h2><dialog><h2>h</h2></dialog></h2>",
    "<pre><div>block</div><ul><li>x</li></ul></pre>", "<p><button><div>x</div></button></p>",
    "<span><hr></span>", '<a href="/a"><details><summary>s</summary>d</details></a>',
    '<a href="/a"><video src="v.mp4" controls></video></a>',
    '<a href="/a"><table><tr><td><a href="/b">nested</a></td></tr></table></a>',
    "<footer><header>x</header></footer>", "<dfn><dfn>x</dfn></dfn>",
    "<table><tr><th><h2>x</h2></th></tr></table>", '<ol start="one"><li>x</li></ol>',
    '<img src="a.png" sizes="50vw">', '<video><audio src="a.mp3"></audio></video>',
    "<table><tbody><tr><td>a</td></tr></tbody><thead><tr><td>h</td></tr></thead></table>",
    '<picture><source srcset="a.png" media="bogus" type="image"><img src="b.png"></picture>',
    "<table><caption><marquee><table><tr><td>x</td></tr></table></marquee></caption></table>",
    "<details><summary><h2>one heading</h2><h2>two</h2></summary></details>",
]  # fmt: skip


def hostile_fragments() -> list[str]:
    tags = sorted(TAGS | {"font", "button", "label", "dialog", "marquee", "main", "section"})
    out = list(CLASSES)
    for tag in tags:
        for context in CONTEXTS:
            for body in [""] if tag in VOID else BODIES:
                attrs = ' src="x.png"' if tag in ("img", "source", "track") else ""
                inner = f"<{tag}{attrs}>" if tag in VOID else f"<{tag}{attrs}>{body}</{tag}>"
                out.append(f"<{context}>{inner}</{context.split()[0]}>" if context else inner)
    for tag, attributes in sorted(ATTRIBUTES.items()):
        for attribute in sorted(attributes):
            for element in ["span", "img", "td"] if tag == "*" else [tag]:
                for value in HOSTILE_VALUES:
                    extra = ' src="y.png"' if element in ("img", "source", "track") else ""
                    start = f'<{element} {attribute}="{html.escape(value)}"{extra}>'
                    one = start if element in VOID else f"{start}text</{element}>"
                    if element == "source":
                        one = f"<video>{one}</video><picture>{one}<img src=i.png></picture>"
                    elif element == "track":
                        one = f"<video src=v.mp4>{one}</video>"
                    elif element in ("td", "th", "tr", "tbody", "thead", "tfoot", "caption"):
                        one = f"<table>{one}</table>"
                    elif element in ("rt", "rp"):
                        one = f"<ruby>a{one}</ruby>"
                    out.append(one)
    return out


# --- pages -------------------------------------------------------------------------------------


def corpus_entries() -> list[tuple[str, str]]:
    """(where it came from, stored content) of every entry with content in the corpora."""
    roots = [(SHARED / "corpus" / "peers", "peers"), (ROOT / "tests" / "data" / "feeds", "data")]
    found = []
    files = 0
    for root, label in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix != ".expect"):
            files += 1
            try:
                feed = parse_feed(path.read_bytes(), BASE)
            except ParseError:
                continue
            name = f"{label}/{path.relative_to(root)}"
            found += [(f"{name} #{i}", e.content) for i, e in enumerate(feed.entries) if e.content]
    assert files > 2300, files  # the corpora are all there
    return found


def write_pages(folder: Path, entries: list[tuple[str, str]], prefix: str) -> dict:
    """Pages of PER_PAGE entries; returns {(page name, line): entry name} for the report."""
    where = {}
    for number, first in enumerate(range(0, len(entries), PER_PAGE)):
        name = f"{prefix}-{number:03d}.html"
        lines = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8"><title>Entries</title></head>',
            "<body><main><h1>Planet</h1><section><h2>Today</h2>",
        ]
        for title, content in entries[first : first + PER_PAGE]:
            lines.append(f'<article><h3>{html.escape(title)}</h3><div class="content">')
            for offset in range(content.count("\n") + 1):
                where[(name, len(lines) + 1 + offset)] = title
            lines.append(content)
            lines.append("</div></article>")
        lines.append("</section></main></body></html>")
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return where


def report(output: str, where: dict) -> str:
    """The validator's errors, each with the entry it is in."""
    out = []
    lines = output.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"\s+error\s+\S*/([^/:]+\.html):(\d+)\.", line)
        if m:
            entry = where.get((m.group(1), int(m.group(2))), "?")
            source = lines[i + 1].strip() if i + 1 < len(lines) else ""
            out.append(f"{entry}: {line.strip()}\n    {source}")
    return "\n".join(out) or output[-6000:]


def test_every_entry_validates_inside_the_page(tmp_path):
    if SHARED is None:
        pytest.fail("shared/tools/validate-html not found beside the repository nor in /work")
    entries = corpus_entries()
    assert len(entries) > 2500, len(entries)
    fragments = hostile_fragments()
    made = [
        (f"hostile #{i}: {f}", tidy_html(sanitize_html(f, BASE))) for i, f in enumerate(fragments)
    ]
    where = write_pages(tmp_path, entries, "corpus")
    where |= write_pages(tmp_path, made, "hostile")
    result = subprocess.run(
        [str(SHARED / "tools" / "validate-html"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 2, output[-3000:]  # the validator itself did not run
    assert result.returncode == 0 and "Result: PASS" in output, report(output, where)
    assert re.search(r"Result: PASS — 0 errors", output), output[-2000:]
