"""Markdown for people: the one escaper for user text, and the one rule for size limits.

Escaping. User text (names, messages, logins, labels, titles, GitHub's own error texts)
reaches Markdown only through `escape` (running text), `code_span` (inline code), `fence`
(a block of code) or `table_cell` (a cell of a GFM table). Text written by the bot itself
is Markdown already and is placed as it is.

Limits. GitHub's limits on a text field are applied in UTF-8 bytes, always, by
`truncate`, `truncate_start` and `fit_start`: GitHub measures check-run `output.summary`
and `output.text` in bytes although its docs say characters (its 422 says "summary exceeds
a maximum bytesize of 65535", github/docs#35252), and a text of N bytes never has more
than N characters, so the same rule keeps a comment body inside its 65,536 characters.
A cut never splits a UTF-8 character. `one_line` caps a name in characters for
readability; that is a choice about what reads well, not one of GitHub's limits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

ELLIPSIS = "…"
NO_VALUE = "—"

# https://docs.github.com/en/rest/checks/runs#update-a-check-run (output.summary, .text)
MAX_CHECK_OUTPUT_BYTES = 65_535
# https://docs.github.com/en/rest/issues/comments#create-an-issue-comment: 65,536 characters,
# kept as bytes like every other limit here.
MAX_COMMENT_BYTES = 65_536
# How long user text may be where it is one line of a message: a name, or a sentence
# (a reason, an error GitHub gave, a pull request's title).
NAME_CHARS = 200
SENTENCE_CHARS = 1000

_WHITESPACE = re.compile(r"[\s\x00-\x1f\x7f]+")
_BACKTICK_RUN = re.compile(r"`+")
# A login as GitHub links it; in a code span it names someone without notifying them.
# Not right after another one (`]`): two code spans side by side would read as one.
_MENTION = re.compile(r"(?<![A-Za-z0-9_`\]])@[A-Za-z0-9][A-Za-z0-9-]*(?:\[bot\])?")
# Characters with a meaning inside a line of GitHub Markdown: emphasis, code, links and
# images (`!` and `(` only act after a `]`), HTML and autolinks, entities, strikethrough,
# table cells, math (`$`) and headings' closing `#`. A backslash before any ASCII
# punctuation shows the character itself (CommonMark 2.4), so escaping more is harmless.
_INLINE_SPECIAL = re.compile(r"[\\`*_\[\]<>|~&$#]")
# What starts a block where the text begins a line: a list item, a setext underline, an
# ordered list item. (`#` and `>` are escaped everywhere already.)
_BLOCK_START = re.compile(r"[-+=]|\d+[.)]")
# A `|` that no backslash escapes: preceded by an even number of backslashes.
_UNESCAPED_PIPE = re.compile(r"(?<!\\)((?:\\\\)*)\|")


# --- escaping -------------------------------------------------------------------------------


def one_line(text: str, *, limit: int = NAME_CHARS) -> str:
    """`text` with whitespace and control characters collapsed to single spaces, cut to
    `limit` characters with `…`."""
    flat = _WHITESPACE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + ELLIPSIS


def escape(text: str, *, limit: int = NAME_CHARS) -> str:
    """Plain text as Markdown that shows as itself, on one line, with @logins as code."""
    flat = one_line(text, limit=limit)
    parts = _MENTION.split(flat)
    mentions = [f"`{mention}`" for mention in _MENTION.findall(flat)]
    escaped = [_INLINE_SPECIAL.sub(lambda match: "\\" + match.group(), part) for part in parts]
    joined = "".join(part + code for part, code in zip(escaped, [*mentions, ""], strict=True))
    start = _BLOCK_START.match(joined)
    return joined if start is None else f"{joined[: start.end() - 1]}\\{joined[start.end() - 1 :]}"


def longest_backtick_run(text: str) -> int:
    """The length of the longest run of backticks in `text`."""
    return max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)


def code_span(text: str, *, limit: int = NAME_CHARS) -> str:
    """`text` as one inline code span that no backtick inside can end early."""
    flat = one_line(text, limit=limit) or NO_VALUE
    ticks = "`" * (longest_backtick_run(flat) + 1)
    # CommonMark strips one space from each side, so the padding only separates the
    # delimiter from a backtick at either end of the content.
    padded = f" {flat} " if flat[0] in "` " or flat[-1] in "` " else flat
    return f"{ticks}{padded}{ticks}"


def fence_for(text: str) -> str:
    """A backtick fence longer than any backtick run in `text`, so it cannot be closed."""
    return "`" * max(3, longest_backtick_run(text) + 1)


def fence(body: str, *, fence_marker: str | None = None) -> str:
    """`body` as a fenced code block, ending with a newline."""
    marker = fence_marker or fence_for(body)
    content = body if body.endswith("\n") else body + "\n"
    return f"{marker}text\n{content}{marker}\n"


def table_cell(markdown: str) -> str:
    """Markdown made safe for a table cell: GFM splits cells on every unescaped `|`,
    even inside a code span. A `|` that `escape` escaped already is left as it is."""
    return _UNESCAPED_PIPE.sub(lambda match: match.group(1) + "\\|", markdown)


def link(label_markdown: str, url: str) -> str:
    """A Markdown link; the angle-bracket destination allows spaces and parentheses."""
    target = re.sub(r"[<>\s]", "", url)[:2000]
    return f"[{label_markdown}](<{target}>)"


# --- limits ---------------------------------------------------------------------------------


def utf8_size(text: str) -> int:
    """The size GitHub measures a text field by."""
    return len(text.encode("utf-8", errors="replace"))


def truncate(text: str, limit_bytes: int, *, marker: str = ELLIPSIS) -> str:
    """The start of `text` within `limit_bytes` of UTF-8, ending with `marker` if cut."""
    encoded = text.encode("utf-8", errors="replace")
    if len(encoded) <= limit_bytes:
        return text
    budget = limit_bytes - utf8_size(marker)
    if budget < 0:
        return _prefix(encoded, limit_bytes)
    return _prefix(encoded, budget) + marker


def truncate_start(text: str, limit_bytes: int) -> str:
    """The longest end of `text` within `limit_bytes` of UTF-8, from a line start if it can."""
    encoded = text.encode("utf-8", errors="replace")
    if len(encoded) <= limit_bytes:
        return text
    tail = encoded[len(encoded) - max(0, limit_bytes) :].decode("utf-8", errors="ignore")
    newline = tail.find("\n")
    return tail[newline + 1 :] if 0 <= newline < len(tail) - 1 else tail


def fit_start(chunks: Sequence[str], limit_bytes: int, *, pointer: str) -> str:
    """The chunks that fit in `limit_bytes`, from the start, plus `pointer` if any were cut.

    Chunks are whole Markdown pieces (a table row, a failed test), so a cut never leaves
    a code block open or a table row half written.
    """
    if sum(map(utf8_size, chunks)) <= limit_bytes:
        return "".join(chunks)
    budget, kept = limit_bytes - utf8_size(pointer), []
    for chunk in chunks:
        budget -= utf8_size(chunk)
        if budget < 0:
            break
        kept.append(chunk)
    return truncate("".join(kept) + pointer, limit_bytes)  # a pointer alone may not fit


def _prefix(encoded: bytes, limit_bytes: int) -> str:
    # Dropping the bytes of a character cut in half keeps the text valid UTF-8.
    return encoded[: max(0, limit_bytes)].decode("utf-8", errors="ignore")
