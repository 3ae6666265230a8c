"""Helpers for the merged feeds: date formats, and the JSON Feed builder.

Atom, RSS and OPML are templates (``templates/atom.xml`` …) rendered with autoescape, so
every value is escaped; JSON Feed is built here with :mod:`json`, which escapes by
construction. Both strip the characters XML and JSON readers choke on.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from campplanet.sanitize import strip_invalid_xml_chars

if TYPE_CHECKING:
    from campplanet.render import Site

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
_HTML_INVALID_TABLE = dict.fromkeys([*range(0x7F, 0xA0), *range(0xFDD0, 0xFDF0)])


def strip_html_invalid(text: str) -> str:
    """Remove what HTML forbids though XML allows it: DEL, C1 controls, noncharacters."""
    if text.isascii():
        return text.replace("\x7f", "") if "\x7f" in text else text
    cleaned = text.translate(_HTML_INVALID_TABLE)
    return cleaned if len(cleaned) != len(text) else text


def rfc3339(when: datetime) -> str:
    """``2026-11-26T21:08:00Z`` (Atom, JSON Feed, HTML ``datetime``)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc822(when: datetime) -> str:
    """``Thu, 26 Nov 2026 21:08:00 +0000`` (RSS 2.0, OPML)."""
    return format_datetime(when.astimezone(UTC)).replace("-0000", "+0000")


def _clean(value: Any) -> Any:
    """Strip XML-forbidden characters (which include lone surrogates) from every string."""
    if isinstance(value, str):
        return strip_html_invalid(strip_invalid_xml_chars(value))
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def json_feed(site: Site) -> str:
    """The newest entries as a JSON Feed 1.1 document."""
    planet = site.planet
    items = []
    for item in site.feed_items:
        e = item.entry
        feed = e.feed
        author: dict[str, Any] = {"name": e.author} if e.author else {"name": feed.title}
        if not e.author and feed.site:
            author["url"] = feed.site
        if feed.avatar and not e.author:
            author["avatar"] = feed.avatar
        entry: dict[str, Any] = {
            "id": e.id,
            "url": e.link,
            "title": item.title,
            "content_html": e.content or None,
            "summary": e.summary or None,
            "date_published": rfc3339(e.date),
            "date_modified": rfc3339(e.updated),
            "authors": [author],
            "tags": list(e.categories) or None,
            "_source": {
                "title": feed.title,
                "home_page_url": feed.site,
                "feed_url": feed.url,
            },
        }
        if entry["content_html"] is None:
            entry["content_text"] = e.summary or item.title
        items.append(entry)
    owner: dict[str, Any] = {"name": planet.owner_name or planet.name, "url": site.url}
    document = {
        "version": JSON_FEED_VERSION,
        "title": planet.name,
        "home_page_url": site.url,
        "feed_url": site.url + "feed.json",
        "description": f"Posts from the blogs {planet.name} follows",
        "language": planet.language,
        "authors": [owner],
        "items": items,
    }
    return json.dumps(_clean(document), ensure_ascii=False, indent=1) + "\n"
