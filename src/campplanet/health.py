"""How each subscription is doing, decided from its fetch state and said in words.

:func:`health` is the one place that turns a :class:`~campplanet.types.FeedState` into a
:class:`~campplanet.types.Health`; :func:`feed_status` is the one place that says it to
readers (the subscriptions page) in sentences.

The subscriptions page lists the blogs that need someone to act first (gone, failing,
moved), each with what to do; then the blogs not read yet; then the working ones as a
compact list with the date of their last post, without a sentence each.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from campplanet.formats import plural, short_day, when_label
from campplanet.types import FeedState, FeedView, Health


def health(state: FeedState | None) -> Health:
    """How a subscription is doing, from what its last fetch left."""
    if state is None or state.last_attempt is None:
        return Health.NEW
    if state.gone:
        return Health.GONE
    if state.failures:
        return Health.FAILING
    if state.fetch_url:
        return Health.MOVED
    return Health.WORKING


def last_success(states: Iterable[FeedState]) -> datetime | None:
    """When any feed was last fetched successfully (None if none ever was)."""
    return max((s.last_success for s in states if s.last_success), default=None)


# In the order a volunteer should look at them, with the words the pages use.
LABELS = {
    Health.GONE: "Gone",
    Health.FAILING: "Failing",
    Health.MOVED: "Moved",
    Health.NEW: "Not read yet",
    Health.WORKING: "Working",
}
TONES = {
    Health.GONE: "bad",
    Health.FAILING: "bad",
    Health.MOVED: "warn",
    Health.NEW: "new",
    Health.WORKING: "ok",
}
RANK = {h: n for n, h in enumerate(LABELS)}  # problems first
ATTENTION = frozenset((Health.GONE, Health.FAILING, Health.MOVED))


@dataclass(frozen=True)
class SubscriptionStatus:
    """One subscription as the subscriptions page shows it."""

    feed: FeedView
    tone: str  # ok / warn / bad / new: a CSS class
    label: str  # "Working", "Failing", …
    detail: str  # a sentence or two after the label ("" when working)
    counts: str  # "12 posts shown, newest 3 Nov 2026"
    notes: tuple[str, ...]  # posts held back or filtered out
    action: str = ""  # what to do about it, when something should be done
    last_post: str = ""  # "last post 3 Nov 2026", or "no posts yet"
    rank: int = 0  # the order a volunteer should look at them in (RANK)

    @property
    def attention(self) -> bool:
        """Whether someone should do something about this subscription."""
        return Health(self.feed.health) in ATTENTION


def feed_status(feed: FeedView, tz: ZoneInfo, *, new_feed_items: int = 3) -> SubscriptionStatus:
    """How a subscription is doing, honestly and in words."""

    def when(moment: datetime) -> str:
        return when_label(moment.astimezone(tz))

    state = Health(feed.health)
    action = ""
    if state is Health.WORKING:
        detail = ""
    elif state is Health.MOVED:
        detail = f"The feed has moved permanently to {feed.moved_to}; it is read from there."
        action = (
            f"Update the subscription list: in feeds.opml, change this blog's xmlUrl to "
            f"{feed.moved_to}."
        )
    elif state is Health.FAILING:
        since = f" since {when(feed.failing_since)}" if feed.failing_since else ""
        reason = f": {feed.last_error.rstrip('.')}" if feed.last_error else ""
        worked = (
            f" It last worked on {when(feed.last_success)}."
            if feed.last_success
            else " It has not worked yet."
        )
        detail = f"The feed could not be read{since}{reason}.{worked}"
        action = (
            "Open its feed (the link below) in a browser. If the blog has moved, change its "
            "line in feeds.opml; if it is only down, nothing: it is tried again at later "
            "refreshes."
        )
    elif state is Health.GONE:
        detail = "The blog says this feed no longer exists (HTTP 410), so it is no longer read."
        action = (
            "If the blog has a new feed, put its address in feeds.opml; otherwise remove its "
            "line (campplanet prune then deletes its stored posts)."
        )
    else:
        detail = "It is read at the next refresh."
    counts = plural(feed.shown, "post") + " shown"
    if feed.updated:
        counts += f", newest {short_day(feed.updated.astimezone(tz).date())}"
    notes = []
    if feed.held_back:
        notes.append(
            f"{plural(feed.held_back, 'older post')} held back (it joined after the planet "
            f"began: its newest {new_feed_items} are shown)."
        )
    if feed.filtered_out:
        notes.append(f"{plural(feed.filtered_out, 'post')} outside the camp filter.")
    last_post = (
        f"last post {short_day(feed.updated.astimezone(tz).date())}"
        if feed.updated
        else "no posts yet"
    )
    return SubscriptionStatus(
        feed,
        TONES[state],
        LABELS[state],
        detail,
        counts,
        tuple(notes),
        action=action,
        last_post=last_post,
        rank=RANK[state],
    )


def needing_attention(statuses: Iterable[SubscriptionStatus]) -> list[SubscriptionStatus]:
    """The statuses someone should act on, worst first (gone, failing, moved), then by name."""
    return sorted((s for s in statuses if s.attention), key=lambda s: s.rank)


def health_counts(feeds: Iterable[FeedView]) -> list[tuple[str, int]]:
    """("working", 38), ("failing", 3) … for the subscriptions page, zeros left out."""
    counts = Counter(f.health for f in feeds)
    order = (Health.WORKING, Health.MOVED, Health.FAILING, Health.GONE, Health.NEW)
    return [(LABELS[h].lower(), counts[h]) for h in order if counts[h]]
