from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.commands import (
    BadArguments,
    Command,
    CommandName,
    DeployRequest,
    ParsedCommand,
    UnknownCommand,
    deploy_request,
    is_command_comment_event,
    parse_commands,
    unknown_command_message,
    usage,
)

N = CommandName
LINES = re.compile(r"\r\n|\r|\n")  # the parser's notion of a line


def cmd(name: CommandName, *args: str, line: int = 1) -> Command:
    return Command(name, args, line)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/retest", (cmd(N.RETEST),)),
        ("/cancel", (cmd(N.CANCEL),)),
        ("/merge", (cmd(N.MERGE),)),
        ("/merge squash", (cmd(N.MERGE, "squash"),)),
        ("/merge REBASE", (cmd(N.MERGE, "rebase"),)),
        ("/merge merge", (cmd(N.MERGE, "merge"),)),
        ("/merge cancel", (cmd(N.MERGE_CANCEL),)),
        ("/hold", (cmd(N.HOLD),)),
        ("/hold waiting  for QA\t sign-off", (cmd(N.HOLD, "waiting for QA sign-off"),)),
        ("/unhold", (cmd(N.UNHOLD),)),
        ("/deploy staging", (cmd(N.DEPLOY, "staging"),)),
        ("/deploy production ABCDEF1", (cmd(N.DEPLOY, "production", "abcdef1"),)),
        ("/deploy staging " + "a" * 40, (cmd(N.DEPLOY, "staging", "a" * 40),)),
        ('/deploy "my env"', (cmd(N.DEPLOY, "my env"),)),
        ("/deploy production --force", (cmd(N.DEPLOY, "production", "--force"),)),
        (
            "/deploy production abcdef1 --force",
            (cmd(N.DEPLOY, "production", "abcdef1", "--force"),),
        ),
        ("/deploy --force production", (cmd(N.DEPLOY, "production", "--force"),)),
        ('/deploy "--force"', (cmd(N.DEPLOY, "--force"),)),  # quoted: a name, not the flag
        ("/rollback production", (cmd(N.ROLLBACK, "production"),)),
        ("/ok-to-test", (cmd(N.OK_TO_TEST),)),
        ("/status", (cmd(N.STATUS),)),
        ("/help", (cmd(N.HELP),)),
        # case, leading spaces, trailing space, non-breaking space
        ("/MERGE", (cmd(N.MERGE),)),
        ("   /Status  ", (cmd(N.STATUS),)),
        ("/merge\u00a0squash", (cmd(N.MERGE, "squash"),)),
        # /retest job names: bare words, quotes, parenthesised matrix suffixes
        ("/retest lint", (cmd(N.RETEST, "lint"),)),
        ("/retest test (3.11) lint", (cmd(N.RETEST, "test (3.11)", "lint"),)),
        ('/retest "test (3.11)" lint', (cmd(N.RETEST, "test (3.11)", "lint"),)),
        ("/retest 'unit tests' e2e", (cmd(N.RETEST, "unit tests", "e2e"),)),
        ("/retest test (3.11, ubuntu)", (cmd(N.RETEST, "test (3.11, ubuntu)"),)),
        ("/retest test (3.11) test (3.12)", (cmd(N.RETEST, "test (3.11)", "test (3.12)"),)),
        ("/retest (3.11)", (cmd(N.RETEST, "(3.11)"),)),
        ("/retest lint lint", (cmd(N.RETEST, "lint"),)),
        # several per comment, line numbers, the same command once
        (
            "Thanks!\n/retest lint\n\n/merge squash",
            (cmd(N.RETEST, "lint", line=2), cmd(N.MERGE, "squash", line=4)),
        ),
        ("/merge\n/merge", (cmd(N.MERGE),)),
        ("/retest a\r\n/retest b", (cmd(N.RETEST, "a"), cmd(N.RETEST, "b", line=2))),
        ("/retset\n/retset", (UnknownCommand("retset", "retest", 1),)),
        # HTML comments hide arguments, not the command before them
        ("/merge <!-- squash -->", (cmd(N.MERGE),)),
        ("/hold QA <!-- private\n/merge\n-->", (cmd(N.HOLD, "QA"),)),
        # a code span that shows "<!--" opens no comment
        ("Use `<!--` here\n/merge", (cmd(N.MERGE, line=2),)),
        # fences close and commands after them count
        ("```\n/merge\n```\n/status", (cmd(N.STATUS, line=4),)),
        ("~~~~\n~~~\n/merge\n~~~~\n/help", (cmd(N.HELP, line=5),)),
        ("````\n```\n/merge\n````\n/help", (cmd(N.HELP, line=5),)),
        ("- ```\n  /merge\n  ```\n/help", (cmd(N.HELP, line=4),)),
        ("<!--\n/merge\n-->\n/cancel", (cmd(N.CANCEL, line=4),)),
        # a fence inside a quote ends with the quote
        ("> ```\n/merge", (cmd(N.MERGE, line=2),)),
        # ```inline``` code is not a fence
        ("```a``` text\n/merge", (cmd(N.MERGE, line=2),)),
    ],
)
def test_parse_commands(body: str, expected: tuple[ParsedCommand, ...]) -> None:
    assert parse_commands(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "",
        "LGTM",
        "please /merge",
        "I ran /retest already",
        "> /merge",
        ">/merge",
        "> > /merge",
        ">> /merge",
        "   > /merge",
        "    /merge",
        "\t/merge",
        "```\n/merge\n```",
        "```python\n/merge",  # unterminated fence runs to the end
        "~~~\n/merge\n~~~",
        "`````\n/merge\n```\n/status\n",  # a shorter fence does not close a longer one
        "```\n/merge\n~~~\n/status",  # nor one of the other character
        "<!-- /merge -->",
        "<!--\n/merge\n-->",
        "text <!-- hidden\n/merge\n-->",
        "<!-- a -->\n<!--\n/status",
        "`/merge`",
        "/usr/bin/env python",
        "/usr",
        "/tmp",
        "/home/runner/work",
        "/etc/hosts",
        "/dev/null",
        "/lgtm",
        "/approve",
        "/retry",
        "/merge.",
        "/merge!",
        "/ merge",
        "/",
        "//merge",
        "/1merge",
        "\\/merge",
        "**/merge**",
        "- /merge",
        "1. /merge",
        "[/merge](https://example.com)",
        "https://example.com/merge",
    ],
)
def test_never_a_command(body: str) -> None:
    assert parse_commands(body) == ()


