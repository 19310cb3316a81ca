"""Hiding secret values in build output.

`Masker.mask` replaces every occurrence of a secret with `***`; overlapping or nested
occurrences of several secrets become one `***`, so no fragment of any of them is left.
`StreamMasker` does the same for output that arrives in chunks: it holds back the end of a
chunk only while that end could be the start of a secret, so a secret split across two
chunks is still masked, and ordinary output is not delayed.

Values shorter than `MIN_SECRET_LENGTH` are not masked: hiding every `a` or `42` in a log
would make it unreadable and would itself show the value, and such values are not secrets
worth the name. A value of several lines also masks each of its lines, because programs
print keys and certificates one line at a time or re-indented.

`mask_report` masks every text of a test report, so a report can be stored and shown.

Masking guards against accidents, not against a step that wants to leak a secret (it can
always print it transformed). The output never contains a secret, except one that itself
contains `*`: such a secret could be re-formed by a `***` next to the text around it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import fields, replace
from typing import Any

from bot.core.junit import TestFailure, TestReport

MASK = "***"
MIN_SECRET_LENGTH = 3

Span = tuple[int, int]


class Masker:
    """Replaces every occurrence of the given secret values in text with `***`."""

    def __init__(self, values: Iterable[str]) -> None:
        secrets = {part for value in values for part in _parts(value)}
        self._secrets = tuple(sorted(secrets, key=len, reverse=True))
        # A look-ahead finds an occurrence at every position, overlapping ones included;
        # longest first, so each position reports the longest secret starting there.
        alternatives = "|".join(map(re.escape, self._secrets))
        self._pattern = re.compile(f"(?=({alternatives}))") if self._secrets else None

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def mask(self, text: str) -> str:
        """`text` with every secret replaced by `***`."""
        if self._pattern is None:
            return text
        pieces: list[str] = []
        position = 0
        for start, end in self.spans(text):
            pieces += (text[position:start], MASK)
            position = end
        pieces.append(text[position:])
        return "".join(pieces)

    def stream(self) -> StreamMasker:
        """A masker for output that arrives in chunks."""
        return StreamMasker(self)

    def spans(self, text: str, covered: int = 0) -> list[Span]:
        """Where secrets occur in `text`, overlapping occurrences merged, in order.

        `covered` marks `text[:covered]` as already masked, so occurrences overlapping it
        join that span.
        """
        merged: list[Span] = [(0, covered)] if covered > 0 else []
        if self._pattern is None or not any(secret in text for secret in self._secrets):
            return merged  # the usual case, and `in` is much faster than the pattern
        for match in self._pattern.finditer(text):
            start, end = match.start(), match.start() + len(match.group(1))
            if merged and start < merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged

    def unfinished(self, text: str) -> int:
        """Length of the longest end of `text` that is the beginning of a secret."""
        longest = 0
        for secret in self._secrets:
            tail = text[-(len(secret) - 1) :]
            start = tail.find(secret[0])
            while start != -1 and len(tail) - start > longest:
                if secret.startswith(tail[start:]):
                    longest = len(tail) - start
                    break
                start = tail.find(secret[0], start + 1)
        return longest


class StreamMasker:
    """Masks text given in chunks exactly as `Masker.mask` masks the whole of it."""

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        self._pending = ""  # text received but not yet released
        self._covered = 0  # how much of `_pending` lies under a `***` already released

    def feed(self, chunk: str) -> str:
        """Mask `chunk`; returns the text that is safe to show now."""
        text = self._pending + chunk
        return self._release(text, len(text) - self._masker.unfinished(text))

    def flush(self) -> str:
        """Release everything held back (at the end of the stream)."""
        return self._release(self._pending, len(self._pending))

    def _release(self, text: str, cut: int) -> str:
        # No secret occurrence that ends after `text` can start before `cut`, so the text
        # before `cut` can be masked now; a span reaching past `cut` is released as `***`
        # at once and remembered as `_covered`, so it still absorbs what comes next.
        pieces: list[str] = []
        position = 0
        covered_after = 0
        for index, (start, end) in enumerate(self._masker.spans(text, self._covered)):
            continues_released = index == 0 and self._covered > 0
            if start >= cut and not continues_released:
                break
            pieces.append(text[position:start])
            if not continues_released:
                pieces.append(MASK)
            position = end
            if end > cut:
                covered_after = end - cut
                break
        pieces.append(text[position:cut])
        self._pending, self._covered = text[cut:], covered_after
        return "".join(pieces)


def mask_report(report: TestReport, masker: Masker) -> TestReport:
    """`report` with every secret masked in every text of its failures."""
    if not masker:
        return report
    return replace(report, failures=tuple(_mask_failure(f, masker) for f in report.failures))


def _mask_failure(failure: TestFailure, masker: Masker) -> TestFailure:
    # A test can put a secret in any text (its name, message, details, file path), so every
    # text field is masked, found by type: a field added later is masked too.
    values = {field.name: getattr(failure, field.name) for field in fields(failure)}
    texts: dict[str, Any] = {
        name: masker.mask(value) for name, value in values.items() if isinstance(value, str)
    }
    return replace(failure, **texts)


def _parts(value: str) -> tuple[str, ...]:
    """The strings to mask for one secret value: itself and, if it has several, its lines."""
    lines = [line.strip("\r") for line in value.split("\n")] if "\n" in value else []
    return tuple(part for part in (value, *lines) if len(part) >= MIN_SECRET_LENGTH)
