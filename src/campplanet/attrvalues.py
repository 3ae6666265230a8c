"""Attribute values HTML accepts: the grammars the sanitizer checks feed values against.

Each function takes a value as a feed wrote it and returns the value to keep (sometimes
repaired: whitespace trimmed, ``en_GB`` written ``en-GB``) or None when the value is not
valid HTML and cannot be made so, so the attribute goes. They accept a subset of what HTML
allows, never more: a value they turn down only loses an attribute, a value they let through
wrongly makes the page invalid.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

from campplanet._langtags import LANGUAGES_2, LANGUAGES_3, REGIONS, SCRIPTS

_ASCII_SPACE = " \t\n\f\r"

# --- language tags (lang, hreflang, srclang) ---------------------------------------------------

_SUBTAG_SPLIT = re.compile(r"[-_]")


def language_tag(value: str, *, empty_ok: bool = True) -> str | None:
    """A BCP 47 tag the validator accepts: ``language[-script][-region]`` with each subtag in
    the IANA registry, cut before anything else (variants, extensions); None if the language
    itself is not registered. ``""`` (language unknown) is kept when ``empty_ok``."""
    value = value.strip(_ASCII_SPACE)
    if not value:
        return "" if empty_ok else None
    parts = _SUBTAG_SPLIT.split(value)
    language = parts[0]
    if not language.isascii() or language.lower() not in (
        LANGUAGES_2 if len(language) == 2 else LANGUAGES_3
    ):
        return None
    kept = [language]
    rest = parts[1:]
    if rest and len(rest[0]) == 4 and rest[0].isascii() and rest[0].lower() in SCRIPTS:
        kept.append(rest.pop(0))
    if rest and rest[0].isascii() and rest[0].lower() in REGIONS:
        kept.append(rest[0])
    return "-".join(kept)


# --- numbers -------------------------------------------------------------------------------


def integer(value: str, *, minimum: int | None = None, maximum: int | None = None) -> str | None:
    """A valid integer (``-?[0-9]+``) within the bounds, written without padding."""
    value = value.strip(_ASCII_SPACE)
    if not re.fullmatch(r"-?[0-9]{1,9}", value):
        return None
    number = int(value)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        return None
    return str(number)


# --- dates and times (time, del, ins) --------------------------------------------------------

_YEAR = r"(?P<y>[0-9]{4})"
_MONTH = r"(?P<m>[0-9]{2})"
_DAY = r"(?P<d>[0-9]{2})"
_TIME = r"(?P<H>[0-9]{2}):(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2})(?:\.[0-9]{1,3})?)?"
_ZONE = r"(?P<z>Z|(?P<zs>[+-])(?P<zh>[0-9]{2}):?(?P<zm>[0-9]{2}))"
_DATE_FORMS = {
    "year": re.compile(_YEAR),
    "month": re.compile(f"{_YEAR}-{_MONTH}"),
    "date": re.compile(f"{_YEAR}-{_MONTH}-{_DAY}"),
    "yearless": re.compile(f"{_MONTH}-{_DAY}"),
    "week": re.compile(rf"{_YEAR}-W(?P<w>[0-9]{{2}})"),
    "time": re.compile(_TIME),
    "local": re.compile(f"{_YEAR}-{_MONTH}-{_DAY}[T ]{_TIME}"),
    "global": re.compile(f"{_YEAR}-{_MONTH}-{_DAY}[T ]{_TIME}{_ZONE}"),
    "zone": re.compile(_ZONE),
}
_ISO_DURATION = re.compile(
    r"P(?=[0-9T])(?:[0-9]+D)?(?:T(?=[0-9])(?:[0-9]+H)?(?:[0-9]+M)?(?:[0-9]+(?:\.[0-9]{1,3})?S)?)?"
)
_DURATION_PART = re.compile(r"([0-9]+)([wdhm])|([0-9]+(?:\.[0-9]{1,3})?)(s)", re.IGNORECASE)


def _fields_valid(m: re.Match[str]) -> bool:
    """Ranges the patterns cannot say: months, days of the month, hours, zone offsets."""
    found = m.groupdict()
    year = int(found["y"]) if found.get("y") else None
    if year is not None and not 1000 <= year <= 2999:  # outside: "year may be mistyped"
        return False
    if found.get("m"):
        month = int(found["m"])
        if not 1 <= month <= 12:
            return False
        if found.get("d"):
            days = calendar.monthrange(year if year else 2000, month)[1]  # 2000: Feb 29 ok
            if not 1 <= int(found["d"]) <= days:
                return False
    if found.get("w"):
        week = int(found["w"])
        if week < 1 or week > 53:
            return False
        if week == 53:
            try:
                date.fromisocalendar(year or 0, 53, 1)
            except ValueError:
                return False
    if found.get("H") and (int(found["H"]) > 23 or int(found["M"]) > 59):
        return False
    if found.get("S") and int(found["S"]) > 59:
        return False
    if found.get("zh"):
        minutes = int(found["zh"]) * 60 + int(found["zm"])
        if int(found["zm"]) > 59 or (found["zs"] == "-" and not 0 < minutes <= 12 * 60):
            return False
        if found["zs"] == "+" and minutes > 14 * 60:
            return False
    return True


def _duration(text: str) -> bool:
    if _ISO_DURATION.fullmatch(text):
        return True
    scales = []
    for part in text.split():
        m = _DURATION_PART.fullmatch(part)
        if not m:
            return False
        scales.append((m.group(2) or m.group(4)).lower())
    return bool(scales) and len(set(scales)) == len(scales)


def time_datetime(value: str) -> str | None:
    """A valid ``time`` value (its ``datetime`` attribute, or its text when it has none): a
    date, month, year, week, time, date and time, time-zone offset or duration."""
    value = value.strip(_ASCII_SPACE)
    for form in ("date", "global", "local", "month", "year", "time", "week", "yearless", "zone"):
        m = _DATE_FORMS[form].fullmatch(value)
        if m and _fields_valid(m):
            return value
    return value if value and _duration(value) else None


def date_or_global_datetime(value: str) -> str | None:
    """A valid ``del``/``ins`` ``datetime``: a date, or a date and time with its offset."""
    value = value.strip(_ASCII_SPACE)
    for form in ("date", "global"):
        m = _DATE_FORMS[form].fullmatch(value)
        if m and _fields_valid(m):
            return value
    return None


# --- MIME types, media queries, image sizes ---------------------------------------------------

_TOKEN = r"[A-Za-z0-9!#$&^_.+-]+"
_MIME = re.compile(rf"{_TOKEN}/{_TOKEN}(?:[ \t]*;[ \t]*{_TOKEN}=(?:{_TOKEN}|\"[^\"\\]*\"))*")


def mime_type(value: str) -> str | None:
    """A valid MIME type with optional parameters (``video/mp4; codecs="avc1"``)."""
    value = value.strip(_ASCII_SPACE)
    return value if _MIME.fullmatch(value) else None


_NUMBER = r"(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)"
_LENGTH = rf"(?:0|{_NUMBER}(?:px|em|rem|ex|ch|vw|vh|vmin|vmax|cm|mm|in|pt|pc))"
_FEATURE = (
    rf"(?:(?:min-|max-)?(?:width|height)\s*:\s*{_LENGTH}"
    r"|orientation\s*:\s*(?:portrait|landscape)"
    r"|prefers-color-scheme\s*:\s*(?:light|dark)"
    r"|prefers-reduced-motion\s*:\s*(?:reduce|no-preference)"
    rf"|(?:min-|max-)?resolution\s*:\s*{_NUMBER}(?:dpi|dpcm|dppx|x)"
    r"|hover\s*:\s*(?:none|hover)"
    r"|pointer\s*:\s*(?:none|coarse|fine))"
)
_CONDITION = rf"\(\s*{_FEATURE}\s*\)(?:\s+and\s+\(\s*{_FEATURE}\s*\))*"
_QUERY = rf"(?:(?:(?:only|not)\s+)?(?:all|screen|print)(?:\s+and\s+{_CONDITION})?|{_CONDITION})"
_MEDIA = re.compile(rf"\s*(?:{_QUERY}(?:\s*,\s*{_QUERY})*)?\s*", re.IGNORECASE)
_SIZE = rf"(?:{_LENGTH}|calc\(\s*{_LENGTH}\s+[-+]\s+{_LENGTH}\s*\))"
_AUTO = re.compile(r"\s*auto\s*(?:(,)|\Z)")
_SIZES = re.compile(rf"\s*(?:{_CONDITION}\s+{_SIZE}\s*,\s*)*(?:{_CONDITION}\s+)?{_SIZE}\s*")


def media_query_list(value: str) -> str | None:
    """A media query list of the common kinds (media types, widths, orientation, colour
    scheme, resolution …); anything rarer is turned down."""
    return value.strip(_ASCII_SPACE) if _MEDIA.fullmatch(value) else None


def source_sizes(value: str) -> str | None:
    """A ``sizes`` list: media conditions of the kinds above, each with a length; the last
    may stand alone (``(max-width: 600px) 480px, 800px``). It may start with ``auto`` (the
    laid-out width), which is valid because every image the sanitizer keeps is lazy-loaded."""
    sizes = value
    auto = _AUTO.match(value)
    if auto:
        if auto.group(1) is None:
            return value.strip(_ASCII_SPACE)  # "auto" alone
        sizes = value[auto.end() :]
    # Media feature names are case-insensitive, units are not (the validator turns down "PX").
    if not _SIZES.fullmatch(re.sub(r"\(\s*[A-Za-z-]+", lambda m: m.group().lower(), sizes)):
        return None
    return value.strip(_ASCII_SPACE)


_WIDTH = re.compile(r"[0-9]+w")
_DENSITY = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?x")


def image_descriptor(descriptor: str) -> tuple[str, float] | None:
    """A ``srcset`` candidate's descriptor as ("w", width) or ("x", density), None if it is
    neither; no descriptor at all means 1x."""
    if not descriptor:
        return ("x", 1.0)
    if _WIDTH.fullmatch(descriptor):
        width = int(descriptor[:-1])
        return ("w", float(width)) if width > 0 else None
    if _DENSITY.fullmatch(descriptor):
        density = float(descriptor[:-1])
        return ("x", density) if 0 < density < float("inf") else None
    return None
