"""Script injection: through every field of a feed or the OPML that reaches the page or the
merged feeds. Outputs are read with an HTML5 parser (and reparsed, for mutation XSS), an XML
parser and a JSON parser; the hostile planet is also loaded in a real Chromium."""

from __future__ import annotations

import functools
import html
import json
import shutil
from pathlib import Path

import html5lib
import pytest
from hostile import (
    CONTENT_TYPES,
    DEAD,
    URL_VECTORS,
    XSS_VECTORS,
    Feed,
    Item,
    chromium_doms,
    html_problems,
    marker,
    page_texts,
    run_planet_inprocess,
    site_problems,
    theme_allowances,
    url_scheme,
    write_planet,
)

from campplanet.parse import parse_feed
from campplanet.sanitize import sanitize_html
from httpfarm import Farm
from planetkit import opml_document, outline

VECTORS = list(XSS_VECTORS)
URLS = list(URL_VECTORS)
KINDS = ("rss", "atom", "json")
BASE = f"{DEAD}/blog/post"


def page(fragment: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Planet</title></head>'
        f"<body><main><article><h2>Entry</h2><div>{fragment}</div></article></main></body></html>"
    )


# --- the sanitizer, vector by vector ---------------------------------------------------------


@pytest.mark.parametrize("name", VECTORS)
def test_sanitizer_neutralises_vector(name):
    out = sanitize_html(f"<p>{marker(name)}</p>{XSS_VECTORS[name]}", BASE)
    assert html_problems(out, name, fragment=True) == []
    assert html_problems(page(out), name) == []  # and in the context of a whole page
    assert marker(name) in out  # the harmless part survives


@pytest.mark.parametrize("name", VECTORS)
def test_sanitizer_output_is_stable(name):
    """Sanitizing twice changes nothing: no markup that a second pass (a browser's repair)
    would turn into something else."""
    once = sanitize_html(XSS_VECTORS[name], BASE)
    assert sanitize_html(once, BASE) == once


@pytest.mark.parametrize("name", URLS)
@pytest.mark.parametrize("attribute", ["a href", "img src", "img srcset", "video poster"])
def test_sanitizer_refuses_url_vector(name, attribute):
    tag, attr = attribute.split()
    value = html.escape(URL_VECTORS[name], quote=True)
    out = sanitize_html(f'<{tag} {attr}="{value}">x</{tag}>', BASE)
    assert html_problems(out, name, fragment=True) == []
    root = html5lib.parseFragment(out, namespaceHTMLElements=False)
    for el in root.iter():
        for key, got in el.attrib.items():
            if key in ("href", "src", "poster", "srcset"):
                assert url_scheme(got) in ("http", "https"), (key, got)


# --- the parser: every field of every feed format ------------------------------------------

TEXT_FIELDS = ("content", "summary", "title", "title-text", "author", "categories")
URL_FIELDS = ("link", "enclosure", "guid")


def _item(field: str, name: str, value: str) -> Item:
    item = Item(guid=f"urn:vector:{field}:{name}", content=f"<p>{marker(name)}</p>")
    if field == "content":
        item.content = f"<p>{marker(name)}</p>{value}"
    elif field == "summary":
        item.content = ""
        item.summary = f"<p>{marker(name)}</p>{value}"
    elif field in ("title", "title-text"):
        item.title = f"{value} {marker(name)}"
        item.title_type = "html" if field == "title" else "text"
    elif field == "author":
        item.author = f"{value} {marker(name)}"
    elif field == "categories":
        item.categories = (f"{value} {marker(name)}", value)
    elif field == "link":
        item.link = value
    elif field == "enclosure":
        item.enclosure = value
    elif field == "guid":
        item.guid = value
        item.link = f"{DEAD}/guid/{name}"
    return item


@functools.cache
def parsed(kind: str, field: str):
    vectors = URL_VECTORS if field in URL_FIELDS else XSS_VECTORS
    feed = Feed(items=[_item(field, name, value) for name, value in vectors.items()])
    result = parse_feed(feed.render(kind), f"{DEAD}/feed.{kind}")
    by_marker = {}
    for entry, name in zip(result.entries, vectors, strict=True):
        by_marker[name] = entry
    return result, by_marker


def _every_text(entry) -> list[str]:
    return [entry.title, entry.summary, entry.author or "", *entry.categories]


# JSON Feed titles have one type, so "title-text" is for RSS and Atom only.
KIND_FIELDS = [(k, f) for k in KINDS for f in TEXT_FIELDS if (k, f) != ("json", "title-text")]


