"""When to fetch a feed next, and what a fetch changes in its state.

Pure decisions: no I/O and no clock. ``now`` and a :class:`random.Random` are passed in so
every rule here can be tested exhaustively.

- A success (new body or not modified) clears the failure count; the feed is due again
  ``interval`` later (by default at the next run).
- A failure backs off exponentially per feed: ``BASE_DELAY * 2**(failures - 1)``, capped at
  ``MAX_DELAY`` (one day), then shortened by up to ``JITTER`` (a random fraction) so feeds
  that failed together do not retry in lock-step. The jittered delay never exceeds the cap.
- 429/503 with ``Retry-After``: the next attempt is the time the server asked for (at most
  ``MAX_RETRY_AFTER`` away); without the header, the ordinary backoff.
- 410 Gone: the feed is marked gone and never due again. Gone is kept per subscription URL,
  and a changed OPML entry is a new subscription URL with a fresh state, so no reset is needed.
- A permanent redirect chain (301/308) is remembered in ``fetch_url`` when the fetch it led
  to succeeded; a temporary redirect changes nothing stored.
- ``parse_error`` (e.g. "returned an HTML page, not a feed") is a failure even though HTTP
  succeeded; the validators and body hash are cleared so the next fetch is a full one.
- Start order: feeds whose last attempt timed out are started first (otherwise in the order
  given), so a persistently hung blog runs out its deadline from the start of the run
  instead of from wherever it was queued, and does not make the run longer.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta

from campplanet.types import FeedState, FetchResult, Outcome

BASE_DELAY = timedelta(minutes=10)
MAX_DELAY = timedelta(days=1)
JITTER = 0.25  # a failed feed's delay is shortened by a random 0-25 %
MAX_RETRY_AFTER = timedelta(days=7)


def is_due(state: FeedState, now: datetime) -> bool:
    """Whether the feed should be fetched in a run at ``now``."""
    if state.gone:
        return False
    return state.next_attempt is None or now >= state.next_attempt


def timed_out_last(state: FeedState) -> bool:
    """Whether the feed's last attempt failed by timing out (its deadline, or connecting)."""
    return state.last_outcome is Outcome.TIMED_OUT


def fetch_order_key(state: FeedState) -> int:
    """Sort key for the start order: 0 for a feed that timed out last time, else 1."""
    return 0 if timed_out_last(state) else 1


def backoff(failures: int) -> timedelta:
    """The delay before retrying after ``failures`` consecutive failures, before jitter."""
    if failures <= 0:
        return timedelta(0)
    exponent = min(failures - 1, 32)  # 2**32 * 10 minutes is far past the cap already
    return min(MAX_DELAY, BASE_DELAY * (2**exponent))


def jittered(delay: timedelta, rng: random.Random) -> timedelta:
    """``delay`` shortened by a random fraction of at most :data:`JITTER`."""
    return delay * (1 - JITTER * rng.random())


def record_fetch(
    state: FeedState,
    result: FetchResult,
    now: datetime,
    rng: random.Random,
    *,
    parse_error: str | None = None,
    interval: timedelta = timedelta(0),
) -> FeedState:
    """The feed's new state after ``result`` (a new object; ``state`` is not changed)."""
    succeeded = result.outcome.succeeded and parse_error is None
    common = {"last_attempt": now, "last_status": result.status, "last_outcome": result.outcome}
    if succeeded:
        return replace(
            state,
            **common,
            last_success=now,
            last_error=None,
            failures=0,
            failing_since=None,
            next_attempt=now + interval if interval > timedelta(0) else None,
            gone=False,
            fetch_url=_remembered_url(state, result),
            etag=result.etag if result.outcome is Outcome.OK else result.etag or state.etag,
            last_modified=(
                result.last_modified
                if result.outcome is Outcome.OK
                else result.last_modified or state.last_modified
            ),
            body_hash=result.body_hash or state.body_hash,
        )

    failures = state.failures + 1
    error = parse_error or result.error or _outcome_error(result)
    changes: dict = {
        **common,
        "last_error": error,
        "failures": failures,
        "failing_since": state.failing_since or now,
    }
    if parse_error is not None:
        # A body we could not use must be fetched and parsed in full next time.
        changes.update(etag=None, last_modified=None, body_hash=None)
    if result.outcome is Outcome.GONE:
        return replace(state, **changes, gone=True, next_attempt=None)
    if result.outcome is Outcome.RATE_LIMITED and result.retry_after is not None:
        wanted = min(max(result.retry_after, now), now + MAX_RETRY_AFTER)
        return replace(state, **changes, next_attempt=wanted)
    return replace(state, **changes, next_attempt=now + jittered(backoff(failures), rng))


def _remembered_url(state: FeedState, result: FetchResult) -> str | None:
    """Where to fetch next time: the end of a permanent redirect chain, else as before."""
    if result.permanent_url is None:
        return state.fetch_url
    if result.permanent_url == state.url:
        return None  # moved back to where the subscription list says
    return result.permanent_url


def _outcome_error(result: FetchResult) -> str:
    if result.status is not None:
        return f"HTTP {result.status}"
    return result.outcome.value.replace("_", " ")
