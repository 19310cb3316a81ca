"""An environment's `health:` and `rollback:` keys, read like the rest of the config."""

from __future__ import annotations

from yaml.nodes import Node, ScalarNode

from bot.core import config_messages as msg
from bot.core.config_yaml import INT, Reader, found, line_of
from bot.core.health import HealthCheck

HEALTH_KEYS = ("http", "run", "expect", "every", "for")
ROLLBACK_KEYS = ("automatic",)


def parse_health(reader: Reader, node: Node | None, key: str) -> HealthCheck | None:
    """The health check of `health:`, or None when there is none (or it is wrong)."""
    if node is None:
        return None
    fields = reader.fields(node, key, HEALTH_KEYS, msg.EXPECTED_HEALTH)
    if fields is None:
        return None
    if "http" in fields and "run" in fields:
        reader.error(key, node, msg.health_with_both())
        return None
    if "http" not in fields and "run" not in fields:
        reader.error(key, node, msg.health_without_probe())
        return None
    before = len(reader.errors)
    default = HealthCheck()
    check = HealthCheck(
        http=_http(reader, fields.get("http"), f"{key}.http"),
        run=_text(reader, fields.get("run"), f"{key}.run"),
        expect=_status(reader, fields.get("expect"), f"{key}.expect", default.expect),
        every_seconds=_duration(reader, fields.get("every"), f"{key}.every", default.every_seconds),
        for_seconds=_duration(reader, fields.get("for"), f"{key}.for", default.for_seconds),
        line=line_of(node),
    )
    return check if len(reader.errors) == before else None


def parse_rollback(reader: Reader, node: Node | None, key: str) -> bool:
    """Whether a failed health check rolls back by itself (`rollback: {automatic: …}`)."""
    fields = reader.fields(node, key, ROLLBACK_KEYS, msg.EXPECTED_ROLLBACK) or {}
    return reader.boolean(fields.get("automatic"), f"{key}.automatic", True)


def _text(reader: Reader, node: Node | None, key: str) -> str | None:
    return None if node is None else reader.text(node, key, msg.EXPECTED_COMMAND)


def _http(reader: Reader, node: Node | None, key: str) -> str | None:
    url = _text(reader, node, key)
    if url is not None and not url.startswith(("https://", "http://")):
        reader.error(key, node, msg.not_a_url(url))
    return url


def _status(reader: Reader, node: Node | None, key: str, default: int) -> int:
    if node is None:
        return default
    is_number = isinstance(node, ScalarNode) and node.tag == INT and node.value.isdigit()
    if is_number and 100 <= int(node.value) <= 599:
        return int(node.value)
    reader.error(key, node, msg.not_a_status_code(found(node)))
    return default


def _duration(reader: Reader, node: Node | None, key: str, default: float) -> float:
    return default if node is None else reader.duration(node, key)