@pytest.mark.parametrize(
    ("word", "suggestion"),
    [
        ("retset", "retest"),
        ("marge", "merge"),
        ("mrege", "merge"),
        ("merged", "merge"),
        ("test", "retest"),
        ("stats", "status"),
        ("oktotest", "ok-to-test"),
        ("ok_to_test", "ok-to-test"),
        ("cancle", "cancel"),
        ("unhlod", "unhold"),
        ("deply", "deploy"),
        ("rollbck", "rollback"),
        ("Hep", "help"),
    ],
)
def test_near_misses_are_unknown_commands_with_a_suggestion(word: str, suggestion: str) -> None:
    assert parse_commands(f"/{word} now") == (UnknownCommand(word, suggestion, 1),)


@pytest.mark.parametrize(
    ("body", "name", "fragment"),
    [
        ("/merge now please", N.MERGE, '"now please"'),
        ("/merge fast", N.MERGE, "merge, squash, rebase or cancel"),
        ("/merge cancel now", N.MERGE, '"cancel now"'),
        ("/deploy", N.DEPLOY, "needs an environment"),
        ("/deploy staging notasha", N.DEPLOY, '"notasha" is not a commit SHA'),
        ("/deploy staging abc12", N.DEPLOY, "7 to 40"),
        ("/deploy staging " + "a" * 41, N.DEPLOY, "not a commit SHA"),
        ("/deploy staging abcdef1 extra", N.DEPLOY, "at most a SHA"),
        ("/rollback", N.ROLLBACK, "exactly one environment"),
        ("/rollback staging production", N.ROLLBACK, "exactly one environment"),
        ("/status please", N.STATUS, '/status takes no arguments (got "please")'),
        ("/help me", N.HELP, "takes no arguments"),
        ("/cancel all", N.CANCEL, "takes no arguments"),
        ("/unhold now", N.UNHOLD, "takes no arguments"),
        ("/ok-to-test yes", N.OK_TO_TEST, "takes no arguments"),
        ('/retest "test (3.11)', N.RETEST, 'unterminated " quote'),
        ("/retest test (3.11", N.RETEST, "unbalanced parenthesis"),
        ('/retest "" lint', N.RETEST, "empty"),
    ],
)
def test_bad_arguments(body: str, name: CommandName, fragment: str) -> None:
    (result,) = parse_commands(body)
    assert isinstance(result, BadArguments)
    assert (result.name, result.line) == (name, 1)
    assert fragment in result.message


