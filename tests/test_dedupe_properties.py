"""Property tests: any sequence of fetches of any versions of a feed never yields the same
post twice and never loses one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from campplanet.identity import entry_key, plan_feed_update
from campplanet.types import FeedState, ParsedEntry, ParsedFeed
from campplanet.urls import canonical_link

START = datetime(2026, 6, 1, tzinfo=UTC)
FEED = "https://blog.example/feed"

# How one post may look in one fetch: which id it carries, its title version, whether the
# feed gives dates, and link spelling variants that must not matter. (A fragment does
# matter: it is part of a post's identity.)
appearance = st.fixed_dictionaries(
    {
        "guid": st.sampled_from(["original", "migrated", "none"]),
        "title": st.integers(0, 2),
        "dated": st.booleans(),
        "spelling": st.sampled_from(["plain", "utm", "slash", "host-case"]),
    }
)
fetch = st.dictionaries(st.integers(0, 7), appearance, max_size=8)


def link_of(post: int, spelling: str) -> str:
    link = f"https://blog.example/2026/post-{post}/"
    return {
        "plain": link,
        "utm": link + "?utm_source=rss&utm_medium=feed",
        "slash": link.rstrip("/"),
        "host-case": link.replace("blog.example", "Blog.Example"),
    }[spelling]


def parsed_entry(post: int, look: dict, fetch_no: int) -> ParsedEntry:
    guid = {
        "original": f"https://blog.example/?p={post}",
        "migrated": f"urn:uuid:00000000-0000-0000-0000-{post:012d}",
        "none": None,
    }[look["guid"]]
    link = link_of(post, look["spelling"])
    title = f"Post {post}" + " (edited)" * look["title"]
    content = f"<p>Body of post {post}, version {look['title']}</p>"
    published = START + timedelta(days=post) if look["dated"] else None
    return ParsedEntry(
        key=entry_key(guid, link, title, content),
        link=link,
        title=title,
        content=content,
        summary=content,
        published=published,
        updated=START + timedelta(days=post, hours=fetch_no) if look["dated"] else None,
        guid=guid,
    )


@settings(max_examples=300, deadline=None)
@given(fetches=st.lists(fetch, min_size=1, max_size=8))
def test_no_post_twice_no_post_lost(fetches):
    stored: dict[str, object] = {}
    state = FeedState(url=FEED, added=START)
    ever_seen: set[int] = set()
    for number, window in enumerate(fetches):
        now = START + timedelta(hours=number)
        feed = ParsedFeed(
            title="Blog",
            link="https://blog.example/",
            entries=tuple(parsed_entry(p, look, number) for p, look in window.items()),
        )
        update = plan_feed_update(state, list(stored.values()), feed, now)
        for entry in update.entries:
            assert entry.canonical_link == canonical_link(entry.link)
            stored[entry.key] = entry
        state = update.state
        ever_seen |= set(window)

        posts = [canonical_link(e.link) for e in stored.values()]
        assert len(posts) == len(set(posts)), "the same post is stored twice"
        assert set(posts) == {canonical_link(link_of(p, "plain")) for p in ever_seen}
        for entry in stored.values():
            assert entry.first_seen <= now
            assert entry.date <= entry.first_seen + timedelta(minutes=5)


@settings(max_examples=100, deadline=None)
@given(fetches=st.lists(fetch, min_size=2, max_size=6))
def test_refetch_of_the_same_document_changes_nothing(fetches):
    stored: dict[str, object] = {}
    state = FeedState(url=FEED, added=START)
    for number, window in enumerate(fetches):
        feed = ParsedFeed(
            title="Blog",
            link=None,
            entries=tuple(parsed_entry(p, look, 0) for p, look in window.items()),
        )
        for repeat in range(2):
            now = START + timedelta(hours=number, minutes=repeat)
            update = plan_feed_update(state, list(stored.values()), feed, now)
            if repeat == 1:
                assert update.new == 0
                assert update.updated == 0
            for entry in update.entries:
                stored[entry.key] = entry
            state = update.state


# Posts that share one link: a podcast's episodes all linking to the show page, or a
# weeknotes page whose posts differ by fragment. Each fetch shows a window of them, with
# their own ids (or, for the fragment posts, no id at all).
shared = st.lists(st.integers(0, 7), min_size=1, max_size=8, unique=True)


def shared_link_entry(post: int, fetch_no: int, *, podcast: bool) -> ParsedEntry:
    if podcast:
        guid, link = f"episode-{post}", "https://podcast.example/show/"
    else:
        guid, link = None, f"https://blog.example/weeknotes/#week-{post}"
    content = f"<p>Episode {post}</p>"
    return ParsedEntry(
        key=entry_key(guid, link, f"Post {post}", content),
        link=link,
        title=f"Post {post}",
        content=content,
        summary=content,
        published=START + timedelta(days=post),
        updated=START + timedelta(days=post, hours=fetch_no % 2),
        guid=guid,
    )


@settings(max_examples=200, deadline=None)
@given(windows=st.lists(shared, min_size=1, max_size=6), podcast=st.booleans())
def test_posts_that_share_a_link_are_never_merged(windows, podcast):
    stored: dict[str, object] = {}
    state = FeedState(url=FEED, added=START)
    ever_seen: set[int] = set()
    for number, window in enumerate(windows):
        feed = ParsedFeed(
            title="Show",
            link=None,
            entries=tuple(shared_link_entry(p, number, podcast=podcast) for p in window),
        )
        update = plan_feed_update(
            state, list(stored.values()), feed, START + timedelta(hours=number)
        )
        for entry in update.entries:
            stored[entry.key] = entry
        state = update.state
        ever_seen |= set(window)
        assert sorted(e.title for e in stored.values()) == sorted(f"Post {p}" for p in ever_seen)


@settings(max_examples=100, deadline=None)
@given(posts=st.integers(1, 8), moved_after=st.integers(1, 3))
def test_a_platform_migration_changes_every_id_and_duplicates_nothing(posts, moved_after):
    stored: dict[str, object] = {}
    state = FeedState(url=FEED, added=START)
    for number in range(moved_after + 2):
        look = {"guid": "original" if number < moved_after else "migrated", "title": 0,
                "dated": True, "spelling": "plain"}  # fmt: skip
        feed = ParsedFeed(
            title="Blog",
            link=None,
            entries=tuple(parsed_entry(p, look, number) for p in range(posts)),
        )
        update = plan_feed_update(
            state, list(stored.values()), feed, START + timedelta(hours=number)
        )
        assert update.new == (posts if number == 0 else 0)
        for entry in update.entries:
            stored[entry.key] = entry
        state = update.state
    assert len(stored) == posts
