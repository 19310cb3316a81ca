"""Deployment descriptions stay inside GitHub's 140, counted in bytes like every limit."""

from __future__ import annotations

import pytest

from bot.core.markdown import utf8_size
from bot.deploy import messages

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        (messages.description("staging", SHA, actor="octo", rollback=False), None),
        (messages.status_started("production"), "Deploying to production"),
        (messages.status_done("staging", "success"), "Live in staging"),
        (messages.status_done("é" * 80, "success"), "Live in " + "é" * 64 + "…"),
        (messages.description("環境" * 40, SHA, actor=None, rollback=False), None),
    ],
)
def test_descriptions_fit_githubs_limit(description: str, expected: str | None) -> None:
    assert utf8_size(description) <= messages.DESCRIPTION_LIMIT
    if expected is not None:
        assert description == expected
