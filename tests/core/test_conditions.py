from __future__ import annotations

from typing import assert_never

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.conditions import (
    EVENTS,
    KNOWN_VALUES,
    MAX_DEPTH,
    MAX_LENGTH,
    And,
    Boolean,
    Compare,
    Condition,
    ConditionError,
    Name,
    Not,
    Or,
    StartsWith,
    Text,
    evaluate,
    format_condition,
    parse_condition,
)
from bot.core.config import Mode

FACTS: dict[str, str | bool] = {
    "branch": "main",
    "event": "push",
    "mode": "delivery",
    "base": "",
    "pr": False,
}
PR_FACTS: dict[str, str | bool] = {
    "branch": "feature/login",
    "event": "pull_request",
    "mode": "integration",
    "base": "main",
    "pr": True,
}


@pytest.mark.parametrize(
    ("text", "on_push", "on_pr"),
    [
        ("branch == 'main'", True, False),
        ('branch == "main"', True, False),
        ("branch != 'main'", False, True),
        ("pr", False, True),
        ("!pr", True, False),
        ("!!pr", False, True),
        ("true", True, True),
        ("false || pr", False, True),
        ("event == 'push' && branch == 'main'", True, False),
        ("pr && base == 'main' || branch == 'main'", True, True),
        ("pr && (base == 'release' || branch == 'main')", False, False),
        ("startsWith(branch, 'feature/')", False, True),
        ("startsWith(branch, '')", True, True),
        ("!startsWith(branch, 'feat')", True, False),
        ("mode == 'delivery' || mode == 'deployment'", True, False),
        ("!pr == false", False, True),  # `!` binds tighter than `==`, as in GitHub Actions
        ("pr == (base == 'main')", True, True),
        ("base == ''", True, False),
        ("'it''s' == \"it's\"", True, True),
        ("  ( ( pr ) )  ", False, True),
    ],
)
def test_evaluates_like_github_actions(text: str, on_push: bool, on_pr: bool) -> None:
    condition = parse_condition(text)
    assert (evaluate(condition, FACTS), evaluate(condition, PR_FACTS)) == (on_push, on_pr)


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("pr || pr && pr", Or(Name("pr"), And(Name("pr"), Name("pr")))),
        ("pr && pr || pr", Or(And(Name("pr"), Name("pr")), Name("pr"))),
        ("!pr && pr", And(Not(Name("pr")), Name("pr"))),
        ("pr == pr == pr", Compare("==", Compare("==", Name("pr"), Name("pr")), Name("pr"))),
        ("base != 'x'", Compare("!=", Name("base"), Text("x"))),
        ("startsWith('ab', \"a\")", StartsWith(Text("ab"), Text("a"))),
    ],
)
def test_precedence_and_associativity(text: str, tree: Condition) -> None:
    assert parse_condition(text) == tree


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("", 1, "the condition is empty"),
        ("   ", 1, "the condition is empty"),
        ("branch", 1, "compare it, e.g. branch == 'main'"),
        ("'main'", 1, "the condition is text"),
        ("brnch == 'x'", 1, "did you mean `branch`?"),
        ("branch == main", 11, "put text in quotes: 'main'"),
        ("branch = 'main'", 8, "unexpected character '='"),
        ("branch == 'main", 11, "missing its closing '"),
        ('branch == "main', 11, 'missing its closing "'),
        ("branch == 'main' &&", 20, "found the end"),
        ("(pr", 4, "expected `)`"),
        ("pr)", 3, "found `)`"),
        ("pr pr", 4, "expected &&, || or the end"),
        ("!branch == 'main'", 2, "`!` works on true/false values, but `branch` is text"),
        ("pr && branch", 7, "`&&` works on true/false values"),
        ("branch || pr", 1, "`||` works on true/false values"),
        ("pr == 'true'", 4, "cannot be compared"),
        ("mode == 'deploy'", 9, "`mode` is never 'deploy'"),
        ("'pull-request' == event", 1, "it is one of push, pull_request"),
        ("startswith(branch, 'x')", 1, "did you mean `startsWith`?"),
        ("endsWith(branch, 'x')", 1, "the only function is startsWith"),
        ("startsWith(branch)", 18, "expected `,`"),
        ("startsWith(pr, 'x')", 12, "startsWith takes text"),
        ("branch(", 7, "found `(`"),
        ("pr && ${{ x }}", 7, "unexpected character '$'"),
        ("(" * (MAX_DEPTH + 1) + "pr" + ")" * (MAX_DEPTH + 1), MAX_DEPTH + 1, "nests deeper"),
        ("!" * (MAX_DEPTH + 1) + "pr", MAX_DEPTH + 1, "nests deeper"),
        ("pr || " * 100 + "pr", MAX_LENGTH + 1, "longer than 500"),
    ],
)
def test_errors_say_where_and_what(text: str, column: int, fragment: str) -> None:
    with pytest.raises(ConditionError) as raised:
        parse_condition(text)
    assert (raised.value.column, fragment in raised.value.message) == (column, True), raised.value
    assert str(raised.value).startswith(f"column {column}: ")


def test_nesting_up_to_the_limit_parses() -> None:
    depth = MAX_DEPTH // 2
    assert evaluate(parse_condition("(!" * depth + "pr" + ")" * depth), FACTS) is False


# --- Hypothesis: generated trees round-trip and evaluate like Python -----------------

TEXTS = st.text(alphabet="ab'\" /-", max_size=6)
TEXT_NAMES = st.sampled_from([Name("branch"), Name("base"), Name("event"), Name("mode")])
TEXT_OPERANDS = st.one_of(TEXT_NAMES, st.builds(Text, TEXTS))


