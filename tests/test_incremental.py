"""Archive pages are stable, and a render keeps those whose posts did not change without
rendering them again: whatever changes, the folder ends up byte for byte what a render from
scratch gives."""

from __future__ import annotations

import tempfile
from dataclasses import fields, replace
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campplanet import update
from campplanet.config import CampSettings, Settings
from campplanet.identity import merge_entry
from campplanet.pages import ShownList, fingerprints, site_info
from campplanet.publish import Manifest
from campplanet.render import OUTPUTS, RenderReport, build_files, render_site
from campplanet.storage import Storage
from campplanet.theme import default_templates_dir
from campplanet.types import EntryView, FeedState, FeedView, ParsedEntry
from httpfarm import Farm
from planetkit import blog_items, opml_document, planet_settings, rss_feed
from sitekit import T0, entry, feed, settings_for


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
        body = rss_feed("Blog", "https://blog.example/", blog_items(0, 24))
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


def test_a_page_fingerprint_changes_with_anything_its_entries_are_made_of():
    """An archive page's fingerprint digests every field of its entries' views and of
    their blogs (so a template that starts printing one cannot leave a stale page), and
    nothing of other pages' entries."""
    base = [entry(n) for n in range(12)]
    base[10] = entry(10, feed(9))  # its blog's only post: renaming the blog changes one page
    planet = Planet(Path(tempfile.mkdtemp()), base, items=3)
    info = site_info(planet.settings, OUTPUTS)

    def marks(entries):
        shown = ShownList(sorted(entries, key=lambda e: (e.date, e.id), reverse=True))
        return dict(fingerprints(shown, 3, info, b"signature"))

    before = marks(base)
    changes = {
        "id": "urn:other",
        "link": "https://example.org/other",
        "title": "Other",
        "content": "<p>Other</p>",
        "summary": "Other",
        "author": "Someone else",
        "date": base[10].date + timedelta(minutes=1),
        "updated": base[10].updated + timedelta(days=1),
        "feed": replace(base[10].feed, title="Renamed blog"),
        "categories": ("other",),
        "camps": ("a-camp",),
    }
    assert set(changes) | {"content_hash"} == {f.name for f in fields(EntryView)}
    for name, value in changes.items():
        changed = list(base)
        changed[10] = replace(base[10], **{name: value, "content_hash": ""})
        after = marks(changed)
        differing = [n for n in before if before[n] != after[n]]
        assert len(differing) == 1, name  # the page of entry 10, and only it
    renamed = replace(base[0].feed, title="Renamed blog")  # a blog with posts on every page
    after = marks([replace(e, feed=renamed) if e.feed == base[0].feed else e for e in base])
    assert [n for n in before if before[n] != after[n]] == list(before)
    for name in ("site", "avatar", "initials", "url"):
        changed = list(base)
        changed[10] = replace(base[10], feed=replace(base[10].feed, **{name: "x"}))
        assert marks(changed) != before, name


# What can happen to a planet's database, list and settings between two renders.
DB_CHANGES = st.sampled_from(
    [
        "new post",
        "backdated post",
        "edit title",
        "edit content",
        "remove a blog",
        "add a blog",
        "rename a blog",
        "show fewer of a new blog",
        "filter",
        "fewer items a page",
        "post about a camp",
        "edit a camp's match",
        "add a camp",
    ]
)

# Camps whose windows hold every post of StoredPlanet (around T0, in the planet's time zone).
CAMPS = (
    CampSettings(name="Camp one", slug="one", start=T0.date(), end=T0.date(), match=r"post \d*1\b",
                 before=40, after=10),
    CampSettings(name="Camp two", slug="two", start=T0.date(), end=T0.date(), match="camp two",
                 before=40, after=10),
)  # fmt: skip


