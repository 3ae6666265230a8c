"""The theme: where templates are found, the Jinja environment they are rendered in, and the
signature of everything but the entries that shapes a page.

The default theme is the package's ``templates/`` (the repository's top-level
``templates/`` when running from a checkout); ``render.templates`` names a folder whose
templates override it one by one. Every value a template prints is escaped (autoescape is on
for HTML and XML alike) and stripped of the characters XML forbids; only the entry content,
sanitized and tidied when its feed was parsed (:mod:`campplanet.tidy`), is marked safe.
"""

from __future__ import annotations

import hashlib
import html
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import jinja2.bccache
from markupsafe import Markup

from campplanet import branding, colour, formats
from campplanet.config import Settings
from campplanet.exceptions import CampplanetError
from campplanet.sanitize import strip_html_invalid, strip_invalid_xml_chars
from campplanet.types import FeedRef

BADGE_COLOURS = 8  # .c0 … .c7 in style.css


class TemplateError(CampplanetError):
    """A template of the theme cannot be found, read or rendered."""


def default_templates_dir() -> Path:
    """The default theme: the installed package's ``templates/``, else the repository's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parents[1] / "templates"):
        if (candidate / "index.html").is_file():
            return candidate
    raise TemplateError(
        f"campplanet's default templates are missing (looked in {here / 'templates'} and "
        f"{here.parents[1] / 'templates'}); reinstall campplanet"
    )


def theme_folders(settings: Settings) -> list[Path]:
    """Where templates are looked up, in order: ``render.templates``, then the default."""
    folders = []
    if settings.render.templates:
        folder = settings.path(settings.render.templates)
        if not folder.is_dir():
            raise TemplateError(f"[render] templates: {folder} is not a folder")
        folders.append(folder)
    return [*folders, default_templates_dir()]


def badge(feed: FeedRef) -> str:
    """The CSS colour class of a blog's initials badge: the same blog, the same colour."""
    return f"c{zlib.crc32(feed.url.encode('utf-8', 'replace')) % BADGE_COLOURS}"


def html_text(text: str) -> str:
    """Plain text as HTML, for a field whose format says it holds HTML (RSS's
    ``<description>``): autoescape then escapes it once more for XML, so a reader shows
    "<script>" as text and never meets a script element."""
    return html.escape(text, quote=False)


def accent_colours(accent: str) -> dict[str, str] | None:
    """The stylesheet's colours for ``render.accent`` (checked when the settings were read):
    the light theme's links and header, the dark theme's header and links (a tint that reads
    on the dark page). None without an accent: the theme's own colours stay."""
    value = colour.parse_hex(accent) if accent else None
    if value is None:
        return None
    return {"light": value, "dark_head": value, "dark_link": colour.tint_for_dark(value)}


def _finalize(value: Any) -> Any:
    """Applied to every printed value: None prints nothing; XML-forbidden characters go."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value  # entry content, sanitized and tidied upstream
    if isinstance(value, str) and not value.isprintable():
        return strip_html_invalid(strip_invalid_xml_chars(value))
    return value


class CompiledTemplates(jinja2.BytecodeCache):
    """The theme's templates as an earlier render compiled them, kept by ``load`` and
    ``save`` (in the planet's database), so that a run does not compile them again. Jinja
    checks each against its template's source, and compiles again a template that changed;
    the keys also name this module and Jinja's version, which decide how templates are
    compiled. A cache: what cannot be loaded is compiled."""

    def __init__(
        self, load: Callable[[str], bytes | None], save: Callable[[str, bytes], None]
    ) -> None:
        self.load, self.save = load, save

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self.load(_COMPILER + bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.save(_COMPILER + bucket.key, bucket.bytecode_to_string())


def _compiler_signature() -> str:
    digest = hashlib.sha256(jinja2.__version__.encode())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16] + ":"


_COMPILER = _compiler_signature()


def make_environment(
    settings: Settings, compiled: jinja2.BytecodeCache | None = None
) -> jinja2.Environment:
    """The environment the theme's templates render in; ``compiled`` keeps them compiled
    between runs (see :class:`CompiledTemplates`)."""
    loaders = [jinja2.FileSystemLoader(str(folder)) for folder in theme_folders(settings)]
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        bytecode_cache=compiled,
        autoescape=True,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        badge=badge,
        html_text=html_text,
        rfc3339=formats.rfc3339,
        rfc822=formats.rfc822,
        day_label=formats.day_label,
        short_day=formats.short_day,
        count=formats.count,
        logo_href=branding.logo_href,
    )
    env.tests["rss_image"] = branding.rss_image
    env.globals["accent_colours"] = accent_colours
    return env


def render_template(env: jinja2.Environment, name: str, **context: Any) -> str:
    """One template rendered; a missing or broken template is a :class:`TemplateError`."""
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateNotFound as e:
        raise TemplateError(f"template {e.name} not found in the theme") from None
    except jinja2.TemplateSyntaxError as e:
        raise TemplateError(f"{e.filename or e.name}:{e.lineno}: {e.message}") from None
    except jinja2.UndefinedError as e:
        raise TemplateError(f"template {name}: {e.message}") from None


def theme_signature(settings: Settings, code: tuple[str, ...]) -> bytes:
    """A digest of everything but a page's own contents that shapes it: the settings,
    every file of the theme's folders and the ``code`` files that render."""
    digest = hashlib.sha256()
    digest.update(repr(settings).encode())
    for folder in theme_folders(settings):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(f"\x1e{path}\x1f".encode("utf-8", "surrogateescape"))
            digest.update(path.read_bytes())
    for module in code:
        digest.update(Path(module).read_bytes())
    return digest.digest()
