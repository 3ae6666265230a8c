"""Feed HTML is untrusted: an allow-list sanitizer (nh3, the Rust ammonia library) and
plain-text helpers.

What survives: ordinary text markup, links (http, https, mailto; ``rel="nofollow ugc
noopener"``), images (lazy-loaded), tables, figures, video and audio elements, and iframes
from the configured video hosts only (https, sandboxed). Everything else goes: scripts,
event handlers, styles, forms, ``base``/``meta``/``link``/``object``/``embed``, SVG and
MathML, ``javascript:``/``data:``/``vbscript:`` URLs. Relative URLs, including each
``srcset`` candidate, are made absolute against the given base.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

import nh3

DEFAULT_IFRAME_HOSTS = (
    "www.youtube.com",
    "youtube.com",
    "www.youtube-nocookie.com",
    "player.vimeo.com",
)

TAGS = (nh3.ALLOWED_TAGS - {"map", "area"}) | {
    "iframe",
    "video",
    "audio",
    "source",
    "picture",
    "track",
}
ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"lang", "dir", "title"},
    "a": {"href", "hreflang"},
    "img": {"src", "srcset", "sizes", "alt", "width", "height"},
    "iframe": {"src", "width", "height", "title", "allowfullscreen"},
    "video": {"src", "poster", "controls", "width", "height", "preload"},
    "audio": {"src", "controls", "preload"},
    "source": {"src", "srcset", "type", "media", "sizes"},
    "track": {"src", "kind", "srclang", "label"},
    "time": {"datetime"},
}
URL_SCHEMES = {"http", "https", "mailto"}
URL_ATTRIBUTES = {"href", "src", "poster", "cite"}

# nh3 serialises every start tag as `<name attr="value" ...>`, values double-quoted with `"`
# escaped, so this strict grammar reads its iframes exactly; an iframe's fallback content is
# raw text that cannot contain `</iframe>`.
_IFRAME = re.compile(
    r'<iframe((?:\s+[a-z][a-z0-9_:.-]*(?:="[^"]*")?)*)\s*>.*?</iframe>', re.DOTALL | re.IGNORECASE
)
_IFRAME_ATTRIBUTE = re.compile(r'([a-z][a-z0-9_:.-]*)(?:="([^"]*)")?', re.IGNORECASE)
_IFRAME_KEEP = ("src", "width", "height", "title", "allowfullscreen", "lang", "dir")
IFRAME_SANDBOX = "allow-scripts allow-same-origin allow-popups"
_XML_INVALID = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_BLOCK = re.compile(
    r"<(/?)(p|div|br|li|ul|ol|h[1-6]|tr|td|th|blockquote|pre|figure|figcaption|section|article|hr)\b",
    re.IGNORECASE,
)
_SPACE = re.compile(r"\s+")
_ENTITY = re.compile(r"&(#\d+|#x[0-9a-f]+|[a-z][a-z0-9]*);", re.IGNORECASE)


# html5ever (inside nh3) checks the stack of open elements at each block start tag, so deeply
# nested markup costs quadratic time: 100,000 nested <div>s take minutes. Nesting deeper than
# any real post is turned into plain text without parsing it as HTML.
MAX_DEPTH = 256
_NOT_NESTING = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr", "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th",
    "tbody", "thead", "tfoot", "rt", "rp", "colgroup",
})  # fmt: skip
_TAG_NAME = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)")
_TAG_LINEAR = re.compile(r"<[^<>]*>")  # [^<>]: linear even on "<<<<..." without ">"


def too_deep(fragment: str, limit: int = MAX_DEPTH) -> bool:
    """Whether the markup nests elements more than ``limit`` deep (counted generously:
    elements that close themselves, such as <p> and <li>, do not count)."""
    if fragment.count("<") <= limit:
        return False
    depth = 0
    for match in _TAG_NAME.finditer(fragment):
        if match.group(2).lower() in _NOT_NESTING:
            continue
        if match.group(1):
            depth = max(depth - 1, 0)
        else:
            depth += 1
            if depth > limit:
                return True
    return False


def _crude_text(fragment: str) -> str:
    """Text of markup too deep to parse: tags dropped by pattern, entities decoded."""
    text = html.unescape(_TAG_LINEAR.sub(" ", fragment))
    return _SPACE.sub(" ", strip_invalid_xml_chars(text)).strip()


_HTML_INVALID_TABLE = dict.fromkeys([*range(0x7F, 0xA0), *range(0xFDD0, 0xFDF0)])


def strip_html_invalid(text: str) -> str:
    """Remove what HTML forbids though XML allows it: DEL, C1 controls, noncharacters."""
    if text.isascii():
        return text.replace("\x7f", "") if "\x7f" in text else text
    cleaned = text.translate(_HTML_INVALID_TABLE)
    return cleaned if len(cleaned) != len(text) else text


def strip_invalid_xml_chars(text: str) -> str:
    """Remove what XML 1.0 forbids: C0 controls but tab/newline/CR, lone surrogates,
    U+FFFE and U+FFFF."""
    return _XML_INVALID.sub("", text)


_PLAIN_ABSOLUTE = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]+)?(?:[/?#][^\s\\]*)?", re.ASCII)


def _safe_url(value: str, base: str | None) -> str | None:
    value = value.strip()
    if _PLAIN_ABSOLUTE.fullmatch(value) and "/." not in value:
        return value  # already absolute http(s): urljoin would return it unchanged
    if base:
        try:
            value = urljoin(base, value)
        except ValueError:
            return None
    scheme = urlsplit(value).scheme.lower() if ":" in value else ""
    if scheme and scheme not in URL_SCHEMES:
        return None
    return value


def _absolute_srcset(value: str, base: str | None) -> str | None:
    candidates = []
    for candidate in value.split(","):
        parts = candidate.split()
        if not parts:
            continue
        url = _safe_url(parts[0], base)
        if url is None or re.search(r"[\s,]", url):
            continue
        candidates.append(" ".join([url, *parts[1:2]]))
    return ", ".join(candidates) or None


@lru_cache(maxsize=64)
def _attribute_filter(base: str | None):
    def keep(tag: str, attribute: str, value: str) -> str | None:
        if attribute in ("srcset",):
            return _absolute_srcset(value, base)
        if attribute in URL_ATTRIBUTES:
            return _safe_url(value, base)
        return value

    return keep


def iframe_allowed(src: str, iframe_hosts: tuple[str, ...]) -> bool:
    """True for a plain https URL on one of the allowed embed hosts: no user name, no port
    other than 443, nothing (backslashes, spaces) that browsers and Python read differently."""
    if re.search(r"[\\\s]", src):
        return False
    try:
        parts = urlsplit(src)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme.lower() == "https"
        and "@" not in parts.netloc
        and port in (None, 443)
        and host in {h.lower() for h in iframe_hosts}
    )


def _embed_iframes(cleaned: str, iframe_hosts: tuple[str, ...]) -> str:
    """Rebuild allowed iframes from their parsed attributes (sandboxed, lazy); turn every
    other one into a plain link to its source. Works on nh3's output only."""
    kept = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal kept
        attrs = {
            name.lower(): html.unescape(value or "")
            for name, value in _IFRAME_ATTRIBUTE.findall(match.group(1))
        }
        src = attrs.get("src", "")
        if not src:
            return ""
        if not iframe_allowed(src, iframe_hosts):
            url = html.escape(src, quote=True)
            return f'<a href="{url}" rel="nofollow ugc noopener">{url}</a>'
        kept += 1
        out = [
            f'{name}="{html.escape(attrs[name], quote=True)}"'
            for name in _IFRAME_KEEP
            if name in attrs
        ]
        out += [f'sandbox="{IFRAME_SANDBOX}"', 'loading="lazy"', 'referrerpolicy="no-referrer"']
        return f"<iframe {' '.join(out)}></iframe>"

    result = _IFRAME.sub(replace, cleaned)
    if result.lower().count("<iframe") != kept:
        # Something this reader did not expect: drop iframes altogether rather than guess.
        result = nh3.clean(
            result,
            tags=TAGS - {"iframe"},
            clean_content_tags={"iframe"},
            attributes=ATTRIBUTES,
            url_schemes=URL_SCHEMES,
            link_rel="nofollow ugc noopener",
        )
    return result


