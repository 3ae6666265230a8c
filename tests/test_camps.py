"""Camps: which posts are write-ups of a camp, and the camp's pages and feeds.

Table tests of the rule (window edges in the planet's time zone, where the match is looked
for), the selection over a real store (duplicates, filters, flood control, removed blogs),
settings that are refused, and the real CLI against a local server."""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import pytest
from click.testing import CliRunner

from campplanet import camps, policy
from campplanet.cli import main
from campplanet.config import CampSettings, FilterSettings, PlanetSettings, Settings
from campplanet.identity import merge_entry
from campplanet.storage import Storage
from campplanet.types import FeedState, ParsedEntry, Subscription
from campplanet.views import select
from planetkit import opml_document, run_tool

LONDON = ZoneInfo("Europe/London")
CAMP = CampSettings(
    name="LocalGovCamp 2026",
    slug="localgovcamp-2026",
    start=date(2026, 6, 19),
    end=date(2026, 6, 20),
    match="localgov ?camp|#lgc26",
)
SUMMIT = CampSettings(
    name="Leaders' Summit 2026",
    slug="summit-2026",
    start=date(2026, 6, 18),
    end=date(2026, 6, 18),
    match="summit",
    before=0,
    after=3,
)


# --- the rule -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        # The window opens at midnight in London (BST, UTC+1) seven days before the start...
        (datetime(2026, 6, 11, 22, 59, 59, tzinfo=UTC), False),
        (datetime(2026, 6, 11, 23, 0, tzinfo=UTC), True),
        (datetime(2026, 6, 19, 9, 0, tzinfo=UTC), True),
        # ... and closes at the end of the 42nd day after the end (1 August, London time).
        (datetime(2026, 8, 1, 22, 59, 59, tzinfo=UTC), True),
        (datetime(2026, 8, 1, 23, 0, tzinfo=UTC), False),
    ],
)
def test_the_window_is_whole_days_in_the_planets_time_zone(moment, inside):
    assert camps.in_window(CAMP, moment, LONDON) is inside


def test_the_window_in_winter_time():
    winter = replace(CAMP, start=date(2026, 1, 10), end=date(2026, 1, 10), before=0, after=0)
    start, end = camps.window(winter, LONDON)
    assert (start, end) == (datetime(2026, 1, 10, tzinfo=UTC), datetime(2026, 1, 11, tzinfo=UTC))


def text(title="A post", categories=(), content="<p>Words</p>", summary="Words"):
    return policy.filter_text(title, categories, content, summary)


@pytest.mark.parametrize(
    ("parts", "matches"),
    [
        ({"title": "What I learned at LocalGovCamp"}, True),
        ({"title": "localgov camp day two"}, True),  # case and the optional space
        ({"categories": ("Events", "LocalGovCamp")}, True),
        ({"content": "<p>Back from <b>LocalGov</b>Camp</p>"}, True),  # markup stripped
        ({"content": "<p>Tweeted as &#35;lgc26</p>"}, True),  # entities decoded
        ({"content": '<p><a href="https://localgovcamp.co.uk/">the site</a></p>'}, False),
        ({"title": "Weeknotes", "content": "<p>Nothing about it</p>"}, False),
    ],
)
def test_the_match_is_looked_for_in_the_title_categories_and_text(parts, matches):
    assert camps.matches(CAMP, text(**parts)) is matches


# --- over a real store --------------------------------------------------------------------

A = Subscription(url="https://a.example/feed", title="Ann", line=3)
B = Subscription(url="https://b.example/feed", title="Bob", line=4)
AT_CAMP = datetime(2026, 6, 20, 17, 0, tzinfo=UTC)


def post(feed, key, *, when=AT_CAMP, title="LocalGovCamp: my notes", link=None, seen=None):
    item = ParsedEntry(key, link or f"https://{feed[8]}.example/{key}", title,
                       "<p>Notes</p>", "Notes", published=when)  # fmt: skip
    return merge_entry(feed, None, item, seen or when + timedelta(hours=1), imported=False).entry


