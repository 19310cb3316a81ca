"""Terminal colours in a log, rendered as HTML spans: escaped text, no raw escape codes.

Only SGR sequences (`ESC [ … m`: colour, bold, italic, underline) become markup; every
other control sequence (cursor moves, window titles) is dropped, and a carriage return
keeps what a terminal would show: the text after the last one (progress bars). Colours
are classes of the stylesheet, never inline styles, so the pages' Content-Security-Policy
can forbid inline styles.
https://en.wikipedia.org/wiki/ANSI_escape_code#SGR_(Select_Graphic_Rendition)_parameters
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from markupsafe import Markup, escape

# CSI sequences (ESC [ params final), OSC sequences (ESC ] … BEL or ESC \), other escapes.
ESCAPE = re.compile(r"\x1b\[([0-9;:?]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
# Other C0 controls a terminal does not print (tab and newline are kept).
CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]")
BRIGHT_OFFSET = 8


@dataclass(frozen=True)
class Style:
    """The graphic rendition in force: carried from one line to the next."""

    foreground: int | None = None  # 0-15
    background: int | None = None
    bold: bool = False
    dim: bool = False
    italic: bool = False
    underline: bool = False

    def classes(self) -> str:
        """The stylesheet classes of this rendition, or "" for the default."""
        names = []
        if self.foreground is not None:
            names.append(f"f{self.foreground}")
        if self.background is not None:
            names.append(f"b{self.background}")
        names += [
            name for name, on in (("bold", self.bold), ("dim", self.dim), ("it", self.italic)) if on
        ]
        if self.underline:
            names.append("ul")
        return " ".join(names)


def render_line(line: str, style: Style = Style()) -> tuple[Markup, Style]:
    """One line of a log as escaped HTML with colour spans, and the rendition after it."""
    line = line.rsplit("\r", 1)[-1] if "\r" in line.rstrip("\r") else line.rstrip("\r")
    parts: list[str] = []
    position = 0
    for match in ESCAPE.finditer(line):
        parts.append(_span(line[position : match.start()], style))
        position = match.end()
        if match.group(2) == "m":
            style = apply_sgr(style, match.group(1))
    parts.append(_span(line[position:], style))
    return Markup("".join(parts)), style  # noqa: S704 - every part was escaped by _span


def _span(text: str, style: Style) -> str:
    if not text:
        return ""
    text = CONTROLS.sub("", text)
    classes = style.classes()
    if not classes:
        return str(escape(text))
    return f'<span class="{classes}">{escape(text)}</span>'


def apply_sgr(style: Style, parameters: str) -> Style:
    """The rendition after one SGR sequence's parameters ("" means reset)."""
    codes = [int(code) if code.isdigit() else 0 for code in re.split("[;:]", parameters or "0")]
    index = 0
    while index < len(codes):
        code = codes[index]
        if code in (38, 48) and index + 1 < len(codes):
            colour, index = _extended_colour(codes, index)
            if code == 38:
                style = replace(style, foreground=colour)
            else:
                style = replace(style, background=colour)
            continue
        style = _simple(style, code)
        index += 1
    return style


def _extended_colour(codes: list[int], index: int) -> tuple[int | None, int]:
    """A 256-colour (`5;n`) or true-colour (`2;r;g;b`) choice, as one of the 16 colours."""
    if codes[index + 1] == 5 and index + 2 < len(codes):
        number = codes[index + 2]
        return (number if number < 16 else None), index + 3
    if codes[index + 1] == 2 and index + 4 < len(codes):
        red, green, blue = codes[index + 2 : index + 5]
        return _nearest(red, green, blue), index + 5
    return None, len(codes)


def _nearest(red: int, green: int, blue: int) -> int:
    """The basic colour whose red, green and blue are on where these are bright."""
    colour = (red > 127) | (green > 127) << 1 | (blue > 127) << 2
    return colour + BRIGHT_OFFSET if max(red, green, blue) > 200 else colour


def _simple(style: Style, code: int) -> Style:
    if code == 0:
        return Style()
    if 30 <= code <= 37:
        return replace(style, foreground=code - 30)
    if 90 <= code <= 97:
        return replace(style, foreground=code - 90 + BRIGHT_OFFSET)
    if 40 <= code <= 47:
        return replace(style, background=code - 40)
    if 100 <= code <= 107:
        return replace(style, background=code - 100 + BRIGHT_OFFSET)
    toggles = {
        1: {"bold": True}, 2: {"dim": True}, 3: {"italic": True}, 4: {"underline": True},
        22: {"bold": False, "dim": False}, 23: {"italic": False}, 24: {"underline": False},
        39: {"foreground": None}, 49: {"background": None},
    }  # fmt: skip
    changes = toggles.get(code)
    return replace(style, **changes) if changes else style  # type: ignore[arg-type]