def sanitize_html(
    fragment: str, base_url: str | None, *, iframe_hosts: tuple[str, ...] = DEFAULT_IFRAME_HOSTS
) -> str:
    """Clean untrusted HTML down to the allow-list, with absolute URLs."""
    if not fragment:
        return ""
    if too_deep(fragment):
        text = _crude_text(fragment)
        return f"<p>{html.escape(text, quote=False)}</p>" if text else ""
    cleaned = nh3.clean(
        strip_invalid_xml_chars(fragment),
        tags=TAGS,
        clean_content_tags={"script", "style", "noscript", "template", "svg", "math", "object"},
        attributes=ATTRIBUTES,
        attribute_filter=_attribute_filter(base_url),
        url_schemes=URL_SCHEMES,
        link_rel="nofollow ugc noopener",
        # One attribute per tag: nh3 adds several in a random order, and the same post must
        # always give the same HTML (the store compares it to notice edits).
        set_tag_attribute_values={
            "img": {"loading": "lazy"},
            "iframe": {"sandbox": IFRAME_SANDBOX},
        },
        strip_comments=True,
    )
    if "<iframe" in cleaned:
        cleaned = _embed_iframes(cleaned, iframe_hosts)
    return cleaned.strip()


def html_to_text(fragment: str) -> str:
    """The readable text of an HTML fragment, whitespace collapsed."""
    if not fragment:
        return ""
    if too_deep(fragment):
        return _crude_text(_BLOCK.sub(r" <\1\2", fragment))
    spaced = _BLOCK.sub(r" <\1\2", fragment)
    text = nh3.clean(spaced, tags=set(), clean_content_tags={"script", "style"})
    return _SPACE.sub(" ", strip_invalid_xml_chars(html.unescape(text))).strip()


def summarize(fragment: str, words: int = 60) -> str:
    """The first ``words`` words of the text, ending in "…" when cut."""
    parts = html_to_text(fragment).split(" ")
    if len(parts) <= words:
        return " ".join(parts)
    return " ".join(parts[:words]).rstrip(",;:.-–—") + "…"


def plain_title(text: str, *, is_html: bool = True) -> str:
    """A title as plain text: tags stripped (when it is HTML), entities decoded, including
    the double-escaped ones some platforms produce ("Q&amp;amp;A" -> "Q&A")."""
    if not text:
        return ""
    if is_html and too_deep(text):
        text = _crude_text(text)
    elif is_html:
        text = html.unescape(nh3.clean(text, tags=set(), clean_content_tags={"script", "style"}))
    if _ENTITY.search(text):
        text = html.unescape(text)
    return _SPACE.sub(" ", strip_invalid_xml_chars(text)).strip()
