"""Feed HTML is untrusted: an allow-list sanitizer (nh3, the Rust ammonia library) and
plain-text helpers.

What survives: ordinary text markup, links (http, https, mailto; ``rel="nofollow ugc
noopener"``), images (lazy-loaded), tables, figures, video and audio elements, and iframes
from the configured video hosts only (https, sandboxed). Everything else goes: scripts,
event handlers, styles, forms, ``base``/``meta``/``link``/``object``/``embed``, SVG and
MathML, ``javascript:``/``data:``/``vbscript:`` URLs. Relative URLs, including each
``srcset`` candidate, are made absolute against the given base.

What survives is also valid HTML: every attribute value is checked against its grammar
(:mod:`campplanet.attrvalues`) and repaired or dropped; URLs lose any user name and password
and have the characters HTML forbids in them percent-encoded, and a URL whose host cannot be
valid goes. Structure (which element may stand where) is :mod:`campplanet.tidy`'s job.
"""

from __future__ import annotations

import html
import ipaddress
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

import nh3

from campplanet import attrvalues
from campplanet.config import RenderSettings

DEFAULT_IFRAME_HOSTS = RenderSettings().iframe_hosts  # the setting is their one home

# col/colgroup carry only presentation (their attributes are obsolete or unsafe) and make the
# table model fail when their spans disagree with the rows; rtc is not HTML any more.
TAGS = (nh3.ALLOWED_TAGS - {"map", "area", "col", "colgroup", "rtc"}) | {
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
    "data": {"value"},
    # headers names ids, and ids do not survive: it could only point at nothing.
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
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


# An http(s) URL that is already valid as it stands: an ASCII host name whose last label
# starts with a letter (so it is no IPv4 address), a port of at most four digits, and only
# characters URLs may hold, percent signs starting an escape. Most URLs in feeds look so.
_URL_CHAR = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})"
_PLAIN_ABSOLUTE = re.compile(
    r"https?://(?:(?!xn--)[A-Za-z0-9_-]{1,63}\.)*(?!xn--)[A-Za-z][A-Za-z0-9_-]{0,62}\.?"
    rf"(?::[0-9]{{0,4}})?(?:/{_URL_CHAR}*)?(?:\?(?:{_URL_CHAR}|\?)*)?(?:#(?:{_URL_CHAR}|\?)*)?",
    re.ASCII,
)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_URL_IGNORED = re.compile(r"[\t\n\r]")
# RFC 3986, appendix B: scheme, authority, path, query, fragment.
_URL_PARTS = re.compile(r"(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?", re.S)
# What may not stand unescaped in a path, query or fragment: controls, space, the characters
# RFC 3986 excludes, and a % that starts no escape. A fragment may not hold a second "#".
_URL_FORBIDDEN = re.compile(r'%(?![0-9A-Fa-f]{2})|[\x00-\x20"<>\[\\\]^`{|}\x7f-\x9f]')
_FRAGMENT_FORBIDDEN = re.compile(r'%(?![0-9A-Fa-f]{2})|[\x00-\x20"<>\[\\\]^`{|}#\x7f-\x9f]')
_HOST_LABEL = re.compile(r"[A-Za-z0-9_-]{1,63}", re.ASCII)
_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
                   r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])")  # fmt: skip


def _escape(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode())


def _valid_host(host: str) -> bool:
    """A host the validator accepts: a DNS name (labels of letters, digits, "-", "_"; IDN
    labels that encode to such), a dotted-decimal IPv4 address or a bracketed IPv6 one."""
    if host.startswith("["):
        try:
            return host.endswith("]") and bool(ipaddress.IPv6Address(host[1:-1]))
        except ValueError:
            return False
    name = host[:-1] if host.endswith(".") else host
    if not name or len(name) > 253:
        return False
    if not name.isascii():
        if any(
            not (c.isascii() or unicodedata.category(c)[0] in "LMN") for c in name
        ):  # symbols, spaces, controls: UTS 46 refuses many of them
            return False
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return False
    labels = name.split(".")
    for label in labels:
        if not _HOST_LABEL.fullmatch(label):
            return False
        if label[:4].lower() == "xn--":
            try:
                label[4:].encode("ascii").decode("punycode")
            except UnicodeError:
                return False
    last = labels[-1]
    if last.isdigit() or last[:2].lower() == "0x":  # then the whole host is read as IPv4
        return bool(_IPV4.fullmatch(name))
    return True


