"""The merged JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/).

Atom, RSS and OPML are templates (``templates/atom.xml`` …) rendered with autoescape; the JSON
Feed is built here with :mod:`json`, which escapes by construction. Every string is stripped
of the characters XML and HTML forbid, as the templates do.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from campplanet.branding import logo_href
from campplanet.formats import rfc3339
from campplanet.sanitize import strip_html_invalid, strip_invalid_xml_chars

if TYPE_CHECKING:
    from campplanet.pages import Channel, Site, SiteInfo

VERSION = "https://jsonfeed.org/version/1.1"


def _clean(value: Any) -> Any:
    """Strip XML-forbidden characters (which include lone surrogates) from every string."""
    if isinstance(value, str):
        return strip_html_invalid(strip_invalid_xml_chars(value))
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def json_feed(site: Site | SiteInfo, channel: Channel) -> str:
    """A merged feed (the planet's or a camp's) as JSON Feed 1.1."""
    planet = site.planet
    items = []
    for item in channel.items:
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
        "version": VERSION,
        "title": channel.title,
        "home_page_url": channel.home,
        "feed_url": site.url + channel.folder + "feed.json",
        "description": channel.subtitle,
        "icon": logo_href(planet.logo, site.url) if planet.logo else None,
        "favicon": logo_href(planet.logo, site.url) if planet.logo else None,
        "language": planet.language,
        "authors": [owner],
        "items": items,
    }
    return json.dumps(_clean(document), ensure_ascii=False, indent=1) + "\n"
