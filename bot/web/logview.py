"""A log cut into the sections a reader scans: one per step, with its outcome and duration.

The executor writes a line before each step (`▶ name`) and one after it (`✓ name (2.1 s)`,
`✗ name exited 1 (0.4 s)`, `- name did not run`; see `bot.executor.process`). What comes
before the first step (the checkout) and after the last one (reports) gets a section of
its own. Very long lines are cut for the page; the raw download has them whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from markupsafe import Markup, escape

from bot.web import ansi, messages

MAX_LINE_CHARS = 5_000
TOOK = re.compile(r"\(([^()]*)\)$")


@dataclass(frozen=True)
class Line:
    number: int
    html: Markup
    cut: int = 0  # characters of the line not shown


@dataclass(frozen=True)
class Marker:
    """What a line of the executor's says about the steps, if anything."""

    starts: str | None = None  # the step this line begins
    outcome: str | None = None  # "success", "failure" or "not_run": the step this line ends
    took: str | None = None


@dataclass
class Section:
    name: str
    lines: list[Line] = field(default_factory=list)
    outcome: str | None = None  # None while it runs (or for the set-up and wrap-up sections)
    took: str | None = None
    is_step: bool = False

    @property
    def anchor(self) -> str:
        """The id of the section's first line, or of the section when it has none."""
        return f"L{self.lines[0].number}" if self.lines else ""


def clean(text: str) -> str:
    """`text` without lone surrogates (undecodable bytes a decoder kept), which no page
    can encode."""
    return text.encode("utf-8", "replace").decode("utf-8")


def mark(line: str) -> Marker:
    """Whether `line` begins or ends a step, and how it ended."""
    if line.startswith("▶ "):
        return Marker(starts=line[2:].rstrip())
    if line.startswith(("✓ ", "✗ ")):
        took = TOOK.search(line.rstrip())
        return Marker(
            outcome="success" if line[0] == "✓" else "failure", took=took[1] if took else None
        )
    if line.startswith("- ") and line.rstrip().endswith(" did not run"):
        return Marker(starts=line[2:].rstrip().removesuffix(" did not run"), outcome="not_run")
    return Marker()


def render_lines(text: str, first_number: int) -> Iterator[tuple[Line, Marker]]:
    """Each complete or final line of `text`, numbered from `first_number`, as HTML."""
    style = ansi.Style()
    lines = clean(text).split("\n")  # only newlines: line numbers are what `grep -n` says
    if lines[-1] == "":
        lines.pop()
    for offset, raw in enumerate(lines):
        line, marker, style = render_line(first_number + offset, raw, style)
        yield line, marker


def render_line(
    number: int, raw: str, style: ansi.Style, *, dropped: int = 0
) -> tuple[Line, Marker, ansi.Style]:
    """One line as HTML, cut to MAX_LINE_CHARS; `dropped` characters were cut before."""
    shown = clean(raw[:MAX_LINE_CHARS])
    html, style = ansi.render_line(shown, style)
    return Line(number, html, len(raw) - len(shown) + dropped), mark(shown), style


SectionState = Literal["none", "step", "step_ended", "other"]


class Sectioner:
    """Decides, line by line, where a new section begins: for a whole page, and for the
    lines a follower receives a batch at a time (starting in the state the page ended in)."""

    def __init__(self, state: SectionState = "none") -> None:
        self.state: SectionState = state

    def place(self, marker: Marker) -> Section | None:
        """The section this line opens, or None when it continues the current one."""
        opened: Section | None = None
        if marker.starts is not None:
            opened, self.state = Section(marker.starts, is_step=True), "step"
        elif self.state in ("none", "step_ended"):
            name = messages.SET_UP if self.state == "none" else messages.WRAP_UP
            opened, self.state = Section(name), "other"
        if marker.outcome is not None and self.state == "step":
            self.state = "step_ended"
        return opened


def sections(text: str, first_number: int) -> list[Section]:
    """The log's lines grouped by step; an empty list for an empty log."""
    found: list[Section] = []
    sectioner = Sectioner()
    for line, marker in render_lines(text, first_number):
        opened = sectioner.place(marker)
        if opened is not None:
            found.append(opened)
        current = found[-1]
        current.lines.append(line)
        if marker.outcome is not None and current.is_step:
            current.outcome, current.took = marker.outcome, marker.took
    return found


def lines_html(section: Section) -> Markup:
    """The section's lines as the page shows them, each with its permalink (built here, not
    in a template: a page holds thousands of lines)."""
    parts = []
    for line in section.lines:
        number = line.number
        cut = f'<span class="cut"> {escape(messages.line_cut(line.cut))}</span>' if line.cut else ""
        parts.append(
            f'<div class="line" id="L{number}"><a class="ln" href="#L{number}">{number}</a>'
            f'<span class="tx">{line.html}{cut}</span></div>\n'
        )
    return Markup("".join(parts))  # noqa: S704 - line.html is escaped by ansi, cut here


def failed_section(found: list[Section]) -> Section | None:
    """The first step that failed, which a reader wants to see first."""
    return next((s for s in found if s.outcome == "failure"), None)


def state_after(found: list[Section]) -> SectionState:
    """Where a follower picks up after the page's last section."""
    if not found:
        return "none"
    last = found[-1]
    if not last.is_step:
        return "other"
    return "step_ended" if last.outcome is not None else "step"