def _safe_url(value: str, base: str | None) -> str | None:
    """The URL made absolute against ``base`` and valid: None for other schemes than http,
    https and mailto, and for hosts or ports no URL may have; credentials dropped; forbidden
    characters percent-encoded (a backslash read as "/", as browsers do in http URLs)."""
    # As browsers read it: C0 controls and spaces around it, tabs and newlines in it ignored.
    value = _URL_IGNORED.sub("", value.strip().strip(_C0_AND_SPACE))
    if _PLAIN_ABSOLUTE.fullmatch(value) and "/." not in value:
        return value  # already absolute and valid: urljoin would return it unchanged
    scheme = _SCHEME.match(value)
    if scheme is None or scheme.group(1).lower() in ("http", "https"):
        value = value.replace("\\", "/")
    if base:
        try:
            value = urljoin(base, value)
        except ValueError:
            return None
    parts = _URL_PARTS.fullmatch(value)
    if parts is None:
        return None
    scheme, authority, path, query, fragment = parts.groups()
    scheme_name = (scheme or "").lower()
    if scheme is not None and (scheme_name not in URL_SCHEMES or not _SCHEME.match(scheme + ":")):
        return None
    out = f"{scheme}:" if scheme else ""
    if authority is not None:
        host_port = authority.rpartition("@")[2]  # a user name or password goes
        if host_port.startswith("["):
            close = host_port.find("]") + 1
            host, colon, port = (
                host_port[:close],
                host_port[close : close + 1],
                host_port[close + 1 :],
            )
            if not close or colon not in ("", ":"):
                return None
        else:
            host, colon, port = host_port.partition(":")
        if port and (not port.isdigit() or int(port) > 65535):
            return None
        if not _valid_host(host):
            return None
        out += f"//{host}{colon}{port}"
    elif scheme_name in ("http", "https"):
        return None  # "http:x": no host at all
    out += _URL_FORBIDDEN.sub(_escape, path)
    if query is not None:
        out += "?" + _URL_FORBIDDEN.sub(_escape, query)
    if fragment is not None:
        out += "#" + _FRAGMENT_FORBIDDEN.sub(_escape, fragment)
    return out


_SRCSET_SPACE = " \t\n\r\f"


def _srcset_candidates(value: str) -> list[tuple[str, str]]:
    """(URL, descriptor) pairs of a srcset, split the way browsers split it (a URL may hold
    commas, except at its end)."""
    out = []
    pos, end = 0, len(value)
    while True:
        while pos < end and (value[pos] in _SRCSET_SPACE or value[pos] == ","):
            pos += 1
        if pos >= end:
            return out
        start = pos
        while pos < end and value[pos] not in _SRCSET_SPACE:
            pos += 1
        url = value[start:pos]
        if url.endswith(","):
            out.append((url.rstrip(","), ""))
            continue
        start, depth = pos, 0
        while pos < end and (value[pos] != "," or depth):
            if value[pos] == "(":
                depth += 1
            elif value[pos] == ")" and depth:
                depth -= 1
            pos += 1
        out.append((url, value[start:pos].strip(_SRCSET_SPACE)))
        pos += 1


def _absolute_srcset(value: str, base: str | None) -> str | None:
    """A valid srcset: candidates with bad URLs or descriptors dropped, all of one kind
    (widths if any candidate has one, else densities), no width or density twice."""
    candidates = []
    for url, descriptor in _srcset_candidates(value):
        kind = attrvalues.image_descriptor(descriptor)
        if kind is None:
            continue
        url = _safe_url(url, base)
        if not url:
            continue
        candidates.append((url, descriptor, kind))
    widths = any(kind[0] == "w" for _, _, kind in candidates)
    seen = set()
    out = []
    for url, descriptor, kind in candidates:
        if (kind[0] == "w") != widths or kind in seen:
            continue
        seen.add(kind)
        out.append(f"{url} {descriptor}" if descriptor else url)
    return ", ".join(out) or None


def _enumerated(*values: str) -> Callable[[str], str | None]:
    allowed = frozenset(values)

    def check(value: str) -> str | None:
        value = value.strip().lower()
        return value if value in allowed else None

    return check


# Every allowed attribute whose value has a grammar, with what to keep of a value.
_VALUES: dict[str, Callable[[str], str | None]] = {
    "dir": _enumerated("ltr", "rtl", "auto"),
    "lang": attrvalues.language_tag,
    "hreflang": lambda v: attrvalues.language_tag(v, empty_ok=False),
    "srclang": lambda v: attrvalues.language_tag(v, empty_ok=False),
    "colspan": lambda v: attrvalues.integer(v, minimum=1, maximum=1000),
    "rowspan": lambda v: attrvalues.integer(v, minimum=0, maximum=65534),
    "start": attrvalues.integer,
    "scope": _enumerated("row", "col", "rowgroup", "colgroup"),
    "controls": lambda v: "",  # boolean attributes: present means on
    "allowfullscreen": lambda v: "",
    "preload": _enumerated("none", "metadata", "auto", ""),
    "kind": _enumerated("subtitles", "captions", "descriptions", "chapters", "metadata"),
    "label": lambda v: v or None,
    "type": attrvalues.mime_type,
    "media": attrvalues.media_query_list,
    "sizes": attrvalues.source_sizes,
}
_TIME_VALUES = {"time": attrvalues.time_datetime, "del": attrvalues.date_or_global_datetime}


@lru_cache(maxsize=64)
def _attribute_filter(base: str | None):
    def keep(tag: str, attribute: str, value: str) -> str | None:
        if attribute == "srcset":
            return _absolute_srcset(value, base)
        if attribute in URL_ATTRIBUTES:
            if attribute in ("src", "poster") and not value.strip().strip(_C0_AND_SPACE):
                return None  # must not be empty (and would resolve to the base)
            return _safe_url(value, base)
        check = _VALUES.get(attribute)
        if check is not None:
            value = check(value)
            if attribute == "dir" and tag == "bdo" and value == "auto":
                return None  # bdo overrides the direction: it needs one
            return value
        if attribute == "datetime":
            return _TIME_VALUES.get(tag, attrvalues.date_or_global_datetime)(value)
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
