"""The `if:` language of jobs: a tiny, safe expression language, parsed and checked here.

Grammar (tightest binding last, like GitHub Actions expressions):

    or      := and ('||' and)*
    and     := compare ('&&' compare)*
    compare := unary (('==' | '!=') unary)*
    unary   := '!' unary | primary
    primary := NAME | 'text' | "text" | true | false | '(' or ')'
             | startsWith '(' or ',' or ')'

Names are `branch`, `event`, `mode`, `base` (text) and `pr` (true or false). Types are
checked while parsing, so `if: branch` or `!branch == 'main'` fails in the config check
instead of silently never running. Comparisons are case-sensitive, like git branch names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Literal, assert_never

from bot.core import config_messages as msg
from bot.core.config import Mode

EVENTS = ("push", "pull_request", "merge_group", "local")
MAX_LENGTH = 500
MAX_DEPTH = 32


class Kind(Enum):
    TEXT = "text"
    BOOLEAN = "true or false"


NAMES: Mapping[str, Kind] = {
    "branch": Kind.TEXT,
    "event": Kind.TEXT,
    "mode": Kind.TEXT,
    "base": Kind.TEXT,
    "pr": Kind.BOOLEAN,
}
# Names whose values are known in advance, so comparing them with anything else is a typo.
KNOWN_VALUES: Mapping[str, tuple[str, ...]] = {
    "mode": tuple(mode.value for mode in Mode),
    "event": EVENTS,
}
FUNCTIONS = ("startsWith",)


class ConditionError(Exception):
    """A condition that does not parse or type-check; `column` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message, column)
        self.message = message
        self.column = column

    def __str__(self) -> str:
        return message_at_column(self.message, self.column)


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Text:
    value: str


@dataclass(frozen=True)
class Boolean:
    value: bool


@dataclass(frozen=True)
class Not:
    operand: Condition


@dataclass(frozen=True)
class And:
    left: Condition
    right: Condition


@dataclass(frozen=True)
class Or:
    left: Condition
    right: Condition


@dataclass(frozen=True)
class Compare:
    operator: Literal["==", "!="]
    left: Condition
    right: Condition


@dataclass(frozen=True)
class StartsWith:
    subject: Condition
    prefix: Condition


Condition = Name | Text | Boolean | Not | And | Or | Compare | StartsWith


def message_at_column(message: str, column: int) -> str:
    """A condition error as shown to users: where in the condition, then what is wrong."""
    return msg.condition_at_column(message, column)


# --- tokens -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: Literal["name", "text", "operator", "end"]
    value: str
    column: int


_OPERATORS = ("==", "!=", "&&", "||", "!", "(", ")", ",")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        token, index = _next_token(text, index)
        tokens.append(token)
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


def _next_token(text: str, index: int) -> tuple[_Token, int]:
    column = index + 1
    if text[index] in "'\"":
        value, end = _read_text(text, index)
        return _Token("text", value, column), end
    if name := _NAME.match(text, index):
        return _Token("name", name.group(), column), name.end()
    operator = next((op for op in _OPERATORS if text.startswith(op, index)), None)
    if operator is None:
        raise ConditionError(msg.condition_unexpected_character(text[index]), column)
    return _Token("operator", operator, column), index + len(operator)


def _read_text(text: str, start: int) -> tuple[str, int]:
    """A quoted text; a doubled quote stands for itself, as in GitHub Actions ('it''s')."""
    quote = text[start]
    parts: list[str] = []
    index = start + 1
    while True:
        end = text.find(quote, index)
        if end < 0:
            raise ConditionError(msg.condition_unterminated(quote), start + 1)
        parts.append(text[index:end])
        if not text.startswith(quote * 2, end):
            return "".join(parts), end + 1
        parts.append(quote)
        index = end + 2


# --- parser -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Typed:
    node: Condition
    kind: Kind
    column: int


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._position = 0
        self._depth = 0

    @property
    def _current(self) -> _Token:
        return self._tokens[self._position]

    def _take(self, *operators: str) -> _Token | None:
        token = self._current
        if token.kind == "operator" and token.value in operators:
            self._position += 1
            return token
        return None

    def _expect(self, operator: str) -> None:
        if self._take(operator) is None:
            raise _unexpected(f"`{operator}`", self._current)

    def parse(self) -> _Typed:
        result = self._or()
        if self._current.kind != "end":
            raise _unexpected("&&, || or the end", self._current)
        return result

    def _or(self) -> _Typed:
        left = self._and()
        while operator := self._take("||"):
            right = self._and()
            _require_boolean(operator, left, right)
            left = _Typed(Or(left.node, right.node), Kind.BOOLEAN, left.column)
        return left

    def _and(self) -> _Typed:
        left = self._compare()
        while operator := self._take("&&"):
            right = self._compare()
            _require_boolean(operator, left, right)
            left = _Typed(And(left.node, right.node), Kind.BOOLEAN, left.column)
        return left

    def _compare(self) -> _Typed:
        left = self._unary()
        while operator := self._take("==", "!="):
            right = self._unary()
            _check_comparison(operator, left, right)
            op: Literal["==", "!="] = "==" if operator.value == "==" else "!="
            left = _Typed(Compare(op, left.node, right.node), Kind.BOOLEAN, left.column)
        return left

    def _unary(self) -> _Typed:
        operator = self._take("!")
        if operator is None:
            return self._primary()
        operand = self._nested(self._unary, operator)
        _require_boolean(operator, operand)
        return _Typed(Not(operand.node), Kind.BOOLEAN, operator.column)

    def _nested(self, parse: Callable[[], _Typed], opening: _Token) -> _Typed:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ConditionError(msg.condition_too_deep(MAX_DEPTH), opening.column)
        result = parse()
        self._depth -= 1
        return result

    def _primary(self) -> _Typed:
        token = self._current
        if self._take("("):
            inner = self._nested(self._or, token)
            self._expect(")")
            return _Typed(inner.node, inner.kind, token.column)
        if token.kind == "text":
            self._position += 1
            return _Typed(Text(token.value), Kind.TEXT, token.column)
        if token.kind == "name":
            self._position += 1
            return self._named(token)
        raise _unexpected("a name, 'text' or (", token)

    def _named(self, token: _Token) -> _Typed:
        if token.value in ("true", "false"):
            return _Typed(Boolean(token.value == "true"), Kind.BOOLEAN, token.column)
        if token.value in NAMES:
            return _Typed(Name(token.value), NAMES[token.value], token.column)
        if self._current.value == "(" and self._current.kind == "operator":
            return self._call(token)
        words = (*NAMES, *FUNCTIONS, "true", "false")
        if msg.did_you_mean(token.value, words):
            message = msg.condition_unknown_name(token.value, tuple(NAMES), words)
        else:
            message = msg.condition_bare_word(token.value)
        raise ConditionError(message, token.column)

    def _call(self, token: _Token) -> _Typed:
        if token.value != "startsWith":
            message = msg.condition_unknown_function(token.value, FUNCTIONS)
            raise ConditionError(message, token.column)
        self._expect("(")
        subject = self._nested(self._or, token)
        self._expect(",")
        prefix = self._nested(self._or, token)
        self._expect(")")
        for argument in (subject, prefix):
            if argument.kind is not Kind.TEXT:
                message = msg.condition_needs_text(format_condition(argument.node))
                raise ConditionError(message, argument.column)
        return _Typed(StartsWith(subject.node, prefix.node), Kind.BOOLEAN, token.column)