def write_ups(entries, states=None, subs=(A, B), **settings):
    """Each camp's write-ups (keys, oldest first) and the keys the planet shows."""
    s = Settings(camps=(CAMP, SUMMIT), **settings)
    with tempfile.TemporaryDirectory() as folder, Storage(Path(folder) / "p.db") as storage:
        with storage.transaction():
            for url in (A.url, B.url):
                storage.save_feed((states or {}).get(url) or FeedState(url=url, at_founding=True))
            storage.save_entries(entries)
        shown = select(s, list(subs), states or {}, storage).shown
        found = {c.slug: [e.feed.url + "#" + e.link.rsplit("/", 1)[1] for e in shown.camp(c.slug)]
                 for c in s.camps}  # fmt: skip
        return found, {e.link for e in shown.views(0, len(shown))}


def test_write_ups_oldest_first_and_a_post_can_belong_to_two_camps():
    entries = [
        post(A.url, "late", when=AT_CAMP + timedelta(days=10)),
        post(A.url, "both", when=AT_CAMP - timedelta(days=1), title="Summit eve, LocalGovCamp"),
        post(B.url, "early", when=AT_CAMP - timedelta(days=5)),
        post(B.url, "unrelated", when=AT_CAMP, title="Weeknotes"),
        post(B.url, "too-late", when=AT_CAMP + timedelta(days=60)),
    ]
    found, _ = write_ups(entries)
    assert found[CAMP.slug] == [f"{B.url}#early", f"{A.url}#both", f"{A.url}#late"]
    assert found[SUMMIT.slug] == [f"{A.url}#both"]


def test_a_post_reached_through_two_blogs_is_one_write_up():
    link = "https://a.example/shared-post"
    entries = [post(A.url, "x", link=link), post(B.url, "y", link=link, seen=AT_CAMP)]
    found, _ = write_ups(entries)
    assert found[CAMP.slug] == [f"{B.url}#shared-post"]  # the blog that saw it first


def test_what_the_filters_hide_is_not_a_write_up():
    entries = [post(A.url, "a"), post(B.url, "b", title="LocalGovCamp (sponsored)")]
    found, _ = write_ups(entries, filter=FilterSettings(exclude="sponsored"))
    assert found[CAMP.slug] == [f"{A.url}#a"]


def test_flood_control_does_not_hide_a_write_up():
    """A blog added after the camp: its camp post is not among its newest, so the front
    page holds it back, and the camp page still has it."""
    old = post(B.url, "camp-post", when=AT_CAMP, seen=AT_CAMP + timedelta(days=90))
    newer = [post(B.url, f"n{i}", when=AT_CAMP + timedelta(days=80 + i), title="Weeknotes",
                  seen=AT_CAMP + timedelta(days=90)) for i in range(3)]  # fmt: skip
    joined = {B.url: FeedState(url=B.url, imported_at=AT_CAMP + timedelta(days=90))}
    found, shown = write_ups([old, *newer], states=joined,
                             planet=PlanetSettings(new_feed_items=3))  # fmt: skip
    assert old.link not in shown  # held back on the front page and the archive
    assert found[CAMP.slug] == [f"{B.url}#camp-post"]


def test_a_blog_removed_from_the_list_has_no_write_ups():
    found, _ = write_ups([post(A.url, "a"), post(B.url, "b")], subs=(A,))
    assert found[CAMP.slug] == [f"{A.url}#a"]


