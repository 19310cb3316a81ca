"""Reading GitHub's JSON leniently: a missing or null field takes a neutral value.

GitHub adds fields over time, its example payloads miss fields its schemas require, and a
deleted account or fork arrives as `null`; webhook payloads (`bot.dispatch.payloads`) and
API answers (`bot.github.models`) are both read through these, for the fields used only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Json = Mapping[str, Any]


def object_at(data: Json, key: str) -> Json:
    """The mapping at `key`; empty when it is missing, null or not a mapping."""
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def objects_at(data: Json, key: str) -> list[Json]:
    """The mappings in the list at `key`; what is not a mapping is left out."""
    value = data.get(key)
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def text_at(data: Json, key: str, default: str = "") -> str:
    """The value at `key` as text; `default` when it is missing or null."""
    value = data.get(key)
    return default if value is None else str(value)


def optional_text_at(data: Json, key: str) -> str | None:
    """The value at `key` as text; None when it is missing or null."""
    value = data.get(key)
    return None if value is None else str(value)


def number_at(data: Json, key: str) -> int:
    """The whole number at `key` (or a text of digits); 0 otherwise."""
    value = data.get(key)
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else 0