@pytest.mark.parametrize("name", list(CommandName))
def test_every_command_has_a_usage_that_parses(name: CommandName) -> None:
    text = usage(name)
    assert text.startswith(f"/{name}")
    example = text.replace(" [JOB…]", " lint").replace(" [merge|squash|rebase]", " squash")
    example = example.replace(" [reason]", " QA").replace(" ENV", " staging")
    example = example.replace(" [SHA]", " abcdef1").replace(" [--force]", " --force")
    (parsed,) = parse_commands(example)
    assert isinstance(parsed, Command)
    assert parsed.name is name


def test_unknown_command_message_names_the_suggestion() -> None:
    message = unknown_command_message(UnknownCommand("retset", "retest", 1))
    assert message == "/retset is not a Greenlight command; did you mean /retest?"
    assert "did you mean" not in unknown_command_message(UnknownCommand("x", None, 1))


@pytest.mark.parametrize(
    ("action", "sender_type", "login", "expected"),
    [
        ("created", "User", "alice", True),
        ("edited", "User", "alice", False),
        ("deleted", "User", "alice", False),
        ("created", "Bot", "alice", False),
        ("created", "User", "renovate[bot]", False),
        ("created", "User", "Greenlight", False),
        ("created", "Bot", "greenlight[bot]", False),
        ("created", "Organization", "acme", True),
    ],
)
def test_is_command_comment_event(
    action: str, sender_type: str, login: str, expected: bool
) -> None:
    assert is_command_comment_event(action, sender_type, login, "greenlight") is expected


# -- Properties ----------------------------------------------------------------------------

FRAGMENTS = [
    "/merge",
    "/merge squash",
    "/retest test (3.11",
    '/retest "a',
    "/retset",
    "/deploy prod abcdef1",
    "/usr/bin",
    "```",
    "~~~~",
    "- ```",
    "<!--",
    "-->",
    "`<!--`",
    "> /merge",
    "    /hold",
    "\t",
    " ",
    "\r",
    "\n",
    "(",
    ")",
    '"',
    "'",
]
bodies = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=5))).map("".join),
)


@given(bodies)
def test_never_raises_and_each_result_sits_on_a_slash_line(body: str) -> None:
    lines = LINES.split(body)
    for parsed in parse_commands(body):
        assert 1 <= parsed.line <= len(lines)
        assert re.match(r" {0,3}/", lines[parsed.line - 1])


@given(bodies)
def test_no_line_starting_with_a_slash_means_no_commands(body: str) -> None:
    if not any(line.lstrip().startswith("/") for line in LINES.split(body)):
        assert parse_commands(body) == ()


@given(bodies)
def test_quoting_every_line_means_no_commands(body: str) -> None:
    quoted = "\n".join(f"> {line}" for line in LINES.split(body))
    assert parse_commands(quoted) == ()


@given(st.lists(st.sampled_from(FRAGMENTS)).map("\n".join))
def test_fencing_the_whole_body_means_no_commands(body: str) -> None:
    fence = "`" * (max((len(run) for run in re.findall(r"`+", body)), default=0) + 3)
    assert parse_commands(f"{fence}\n{body}\n{fence}") == ()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/deploy staging", DeployRequest("staging", None, False)),
        ("/deploy production abcdef1 --force", DeployRequest("production", "abcdef1", True)),
        ("/deploy --force production", DeployRequest("production", None, True)),
    ],
)
def test_deploy_request(body: str, expected: DeployRequest) -> None:
    (command,) = parse_commands(body)
    assert isinstance(command, Command)
    assert deploy_request(command) == expected
