"""Archive pages are stable, and a render keeps those whose posts did not change without
rendering them again: whatever changes, the folder ends up byte for byte what a render from
scratch gives."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campplanet import update
from campplanet.config import Settings
from campplanet.publish import Manifest
from campplanet.render import RenderReport, build_files, render_site
from campplanet.storage import Storage
from campplanet.theme import default_templates_dir
from campplanet.types import EntryView, FeedView
from httpfarm import Farm
from planetkit import opml_document, rss_feed
from test_render import T0, entry, feed, settings_for
from test_update import items
from test_update import settings as planet_settings


def folder_files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


class Planet:
    """A site rendered again and again into one folder, the manifest carried between renders
    as the database carries it."""

    def __init__(self, root: Path, entries: list[EntryView], *, items: int = 3):
        self.root = root
        self.settings: Settings = settings_for(root, items=items)
        self.entries = entries
        self.manifest: Manifest = {}

    @property
    def feeds(self) -> list[FeedView]:
        return sorted({e.feed.url: e.feed for e in self.entries}.values(), key=lambda f: f.url)

    @property
    def public(self) -> Path:
        return self.root / "public"

    def render(self) -> RenderReport:
        ordered = sorted(self.entries, key=lambda e: (e.date, e.id), reverse=True)
        report = render_site(
            self.settings, ordered, self.feeds, last_refresh=T0, manifest=self.manifest
        )
        self.manifest = report.manifest
        fresh = build_files(self.settings, ordered, self.feeds, last_refresh=T0)
        assert folder_files(self.public) == fresh
        return report


def test_a_new_post_leaves_every_older_archive_page_alone(tmp_path):
    planet = Planet(tmp_path, [entry(n) for n in range(29)])
    first = planet.render()  # the front page, 8 archive pages of 3 and page 9 of 2
    assert first.reused == 0 and len(first.manifest) == 9
    pages = sorted((planet.public / "page").glob("*/index.html"))
    mtimes = {p: p.stat().st_mtime_ns for p in pages}

    planet.entries.append(entry(100, date=T0 + timedelta(hours=1)))
    second = planet.render()
    # the newest archive page (9) gains the post pushed off the front page; 1-8 are kept
    assert second.reused == 8
    assert "page/9/index.html" in second.written
    assert {p for p in pages if p.stat().st_mtime_ns != mtimes[p]} == {
        planet.public / "page/9/index.html"
    }
    planet.entries += [entry(101 + n, date=T0 + timedelta(hours=2 + n)) for n in range(3)]
    third = planet.render()  # page 10 begins: page 9 now links to it
    assert third.reused == 8 and "page/10/index.html" in third.written


def test_archive_pages_are_filled_from_the_oldest(tmp_path):
    planet = Planet(tmp_path, [entry(n) for n in range(11)])
    planet.render()
    titles = {
        rel: [t for t in (f"Post {n}<" for n in range(11)) if t in html.decode()]
        for rel, html in folder_files(planet.public).items()
        if rel.endswith("index.html")
    }
    assert titles == {
        "index.html": ["Post 0<", "Post 1<", "Post 2<"],
        "page/3/index.html": ["Post 3<", "Post 4<"],  # the newest, partly filled
        "page/2/index.html": ["Post 5<", "Post 6<", "Post 7<"],
        "page/1/index.html": ["Post 8<", "Post 9<", "Post 10<"],
    }


def test_pages_rendered_by_a_second_process_are_kept_too(tmp_path):
    planet = Planet(tmp_path, [entry(n) for n in range(130)], items=2)  # 64 archive pages
    first = planet.render()
    assert len(first.manifest) == 64
    planet.entries.append(entry(200, date=T0 + timedelta(hours=1)))
    assert planet.render().reused == 63


def test_a_page_changed_or_deleted_outside_is_rendered_again(tmp_path):
    planet = Planet(tmp_path, [entry(n) for n in range(12)])
    planet.render()
    (planet.public / "page/1/index.html").unlink()
    page2 = planet.public / "page/2/index.html"
    page2.write_bytes(page2.read_bytes().replace(b"Post", b"Tsop"))
    report = planet.render()  # Planet.render checks the files against a fresh render
    assert sorted(report.written) == ["page/1/index.html", "page/2/index.html"]


def test_a_manifest_that_is_not_one_is_ignored(tmp_path):
    planet = Planet(tmp_path, [entry(n) for n in range(12)])
    planet.render()
    for broken in ({"page/1/index.html": "x"}, {"page/1/index.html": [1, 2]}, {"x": None}):
        planet.manifest = broken  # type: ignore[assignment]
        planet.render()


def test_a_theme_change_renders_every_page_again(tmp_path):
    planet = Planet(tmp_path, [entry(n) for n in range(12)])
    planet.render()
    theme = tmp_path / "theme"
    theme.mkdir()
    planet.settings = replace(
        planet.settings, render=replace(planet.settings.render, templates=str(theme))
    )
    default = (default_templates_dir() / "_entry.html").read_text()
    (theme / "_entry.html").write_text(
        default.replace("{{ item.title }}</a>", "{{ item.title }}!</a>")
    )
    report = planet.render()
    assert report.reused == 0 and "Post 11!" in (planet.public / "page/1/index.html").read_text()


# What can happen to a planet between two renders.
CHANGES = st.sampled_from(
    [
        "new post",
        "new posts",
        "backdated post",
        "edit content",
        "edit title",
        "remove a post",
        "rename a blog",
        "give a blog an avatar",
        "fewer items a page",
        "summary only",
        "rename the planet",
        "delete a page",
        "long post",
        "burst from one blog",
        "one post a blog in a row",
        "show posts whole",
        "describe the planet",
    ]
)

LONG = "".join(
    f"<p>Paragraph {i} of a long post, with a few more words in it.</p>" for i in range(60)
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(CHANGES, min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_any_changes_render_what_a_render_from_scratch_renders(changes, rng):
    with tempfile.TemporaryDirectory() as tmp:
        planet = Planet(Path(tmp), [entry(n) for n in range(25)], items=4)
        planet.render()
        serial = 1000
        for change in changes:
            entries = planet.entries
            pick = rng.randrange(len(entries)) if entries else 0
            serial += 1
            if change == "new post":
                entries.append(entry(serial, date=T0 + timedelta(hours=serial)))
            elif change == "new posts":
                entries += [
                    entry(serial * 10 + n, date=T0 + timedelta(hours=serial)) for n in (1, 2)
                ]
            elif change == "backdated post":
                entries.append(entry(serial, date=T0 - timedelta(hours=rng.randrange(200))))
            elif change == "edit content" and entries:
                entries[pick] = replace(
                    entries[pick], content=f"<p>Edited {serial}</p>", content_hash=""
                )
            elif change == "edit title" and entries:
                entries[pick] = replace(entries[pick], title=f"Edited {serial}")
            elif change == "remove a post" and entries:
                del entries[pick]
            elif change in ("rename a blog", "give a blog an avatar"):
                old = feed(rng.randrange(3))
                new = (
                    replace(old, title=f"Renamed {serial}")
                    if change == "rename a blog"
                    else replace(old, avatar=f"https://img.example/{serial}.png")
                )
                planet.entries = [
                    replace(e, feed=new) if e.feed.url == old.url else e for e in entries
                ]
            elif change == "fewer items a page":
                s = planet.settings
                planet.settings = replace(
                    s, planet=replace(s.planet, items=s.planet.items - 1 or 4)
                )
            elif change == "summary only":
                s = planet.settings
                planet.settings = replace(s, render=replace(s.render, content="summary"))
            elif change == "rename the planet":
                s = planet.settings
                planet.settings = replace(s, planet=replace(s.planet, name=f"Planet {serial}"))
            elif change == "long post":
                entries.append(entry(serial, date=T0 + timedelta(hours=serial), content=LONG))
            elif change == "burst from one blog":
                entries += [
                    entry(serial * 10 + n, feed(0), date=T0 - timedelta(hours=rng.randrange(90)))
                    for n in range(5)
                ]
            elif change == "one post a blog in a row":
                s = planet.settings
                planet.settings = replace(s, render=replace(s.render, per_blog=1))
            elif change == "show posts whole":
                s = planet.settings
                planet.settings = replace(s, render=replace(s.render, content="full"))
            elif change == "describe the planet":
                s = planet.settings
                planet.settings = replace(
                    s, planet=replace(s.planet, description=f"The camp, {serial}")
                )
            elif change == "delete a page":
                pages = sorted(planet.public.glob("page/*/index.html"))
                if pages:
                    pages[rng.randrange(len(pages))].unlink()
            planet.render()


def test_render_keeps_the_manifest_in_the_database(tmp_path):
    with Farm(hosts=1) as farm:
        body = rss_feed("Blog", "https://blog.example/", items(0, 24))
        url = farm.add("/feed.xml", body=body)
        (tmp_path / "feeds.opml").write_text(opml_document([("Blog", url)]))
        s = planet_settings(tmp_path)
        update.refresh(s)
        output = str(s.path(s.planet.output))
        with Storage(s.path(s.planet.db)) as storage:
            kept = storage.render_manifest(output)
        assert sorted(kept) == [f"page/{n}/index.html" for n in (1, 2, 3, 4)]
        again = update.render(s)
        assert again.reused == 4 and not again.written

        # one of the oldest posts gets a new text under the same title: only its page changes
        edited = body.replace(b"Body of Blog 0 post 2&lt;", b"Rewritten text&lt;")
        farm.route(url).body = edited
        summary, report = update.refresh(s)
    assert summary.updated == 1
    assert report.reused == 3 and "page/1/index.html" in report.written
    assert "Rewritten text" in (tmp_path / "public/page/1/index.html").read_text()
    update.render(planet_settings(tmp_path, output="fresh"))
    assert folder_files(tmp_path / "fresh") == folder_files(tmp_path / "public")

    with Storage(s.path(s.planet.db)) as storage:
        storage.set_meta(f"rendered:{output}", "{not json")
        assert storage.render_manifest(output) == {}
    third = update.render(s)  # no usable manifest: every page rendered, none rewritten
    assert third.reused == 0 and not third.written and len(third.unchanged) == len(again.unchanged)


def test_a_page_fingerprint_covers_everything_its_template_receives():
    """An archive page's fingerprint is the digest of the repr of what its template
    receives. A field left out of repr must be derived from fields that are in it (or from
    settings in the theme signature); this is the whole list, so a new field a template
    starts to print cannot be left out unnoticed."""
    from dataclasses import fields, is_dataclass

    from campplanet.pages import Day, Item, Page, SiteInfo
    from campplanet.render import Output
    from campplanet.types import FeedRef

    left_out = {
        (cls.__name__, f.name)
        for cls in (Page, Day, Item, SiteInfo, Output, EntryView, FeedRef)
        for f in fields(cls)
        if not f.repr
    }
    assert left_out == {
        ("Item", "shape"),  # render.content: in the theme signature
        ("Item", "words"),  # render.cut_after: likewise
        ("Item", "_shown"),  # the entry's content (content_hash) as shaped by those two
        ("EntryView", "content"),  # content_hash stands for it
        ("EntryView", "summary"),  # content_hash covers it too
        ("Output", "build"),  # code, in the theme signature
        ("Output", "files"),  # likewise
    }
    assert all(is_dataclass(cls) for cls in (Page, Day, Item, SiteInfo))