def _unexpected(expected: str, token: _Token) -> ConditionError:
    found = msg.condition_token(token.kind, token.value)
    return ConditionError(msg.condition_expected(expected, found), token.column)


def _require_boolean(operator: _Token, *operands: _Typed) -> None:
    for operand in operands:
        if operand.kind is not Kind.BOOLEAN:
            message = msg.condition_needs_boolean(operator.value, format_condition(operand.node))
            raise ConditionError(message, operand.column)


def _check_comparison(operator: _Token, left: _Typed, right: _Typed) -> None:
    if left.kind is not right.kind:
        texts = format_condition(left.node), format_condition(right.node)
        message = msg.condition_mixed_comparison(*texts)
        raise ConditionError(message, operator.column)
    for named, other in ((left, right), (right, left)):
        if not (isinstance(named.node, Name) and isinstance(other.node, Text)):
            continue
        known = KNOWN_VALUES.get(named.node.name)
        if known is not None and other.node.value not in known:
            message = msg.condition_unknown_value(named.node.name, other.node.value, known)
            raise ConditionError(message, other.column)


# --- public API ---------------------------------------------------------------------


def parse_condition(text: str) -> Condition:
    """Parse and type-check an `if:` expression; raises ConditionError with its column."""
    if len(text) > MAX_LENGTH:
        raise ConditionError(msg.condition_too_long(MAX_LENGTH), MAX_LENGTH + 1)
    tokens = _tokens(text)
    if tokens[0].kind == "end":
        raise ConditionError(msg.condition_empty(), 1)
    result = _Parser(tokens).parse()
    if result.kind is not Kind.BOOLEAN:
        raise ConditionError(
            msg.condition_not_boolean(format_condition(result.node)), result.column
        )
    return result.node


def evaluate(cond: Condition, facts: Mapping[str, str | bool]) -> bool:
    """The value of a parsed condition for these facts (branch, event, mode, base, pr)."""
    value = _value(cond, facts)
    return value is True


def _value(cond: Condition, facts: Mapping[str, str | bool]) -> str | bool:
    match cond:
        case Name(name):
            return facts[name]
        case Text(value) | Boolean(value):
            return value
        case Not(operand):
            return _value(operand, facts) is not True
        case And(left, right):
            return _value(left, facts) is True and _value(right, facts) is True
        case Or(left, right):
            return _value(left, facts) is True or _value(right, facts) is True
        case Compare(operator, left, right):
            equal = _value(left, facts) == _value(right, facts)
            return equal if operator == "==" else not equal
        case StartsWith(subject, prefix):
            return str(_value(subject, facts)).startswith(str(_value(prefix, facts)))
        case _:  # pragma: no cover
            assert_never(cond)


_PRECEDENCE = {Or: 1, And: 2, Compare: 3, Not: 4}


def format_condition(cond: Condition) -> str:
    """Canonical text of a condition, with only the parentheses it needs."""
    match cond:
        case Name(name):
            return name
        case Text(value):
            return "'" + value.replace("'", "''") + "'"
        case Boolean(value):
            return "true" if value else "false"
        case Not(operand):
            return "!" + _operand(operand, 4, right=False)
        case And(left, right) | Or(left, right):
            symbol = " && " if isinstance(cond, And) else " || "
            level = _PRECEDENCE[type(cond)]
            return _operand(left, level, right=False) + symbol + _operand(right, level, right=True)
        case Compare(operator, left, right):
            return f"{_operand(left, 3, right=False)} {operator} {_operand(right, 3, right=True)}"
        case StartsWith(subject, prefix):
            return f"startsWith({format_condition(subject)}, {format_condition(prefix)})"
        case _:  # pragma: no cover
            assert_never(cond)


def _operand(cond: Condition, parent_level: int, *, right: bool) -> str:
    level = _PRECEDENCE.get(type(cond), 5)
    needs_parentheses = level < parent_level or (right and level == parent_level)
    text = format_condition(cond)
    return f"({text})" if needs_parentheses else text
