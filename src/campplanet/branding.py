"""Branding: what makes a planet its camp's own beyond its name, a logo and an about page.

``planet.logo`` is an image URL, used as it is, or a file in the planet's folder, published
beside the pages as ``logo`` with the file's own extension (``logo.png``). The header shows
it, browsers use it as the site's icon, and the merged feeds name it as their logo.

``planet.about`` is a Markdown (CommonMark, with tables) or HTML file, published as
``about/index.html``. It goes through the same allow-list sanitizer and tidying as every
blog's posts: whoever edits it can write no script, style or form into the planet.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from markupsafe import Markup

from campplanet.config import LOGO_SUFFIXES, Settings, read_text_file
from campplanet.exceptions import ConfigError
from campplanet.sanitize import sanitize_html
from campplanet.tidy import tidy_html

if TYPE_CHECKING:
    from campplanet.pages import Site

ABOUT_PATH = "about/index.html"
_URL = re.compile(r"^https?://", re.IGNORECASE)
MARKDOWN_SUFFIXES = (".md", ".markdown")


def is_url(logo: str) -> bool:
    return bool(_URL.match(logo))


def logo_path(logo: str) -> str | None:
    """Where a logo file is published, relative to the output folder; None for a URL."""
    if not logo or is_url(logo):
        return None
    return "logo" + Path(logo).suffix.lower()


def logo_href(logo: str, root: str) -> str:
    """The logo's address from a page ``root`` (``"../../"``) or the planet's URL."""
    path = logo_path(logo)
    return logo if path is None else root + path


def rss_image(logo: str) -> bool:
    """Whether the logo may be an RSS 2.0 channel image, which must be a GIF, JPEG or PNG."""
    path = logo.split("?", 1)[0].split("#", 1)[0]
    return Path(path).suffix.lower() in (".gif", ".jpg", ".jpeg", ".png")


def stale_paths() -> list[str]:
    """Every file this module may publish: removed when the setting that made it is gone."""
    return [ABOUT_PATH, *(f"logo{suffix}" for suffix in LOGO_SUFFIXES)]


def logo_files(site: Site) -> dict[str, bytes]:
    """The logo file, by where it is published (nothing for a logo URL)."""
    settings = site.settings
    path = logo_path(settings.planet.logo)
    if path is None:
        return {}
    source = settings.path(settings.planet.logo)
    try:
        return {path: source.read_bytes()}
    except OSError as e:
        raise ConfigError(f"[planet] logo: cannot read {source}: {e.strerror or e}") from None


def about_html(settings: Settings, url: str) -> Markup:
    """The about file as the page shows it: Markdown made HTML, then sanitized and tidied
    like a post (its headings start at ``h2``, under the page's title)."""
    source = settings.path(settings.planet.about)
    text = read_text_file(source, "[planet] about", ConfigError)
    if source.suffix.lower() in MARKDOWN_SUFFIXES:
        text = markdown_html(text)
    clean = sanitize_html(text, url + "about/", iframe_hosts=settings.render.iframe_hosts)
    return Markup(tidy_html(clean, heading_level=1))


def markdown_html(text: str) -> str:
    """CommonMark (with tables) as HTML; raw HTML in it is kept for the sanitizer to judge."""
    from markdown_it import MarkdownIt  # only planets with a Markdown about page need it

    return MarkdownIt("commonmark").enable("table").render(text)
