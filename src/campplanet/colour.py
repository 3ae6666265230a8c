"""The planet's accent colour (``render.accent``): read, checked for contrast, and turned into
the colours the stylesheet uses.

Contrast is WCAG 2's: the ratio of the two colours' relative luminances (each plus 0.05),
from 1:1 to 21:1; AA asks 4.5:1 for text. The accent is used where it can meet that in each
theme:

- light theme: as the colour of links and buttons on the page and on the post cards, and as
  the background of the header, behind its white text;
- dark theme: as the background of the header, behind its near-white text. Links there are
  drawn in a tint of the accent (mixed with white until it reads on the dark page), so
  they need no check.

No colour can be text on both a light and a dark page (a mid grey reaches at most about 4.6:1
against pure black and white at once), so the accent is never text in the dark theme.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

AA_TEXT = 4.5

# The default theme's backgrounds and header text (templates/style.css keeps the same values).
LIGHT_PAGE = "#fbfaf8"
LIGHT_CARD = "#ffffff"
LIGHT_HEADER_TEXT = "#ffffff"
DARK_PAGE = "#16181b"
DARK_CARD = "#1e2125"
DARK_HEADER_TEXT = "#f2f5f9"

# (theme, how the accent is used, foreground, background); "accent" stands for the colour.
USES = (
    ("light", "as link text on the page", "accent", LIGHT_PAGE),
    ("light", "as link text on a post", "accent", LIGHT_CARD),
    ("light", "behind the header's text", LIGHT_HEADER_TEXT, "accent"),
    ("dark", "behind the header's text", DARK_HEADER_TEXT, "accent"),
)

_HEX = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


def parse_hex(value: str) -> str | None:
    """``#abc`` or ``#aabbcc`` (any case) as ``#aabbcc``; None if it is not one."""
    m = _HEX.fullmatch(value.strip())
    if not m:
        return None
    digits = m.group(1).lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return "#" + digits


def _rgb(colour: str) -> tuple[int, int, int]:
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance of a ``#rrggbb`` colour."""

    def channel(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours, 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@dataclass(frozen=True)
class Failure:
    theme: str  # "light" or "dark"
    use: str  # "as link text on the page", …
    foreground: str
    background: str
    ratio: float

    def __str__(self) -> str:
        other = self.background if self.foreground == "accent" else self.foreground
        return f"{ratio_text(self.ratio)} {self.use} in the {self.theme} theme (against {other})"


def ratio_text(ratio: float) -> str:
    """ "4.49:1": rounded down, so a ratio just under 4.5 never reads as 4.50."""
    return f"{math.floor(ratio * 100) / 100:.2f}:1"


def accent_failures(accent: str) -> list[Failure]:
    """Every use of ``accent`` (``#rrggbb``) whose contrast is under WCAG AA for text."""
    failures = []
    for theme, use, fg, bg in USES:
        fg_colour, bg_colour = (accent if c == "accent" else c for c in (fg, bg))
        ratio = contrast(fg_colour, bg_colour)
        if ratio < AA_TEXT:
            failures.append(Failure(theme, use, fg, bg, ratio))
    return failures


def mix(a: str, b: str, share_of_b: float) -> str:
    """``a`` mixed with ``b`` (sRGB, ``share_of_b`` from 0 to 1), as ``#rrggbb``."""
    ra, rb = _rgb(a), _rgb(b)
    return "#" + "".join(
        f"{round(x + (y - x) * share_of_b):02x}" for x, y in zip(ra, rb, strict=True)
    )


def tint_for_dark(accent: str) -> str:
    """The accent mixed with the least white (in steps of 5%) that reads as text on the dark
    theme's page and cards."""
    for step in range(21):
        tint = mix(accent, "#ffffff", step / 20)
        if min(contrast(tint, DARK_PAGE), contrast(tint, DARK_CARD)) >= AA_TEXT:
            return tint
    return "#ffffff"  # pragma: no cover - white always reads on the dark page
