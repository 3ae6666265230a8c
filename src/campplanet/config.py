"""Settings: built-in defaults < config file (TOML) < command line.

Every key is declared once, in the dataclasses below, with its type and default; the
loader refuses unknown keys and wrong types with a message naming the file and key.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
import zoneinfo
from dataclasses import MISSING, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from campplanet import colour
from campplanet.exceptions import ConfigError

DEFAULT_CONFIG = "campplanet.toml"
CONTENT_MODES = ("fold", "full", "summary")
LOGO_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".avif", ".ico")
ABOUT_SUFFIXES = (".md", ".markdown", ".html", ".htm")


@dataclass(frozen=True)
class PlanetSettings:
    name: str = "LocalGovCamp Planet"
    description: str = ""  # one line under the name: whose planet this is
    logo: str = ""  # an image URL, or a file in the planet's folder copied into the site
    about: str = ""  # a Markdown (.md) or HTML (.html) file: the about page
    url: str = "https://planet.example.org/"  # public URL of the site, for self links
    owner_name: str = ""
    owner_email: str = ""
    opml: str = "feeds.opml"
    db: str = "campplanet.db"
    output: str = "public"
    items: int = 60  # entries on the front page, on each archive page and in each merged feed
    timezone: str = "Europe/London"  # dates are stored in UTC and shown in this zone
    language: str = "en-GB"
    new_feed_items: int = 3  # entries of a newly added feed shown; older ones are held back
    stale_after: float = 24.0  # hours without any successful fetch before refresh exits 1


@dataclass(frozen=True)
class FetchSettings:
    concurrency: int = 20  # feeds fetched at once
    per_host: int = 4  # feeds fetched at once from one host
    timeout: float = 30.0  # seconds a single feed may take, all in
    max_bytes: int = 10 * 1024 * 1024  # body size limit, after decompression
    max_redirects: int = 5
    max_entries: int = 1000  # entries read from one feed document; the rest are ignored
    allow_private_networks: bool = False  # allow loopback/private addresses (tests, intranets)


@dataclass(frozen=True)
class RenderSettings:
    templates: str = ""  # a folder of templates overriding the default theme
    content: str = "fold"  # "fold" long posts, show them "full", or a "summary" only
    cut_after: int = 150  # words in a folded post's opening (0: never fold)
    per_blog: int = 3  # posts of one blog in a row on a page, at most (0: no limit)
    accent: str = ""  # the camp's colour, "#rrggbb" ("": the default theme's blue)
    order: str = "date"  # "date" (the entry's own date) or "first_seen" for backdated entries
    iframe_hosts: tuple[str, ...] = (
        "www.youtube.com",
        "youtube.com",
        "www.youtube-nocookie.com",
        "player.vimeo.com",
    )


@dataclass(frozen=True)
class FilterSettings:
    include: str = ""  # regex: only entries matching it are shown ("" shows all)
    exclude: str = ""  # regex: entries matching it are hidden


@dataclass(frozen=True)
class CampSettings:
    """One camp (``[[camp]]``): its write-ups are the posts dated in its window that match."""

    name: str  # shown on pages and in feed titles
    slug: str  # its pages are camps/<slug>/ : a-z, 0-9 and hyphens
    start: date  # the camp's first day, in planet.timezone
    end: date  # its last day
    match: str  # regex, case-insensitive, searched in the title, categories and text
    place: str = ""
    url: str = ""  # the event's own site
    before: int = 7  # days before start that still count (previews, "what I hope for")
    after: int = 42  # days after end that still count


@dataclass(frozen=True)
class Settings:
    planet: PlanetSettings = field(default_factory=PlanetSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    render: RenderSettings = field(default_factory=RenderSettings)
    filter: FilterSettings = field(default_factory=FilterSettings)
    camps: tuple[CampSettings, ...] = ()  # [[camp]] tables, in the order of the file
    config_path: str | None = None  # where the file settings came from, if any

    @property
    def base_dir(self) -> Path:
        """Relative paths in a config file are relative to the file's folder."""
        return Path(self.config_path).parent if self.config_path else Path(".")

    def path(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p


SECTIONS: dict[str, type] = {
    "planet": PlanetSettings,
    "fetch": FetchSettings,
    "render": RenderSettings,
    "filter": FilterSettings,
}


def load_settings(
    config: str | Path | None = None, overrides: dict[str, dict[str, Any]] | None = None
) -> Settings:
    """Read ``config`` (or ``campplanet.toml`` if present), then apply ``overrides``.

    ``overrides`` maps section -> key -> value (from the command line; None values ignored).
    Paths given on the command line are relative to the working directory, so they are
    made absolute before they meet the config file's folder.
    """
    data: dict[str, Any] = {}
    source = None
    if config is not None or Path(DEFAULT_CONFIG).is_file():
        source = str(config if config is not None else DEFAULT_CONFIG)
        data = _read_toml(source)
    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        raw = data.pop(name, {})
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: [{name}] must be a table")
        values = _check_section(source or "<defaults>", name, cls, raw)
        for key, value in (overrides or {}).get(name, {}).items():
            if value is not None:
                values[key] = value
        sections[name] = cls(**values)
    sections["camps"] = _read_camps(source or "<defaults>", data.pop("camp", []))
    if data:
        unknown = ", ".join(sorted(data))
        raise ConfigError(
            f"{source}: unknown section or key {unknown} (known sections: {', '.join(SECTIONS)})"
        )
    settings = Settings(**sections, config_path=source)
    _validate(settings, source or "<command line>")
    return settings


def _read_camps(source: str, raw: Any) -> tuple[CampSettings, ...]:
    """The ``[[camp]]`` tables, each checked like a section (their required keys too)."""
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise ConfigError(f"{source}: camp must be an array of tables ([[camp]])")
    required = [f.name for f in dataclasses.fields(CampSettings) if f.default is MISSING]
    camps = []
    for number, table in enumerate(raw, 1):
        where = f"camp {table.get('slug') or number}"
        values = _check_section(source, where, CampSettings, table)
        missing = [key for key in required if key not in values]
        if missing:
            raise ConfigError(f"{source}: [{where}] needs {', '.join(missing)}")
        camps.append(CampSettings(**values))
    return tuple(camps)


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config file: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None


def _check_section(source: str, section: str, cls: type, raw: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(
                f"{source}: unknown key [{section}] {key} (known: {', '.join(sorted(known))})"
            )
        values[key] = _coerce(source, f"[{section}] {key}", hints[key], value)
    return values


def _coerce(source: str, name: str, hint: Any, value: Any) -> Any:
    def wrong(expected: str) -> ConfigError:
        return ConfigError(f"{source}: {name} must be {expected}, not {value!r}")

    if hint is bool:
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("a whole number")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong("a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise wrong("a string")
        return value
    if hint is date:
        if not isinstance(value, date) or isinstance(value, datetime):
            raise wrong("a date such as 2026-06-19 (no quotes, no time)")
        return value
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise wrong("a list of strings")
        return tuple(value)
    if isinstance(hint, types.UnionType):  # pragma: no cover - no such keys today
        return value
    raise AssertionError(f"unhandled setting type {hint}")


def _validate(s: Settings, source: str) -> None:
    def bad(message: str) -> ConfigError:
        return ConfigError(f"{source}: {message}")

    if s.planet.items < 1:
        raise bad("[planet] items must be at least 1")
    if s.planet.new_feed_items < 0:
        raise bad("[planet] new_feed_items must be 0 or more")
    if not re.match(r"^https?://[^/\s]+", s.planet.url):
        raise bad(f"[planet] url must be an absolute http(s) URL, not {s.planet.url!r}")
    try:
        zoneinfo.ZoneInfo(s.planet.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise bad(f"[planet] timezone {s.planet.timezone!r} is not a known time zone") from None
    if s.fetch.concurrency < 1 or s.fetch.per_host < 1:
        raise bad("[fetch] concurrency and per_host must be at least 1")
    if s.fetch.timeout <= 0:
        raise bad("[fetch] timeout must be more than 0 seconds")
    if s.fetch.max_bytes < 1024:
        raise bad("[fetch] max_bytes must be at least 1024")
    if not 0 <= s.fetch.max_redirects <= 20:
        raise bad("[fetch] max_redirects must be between 0 and 20")
    if s.render.cut_after < 0:
        raise bad("[render] cut_after must be 0 (never fold) or more words")
    if s.render.per_blog < 0:
        raise bad("[render] per_blog must be 0 (no limit) or more")
    if s.fetch.max_entries < 1:
        raise bad("[fetch] max_entries must be at least 1")
    if s.render.content not in CONTENT_MODES:
        raise bad(f'[render] content must be "fold", "full" or "summary", not {s.render.content!r}')
    _check_accent(s.render.accent, bad)
    _check_logo(s, bad)
    _check_about(s, bad)
    if s.render.order not in ("date", "first_seen"):
        raise bad(f'[render] order must be "date" or "first_seen", not {s.render.order!r}')
    for key in ("include", "exclude"):
        pattern = getattr(s.filter, key)
        try:
            re.compile(pattern, re.IGNORECASE)
        except re.error as e:
            raise bad(f"[filter] {key} is not a valid regular expression: {e}") from None
    _check_camps(s.camps, bad)


_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _check_camps(camps: tuple[CampSettings, ...], bad: typing.Callable[[str], ConfigError]) -> None:
    slugs: set[str] = set()
    for camp in camps:
        where = f"[camp {camp.slug}]"
        if not _SLUG.fullmatch(camp.slug):
            raise bad(
                f"{where} slug {camp.slug!r} must be lower-case letters, digits and single "
                "hyphens (it names the folder camps/<slug>/)"
            )
        if camp.slug in slugs:
            raise bad(f"{where} slug {camp.slug!r} is used by another camp")
        slugs.add(camp.slug)
        if not camp.name.strip():
            raise bad(f"{where} name must not be empty")
        if camp.end < camp.start:
            raise bad(f"{where} end {camp.end} is before start {camp.start}")
        for key in ("before", "after"):
            if getattr(camp, key) < 0:
                raise bad(f"{where} {key} must be 0 or more days")
        try:
            re.compile(camp.match, re.IGNORECASE)
        except re.error as e:
            raise bad(f"{where} match is not a valid regular expression: {e}") from None
        if not camp.match:
            raise bad(f"{where} match must not be empty (it would match every post)")
        if camp.url and not re.match(r"^https?://[^/\s]+", camp.url):
            raise bad(f"{where} url must be an absolute http(s) URL, not {camp.url!r}")


def _check_accent(value: str, bad: typing.Callable[[str], ConfigError]) -> None:
    """The accent is a CSS hex colour that text can be read on (and in) where it is used."""
    if not value:
        return
    accent = colour.parse_hex(value)
    if accent is None:
        raise bad(f'[render] accent must be a CSS hex colour such as "#0b57a4", not {value!r}')
    failures = colour.accent_failures(accent)
    if failures:
        raise bad(
            f"[render] accent {value!r} does not have the contrast WCAG AA asks of text "
            f"({colour.AA_TEXT}:1): " + "; ".join(map(str, failures))
        )


def _check_logo(s: Settings, bad: typing.Callable[[str], ConfigError]) -> None:
    logo = s.planet.logo
    if not logo or re.match(r"^https?://[^/\s]+", logo):
        return
    if ":" in logo.split("/")[0] and not Path(logo).is_absolute():
        raise bad(f"[planet] logo must be an http(s) URL or a file, not {logo!r}")
    if Path(logo).suffix.lower() not in LOGO_SUFFIXES:
        raise bad(
            f"[planet] logo {logo!r} must be an image file ({', '.join(LOGO_SUFFIXES)}) "
            "or an http(s) URL"
        )
    path = s.path(logo)
    if not path.is_file():
        raise bad(f"[planet] logo: {path} is not a file")


def _check_about(s: Settings, bad: typing.Callable[[str], ConfigError]) -> None:
    about = s.planet.about
    if not about:
        return
    if Path(about).suffix.lower() not in ABOUT_SUFFIXES:
        raise bad(
            f"[planet] about {about!r} must be a Markdown (.md, .markdown) or HTML "
            "(.html, .htm) file"
        )
    read_text_file(s.path(about), "[planet] about", bad)


def read_text_file(path: Path, key: str, bad: typing.Callable[[str], ConfigError]) -> str:
    """A UTF-8 text file a setting names; a clear error naming it if it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise bad(f"{key}: {path} not found") from None
    except IsADirectoryError:
        raise bad(f"{key}: {path} is a folder, not a file") from None
    except UnicodeDecodeError as e:
        raise bad(f"{key}: {path} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise bad(f"{key}: cannot read {path}: {e.strerror or e}") from None