class StoredPlanet:
    """A planet whose database, subscription list and settings a test changes directly."""

    def __init__(self, root: Path):
        self.root = root
        self.blogs = {f"https://blog{n}.example/feed": f"Blog {n}" for n in range(4)}
        self.settings = planet_settings(root)
        self.settings = replace(
            self.settings,
            planet=replace(self.settings.planet, items=4, new_feed_items=2),
            camps=CAMPS,
        )
        self.serial = 0
        self.write_list()
        with self.storage() as storage:
            storage.record_subscriptions(self.blogs, T0)
            for url in self.blogs:
                for _ in range(8):
                    self.post(storage, url, T0 - timedelta(hours=self.serial))

    def storage(self) -> Storage:
        return Storage(self.settings.path(self.settings.planet.db))

    def write_list(self) -> None:
        outlines = [(name, url) for url, name in self.blogs.items()]
        (self.root / "feeds.opml").write_text(opml_document(outlines))

    def post(self, storage: Storage, url: str, date, *, seen=T0, about: str = "") -> None:
        self.serial += 1
        n = self.serial
        text = f"<p>Text {n} <b>{about}</b></p>"
        item = ParsedEntry(f"p{n}", f"https://x.example/{n}", f"Post {n}", text, f"Text {n}",
                           published=date)  # fmt: skip
        state = storage.feed_state(url) or FeedState(url=url, added=seen)
        with storage.transaction():
            storage.save_feed(replace(state, imported_at=state.imported_at or seen,
                                      last_attempt=seen))  # fmt: skip
            storage.save_entries([merge_entry(url, None, item, seen, imported=False).entry])

    def change(self, change: str, rng) -> None:
        with self.storage() as storage:
            url = rng.choice(list(self.blogs))
            entries = storage.entries_of(url)
            if change == "new post":
                self.post(storage, url, T0 + timedelta(hours=self.serial))
            elif change == "backdated post":
                self.post(storage, url, T0 - timedelta(days=rng.randrange(30)))
            elif change in ("edit title", "edit content") and entries:
                e = rng.choice(entries)
                edited = (replace(e, title=f"Edited {self.serial}") if change == "edit title"
                          else replace(e, content=f"<p>Edited {self.serial}</p>"))  # fmt: skip
                self.serial += 1
                with storage.transaction():
                    storage.save_entries([edited])
            elif change == "remove a blog" and len(self.blogs) > 1:
                del self.blogs[url]
            elif change == "add a blog":
                new = f"https://late{self.serial}.example/feed"
                self.blogs[new] = f"Late {self.serial}"
                later = T0 + timedelta(days=1)
                storage.record_subscriptions([new], later)
                for _ in range(5):
                    self.post(storage, new, T0 - timedelta(hours=self.serial), seen=later)
            elif change == "rename a blog":
                self.blogs[url] = f"Renamed {self.serial}"
                self.serial += 1
            elif change == "show fewer of a new blog":
                s = self.settings
                self.settings = replace(s, planet=replace(s.planet, new_feed_items=1))
            elif change == "filter":
                s = self.settings
                self.settings = replace(s, filter=replace(s.filter, exclude="post 1"))
            elif change == "fewer items a page":
                s = self.settings
                self.settings = replace(s, planet=replace(s.planet, items=3))
            elif change == "post about a camp":
                self.post(storage, url, T0 - timedelta(days=rng.randrange(30)), about="Camp two")
            elif change == "edit a camp's match":
                s = self.settings
                edited = replace(s.camps[0], match=rf"post \d*{rng.randrange(10)}\b")
                self.settings = replace(s, camps=(edited, *s.camps[1:]))
            elif change == "add a camp":
                s = self.settings
                slug = f"camp-{self.serial}"
                day = (T0 - timedelta(days=rng.randrange(30))).date()
                added = CampSettings(name=f"Camp {self.serial}", slug=slug, start=day, end=day,
                                     match=rf"text \d*{rng.randrange(10)}\b")  # fmt: skip
                self.settings = replace(s, camps=(*s.camps, added))
                self.serial += 1
        self.write_list()

    def render_from_scratch(self, name: str) -> Path:
        """Render into a new folder from a copy of the database with nothing remembered of
        its posts' camp matches: as a first render would."""
        fresh, db = self.root / name, self.root / f"{name}.db"
        with self.storage() as storage:
            storage.db.conn.execute("VACUUM INTO ?", [str(db)])
        with Storage(db) as storage:
            storage.db.execute("DELETE FROM camp_matches")
            storage.db.execute("DELETE FROM meta WHERE name LIKE 'rendered:%'")
        planet = replace(self.settings.planet, output=str(fresh), db=str(db))
        update.render(replace(self.settings, planet=planet))
        return fresh


def test_a_render_keeps_the_theme_compiled_in_the_database(tmp_path):
    planet = StoredPlanet(tmp_path)
    update.render(planet.settings)
    with planet.storage() as storage:
        (kept,) = storage.db.execute("SELECT count(*) FROM compiled_templates").fetchone()
    assert kept >= 8  # every template the site's files come from


def test_a_camps_files_are_rendered_again_only_when_what_they_show_changed(tmp_path):
    planet = StoredPlanet(tmp_path)
    update.render(planet.settings)
    again = update.render(planet.settings)
    names = ("index.html", "atom.xml", "feed.json")
    files = {slug: {f"camps/{slug}/{name}" for name in names} for slug in ("one", "two")}
    assert files["one"] | files["two"] <= set(again.manifest)
    assert again.reused == len(again.manifest) and not again.written  # none rendered
    with planet.storage() as storage:  # post 33: a write-up of camp two, not of camp one
        planet.post(storage, next(iter(planet.blogs)), T0 - timedelta(days=1), about="camp two")
    third = update.render(planet.settings)
    assert files["two"] <= set(third.written)
    assert files["one"] <= set(third.unchanged)
    assert all(third.manifest[path] == again.manifest[path] for path in files["one"])
    with planet.storage() as storage, storage.transaction():  # post 1: a write-up of camp one
        first = next(e for e in storage.entries_of(next(iter(planet.blogs))) if e.key == "p1")
        storage.save_entries([replace(first, title="Post 1, edited")])
    fourth = update.render(planet.settings)
    assert (
        files["one"] <= set(fourth.written)
        and "Post 1, edited" in (tmp_path / "public/camps/one/index.html").read_text()
    )
    assert files["two"] <= set(fourth.unchanged)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(DB_CHANGES, min_size=1, max_size=5), st.randoms(use_true_random=False))
def test_an_incremental_render_of_a_database_equals_a_render_from_scratch(changes, rng):
    with tempfile.TemporaryDirectory() as tmp:
        planet = StoredPlanet(Path(tmp))
        update.render(planet.settings)
        for number, change in enumerate(changes):
            planet.change(change, rng)
            report = update.render(planet.settings)
            fresh = planet.render_from_scratch(f"fresh-{number}")
            assert folder_files(Path(tmp) / "public") == folder_files(fresh), change
        assert report.seconds >= 0
