"""The fetch schedule: pure decisions, tested by table and by property."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campplanet.schedule import (
    BASE_DELAY,
    JITTER,
    MAX_DELAY,
    MAX_RETRY_AFTER,
    backoff,
    fetch_order_key,
    is_due,
    jittered,
    record_fetch,
    timed_out_last,
)
from campplanet.types import FeedState, FetchResult, Outcome

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
URL = "https://blog.example.org/feed"
NEW = "https://new.example.org/feed"


def result(outcome: Outcome = Outcome.OK, **fields) -> FetchResult:
    defaults = {"status": 200 if outcome is Outcome.OK else None}
    if outcome is Outcome.OK:
        defaults.update(body=b"<rss/>", body_hash="h1")
    defaults.update(fields)
    return FetchResult(key=URL, url=URL, outcome=outcome, **defaults)


def failed(error: str = "connection refused", **fields) -> FetchResult:
    return result(Outcome.FAILED, error=error, **fields)


def rng() -> random.Random:
    return random.Random(42)


# -- is_due ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "due"),
    [
        (FeedState(url=URL), True),
        (FeedState(url=URL, next_attempt=NOW), True),
        (FeedState(url=URL, next_attempt=NOW - timedelta(seconds=1)), True),
        (FeedState(url=URL, next_attempt=NOW + timedelta(seconds=1)), False),
        (FeedState(url=URL, gone=True), False),
        (FeedState(url=URL, gone=True, next_attempt=NOW - timedelta(days=9)), False),
    ],
)
def test_is_due(state, due):
    assert is_due(state, NOW) is due


# -- success ---------------------------------------------------------------------------------


def test_success_records_everything_and_returns_a_new_state():
    before = FeedState(url=URL, failures=3, failing_since=NOW - timedelta(days=1), last_error="x")
    after = record_fetch(before, result(etag='"e"', last_modified="lm", final_url=URL), NOW, rng())
    assert after is not before and before.failures == 3  # the old state is untouched
    assert after.last_attempt == after.last_success == NOW
    assert after.last_status == 200 and after.last_error is None
    assert after.failures == 0 and after.failing_since is None
    assert after.next_attempt is None and is_due(after, NOW)
    assert (after.etag, after.last_modified, after.body_hash) == ('"e"', "lm", "h1")


def test_success_with_interval_is_due_after_it():
    after = record_fetch(FeedState(url=URL), result(), NOW, rng(), interval=timedelta(hours=1))
    assert after.next_attempt == NOW + timedelta(hours=1)
    assert not is_due(after, NOW + timedelta(minutes=59))


def test_not_modified_keeps_validators_and_hash_it_was_not_sent_again():
    before = FeedState(url=URL, etag='"e"', last_modified="lm", body_hash="h0")
    nm = result(Outcome.NOT_MODIFIED, status=304)
    after = record_fetch(before, nm, NOW, rng())
    assert (after.etag, after.last_modified, after.body_hash) == ('"e"', "lm", "h0")
    assert after.last_success == NOW and after.last_status == 304


def test_new_body_without_validators_clears_old_ones():
    before = FeedState(url=URL, etag='"e"', last_modified="lm", body_hash="h0")
    after = record_fetch(before, result(), NOW, rng())
    assert (after.etag, after.last_modified, after.body_hash) == (None, None, "h1")


# -- redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remembered", "permanent_url", "outcome", "expected"),
    [
        (None, NEW, Outcome.OK, NEW),  # 301/308 chain: remembered
        (None, NEW, Outcome.NOT_MODIFIED, NEW),
        (None, None, Outcome.OK, None),  # temporary redirect or none: nothing stored
        (NEW, None, Outcome.OK, NEW),  # fetching the remembered URL keeps it
        (NEW, URL, Outcome.OK, None),  # moved back to the subscription URL
        (None, NEW, Outcome.FAILED, None),  # a move that leads to a failure is not trusted
        (NEW, "https://third.example/", Outcome.FAILED, NEW),
    ],
)
def test_fetch_url_follows_permanent_redirects_only(remembered, permanent_url, outcome, expected):
    state = FeedState(url=URL, fetch_url=remembered)
    res = result(outcome, permanent_url=permanent_url)
    if outcome is Outcome.FAILED:
        res = failed(permanent_url=permanent_url, status=404, error="HTTP 404 Not Found")
    assert record_fetch(state, res, NOW, rng()).fetch_url == expected


def test_moved_feed_that_returns_html_is_not_remembered():
    after = record_fetch(
        FeedState(url=URL),
        result(permanent_url=NEW),
        NOW,
        rng(),
        parse_error="returned an HTML page, not a feed",
    )
    assert after.fetch_url is None


# -- failures --------------------------------------------------------------------------------


def test_first_failure():
    after = record_fetch(FeedState(url=URL), failed(), NOW, rng())
    assert after.failures == 1 and after.failing_since == NOW
    assert after.last_error == "connection refused" and after.last_success is None
    assert NOW + BASE_DELAY * (1 - JITTER) <= after.next_attempt <= NOW + BASE_DELAY
    assert not is_due(after, NOW)


def test_failing_since_is_the_first_failure():
    state = FeedState(url=URL)
    times = [NOW + timedelta(hours=h) for h in range(5)]
    for t in times:
        state = record_fetch(state, failed(), t, rng())
    assert state.failing_since == times[0] and state.failures == 5
    assert state.last_attempt == times[-1]


def test_recovery_clears_failures_and_is_due_next_run():
    state = FeedState(url=URL)
    for h in range(10):
        state = record_fetch(state, failed(), NOW + timedelta(days=h), rng())
    later = NOW + timedelta(days=20)
    assert is_due(state, later)
    state = record_fetch(state, result(), later, rng())
    assert state.failures == 0 and state.failing_since is None and state.next_attempt is None
    assert state.last_success == later and state.last_error is None


def test_parse_error_is_a_failure_and_forgets_validators():
    before = FeedState(url=URL, etag='"e"', last_modified="lm", body_hash="h0")
    after = record_fetch(
        before, result(etag='"f"'), NOW, rng(), parse_error="returned an HTML page, not a feed"
    )
    assert after.failures == 1 and after.last_error == "returned an HTML page, not a feed"
    assert after.last_status == 200 and after.last_success is None
    assert (after.etag, after.last_modified, after.body_hash) == (None, None, None)


def test_gone():
    after = record_fetch(
        FeedState(url=URL), result(Outcome.GONE, status=410, error="HTTP 410 Gone"), NOW, rng()
    )
    assert after.gone and after.last_error == "HTTP 410 Gone" and after.last_status == 410
    assert not is_due(after, NOW + timedelta(days=3650))


def test_error_without_text_is_described():
    after = record_fetch(FeedState(url=URL), result(Outcome.FAILED, status=500), NOW, rng())
    assert after.last_error == "HTTP 500"
    after = record_fetch(FeedState(url=URL), result(Outcome.FAILED), NOW, rng())
    assert after.last_error == "failed"


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        (NOW + timedelta(hours=2), NOW + timedelta(hours=2)),
        (NOW - timedelta(hours=2), NOW),  # in the past: try next run
        (NOW + timedelta(days=30), NOW + MAX_RETRY_AFTER),  # absurd: capped
    ],
)
def test_retry_after_is_honoured(retry_after, expected):
    limited = result(Outcome.RATE_LIMITED, status=429, retry_after=retry_after, error="HTTP 429")
    after = record_fetch(FeedState(url=URL, failures=7), limited, NOW, rng())
    assert after.next_attempt == expected and after.failures == 8


def test_rate_limited_without_retry_after_backs_off():
    limited = result(Outcome.RATE_LIMITED, status=503, error="HTTP 503 Service Unavailable")
    after = record_fetch(FeedState(url=URL, failures=2), limited, NOW, rng())
    assert NOW + backoff(3) * (1 - JITTER) <= after.next_attempt <= NOW + backoff(3)


# -- backoff properties ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "delay"),
    [
        (0, timedelta(0)),
        (1, timedelta(minutes=10)),
        (2, timedelta(minutes=20)),
        (3, timedelta(minutes=40)),
        (7, timedelta(minutes=640)),
        (8, timedelta(minutes=1280)),
        (9, timedelta(days=1)),
        (10_000, timedelta(days=1)),
    ],
)
def test_backoff_table(failures, delay):
    assert backoff(failures) == delay


@given(st.integers(min_value=0, max_value=10_000))
def test_backoff_is_monotone_and_capped(n):
    assert backoff(n) <= backoff(n + 1) <= MAX_DELAY


@given(st.integers(min_value=1, max_value=200), st.integers())
def test_jitter_is_bounded_and_never_exceeds_the_cap(n, seed):
    delay = jittered(backoff(n), random.Random(seed))
    assert backoff(n) * (1 - JITTER) <= delay <= backoff(n) <= MAX_DELAY


def test_jitter_spreads_feeds_that_failed_together():
    r = random.Random(7)
    delays = {record_fetch(FeedState(url=URL), failed(), NOW, r).next_attempt for _ in range(50)}
    assert len(delays) > 40


@given(
    st.lists(st.sampled_from(["ok", "nm", "fail", "parse", "429"]), min_size=1, max_size=40),
    st.integers(),
)
def test_any_sequence_keeps_the_invariants(events, seed):
    r = random.Random(seed)
    state = FeedState(url=URL)
    now = NOW
    streak = 0
    for event in events:
        now += timedelta(minutes=15)
        if event == "ok":
            res, perr = result(), None
        elif event == "nm":
            res, perr = result(Outcome.NOT_MODIFIED, status=304), None
        elif event == "fail":
            res, perr = failed(), None
        elif event == "parse":
            res, perr = result(), "not well-formed XML at line 1"
        else:
            res, perr = result(Outcome.RATE_LIMITED, status=429, error="HTTP 429"), None
        state = record_fetch(state, res, now, r, parse_error=perr)
        streak = 0 if event in ("ok", "nm") else streak + 1
        assert state.failures == streak
        assert state.last_attempt == now
        assert (state.failing_since is None) == (streak == 0)
        assert (state.last_error is None) == (streak == 0)
        assert not state.gone
        if streak:
            assert now < state.next_attempt <= now + MAX_DELAY
            assert state.next_attempt >= now + backoff(streak) * (1 - JITTER)
        else:
            assert state.next_attempt is None


OUTCOMES = [None, *Outcome]


def fetch_order(states):
    """The states in the order a run starts their fetches (as campplanet.update sorts)."""
    return sorted(states, key=fetch_order_key)


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_timed_out_last(outcome):
    """A feed whose last fetch timed out (its deadline, or connecting) starts first: the
    decision reads the recorded outcome, never the wording of the error."""
    first = outcome is Outcome.TIMED_OUT
    state = FeedState(url=URL, last_outcome=outcome, last_error="timed out, says the text")
    assert timed_out_last(state) is first
    assert fetch_order_key(state) == (0 if first else 1)


def test_fetch_order_starts_timed_out_feeds_first_stable_otherwise():
    states = [
        FeedState(url="a"),
        FeedState(url="b", last_outcome=Outcome.TIMED_OUT),
        FeedState(url="c", last_outcome=Outcome.UNREACHABLE),
        FeedState(url="d", last_outcome=Outcome.TIMED_OUT),
        FeedState(url="e", last_outcome=Outcome.OK),
    ]
    assert [s.url for s in fetch_order(states)] == ["b", "d", "a", "c", "e"]
    assert [s.url for s in states] == ["a", "b", "c", "d", "e"]  # input left alone
    assert fetch_order([]) == []


def test_a_timeout_recorded_puts_the_feed_first_and_a_success_clears_it():
    timeout = result(Outcome.TIMED_OUT, error="timed out after 30 s")
    timed_out = record_fetch(FeedState(url=URL), timeout, NOW, random.Random(1))
    assert timed_out.last_outcome is Outcome.TIMED_OUT and timed_out.failures == 1
    assert fetch_order([FeedState(url=NEW), timed_out])[0] is timed_out
    recovered = record_fetch(timed_out, result(), NOW, random.Random(1))
    assert fetch_order([FeedState(url=NEW), recovered])[0].url == NEW


@given(st.lists(st.sampled_from(OUTCOMES), max_size=30))
def test_fetch_order_is_a_stable_partition(outcomes):
    states = [
        FeedState(url=f"https://b{i}.example.org/", last_outcome=o) for i, o in enumerate(outcomes)
    ]
    ordered = fetch_order(states)
    expected = [s for s in states if timed_out_last(s)] + [
        s for s in states if not timed_out_last(s)
    ]
    assert [s.url for s in ordered] == [s.url for s in expected]
    assert sorted(s.url for s in ordered) == sorted(s.url for s in states)
