"""``campplanet status``: every subscription's health, problems first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from campplanet.config import Settings
from campplanet.health import RANK, last_success
from campplanet.storage import Storage
from campplanet.types import Subscription
from campplanet.views import select


def feed_status_rows(
    settings: Settings, subs: Sequence[Subscription], storage: Storage, now: datetime
) -> tuple[list[dict[str, Any]], datetime | None]:
    """One row per subscription, and the last successful fetch of any feed."""
    states = storage.feed_states()
    feeds = select(settings, subs, states, storage).feeds
    rows = []
    for sub, view in zip(subs, feeds, strict=True):
        state = states.get(sub.url)
        rows.append(
            {
                "name": view.title,
                "url": sub.url,
                "line": sub.line,
                "health": view.health,
                "last_success": state.last_success if state else None,
                "last_status": state.last_status if state else None,
                "entries_stored": view.entries,
                "entries_shown": view.shown,
                "held_back": view.held_back,
                "filtered_out": view.filtered_out,
                "failures": state.failures if state else 0,
                "failing_since": state.failing_since if state else None,
                "next_attempt": state.next_attempt if state else None,
                "last_error": state.last_error if state else None,
                "problem": state.problem if state else None,
                "moved_to": view.moved_to,
            }
        )
    rows.sort(key=lambda r: (RANK[r["health"]], -r["failures"], r["name"].lower()))
    return rows, last_success(states.values())


def _short(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return str(value)


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table, widest columns trimmed to stay readable in a terminal."""
    columns = [
        ("name", "feed", 32),
        ("health", "health", 8),
        ("last_success", "last success", 16),
        ("last_status", "http", 4),
        ("entries_stored", "stored", 6),
        ("entries_shown", "shown", 5),
        ("failures", "fails", 5),
        ("next_attempt", "next attempt", 16),
        ("last_error", "last error / moved to", 60),
    ]
    table = []
    for row in rows:
        cells = []
        for key, _, width in columns:
            value = row[key]
            if key == "last_error" and row["moved_to"]:
                value = f"moved: update feeds.opml to {row['moved_to']}"
            text = _short(value)
            cells.append(text if len(text) <= width else text[: width - 1] + "…")
        table.append(cells)
    header = [title for _, title, _ in columns]
    widths = [max(len(c[i]) for c in [header, *table]) for i in range(len(columns))]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)).rstrip()
        for cells in [header, *table]
    ]
    return "\n".join(lines)
