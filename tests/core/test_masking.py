from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.masking import Masker

# A small alphabet makes secrets collide, overlap and nest in the generated text.
letters = st.text(alphabet="abc\n ", max_size=60)
secret = st.text(alphabet="abc\n", min_size=3, max_size=6)
secrets = st.lists(secret, max_size=4)


@st.composite
def chunked(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A text and a split of it into consecutive chunks, empty ones included."""
    text = draw(letters)
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=8)))
    bounds = [0, *cuts, len(text)]
    return text, [text[a:b] for a, b in itertools.pairwise(bounds)]


@pytest.mark.parametrize(
    ("values", "text", "expected"),
    [
        (["hunter2"], "password is hunter2.", "password is ***."),
        (["hunter2"], "hunter2hunter2", "******"),
        (["abc", "abcdef"], "xabcdefx abc", "x***x ***"),
        (["abcd", "cdef"], "abcdef", "***"),  # overlapping secrets: nothing of either is left
        (["aaa"], "aaaaa", "***"),
        (["ab", "", "x"], "ab x", "ab x"),  # too short to mask
        (["abc"], "ABC", "ABC"),
        (["line-one\nline-two\n"], "> line-two <", "> *** <"),  # each line of a value
        (["a.c"], "abc a.c", "abc ***"),  # values are text, not patterns
    ],
)
def test_mask(values: list[str], text: str, expected: str) -> None:
    assert Masker(values).mask(text) == expected


@given(text=letters, values=secrets)
def test_output_never_contains_a_secret(text: str, values: list[str]) -> None:
    masked = Masker(values).mask(text)
    assert not [value for value in values if value in masked]


@given(text=st.text())
def test_without_secrets_the_text_is_unchanged(text: str) -> None:
    assert Masker([]).mask(text) == text
    stream = Masker([]).stream()
    assert stream.feed(text) + stream.flush() == text


@given(pieces=chunked(), values=secrets)
def test_chunked_masking_equals_masking_the_whole(
    pieces: tuple[str, list[str]], values: list[str]
) -> None:
    text, chunks = pieces
    masker = Masker(values)
    stream = masker.stream()
    assert "".join(stream.feed(chunk) for chunk in chunks) + stream.flush() == masker.mask(text)


@given(pieces=chunked(), values=secrets)
def test_no_released_prefix_ends_inside_a_secret(
    pieces: tuple[str, list[str]], values: list[str]
) -> None:
    # Each release on its own, as a reader of a live log sees it, shows no secret either.
    _, chunks = pieces
    stream = Masker(values).stream()
    released = [stream.feed(chunk) for chunk in chunks]
    assert not [value for value in values for part in released if value in part]


def test_a_secret_split_across_chunks_is_masked() -> None:
    stream = Masker(["s3cret-token"]).stream()
    assert stream.feed("token: s3cr") == "token: "
    assert stream.feed("et-tok") == ""
    assert stream.feed("en done\n") == "*** done\n"


def test_text_that_cannot_start_a_secret_is_released_at_once() -> None:
    stream = Masker(["s3cret-token"]).stream()
    assert stream.feed("progress 50%") == "progress 50%"
    assert stream.feed(" ... s") == " ... "
    assert stream.flush() == "s"


def test_a_long_run_of_overlapping_occurrences_does_not_pile_up() -> None:
    stream = Masker(["aaa"]).stream()
    assert stream.feed("x" + "a" * 100) == "x***"
    assert stream.feed("a" * 100) == ""
    assert stream.feed("ay") == "y"
    assert stream.flush() == ""