def test_what_a_post_matched_is_remembered_until_the_post_or_the_match_changes(tmp_path):
    """A post's text is tested against a camp's match once for each revision of the post:
    while the post is unchanged the remembered answer stands (here one the test plants), an
    edited post is tested again, and a changed match tests every post again and forgets
    the old pattern's answers."""
    with Storage(tmp_path / "p.db") as storage:
        with storage.transaction():
            storage.save_feed(FeedState(url=A.url, at_founding=True))
            storage.save_entries([post(A.url, "notes"), post(A.url, "wk", title="Weeknotes")])

        def found(camp: CampSettings = CAMP) -> list[str]:
            shown = select(Settings(camps=(camp,)), [A], {}, storage).shown
            return sorted(e.link.rsplit("/", 1)[1] for e in shown.camp(camp.slug))

        def remembered() -> dict[str, int]:
            rows = storage.db.execute("SELECT pattern, count(*) FROM camp_matches GROUP BY 1")
            return dict(rows.fetchall())

        assert found() == ["notes"]
        assert remembered() == {camps.pattern_key(CAMP): 2}
        storage.db.execute("UPDATE camp_matches SET matched = 1")
        assert found() == ["notes", "wk"]  # not tested again: the planted answer stands
        weeknotes = next(e for e in storage.entries_of(A.url) if e.key.endswith("wk"))
        with storage.transaction():
            storage.save_entries([replace(weeknotes, title="Weeknotes, edited")])
        assert found() == ["notes"]  # a new revision: tested again
        storage.db.execute("UPDATE camp_matches SET matched = 1")
        other = replace(CAMP, match="weeknotes")
        assert found(other) == ["wk"]
        assert remembered() == {camps.pattern_key(other): 2}


# --- settings -----------------------------------------------------------------------------