@pytest.mark.parametrize(("kind", "field"), KIND_FIELDS)
@pytest.mark.parametrize("name", VECTORS)
def test_parsed_text_field_is_clean(kind, field, name):
    _result, entries = parsed(kind, field)
    entry = entries[name]
    assert html_problems(entry.content, name, fragment=True) == []
    for text in _every_text(entry):
        assert "\x00" not in text and "\x01" not in text
    if field in ("content", "summary"):
        assert marker(name) in entry.content
        assert marker(name) in entry.summary
    elif field in ("title", "title-text"):
        assert marker(name) in entry.title
        assert len(entry.title) <= 300
    elif field == "author":
        assert marker(name) in (entry.author or "")
    elif field == "categories":
        assert any(marker(name) in c for c in entry.categories)


@pytest.mark.parametrize("field", URL_FIELDS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", URLS)
def test_parsed_url_field_is_safe(kind, field, name):
    _result, entries = parsed(kind, field)
    entry = entries[name]
    if entry.link is not None:
        assert url_scheme(entry.link) in ("http", "https"), entry.link
    value = URL_VECTORS[name]
    if field == "enclosure":  # enclosures are not kept: they cannot reach any output
        assert all(value not in t for t in (entry.content, entry.link or "", *_every_text(entry)))
    assert html_problems(entry.content, name, fragment=True) == []


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", URLS)
def test_parsed_feed_link_and_image_are_safe(kind, name):
    feed = Feed(
        title=f"Feed {name}",
        link=URL_VECTORS[name],
        image=URL_VECTORS[name],
        author=f"<script>alert(1)</script> {marker(name)}",
        items=[Item(guid="urn:x")],
    )
    result = parse_feed(feed.render(kind), f"{DEAD}/feed")
    for url in (result.link, result.image):
        assert url is None or url_scheme(url) in ("http", "https"), url
    # the feed's author reaches entries without an author of their own, as plain text
    assert all(e.author is None or "<" not in e.author for e in result.entries)


# --- the real planet: hostile feeds and a hostile OPML through the real CLI ----------------


def _hostile_planet(server: Farm, folder: Path) -> dict[str, object]:
    """117 feeds (RSS, Atom and JSON Feed in turn), each with a vector in its OPML text,
    title, htmlUrl and avatar, in its own title, link, image and author, and 3 entries
    each with vectors in content, summary, title, author, categories, link, enclosure and
    guid."""
    n = len(VECTORS)
    outlines = []
    expected_markers = []
    for j, name in enumerate(VECTORS):
        kind = KINDS[j % 3]
        url_vec = URL_VECTORS[URLS[j % len(URLS)]]
        items = []
        for k in range(3):
            i = 3 * j + k
            v = [XSS_VECTORS[VECTORS[(i + d) % n]] for d in range(6)]
            m = marker(f"e{i}")
            expected_markers.append(m)
            items.append(
                Item(
                    # Unique per entry: equal links or guids are one post, shown once.
                    guid=f"{url_vec}{i}" if k == 0 else f"urn:planet:{i}",
                    title=f"{v[0]} T{m}",
                    link=f"{URL_VECTORS[URLS[i % len(URLS)]]}{i}" if k < 2 else f"{DEAD}/p/{i}",
                    content=f"<p>C{m}</p>{v[1]}",
                    summary=f"<p>S{m}</p>{v[2]}",
                    author=f"{v[3]} A{m}",
                    categories=(f"{v[4]} K{m}", v[5]),
                    enclosure=URL_VECTORS[URLS[(i + 3) % len(URLS)]],
                    published=f"2026-11-{1 + (i % 28):02d}T{i % 24:02d}:00:00Z",
                    title_type="html" if k % 2 else "text",
                )
            )
        feed = Feed(
            title=f"{XSS_VECTORS[VECTORS[(j + 7) % n]]} F{marker(j)}",
            link=url_vec,
            image=URL_VECTORS[URLS[(j + 1) % len(URLS)]],
            author=XSS_VECTORS[VECTORS[(j + 9) % n]],
            items=items,
        )
        url = server.serve(f"/feed/{j}", feed.render(kind), content_type=CONTENT_TYPES[kind])
        outlines.append(
            outline(
                f"{XSS_VECTORS[name]} O{marker(j)}",
                url,
                title=XSS_VECTORS[VECTORS[(j + 1) % n]],
                htmlUrl=URL_VECTORS[URLS[(j + 2) % len(URLS)]],
                avatar=URL_VECTORS[URLS[(j + 3) % len(URLS)]],
            )
        )
    write_planet(
        folder,
        opml_document(
            outlines, head="<ownerName>&lt;script&gt;alert(1)&lt;/script&gt;</ownerName>"
        ),
        items=400,
    )
    return {"markers": expected_markers, "feeds": n}


@pytest.fixture(scope="module")
def benign_site(tmp_path_factory):
    """A harmless planet rendered by the same theme: what the theme itself may contain."""
    folder = tmp_path_factory.mktemp("benign")
    with Farm(addresses=["127.0.0.1"]) as server:
        from hostile import healthy_rss

        url = server.serve("/ok", healthy_rss("benign"))
        write_planet(folder, opml_document([outline("Benign blog", url)]))
        run = run_planet_inprocess(folder)
    assert run.code == 0, run.output
    return theme_allowances(run.public)


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    with Farm(addresses=["127.0.0.1"]) as server:
        info = _hostile_planet(server, folder)
        run = run_planet_inprocess(folder)
    return run, info


def test_hostile_planet_run_completes(hostile_site):
    run, info = hostile_site
    assert run.code == 0, run.output
    assert f"feeds: {info['feeds']} ok, 0 not modified, 0 failed" in run.output


def test_no_output_file_carries_script(hostile_site, benign_site):
    run, _ = hostile_site
    problems = site_problems(run.public, allow=benign_site)
    assert problems == [], "\n".join(problems[:40])


def test_every_hostile_entry_reached_the_outputs(hostile_site):
    """The checks above mean something only if the hostile entries were rendered."""
    run, info = hostile_site
    text = page_texts(run.public)
    atom = (run.public / "atom.xml").read_text()
    missing = [m for m in info["markers"] if f"C{m}" not in text and f"C{m}" not in atom]
    assert missing == []


@pytest.mark.parametrize("output", ["atom.xml", "rss.xml", "feed.json", "opml.xml"])
def test_merged_feed_parses_and_carries_text(hostile_site, output):
    run, _ = hostile_site
    data = (run.public / output).read_bytes()
    if output.endswith(".json"):
        doc = json.loads(data)
        titles = [i.get("title", "") for i in doc["items"]]
    else:
        from lxml import etree

        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
        titles = [t.text or "" for t in root.iter("{*}title", "title")]
        titles += [o.get("text", "") for o in root.iter("outline")]
    # Payload text survives as text (escaped in the file), never as markup.
    assert any("<script" in t.lower() or "<img" in t.lower() for t in titles), titles[:5]


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def test_opml_names_are_shown_as_text(hostile_site):
    """Every hostile OPML name appears on the pages exactly as written: as text, escaped,
    never as markup (a name that became markup would lose its tags from the page text)."""
    run, _info = hostile_site
    text = _squeeze(page_texts(run.public))
    missing = [
        name
        for j, name in enumerate(VECTORS)
        if _squeeze(f"{XSS_VECTORS[name]} O{marker(j)}".replace("\x00", "").replace("\x01", ""))
        not in text
    ]
    assert missing == []


def test_entry_titles_and_authors_are_shown_as_text(hostile_site):
    """Every stored title and author (plain text, with payloads such as "<script>" as
    characters) appears verbatim in the text of the pages."""
    run, _ = hostile_site
    text = _squeeze(page_texts(run.public))
    rows = run.entry_rows()
    assert len(rows) == 3 * len(VECTORS)
    missing_titles = [r["title"] for r in rows if _squeeze(r["title"]) not in text]
    assert missing_titles == []
    missing_authors = [
        r["author"] for r in rows if r["author"] and _squeeze(r["author"]) not in text
    ]
    assert missing_authors == []


@pytest.mark.browser
def test_no_script_runs_in_chromium(hostile_site, tmp_path):
    run, info = hostile_site
    index = run.public / "index.html"
    pages = list(dict.fromkeys([index, *sorted(run.public.rglob("*.html"))[:2]]))
    doms = chromium_doms(pages, tmp_path)
    for page_path, dom in zip(pages, doms, strict=True):
        assert "<html" in dom, f"Chromium rendered nothing for {page_path}"
        root = html5lib.parse(dom, namespaceHTMLElements=False)
        title = root.find(".//title")
        assert title is None or "PWNED" not in "".join(title.itertext())
        assert root.get("data-pwned") is None  # set on <html> by any payload that ran
        if page_path == index:
            assert sum(f"C{m}" in dom for m in info["markers"]) >= 50  # entries rendered


def test_summary_mode_pages_carry_no_script(hostile_site, benign_site, tmp_path):
    """The same hostile database rendered with render.content = "summary": the plain-text
    summaries take another path through the templates."""
    run, _ = hostile_site
    folder = tmp_path / "summary"
    shutil.copytree(run.folder, folder)
    config = folder / "campplanet.toml"
    config.write_text(config.read_text() + '[render]\ncontent = "summary"\n')
    rendered = run_planet_inprocess(folder, "render")
    assert rendered.code == 0, rendered.output
    problems = []
    for page_path in [rendered.public / "index.html", *rendered.public.glob("page/*/index.html")]:
        problems += html_problems(page_path.read_bytes(), page_path.name, allow=benign_site)
    assert problems == [], "\n".join(problems[:40])
    text = _squeeze(page_texts(rendered.public))
    assert "<script>" in text  # payloads in summaries shown as text
