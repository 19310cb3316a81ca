from __future__ import annotations

import itertools
from dataclasses import fields, replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.junit import TestFailure, TestReport
from bot.core.masking import Masker, mask_report

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


# --- reports ----------------------------------------------------------------------------

FAILURE = TestFailure(
    suite="suite",
    name="test_login",
    classname="tests.test_auth",
    message="assert 1 == 2",
    details="Traceback …",
    file="tests/test_auth.py",
    line=12,
)


@pytest.mark.parametrize(
    ("field", "written", "masked"),
    [
        ("suite", "suite-hunter2", "suite-***"),
        ("name", "test_hunter2", "test_***"),
        ("classname", "tests.hunter2.Case", "tests.***.Case"),
        ("message", "expected hunter2, got nothing", "expected ***, got nothing"),
        ("details", "line one\n  token=hunter2\nline three", "line one\n  token=***\nline three"),
        ("file", "tests/hunter2/test_x.py", "tests/***/test_x.py"),
    ],
)
def test_a_secret_in_any_text_of_a_failure_is_masked(field: str, written: str, masked: str) -> None:
    report = TestReport(1, 1, 0, 0, 0.5, failures=(replace(FAILURE, **{field: written}),))
    (failure,) = mask_report(report, Masker(["hunter2"])).failures
    assert failure == replace(FAILURE, **{field: masked})


def test_every_text_field_of_a_failure_is_masked_even_one_added_later() -> None:
    texts = {f.name: f"{f.name}:hunter2" for f in fields(TestFailure) if f.type == "str"}
    optional = {f.name: "hunter2.py" for f in fields(TestFailure) if f.type == "str | None"}
    assert set(texts) >= {"suite", "name", "classname", "message", "details"}
    assert set(optional) == {"file"}
    failure = replace(FAILURE, **texts, **optional)
    report = TestReport(0, 2, 0, 0, 1.0, failures=(failure, failure))
    masked = mask_report(report, Masker(["hunter2"]))
    assert "hunter2" not in repr(masked)
    assert (masked.passed, masked.failed, masked.duration_seconds) == (0, 2, 1.0)
    assert masked.failures[0].line == 12


def test_a_report_without_secrets_is_returned_as_it_is() -> None:
    report = TestReport(3, 1, 0, 0, 2.0, failures=(FAILURE,))
    assert mask_report(report, Masker([])) is report
    assert mask_report(report, Masker(["not-there"])) == report