GOOD = """[[camp]]
name = "LocalGovCamp 2026"
slug = "localgovcamp-2026"
start = 2026-06-19
end = 2026-06-20
match = "localgov ?camp"
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('match = "localgov ?camp"', 'match = "localgov (camp"'), "match is not a valid regular"),
        (('slug = "localgovcamp-2026"', 'slug = "../etc"'), "slug '../etc' must be lower-case"),
        (('slug = "localgovcamp-2026"', 'slug = "LGC"'), "slug 'LGC' must be lower-case"),
        (("end = 2026-06-20", "end = 2026-06-18"), "end 2026-06-18 is before start 2026-06-19"),
        (("end = 2026-06-20", "end = 2026-06-20\nafter = -1"), "after must be 0 or more days"),
        (("end = 2026-06-20", "end = 2026-06-20\nbefore = -3"), "before must be 0 or more"),
        (("end = 2026-06-20", 'end = "2026-06-20"'), "end must be a date such as 2026-06-19"),
        (("end = 2026-06-20", "end = 2026-06-20\nwhere = 1"), "unknown key [camp"),
        (('name = "LocalGovCamp 2026"\n', ""), "[camp localgovcamp-2026] needs name"),
        (("", ""), "slug 'localgovcamp-2026' is used by another camp"),
    ],
)  # fmt: skip
def test_bad_camp_settings_exit_2_naming_the_file_and_key(tmp_path, change, message):
    old, new = change
    text = GOOD.replace(old, new) if old else GOOD + "\n" + GOOD
    config = tmp_path / "campplanet.toml"
    config.write_text(text)
    result = CliRunner().invoke(main, ["camps", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert str(config) in result.output and message in result.output, result.output


# --- the real planet ----------------------------------------------------------------------


def rss(blog: str, posts: list[tuple[str, str, datetime]]) -> bytes:
    items = "".join(
        f"<item><title>{title}</title><link>https://{blog}.example/{key}</link>"
        f"<guid>https://{blog}.example/{key}</guid>"
        f"<pubDate>{when.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
        f"<description>Notes from {title}</description></item>"
        for key, title, when in posts
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{blog}</title>'
        f"<link>https://{blog}.example/</link>{items}</channel></rss>"
    ).encode()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def camp_feed(public: Path, slug: str) -> list[str]:
    feed = feedparser.parse((public / f"camps/{slug}/atom.xml").read_bytes())
    return [e.link for e in feed.entries]


def camp_table(name: str, slug: str, match: str, start: date, end: date) -> str:
    return (
        f'[[camp]]\nname = "{name}"\nslug = "{slug}"\nstart = {start}\nend = {end}\n'
        f'match = "{match}"\n'
    )


def test_a_planet_with_two_camps(server, planet, tmp_path):
    """Both camp pages and feeds hold exactly their write-ups: a late blog's camp post is
    there though the front page holds it back, a camp added to the settings appears at the
    next render with no fetch, and a removed blog's write-ups go."""
    now = datetime.now(UTC).replace(microsecond=0)
    camp_day = now - timedelta(days=20)
    a = server.serve("/a.xml", rss("ann", [
        ("camp", "LocalGovCamp: what I learned", camp_day),
        ("prep", "Hoping for a good #lgc26", camp_day - timedelta(days=3)),
        ("other", "Weeknotes", camp_day),
        ("summit", "The summit", camp_day - timedelta(days=1)),
    ]))  # fmt: skip
    (tmp_path / "feeds.opml").write_text(opml_document([("Ann", a)]))
    config = tmp_path / "campplanet.toml"
    start = (camp_day - timedelta(days=1)).date()
    lgc = camp_table("LocalGovCamp 2026", "localgovcamp-2026", "localgov ?camp|#lgc26", start,
                     camp_day.date())  # fmt: skip
    config.write_text(lgc)
    args = planet("--config", str(config))
    assert run("refresh", *args)[0] == 0

    # A blog joins later: its camp post is older than its three newest posts.
    b = server.serve("/b.xml", rss("bob", [
        ("camp", "Back from LocalGov Camp", camp_day + timedelta(days=1)),
        *[(f"n{i}", f"Weeknotes {i}", now - timedelta(hours=i + 1)) for i in range(3)],
    ]))  # fmt: skip
    (tmp_path / "feeds.opml").write_text(opml_document([("Ann", a), ("Bob", b)]))
    assert run("refresh", *args)[0] == 0
    public = tmp_path / "public"
    slug = "localgovcamp-2026"
    front = [e.link for e in feedparser.parse((public / "atom.xml").read_bytes()).entries]
    assert "https://bob.example/camp" not in front  # held back by flood control
    assert camp_feed(public, slug) == [
        "https://bob.example/camp", "https://ann.example/camp", "https://ann.example/prep",
    ]  # fmt: skip
    page = (public / f"camps/{slug}/index.html").read_text()
    assert "3 write-ups by 2 people" in page
    assert (
        page.index("ann.example/prep")
        < page.index("ann.example/camp")
        < page.index("bob.example/camp")
    )  # oldest first
    front_page = (public / "index.html").read_text()
    assert f'A write-up of <a href="camps/{slug}/">LocalGovCamp 2026</a>' in front_page

    # A second camp, added to the settings: the next render finds its write-ups, no fetch.
    first = config.read_text()
    config.write_text(first + "\n" + camp_table("Summit", "summit", "summit", start, start))
    hits = server.hits()
    assert run("render", *args)[0] == 0
    assert server.hits() == hits
    assert camp_feed(public, "summit") == ["https://ann.example/summit"]
    listing = (public / "camps/index.html").read_text()
    # newest camp first (the same start: then by slug, last first)
    assert listing.index('href="summit/"') < listing.index(f'href="{slug}/"')

    code, output = run("camps", "--json", *args)
    rows = {row["slug"]: row for row in json.loads(output)}
    assert (rows[slug]["write_ups"], rows[slug]["people"]) == (3, 2)
    code, output = run("camps", slug, "--unmatched", *args)
    assert code == 0 and "Weeknotes" in output and "ann.example/other" in output
    assert "ann.example/camp" not in output

    run_tool("validate-html", str(public))
    run_tool("validate-feeds", "--require", "atom,rss,jsonfeed,opml", str(public))
    camp_pages = [public / "camps/index.html", public / f"camps/{slug}/index.html"]
    run_tool("check-a11y", "--shots", str(tmp_path / "shots"), *map(str, camp_pages))

    # Bob leaves the list: his write-up leaves the camp. A camp removed: its folder goes.
    (tmp_path / "feeds.opml").write_text(opml_document([("Ann", a)]))
    config.write_text(first)
    assert run("render", *args)[0] == 0
    assert camp_feed(public, slug) == ["https://ann.example/camp", "https://ann.example/prep"]
    assert not (public / "camps/summit").exists()