def _comparable(operator: str, left: Condition, right: Condition) -> Compare:
    """A comparison that type-checks: a known name is only compared with its known values."""
    for named, other in ((left, right), (right, left)):
        if isinstance(named, Name) and isinstance(other, Text) and named.name in KNOWN_VALUES:
            known = KNOWN_VALUES[named.name]
            replacement = Text(known[len(other.value) % len(known)])
            left, right = (named, replacement) if named is left else (replacement, named)
    return Compare("==" if operator == "==" else "!=", left, right)


OPERATORS = st.sampled_from(["==", "!="])
BOOLEAN_LEAVES = st.one_of(
    st.just(Name("pr")),
    st.builds(Boolean, st.booleans()),
    st.builds(_comparable, OPERATORS, TEXT_OPERANDS, TEXT_OPERANDS),
    st.builds(StartsWith, TEXT_OPERANDS, TEXT_OPERANDS),
)
CONDITIONS = st.recursive(
    BOOLEAN_LEAVES,
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.builds(And, inner, inner),
        st.builds(Or, inner, inner),
        st.builds(_comparable, OPERATORS, inner, inner),
    ),
    max_leaves=10,
)
FACT_SETS = st.fixed_dictionaries(
    {
        "branch": st.sampled_from(["main", "a/b", "ab", "", "a'b"]),
        "event": st.sampled_from(EVENTS),
        "mode": st.sampled_from([mode.value for mode in Mode]),
        "base": st.sampled_from(["", "main", "a"]),
        "pr": st.booleans(),
    }
)


def as_python(condition: Condition, facts: dict[str, str | bool]) -> str:
    """The reference: the same tree as a fully parenthesized Python expression."""
    match condition:
        case Name(name):
            return repr(facts[name])
        case Text(value) | Boolean(value):
            return repr(value)
        case Not(operand):
            return f"(not {as_python(operand, facts)})"
        case And(left, right):
            return f"({as_python(left, facts)} and {as_python(right, facts)})"
        case Or(left, right):
            return f"({as_python(left, facts)} or {as_python(right, facts)})"
        case Compare(operator, left, right):
            return f"({as_python(left, facts)} {operator} {as_python(right, facts)})"
        case StartsWith(subject, prefix):
            return f"({as_python(subject, facts)}).startswith({as_python(prefix, facts)})"
        case _:
            assert_never(condition)


@given(CONDITIONS)
def test_formatted_condition_parses_to_the_same_tree(condition: Condition) -> None:
    assert parse_condition(format_condition(condition)) == condition


@given(CONDITIONS, FACT_SETS)
def test_evaluates_like_the_python_reference(
    condition: Condition, facts: dict[str, str | bool]
) -> None:
    expected = eval(as_python(condition, facts), {"__builtins__": {}})  # noqa: S307 (reference)
    assert evaluate(parse_condition(format_condition(condition)), facts) is expected


_LEVELS = {Or: 1, And: 2, Compare: 3, Not: 4}
_SYMBOLS = {1: "||", 2: "&&"}


def noisy(condition: Condition, data: st.DataObject) -> str:
    """Any way a person could write the tree: spacing, quote style, redundant parentheses."""

    def space() -> str:
        return data.draw(st.sampled_from(["", " ", "  ", "\t"]))

    def operand(child: Condition, level: int, *, right: bool) -> str:
        child_level = _LEVELS.get(type(child), 5)
        text = noisy(child, data)
        return f"({text})" if child_level < level or (right and child_level == level) else text

    match condition:
        case Name(name):
            text = name
        case Boolean(value):
            text = "true" if value else "false"
        case Text(value):
            quote = data.draw(st.sampled_from(["'", '"']))
            text = quote + value.replace(quote, quote * 2) + quote
        case Not(inner):
            text = "!" + space() + operand(inner, 4, right=False)
        case And(left, right) | Or(left, right) | Compare(_, left, right):
            level = _LEVELS[type(condition)]
            symbol = condition.operator if isinstance(condition, Compare) else _SYMBOLS[level]
            text = f"{operand(left, level, right=False)}{space()}{symbol}{space()}"
            text += operand(right, level, right=True)
        case StartsWith(subject, prefix):
            text = f"startsWith({space()}{noisy(subject, data)},{space()}{noisy(prefix, data)})"
        case _:
            assert_never(condition)
    return f"({space()}{text}{space()})" if data.draw(st.booleans()) else text


@given(CONDITIONS, st.data())
def test_any_spelling_parses_to_the_same_tree(condition: Condition, data: st.DataObject) -> None:
    text = noisy(condition, data)
    if len(text) <= MAX_LENGTH and text.count("(") + text.count("!") <= MAX_DEPTH:
        assert parse_condition(text) == condition


TOKENS = ["branch", "pr", "mode", "base", "==", "!=", "&&", "||", "!", "(", ")", ",", "true"]
TOKENS += ["startsWith", "'main'", '"x"', "'delivery'", "'", "$", "foo"]


@given(st.one_of(st.text(max_size=40), st.lists(st.sampled_from(TOKENS)).map(" ".join)))
def test_garbage_only_ever_raises_condition_error(text: str) -> None:
    result = parse_or_error(text)
    if isinstance(result, ConditionError):
        assert 1 <= result.column <= max(len(text), MAX_LENGTH) + 1
    else:
        assert evaluate(result, FACTS) in (True, False)
        assert parse_condition(format_condition(result)) == result


def parse_or_error(text: str) -> Condition | ConditionError:
    try:
        return parse_condition(text)
    except ConditionError as error:
        return error
