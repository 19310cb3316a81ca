"""The one escaper and the one limit rule: tables of cases, and properties for any text.

`shown` below reads Markdown the way CommonMark reads one line of inline text (backslash
escapes and code spans) and fails on any character that would mean something there, so
the properties check what a reader sees, not how the escaper is written.
"""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.markdown import (
    ELLIPSIS,
    NO_VALUE,
    code_span,
    escape,
    fit_start,
    one_line,
    table_cell,
    truncate,
    truncate_start,
    utf8_size,
)

_ACTIVE = set("*_[]<>|~&$#\\")
_BLOCK_START = re.compile(r"[-+=#>]|\d+[.)]")
_PUNCTUATION = set(string.punctuation)


def shown(markdown: str) -> str:
    """The text a reader sees for one line of Markdown made by `escape` or `code_span`."""
    assert "\n" not in markdown
    assert _BLOCK_START.match(markdown) is None, f"{markdown!r} starts a block"
    out, index = [], 0
    while index < len(markdown):
        char = markdown[index]
        if char == "\\":
            escaped = markdown[index + 1 : index + 2]
            assert escaped in _PUNCTUATION, f"a bare backslash in {markdown!r}"
            out.append(escaped)
            index += 2
        elif char == "`":
            content, index = _code_span_at(markdown, index)
            out.append(content)
        else:
            assert char not in _ACTIVE, f"{char!r} unescaped in {markdown!r}"
            out.append(char)
            index += 1
    return "".join(out)


def _code_span_at(markdown: str, start: int) -> tuple[str, int]:
    opener = re.match(r"`+", markdown[start:])
    assert opener is not None
    ticks = opener.group()
    # The closing run has exactly as many backticks (CommonMark 6.1).
    closer = re.compile(rf"(?<!`){ticks}(?!`)")
    found = closer.search(markdown, start + len(ticks))
    assert found is not None, f"an unclosed code span in {markdown!r}"
    content = markdown[start + len(ticks) : found.start()]
    if len(content) > 2 and content[0] == content[-1] == " " and content.strip(" "):
        content = content[1:-1]
    return content, found.end()


# --- escaping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain words, (parens): fine.", "plain words, (parens): fine."),
        ("a_b*c`d", "a\\_b\\*c\\`d"),
        ("[x](javascript:alert(1))", "\\[x\\](javascript:alert(1))"),
        (
            "<img src=x> & $math$ | ~strike~ \\",
            "\\<img src=x\\> \\& \\$math\\$ \\| \\~strike\\~ \\\\",
        ),
        ("- item", "\\- item"),
        ("+ item", "\\+ item"),
        ("# heading", "\\# heading"),
        ("build #", "build \\#"),
        ("> quote", "\\> quote"),
        ("12. item", "12\\. item"),
        ("3) item", "3\\) item"),
        ("===", "\\==="),
        ("two\nlines\r\x00", "two lines"),
        ("  spaced \t out  ", "spaced out"),
        ("cc @alice and @renovate[bot]", "cc `@alice` and `@renovate[bot]`"),
        ("@alice", "`@alice`"),
        ("mail a@b.example", "mail a@b.example"),
        ("only runs on *main*", "only runs on \\*main\\*"),
        ("", ""),
    ],
)
def test_escape(text: str, expected: str) -> None:
    assert escape(text) == expected


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("abcdef", 4, "abc…"),
        ("a*cdef", 4, "a\\*c…"),  # cut first, then escaped: an escape is never cut in two
        ("abc", 3, "abc"),
    ],
)
def test_escape_cuts_to_a_number_of_characters(text: str, limit: int, expected: str) -> None:
    assert escape(text, limit=limit) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abc", "`abc`"),
        ("a`b", "``a`b``"),
        ("`x", "`` `x ``"),
        ("a``b`", "``` a``b` ```"),
        ("", f"`{NO_VALUE}`"),
        ("two\nlines", "`two lines`"),
        ("a|b", "`a|b`"),
    ],
)
def test_code_span(text: str, expected: str) -> None:
    assert code_span(text) == expected


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("a|b", "a\\|b"),
        ("a\\|b", "a\\|b"),  # escaped already: escaping again would show the backslash
        ("a\\\\|b", "a\\\\\\|b"),  # an escaped backslash, then a bare pipe
        ("`x|y`", "`x\\|y`"),  # GFM splits cells even inside code spans
        ("|", "\\|"),
        ("no pipe", "no pipe"),
    ],
)
def test_table_cell(markdown: str, expected: str) -> None:
    assert table_cell(markdown) == expected


