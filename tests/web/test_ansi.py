"""Terminal output rendered for a page: colours as classes, everything escaped, other
escape sequences dropped, a carriage return showing what a terminal would."""

from __future__ import annotations

import pytest

from bot.web.ansi import Style, render_line


@pytest.mark.parametrize(
    ("line", "html"),
    [
        ("plain <b>&", "plain &lt;b&gt;&amp;"),
        ("\x1b[31mred\x1b[0m done", '<span class="f1">red</span> done'),
        (
            "\x1b[1;32mok\x1b[22m thin",
            '<span class="f2 bold">ok</span><span class="f2"> thin</span>',
        ),
        ("\x1b[91;44mhi", '<span class="f9 b4">hi</span>'),
        ("\x1b[38;5;11mgold\x1b[39m", '<span class="f11">gold</span>'),
        ("\x1b[38;5;208mout of 16\x1b[m", "out of 16"),
        ("\x1b[38;2;255;0;0mtrue red", '<span class="f9">true red</span>'),
        ("\x1b[3;4mit\x1b[23;24m", '<span class="it ul">it</span>'),
        ("\x1b]0;window title\x07text", "text"),
        ("\x1b[2K\x1b[1Gcleared", "cleared"),
        ("10%\r50%\r100%", "100%"),
        ("windows line\r", "windows line"),
        ("bell\x07 and nul\x00", "bell and nul"),
        ("\x1b[31m<script>", '<span class="f1">&lt;script&gt;</span>'),
        ("broken \x1b[", "broken "),
    ],
)
def test_a_line_renders_as_a_terminal_shows_it(line: str, html: str) -> None:
    rendered, _ = render_line(line)
    assert str(rendered) == html


def test_a_colour_carries_to_the_next_line_until_reset() -> None:
    _, style = render_line("\x1b[33mwarning: first")
    second, style = render_line("still yellow\x1b[0m", style)
    assert str(second) == '<span class="f3">still yellow</span>'
    assert style == Style()
