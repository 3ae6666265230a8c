"""The character encoding of a fetched XML feed, decided once, in the XML specification's order.

1. A byte-order mark (UTF-8, UTF-16 BE/LE, UTF-32 BE/LE) wins.
2. Else the ``charset`` parameter of the HTTP Content-Type (RFC 7303). Without one, fall
   through: RFC 3023's "text/xml means us-ascii" is obsolete and not applied.
3. Else the encoding named in the XML declaration, read in the byte family that the first
   four bytes show (XML 1.0 Appendix F).
4. Else that family: UTF-32 or UTF-16 without a BOM or declaration, otherwise UTF-8.

A name that contradicts the bytes, or bytes that the chosen encoding cannot decode, is a
*problem* (plain words in :attr:`Decoded.problem`), never an error. An ASCII-compatible
document is then decoded with the next candidate (declared, then UTF-8, then windows-1252,
which decodes anything); one with a BOM or in UTF-16/UTF-32 has no other reading, so the
bytes its encoding cannot decode become U+FFFD.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = ["Decoded", "charset_of", "decode_document"]

_BOMS = (  # UTF-32LE before UTF-16LE: FF FE 00 00 starts both
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
_WIDE = ("utf-16-be", "utf-16-le", "utf-32-be", "utf-32-le")
_EBCDIC = "cp037"
_FIRST = frozenset(b"< \t\r\n")  # what a document's first character may be
# A byte family is named by the codec its bytes are read in when nothing else is named;
# "utf-8" stands for every ASCII-compatible encoding. How each family writes "<?xml": an
# encoding named for the document must write it the same way.
_PROBES = {family: "<?xml".encode(family) for family in ("utf-8", _EBCDIC, *_WIDE)}
_FAMILY_NAMES = {"utf-8": "ASCII-compatible", _EBCDIC: "EBCDIC"}

# Names codecs.lookup does not know. UCS-2/UCS-4 are read as UTF-16/UTF-32, whose byte
# order then comes from the BOM or the bytes.
_ALIASES = {
    "ucs-2": "utf-16",
    "ucs2": "utf-16",
    "iso-10646-ucs-2": "utf-16",
    "csunicode": "utf-16",
    "unicode": "utf-16",
    "unicodefffe": "utf-16-be",
    "ucs-4": "utf-32",
    "ucs4": "utf-32",
    "iso-10646-ucs-4": "utf-32",
    "csucs4": "utf-32",
    "unicode-1-1-utf-8": "utf-8",
    "utf8mb4": "utf-8",
    "x-sjis": "shift_jis",
    "windows-31j": "cp932",
    "x-euc-jp": "euc_jp",
    "x-gbk": "gbk",
    "x-mac-roman": "mac_roman",
    "iso-8859-8-i": "iso8859_8",
    "x-cp1252": "cp1252",
}
# Python codec names read as a superset: documents labelled GB2312 use GBK characters.
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "utf-8-sig": "utf-8"}
# Codecs that are not character encodings of documents, or unsafe to honour (UTF-7 hides
# markup from filters).
_REFUSED = frozenset(
    {"utf-7", "unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"}
)
_LABEL = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,63}")  # XML's EncName, bounded
_CHARSET = re.compile(r""";\s*charset\s*=\s*(["']?)([^"';\s]*)\1""", re.I)
_DECLARATION = re.compile(
    r"""\A[ \t\r\n]*<\?xml[ \t\r\n][^<>]*?\bencoding[ \t\r\n]*=[ \t\r\n]*(["'])([^"'<>]*)\1"""
)
_HEAD = 1024  # characters searched for the XML declaration
# windows-1252 as browsers read it: the five bytes Python's cp1252 leaves undefined are the
# C1 controls of the same number, so it decodes any bytes at all.
_WINDOWS_1252 = str.maketrans(
    {b: bytes([b]).decode("cp1252", "ignore") or chr(b) for b in range(0x80, 0xA0)}
)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A document's text, the encoding it was decoded with (``utf-8``, ``utf-16le``,
    ``iso-8859-1``, ``windows-1252`` …) and what was wrong with its encoding, if anything."""

    text: str
    encoding: str
    problem: str | None = None

    def as_utf8(self) -> bytes:
        """The document as UTF-8 without BOM or leading whitespace, its XML declaration
        (if any) saying ``encoding="utf-8"``, so no parser downstream can guess again."""
        text = self.text.lstrip(" \t\r\n\x0b\x0c\ufeff")
        head = _DECLARATION.sub(_utf8_declaration, text[:_HEAD], count=1)
        return (head + text[_HEAD:]).encode("utf-8", "replace")  # "replace": lone surrogates


def _utf8_declaration(match: re.Match[str]) -> str:
    quote = match.group(1)
    return match.group(0)[: match.start(2) - match.start(0)] + "utf-8" + quote


def decode_document(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode a fetched XML document; ``content_type`` is the HTTP Content-Type, if any.
    Never raises."""
    data, family = body, ""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            data, family = body[len(bom) :], codec
            break
    has_bom = bool(family)
    family = family or _family(body)
    if has_bom:
        contradiction = f"has a {_shown_name(family)} byte-order mark"
    else:
        contradiction = f"the bytes are {_FAMILY_NAMES.get(family) or _shown_name(family)}"
    problems: list[str] = []
    named: list[tuple[str, str]] = []  # (codec, how it was named), in order of precedence
    for how, label in (
        ("served as charset=", charset_of(content_type)),
        ("declared as ", _declared(data, family)),
    ):
        if label is None:
            continue
        codec = _codec(label)
        fitted = codec and _fit(codec, family)
        if codec is None:
            problems.append(f"{how}{_show(label)}, an unknown encoding")
        elif not fitted or (has_bom and fitted != family):
            problems.append(f"{how}{_show(label)} but {contradiction}")
        else:
            named.append((fitted, how + _show(label)))

    if has_bom or family in _WIDE:  # the bytes leave no choice
        text = _decode(data, family)
        if text is None:
            text = data.decode(family, "replace")
            problems.append(f"not valid {_shown_name(family)}; undecodable bytes replaced")
        return _decoded(text, family, problems)
    tried: set[str] = set()
    for codec, how in [*named, (family, "")]:
        if codec in tried:
            continue
        tried.add(codec)
        text = _decode(data, codec)
        if text is not None:
            return _decoded(text, codec, problems)
        if how:
            problems.append(f"{how} but not valid {_shown_name(codec)}")
        elif not named:
            problems.append(f"not valid {_shown_name(codec)}")
    return _decoded(_decode(data, "cp1252") or "", "cp1252", problems)


def _decoded(text: str, codec: str, problems: list[str]) -> Decoded:
    problem = "; ".join([*problems, f"decoded as {_name(codec)}"]) if problems else None
    return Decoded(text, _name(codec), problem)


def charset_of(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header value, unquoted, or None."""
    match = _CHARSET.search(content_type or "")
    return match.group(2) if match and match.group(2) else None


def _family(body: bytes) -> str:
    """The byte family XML 1.0 Appendix F sees in the first four bytes, when the first
    character is "<" or whitespace: a UTF-16/UTF-32 codec, EBCDIC, or ``utf-8`` for any
    ASCII-compatible encoding."""
    if len(body) >= 4:
        a, b, c, d = body[:4]
        if a == b == c == 0 and d in _FIRST:
            return "utf-32-be"
        if a in _FIRST and b == c == d == 0:
            return "utf-32-le"
        if a == c == 0 and b in _FIRST and d:
            return "utf-16-be"
        if a in _FIRST and b == d == 0 and c:
            return "utf-16-le"
        if body[:4] == _PROBES[_EBCDIC][:4]:
            return _EBCDIC
    return "utf-8"


def _declared(data: bytes, family: str) -> str | None:
    """The encoding name in the XML declaration, read in the byte family ``family``."""
    width = 4 if family.startswith("utf-32") else 2 if family.startswith("utf-16") else 1
    head = data[: _HEAD * width]
    head = head[: len(head) // width * width]
    reader = "latin-1" if family == "utf-8" else family  # byte-transparent for ASCII names
    match = _DECLARATION.match(head.decode(reader, "replace"))
    return match.group(2).strip() if match else None


def _codec(label: str) -> str | None:
    """Python's codec for an encoding name, or None for a name that is unknown, not a
    character encoding, or refused."""
    key = label.strip().lower()
    if not _LABEL.fullmatch(key):
        return None
    try:
        name = codecs.lookup(_ALIASES.get(key, key)).name
        "<?xml".encode(name)  # LookupError for bytes-to-bytes codecs such as base64
    except (LookupError, UnicodeError, ValueError):
        return None
    name = _SUPERSETS.get(name, name)
    return None if name in _REFUSED else name


def _fit(codec: str, family: str) -> str | None:
    """The codec to decode with if ``codec`` writes text the way the bytes' family does
    (plain ``utf-16``/``utf-32`` take the family's byte order), else None."""
    if codec in ("utf-16", "utf-32"):
        return family if family.startswith(codec + "-") else None
    return codec if "<?xml".encode(codec) == _PROBES[family] else None


def _decode(data: bytes, codec: str) -> str | None:
    if codec == "cp1252":
        return data.decode("latin-1").translate(_WINDOWS_1252)
    try:
        return data.decode(codec)
    except UnicodeError:
        return None


def _name(codec: str) -> str:
    """A codec's usual (IANA-style, lower-case) name: ``utf-16le``, ``iso-8859-1``,
    ``windows-1251``, ``us-ascii``, ``shift_jis`` …"""
    name = codecs.lookup(codec).name
    name = re.sub(r"^utf-(16|32)-(be|le)$", r"utf-\1\2", name)
    name = re.sub(r"^iso8859-", "iso-8859-", name)
    name = re.sub(r"^cp(125\d)$", r"windows-\1", name)
    name = re.sub(r"^iso2022_", "iso-2022-", name)
    if name in ("ascii", "latin-1"):
        return {"ascii": "us-ascii", "latin-1": "iso-8859-1"}[name]
    return name if name == "shift_jis" else name.replace("_", "-")


def _shown_name(codec: str) -> str:
    name = _name(codec)
    return name.upper() if name.startswith(("utf-", "us-ascii")) else name


def _show(label: str) -> str:
    """A name from the document or the header, safe and short enough for a message."""
    shown = label if len(label) <= 40 else label[:39] + "…"
    return shown if shown.isprintable() and shown.isascii() else ascii(shown)
