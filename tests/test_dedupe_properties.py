"""Property tests: any sequence of fetches of any versions of a feed never yields the same
post twice and never loses one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from campplanet.parse import canonical_link, entry_key
from campplanet.types import FeedState, ParsedEntry, ParsedFeed
from campplanet.update import plan_feed_update

START = datetime(2026, 6, 1, tzinfo=UTC)
FEED = "https://blog.example/feed"

# How one post may look in one fetch: which id it carries, its title version, whether the
# feed gives dates, and link spelling variants that must not matter.
appearance = st.fixed_dictionaries(
    {
        "guid": st.sampled_from(["original", "migrated", "none"]),
        "title": st.integers(0, 2),
        "dated": st.booleans(),
        "spelling": st.sampled_from(["plain", "utm", "fragment", "host-case"]),
    }
)
fetch = st.dictionaries(st.integers(0, 7), appearance, max_size=8)


def link_of(post: int, spelling: str) -> str:
    link = f"https://blog.example/2026/post-{post}/"
    return {
        "plain": link,
        "utm": link + "?utm_source=rss&utm_medium=feed",
        "fragment": link + "#comments",
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
@given(fetches=st.lists(fetch, min_size=1, max_size=8), founding=st.booleans())
def test_no_post_twice_no_post_lost(fetches, founding):
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
        update = plan_feed_update(
            state, list(stored.values()), feed, now, founding_run=founding, new_feed_items=3
        )
        for entry, canonical in update.entries:
            assert canonical == canonical_link(entry.link)
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
            update = plan_feed_update(
                state, list(stored.values()), feed, now, founding_run=True, new_feed_items=3
            )
            if repeat == 1:
                assert update.new == 0
                assert update.updated == 0
            for entry, _ in update.entries:
                stored[entry.key] = entry
            state = update.state
