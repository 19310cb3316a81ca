"""The `freeze:` section of the config: windows read into `FreezeWindow`s, every problem
reported on its line like the rest of the file (see `bot.core.config_parser`)."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from yaml.nodes import Node, ScalarNode, SequenceNode

from bot.core import config_messages as msg
from bot.core.config_yaml import NULL, Reader, found, line_of
from bot.core.freeze import MERGE, FreezeWindow

WINDOW_KEYS = ("name", "cron", "duration", "timezone", "applies_to", "from", "until")


def parse_freeze(
    reader: Reader, node: Node | None, environments: tuple[str, ...]
) -> tuple[FreezeWindow, ...]:
    """The windows of the `freeze:` list; `environments` are the names `applies_to` may use."""
    items = _items(reader, node)
    windows: list[FreezeWindow] = []
    for index, item in enumerate(items):
        window = _window(reader, item, f"freeze[{index}]", environments)
        if window is None:
            continue
        if any(other.name == window.name for other in windows):
            reader.error(f"freeze[{index}].name", item, msg.duplicate_window(window.name))
        windows.append(window)
    return tuple(windows)


def _items(reader: Reader, node: Node | None) -> list[Node]:
    if node is None or (isinstance(node, ScalarNode) and node.tag == NULL):
        return []
    if isinstance(node, SequenceNode):
        return list(node.value)
    reader.error("freeze", node, msg.wrong_type(msg.EXPECTED_FREEZE, found(node)))
    return []


def _window(
    reader: Reader, node: Node, key: str, environments: tuple[str, ...]
) -> FreezeWindow | None:
    fields = reader.fields(node, key, WINDOW_KEYS, msg.EXPECTED_WINDOW)
    if fields is None:
        return None
    name_node = fields.get("name")
    name = None if name_node is None else reader.text(name_node, f"{key}.name", msg.EXPECTED_TEXT)
    if name_node is None:
        reader.error(key, node, msg.window_without_name())
    zone = _zone(reader, fields.get("timezone"), f"{key}.timezone")
    applies_to = _targets(reader, fields.get("applies_to"), f"{key}.applies_to", environments)
    when = _when(reader, node, fields, key, zone)
    if name is None or zone is None or when is None:
        return None
    cron, seconds, starts, ends = when
    return FreezeWindow(
        name=name,
        applies_to=applies_to,
        cron=cron,
        duration_seconds=seconds,
        timezone=zone,
        starts=starts,
        ends=ends,
        line=line_of(node),
    )


_When = tuple[str | None, float, float | None, float | None]


def _when(
    reader: Reader, node: Node, fields: dict[str, Node], key: str, zone: str | None
) -> _When | None:
    """(cron, duration) of a recurring window, or (from, until) of a one-off one."""
    recurring = {"cron", "duration"} & fields.keys()
    one_off = {"from", "until"} & fields.keys()
    if recurring and one_off:
        reader.error(key, node, msg.window_of_both_kinds())
        return None
    if not recurring and not one_off:
        reader.error(key, node, msg.window_without_time())
        return None
    if recurring:
        return _recurring(reader, node, fields, key)
    return _one_off(reader, node, fields, key, zone)


def _recurring(reader: Reader, node: Node, fields: dict[str, Node], key: str) -> _When | None:
    if "cron" not in fields or "duration" not in fields:
        missing, present = ("cron", "duration") if "cron" not in fields else ("duration", "cron")
        reader.error(key, node, msg.window_needs(missing, present))
        return None
    expression = reader.text(fields["cron"], f"{key}.cron", msg.EXPECTED_TEXT)
    before = len(reader.errors)
    seconds = reader.duration(fields["duration"], f"{key}.duration")
    if expression is not None:
        try:
            CronSim(expression, datetime(2026, 1, 1))
        except CronSimError as error:
            reader.error(f"{key}.cron", fields["cron"], msg.bad_cron(expression, str(error)))
            return None
    if expression is None or len(reader.errors) > before:
        return None
    return (expression, seconds, None, None)


def _one_off(
    reader: Reader, node: Node, fields: dict[str, Node], key: str, zone: str | None
) -> _When | None:
    if "from" not in fields or "until" not in fields:
        missing, present = ("from", "until") if "from" not in fields else ("until", "from")
        reader.error(key, node, msg.window_needs(missing, present))
        return None
    starts = _instant(reader, fields["from"], f"{key}.from", zone)
    ends = _instant(reader, fields["until"], f"{key}.until", zone)
    if starts is None or ends is None:
        return None
    if ends <= starts:
        start_text, end_text = fields["from"].value, fields["until"].value
        reader.error(
            f"{key}.until", fields["until"], msg.until_not_after_from(start_text, end_text)
        )
        return None
    return (None, 0.0, starts, ends)


def _instant(reader: Reader, node: Node, key: str, zone: str | None) -> float | None:
    """A date and time as epoch seconds; without an offset it is local time in `zone`; a
    date alone is its midnight."""
    text = reader.text(node, key, msg.EXPECTED_TIME)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        reader.error(key, node, msg.not_a_time(text))
        return None
    if len(text.strip()) <= len("2026-12-20"):
        moment = datetime.combine(moment.date(), time())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone or "UTC"))
    return moment.timestamp()


def _zone(reader: Reader, node: Node | None, key: str) -> str | None:
    if node is None:
        return "UTC"
    name = reader.text(node, key, msg.EXPECTED_TEXT)
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # ValueError: a path, not a name
        reader.error(key, node, msg.unknown_timezone(name))
        return None
    return name


def _targets(
    reader: Reader, node: Node | None, key: str, environments: tuple[str, ...]
) -> tuple[str, ...]:
    choices = (MERGE, *environments)
    targets = reader.text_items(node, key, msg.EXPECTED_TEXT_LIST)
    for target, item in targets:
        if target not in choices:
            reader.error(key, item, msg.unknown_freeze_target(target, choices))
    return tuple(target for target, _ in targets if target in choices)