_user_text = st.lists(
    st.one_of(
        st.text(max_size=6),
        st.sampled_from(
            [
                *"*_[]()<>#|`\\~&$!-+=.):@ \n\t\x00\x7f",
                "```",
                "@alice",
                "@renovate[bot]",
                "1.",
                "😀",
                "界",
            ]
        ),
    ),
    max_size=40,
).map("".join)


@settings(max_examples=400)
@given(_user_text)
def test_escaped_text_shows_as_itself(text: str) -> None:
    assert shown(escape(text)) == one_line(text)


@settings(max_examples=200)
@given(_user_text)
def test_escaping_what_a_reader_sees_gives_the_same_markdown(text: str) -> None:
    escaped = escape(text)
    assert escape(shown(escaped)) == escaped


@settings(max_examples=200)
@given(_user_text)
def test_code_span_shows_as_itself(text: str) -> None:
    span = code_span(text)
    assert span.startswith("`")
    content, end = _code_span_at(span, 0)
    assert end == len(span), f"{span!r} is more than one code span"
    assert content == (one_line(text) or NO_VALUE)


@settings(max_examples=200)
@given(st.lists(_user_text, min_size=1, max_size=5))
def test_table_cells_stay_in_their_column(texts: list[str]) -> None:
    row_cells = [table_cell(escape(t)) for t in texts] + [table_cell(code_span(t)) for t in texts]
    row = "| " + " | ".join(row_cells) + " |"
    assert len(re.split(r"(?<!\\)((?:\\\\)*)\|", row)[::2]) == len(row_cells) + 2
    assert all(table_cell(cell) == cell for cell in row_cells)  # idempotent


# --- the limit rule -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("abc", 3, "abc"),
        ("abcd", 3, ELLIPSIS),
        ("abcdef", 5, "ab" + ELLIPSIS),
        ("ééé", 5, "é" + ELLIPSIS),  # 6 bytes: one é and the 3-byte ellipsis fit
        ("😀x", 4, ELLIPSIS),  # half an emoji is dropped, never sent
        ("abc", 2, "ab"),  # no room for the marker: a plain cut
        ("", 0, ""),
    ],
)
def test_truncate(text: str, limit: int, expected: str) -> None:
    assert truncate(text, limit) == expected


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("one\ntwo\nthree", 100, "one\ntwo\nthree"),
        ("one\ntwo\nthree", 9, "three"),  # starts at a line when it can
        ("abcdef", 3, "def"),
        ("ééé", 5, "éé"),
    ],
)
def test_truncate_start(text: str, limit: int, expected: str) -> None:
    assert truncate_start(text, limit) == expected


def test_fit_start_keeps_whole_chunks_and_points_to_the_rest() -> None:
    chunks = ["aaaa", "bbbb", "cccc"]
    assert fit_start(chunks, 12, pointer="+") == "aaaabbbbcccc"
    assert fit_start(chunks, 11, pointer="+") == "aaaabbbb+"
    assert fit_start(chunks, 4, pointer="+") == "+"


_any_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet="aé界😀\n", max_size=300),
)


@settings(max_examples=400)
@given(_any_text, st.integers(min_value=0, max_value=400))
def test_truncate_never_exceeds_the_limit_nor_splits_a_character(text: str, limit: int) -> None:
    cut = truncate(text, limit)
    assert utf8_size(cut) <= limit
    assert cut == text or text.startswith(cut.removesuffix(ELLIPSIS))
    assert (cut == text) == (utf8_size(text) <= limit)


@settings(max_examples=300)
@given(_any_text, st.integers(min_value=0, max_value=400))
def test_truncate_start_keeps_an_end_within_the_limit(text: str, limit: int) -> None:
    tail = truncate_start(text, limit)
    assert utf8_size(tail) <= limit
    assert text.endswith(tail)


_POINTER = "\n**cut** …\n"


@settings(max_examples=300)
@given(st.lists(_any_text, max_size=20), st.integers(min_value=0, max_value=2000))
def test_fit_start_never_exceeds_the_limit(chunks: list[str], limit: int) -> None:
    fitted = fit_start(chunks, limit, pointer=_POINTER)
    assert utf8_size(fitted) <= limit
    if utf8_size(_POINTER) <= limit:
        assert "".join(chunks).startswith(fitted.removesuffix(_POINTER))
