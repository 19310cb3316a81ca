"""Reading composed YAML nodes into typed values, keeping the line of every problem.

The generic half of the config parser: it knows YAML (merges, tags, how `3.10` was
written) but not the keys of greenlight.yml, which `bot.core.config_parser` owns.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import TypeVar

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.core import config_messages as msg
from bot.core.config import ConfigError

DEFAULT_TIMEOUT = 30 * 60.0

YAML_TAG = "tag:yaml.org,2002:"
NULL, BOOL, INT, FLOAT, STR, MERGE = (
    YAML_TAG + tag for tag in ("null", "bool", "int", "float", "str", "merge")
)
VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")
_MINUTES = re.compile(r"\d+(?:\.\d+)?")
_Choice = TypeVar("_Choice", bound=StrEnum)
Pair = tuple[str, Node, Node]  # key text, key node, value node


def parse_duration(text: str) -> float | None:
    """Seconds in "90s", "15m", "1h30m", "2h" or a bare number of minutes; None if not one."""
    compact = "".join(text.split())
    match = _DURATION.fullmatch(compact)
    if _MINUTES.fullmatch(compact):
        seconds = float(compact) * 60
    elif compact and match is not None:
        hours, minutes, secs = (float(part or 0) for part in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    else:
        return None
    return seconds if math.isfinite(seconds) else None


def format_duration(seconds: float) -> str:
    """The shortest duration text that parse_duration reads back: 5400 → "1h30m"."""
    whole = round(seconds)
    if whole != seconds or seconds <= 0:
        return f"{seconds:g}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours, "h"), (minutes, "m"), (secs, "s")]
    return "".join(f"{amount}{unit}" for amount, unit in parts if amount)


# --- reading nodes ------------------------------------------------------------------


def line_of(node: Node | None) -> int:
    return 1 if node is None else node.start_mark.line + 1


def found(node: Node) -> str:
    if isinstance(node, MappingNode):
        return msg.found("mapping")
    if isinstance(node, SequenceNode):
        return msg.found("list")
    kinds = {NULL: "empty", BOOL: "boolean", INT: "number", FLOAT: "number"}
    return msg.found(kinds.get(node.tag, "text"), str(node.value))


class Reader:
    """Reads nodes into values, collecting a ConfigError for each problem instead of stopping."""

    def __init__(self) -> None:
        self.errors: list[ConfigError] = []
        self._merged: dict[int, dict[str, tuple[Node, Node]]] = {}

    def error(self, key: str, node: Node | None, message: str) -> None:
        self.errors.append(ConfigError(key=key, line=line_of(node), message=message))

    def pairs(self, node: Node | None, key: str, expected: str) -> list[Pair] | None:
        """The entries of a mapping (an empty value counts as an empty mapping)."""
        if node is None or (isinstance(node, ScalarNode) and node.tag == NULL):
            return []
        if not isinstance(node, MappingNode):
            self.error(key, node, msg.wrong_type(expected, found(node)))
            return None
        names: set[str] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode):
                self.error(key, key_node, msg.key_not_text(found(key_node)))
            elif key_node.tag != MERGE and key_node.value in names:
                name = str(key_node.value)
                self.error(join_key(key, name), key_node, msg.duplicate_key(name))
            else:
                names.add(key_node.value)
        return [(str(k.value), k, v) for k, v in self._with_merges(node, key).values()]

    def _with_merges(self, node: MappingNode, key: str) -> dict[str, tuple[Node, Node]]:
        """Entries by key with YAML `<<` merges applied: own keys win, then earlier sources."""
        if id(node) in self._merged:  # each node once, so nested merges cannot blow up
            return self._merged[id(node)]
        self._merged[id(node)] = {}
        merged: dict[str, tuple[Node, Node]] = {}
        own: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                continue
            if key_node.tag != MERGE:
                own[key_node.value] = (key_node, value_node)
                continue
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in reversed(sources):
                if isinstance(source, MappingNode):
                    merged.update(self._with_merges(source, key))
                else:
                    self.error(key, source, msg.bad_merge_key(found(source)))
        self._merged[id(node)] = merged | own
        return merged | own

    def fields(
        self, node: Node | None, key: str, allowed: tuple[str, ...], expected: str
    ) -> dict[str, Node] | None:
        """A mapping's values by key, after reporting keys that are not in `allowed`."""
        pairs = self.pairs(node, key, expected)
        if pairs is None:
            return None
        for name, key_node, _ in pairs:
            if name not in allowed:
                self.error(join_key(key, name), key_node, msg.unknown_key(name, allowed))
        return {name: value for name, _, value in pairs if name in allowed}

    def text(self, node: Node, key: str, expected: str, *, empty: bool = False) -> str | None:
        """A scalar as the user wrote it (`3.10` stays "3.10"); `empty` allows ""."""
        if isinstance(node, ScalarNode) and not node.tag.startswith(YAML_TAG):
            self.error(key, node, msg.unsupported_yaml_tag(node.tag))
            return None
        if isinstance(node, ScalarNode) and node.tag == NULL and empty:
            return ""
        if not isinstance(node, ScalarNode) or node.tag == NULL:
            self.error(key, node, msg.wrong_type(expected, found(node)))
            return None
        if not empty and not node.value.strip():
            self.error(key, node, msg.empty_text())
            return None
        return str(node.value)

    def text_items(self, node: Node | None, key: str, expected: str) -> list[tuple[str, Node]]:
        """A list of texts, or a single text, each with its node; duplicates dropped."""
        if node is None or (isinstance(node, ScalarNode) and node.tag == NULL):
            return []
        items = node.value if isinstance(node, SequenceNode) else [node]
        texts: dict[str, tuple[str, Node]] = {}
        for index, item in enumerate(items):
            item_key = f"{key}[{index}]" if isinstance(node, SequenceNode) else key
            if isinstance(item, SequenceNode):
                self.error(item_key, item, msg.nested_list_in_text(found(item)))
            elif (text := self.text(item, item_key, expected)) is not None:
                texts.setdefault(text, (text, item))
        return list(texts.values())

    def text_list(self, node: Node | None, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        if node is None:
            return default
        return tuple(text for text, _ in self.text_items(node, key, msg.EXPECTED_TEXT_LIST))

    def names(self, node: Node | None, key: str) -> tuple[str, ...]:
        """A list of variable names, such as `secrets`."""
        names = self.text_items(node, key, msg.EXPECTED_NAME_LIST)
        for name, item in names:
            if not VARIABLE.fullmatch(name):
                self.error(key, item, msg.not_a_variable_name(name))
        return tuple(name for name, _ in names)

    def boolean(self, node: Node | None, key: str, default: bool) -> bool:
        if node is None:
            return default
        if isinstance(node, ScalarNode) and node.tag == BOOL:
            return bool(SafeConstructor.bool_values[node.value.lower()])
        self.error(key, node, msg.not_a_boolean(found(node)))
        return default

    def count(self, node: Node | None, key: str, default: int) -> int:
        if node is None:
            return default
        if isinstance(node, ScalarNode) and node.tag == INT:
            value = SafeConstructor().construct_yaml_int(node)
            if isinstance(value, int) and value >= 0:
                return value
        self.error(key, node, msg.not_a_count(found(node)))
        return default

    def choice(self, node: Node | None, key: str, default: _Choice) -> _Choice:
        if node is None:
            return default
        text = self.text(node, key, msg.EXPECTED_ONE_OF)
        if text is None:
            return default
        choices = type(default)
        if text not in choices.__members__.values():
            self.error(key, node, msg.not_one_of(text, [choice.value for choice in choices]))
            return default
        return choices(text)

    def duration(self, node: Node | None, key: str) -> float:
        if node is None:
            return DEFAULT_TIMEOUT
        if isinstance(node, ScalarNode) and node.tag in (INT, FLOAT, STR):
            seconds = parse_duration(str(node.value))
            if seconds is None:
                self.error(key, node, msg.not_a_duration(str(node.value)))
            elif seconds <= 0:
                self.error(key, node, msg.zero_duration(str(node.value)))
            else:
                return seconds
            return DEFAULT_TIMEOUT
        self.error(key, node, msg.wrong_type(msg.EXPECTED_DURATION, found(node)))
        return DEFAULT_TIMEOUT


def join_key(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name
