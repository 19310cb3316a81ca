"""Every log line about a delivery names it."""

from __future__ import annotations

import logging

from bot.logcontext import DeliveryContextFilter, current_delivery


def record(**extra: object) -> logging.LogRecord:
    made = logging.LogRecord("t", logging.INFO, __file__, 1, "message", None, None)
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_the_current_delivery_is_named() -> None:
    token = current_delivery.set(("d-1", 7, "octo/hello"))
    try:
        line = record()
        DeliveryContextFilter().filter(line)
        assert line.context == " [delivery=d-1 installation=7 repo=octo/hello]"  # type: ignore[attr-defined]
    finally:
        current_delivery.reset(token)


def test_lines_outside_a_delivery_have_no_context() -> None:
    line = record()
    DeliveryContextFilter().filter(line)
    assert line.context == ""  # type: ignore[attr-defined]
    explicit = record(delivery="d-2", repo="o/r")
    DeliveryContextFilter().filter(explicit)
    assert explicit.context == " [delivery=d-2 repo=o/r]"  # type: ignore[attr-defined]
