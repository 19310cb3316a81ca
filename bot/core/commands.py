"""Slash-commands in pull request comments: text in, parsed commands out, never an exception.

A command is a line that starts (after at most 3 spaces, as in Markdown) with `/word`.
Text GitHub renders as code, quotes or hidden comments is never a command: fenced code
blocks (``` and ~~~, also inside list items; an unterminated fence runs to the end),
indented code (4+ spaces or a tab), quoted lines (`> /merge`), HTML comments (also across
lines) and `/merge` in the middle of a line. A `/word` that is not a command is reported
as unknown only when it is close to one (`/retset`), so paths like `/usr/bin` and `/tmp`
never draw a reply.

Arguments are split on whitespace; a token that *starts* with `"` or `'` runs to the
matching quote (no escapes). For `/retest`, a bare parenthesised group attaches to the word
before it, so `/retest test (3.11) lint` names `test (3.11)` and `lint`; job names with
spaces outside parentheses need quotes.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum


class CommandName(StrEnum):
    RETEST = "retest"
    CANCEL = "cancel"
    MERGE = "merge"
    MERGE_CANCEL = "merge cancel"
    HOLD = "hold"
    UNHOLD = "unhold"
    DEPLOY = "deploy"
    ROLLBACK = "rollback"
    OK_TO_TEST = "ok-to-test"
    STATUS = "status"
    HELP = "help"


@dataclass(frozen=True)
class Command:
    name: CommandName
    args: tuple[str, ...]
    line: int  # 1-based line in the comment


@dataclass(frozen=True)
class UnknownCommand:
    word: str  # as typed, without the slash
    suggestion: str | None  # the closest command word, without the slash
    line: int


@dataclass(frozen=True)
class BadArguments:
    name: CommandName
    message: str  # plain text: what is wrong and how to write it
    line: int


ParsedCommand = Command | UnknownCommand | BadArguments

_WORDS = {name.value: name for name in CommandName if name is not CommandName.MERGE_CANCEL}
_MERGE_METHODS = ("merge", "squash", "rebase")
_SUGGESTION_CUTOFF = 0.75  # `/retset` → retest, `/marge` → merge; `/home`, `/tmp` → nothing

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_COMMAND_LINE = re.compile(r" {0,3}/([A-Za-z][A-Za-z0-9_-]*)(?=\s|\Z)(.*)\Z", re.DOTALL)
_FENCE_OPEN = re.compile(r"( {0,3}(?:(?:[-+*]|\d{1,9}[.)]) {1,4})?)(`{3,}|~{3,})(.*)\Z", re.DOTALL)
_FENCE_CLOSE = re.compile(r"( *)(`{3,}|~{3,})[ \t]*\Z")
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)")
_SHA = re.compile(r"[0-9a-fA-F]{7,40}\Z")


def parse_commands(body: str) -> tuple[ParsedCommand, ...]:
    """Every command in a comment body, in order, each distinct one once."""
    found: dict[object, ParsedCommand] = {}
    for number, word, args_text in _command_lines(body):
        parsed = _parse_line(word, args_text, number)
        if parsed is not None:
            found.setdefault(_identity(parsed), parsed)
    return tuple(found.values())


def is_command_comment_event(
    action: str, sender_type: str, sender_login: str, app_slug: str
) -> bool:
    """Whether an `issue_comment` delivery may carry commands: new comments by people only."""
    login = sender_login.lower()
    is_bot = sender_type == "Bot" or login.endswith("[bot]")
    return action == "created" and not is_bot and login != app_slug.lower()


def usage(name: CommandName) -> str:
    """How to write a command, for replies and /help."""
    return _USAGE[name]


def unknown_command_message(unknown: UnknownCommand) -> str:
    """The reply to a near-miss command, in plain text."""
    hint = f"; did you mean /{unknown.suggestion}?" if unknown.suggestion else ""
    return f"/{unknown.word} is not a Greenlight command{hint}"


# -- Finding command lines -------------------------------------------------------------


@dataclass
class _Fence:
    char: str
    length: int
    max_indent: int  # a closing fence may be indented this much


def _command_lines(body: str) -> Iterator[tuple[int, str, str]]:
    """(line number, command word, argument text) of each visible `/word` line."""
    fence: _Fence | None = None
    in_comment = False
    for number, line in enumerate(_LINE_BREAK.split(body), start=1):
        if fence is not None:
            if _closes(fence, line):
                fence = None
            continue
        if in_comment:
            _, in_comment = _outside_comments(line, in_comment=True)
            continue
        fence = _opens(line)
        if fence is not None:
            continue
        visible, in_comment = _outside_comments(line, in_comment=False)
        match = _COMMAND_LINE.match(line)
        if match is not None:
            yield number, match.group(1), visible[match.end(1) :]


def _opens(line: str) -> _Fence | None:
    match = _FENCE_OPEN.match(line)
    if match is None:
        return None
    prefix, marks, info = match.groups()
    if marks[0] == "`" and "`" in info:
        return None  # an inline code span such as ```a```, not a fence
    return _Fence(char=marks[0], length=len(marks), max_indent=len(prefix) + 3)


def _closes(fence: _Fence, line: str) -> bool:
    match = _FENCE_CLOSE.match(line)
    if match is None:
        return False
    indent, marks = match.groups()
    return len(indent) <= fence.max_indent and marks[0] == fence.char and len(marks) >= fence.length


def _outside_comments(line: str, in_comment: bool) -> tuple[str, bool]:
    """The line with HTML comments blanked out, and whether one is still open at its end."""
    searchable = _CODE_SPAN.sub(lambda span: " " * len(span.group()), line)
    visible = list(line)
    position = 0
    while True:
        if in_comment:
            end = searchable.find("-->", position)
            stop = len(line) if end < 0 else end + 3
            visible[position:stop] = " " * (stop - position)
            if end < 0:
                return "".join(visible), True
            position, in_comment = stop, False
        else:
            start = searchable.find("<!--", position)
            if start < 0:
                return "".join(visible), False
            position, in_comment = start, True


# -- Parsing one command ---------------------------------------------------------------


class _Invalid(Exception):
    """Bad arguments; caught in `_parse_line`, never leaves this module."""


def _parse_line(word: str, args_text: str, line: int) -> ParsedCommand | None:
    name = _WORDS.get(word.lower())
    if name is None:
        close = difflib.get_close_matches(word.lower(), _WORDS, n=1, cutoff=_SUGGESTION_CUTOFF)
        return UnknownCommand(word, close[0], line) if close else None
    try:
        return _build(name, args_text, line)
    except _Invalid as error:
        return BadArguments(name, str(error), line)


def _build(name: CommandName, args_text: str, line: int) -> Command:
    if name is CommandName.HOLD:
        reason = " ".join(args_text.split())
        return Command(name, (reason,) if reason else (), line)
    tokens = _tokens(args_text)
    if name is CommandName.MERGE:
        return _merge(tokens, line)
    if name is CommandName.RETEST:
        return Command(name, _job_names(tokens), line)
    if name is CommandName.DEPLOY:
        return Command(name, _deploy_args(tokens), line)
    if name is CommandName.ROLLBACK:
        if len(tokens) != 1:
            raise _Invalid(f"/rollback needs exactly one environment: {usage(name)}")
        return Command(name, (tokens[0][0],), line)
    if tokens:
        raise _Invalid(f"/{name} takes no arguments (got {_quoted(tokens)}): {usage(name)}")
    return Command(name, (), line)


def _tokens(text: str) -> list[tuple[str, bool]]:
    """Whitespace-separated tokens as (text, was quoted); a quote only opens a token."""
    tokens: list[tuple[str, bool]] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char.isspace():
            position += 1
        elif char in "\"'":
            end = text.find(char, position + 1)
            if end < 0:
                raise _Invalid(f"unterminated {char} quote in the arguments; close it")
            if end == position + 1:
                raise _Invalid(f"an argument is empty ({char}{char}); leave it out")
            tokens.append((text[position + 1 : end], True))
            position = end + 1
        else:
            end = position
            while end < len(text) and not text[end].isspace():
                end += 1
            tokens.append((text[position:end], False))
            position = end
    return tokens


def _merge(tokens: list[tuple[str, bool]], line: int) -> Command:
    if not tokens:
        return Command(CommandName.MERGE, (), line)
    word = tokens[0][0].lower()
    if len(tokens) == 1 and word == "cancel":
        return Command(CommandName.MERGE_CANCEL, (), line)
    if len(tokens) == 1 and word in _MERGE_METHODS:
        return Command(CommandName.MERGE, (word,), line)
    raise _Invalid(
        f"/merge takes nothing or one of merge, squash, rebase or cancel "
        f"(got {_quoted(tokens)}): {usage(CommandName.MERGE)}"
    )


def _job_names(tokens: list[tuple[str, bool]]) -> tuple[str, ...]:
    """Job names; a bare `(…)` group belongs to the word before it: `test (3.11)`."""
    names: list[str] = []
    group: list[str] = []
    depth = 0
    for text, quoted in tokens:
        if not group and (quoted or not text.startswith("(")):
            names.append(text)
            continue
        group.append(text)
        depth += text.count("(") - text.count(")")
        if depth <= 0:
            joined = " ".join(group)
            names[-1:] = [f"{names[-1]} {joined}" if names else joined]
            group, depth = [], 0
    if group:
        raise _Invalid(
            "unbalanced parenthesis in the job names; quote a name that contains "
            'one: /retest "test (3.11)"'
        )
    return tuple(dict.fromkeys(names))


FORCE = "--force"  # `/deploy ENV --force`: an admin deploys through a freeze window


@dataclass(frozen=True)
class DeployRequest:
    environment: str
    sha: str | None  # None: the pull request's head
    forced: bool


def deploy_request(command: Command) -> DeployRequest:
    """What a parsed `/deploy` asks for."""
    args = [arg for arg in command.args if arg != FORCE]
    return DeployRequest(args[0], args[1] if len(args) > 1 else None, FORCE in command.args)


def _deploy_args(tokens: list[tuple[str, bool]]) -> tuple[str, ...]:
    deploy_usage = usage(CommandName.DEPLOY)
    forced = any(text == FORCE and not quoted for text, quoted in tokens)
    tokens = [(text, quoted) for text, quoted in tokens if quoted or text != FORCE]
    if not tokens:
        raise _Invalid(f"/deploy needs an environment: {deploy_usage}")
    if len(tokens) > 2:
        raise _Invalid(f"/deploy takes an environment and at most a SHA: {deploy_usage}")
    if len(tokens) == 2 and not _SHA.match(tokens[1][0]):
        raise _Invalid(
            f'"{tokens[1][0]}" is not a commit SHA (7 to 40 hexadecimal characters): {deploy_usage}'
        )
    environment = tokens[0][0]
    args = (environment, tokens[1][0].lower()) if len(tokens) == 2 else (environment,)
    return (*args, FORCE) if forced else args


def _quoted(tokens: list[tuple[str, bool]]) -> str:
    return '"' + " ".join(text for text, _ in tokens) + '"'


def _identity(parsed: ParsedCommand) -> object:
    """Two results with the same identity are the same command written twice."""
    match parsed:
        case Command(name=name, args=args):
            return ("command", name, args)
        case UnknownCommand(word=word):
            return ("unknown", word.lower())
        case BadArguments(name=name, message=message):
            return ("bad", name, message)


_USAGE: dict[CommandName, str] = {
    CommandName.RETEST: "/retest [JOB…]",
    CommandName.CANCEL: "/cancel",
    CommandName.MERGE: "/merge [merge|squash|rebase]",
    CommandName.MERGE_CANCEL: "/merge cancel",
    CommandName.HOLD: "/hold [reason]",
    CommandName.UNHOLD: "/unhold",
    CommandName.DEPLOY: "/deploy ENV [SHA] [--force]",
    CommandName.ROLLBACK: "/rollback ENV",
    CommandName.OK_TO_TEST: "/ok-to-test",
    CommandName.STATUS: "/status",
    CommandName.HELP: "/help",
}
