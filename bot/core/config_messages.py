"""Every message the config check shows a user: what is wrong and what to write instead.

The parser passes values the user wrote; they are quoted here, never interpreted. Escaping
for Markdown or HTML happens where the text is rendered, not here.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

EXAMPLE_JOBS = "jobs:\n  test:\n    run: make test"

# Keys people bring from GitHub Actions workflows, with what to do instead.
_ACTIONS_HINTS = {
    "on": "Greenlight builds every push and pull request by itself; remove `on`",
    "name": "the check run is named after the job's key; remove `name`",
    "runs-on": "jobs run on the Greenlight server's executor; remove `runs-on`",
    "uses": "actions are not supported; run the command with `run:`",
    "with": "actions are not supported; remove `with` and run the command with `run:`",
    "strategy": "write `matrix:` directly under the job, without `strategy:`",
}


# What a value must be, completing "must be …, not …".
EXPECTED_SECTION = "a mapping of keys to values"
EXPECTED_JOBS = "a mapping of job names to jobs"
EXPECTED_JOB = "a mapping with `run` or `steps`"
EXPECTED_STEPS = "a list of steps like `- run: make test`"
EXPECTED_STEP = "a mapping with `run` and an optional `name`"
EXPECTED_COMMAND = "a command as text"
EXPECTED_TEXT = "text"
EXPECTED_TEXT_LIST = "a list of texts"
EXPECTED_NAME_LIST = "a list of names"
EXPECTED_NEEDS = "a job name or a list of job names"
EXPECTED_ENV = "a mapping of variable names to values"
EXPECTED_MATRIX = 'a mapping of axes to values, like {python: ["3.11", "3.12"]}'
EXPECTED_AXIS = 'a list of values, like ["3.11", "3.12"]'
EXPECTED_CONDITION = "a condition like branch == 'main'"
EXPECTED_DURATION = "a duration like 90s, 15m or 1h30m"
EXPECTED_ONE_OF = "one of the listed words"
EXPECTED_ENVIRONMENTS = "a mapping of environment names to environments, in promotion order"
EXPECTED_ENVIRONMENT = (
    "a mapping with `run` or `steps`, and optionally url, secrets, protected, health, rollback"
)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """'; did you mean `x`?' for the closest choice, ignoring case, or '' when none is close."""
    by_lower = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f"; did you mean `{by_lower[close[0]]}`?" if close else ""


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _listing(choices: Iterable[str]) -> str:
    return ", ".join(choices)


def found(kind: str, value: str = "") -> str:
    """How a value the user wrote is described: kind is mapping, list, empty, boolean, number
    or text."""
    short = value if len(value) <= 40 else value[:39] + "…"
    descriptions = {
        "mapping": "a mapping",
        "list": "a list",
        "empty": "an empty value",
        "boolean": f"`{short}`",
        "number": f"the number {short}",
    }
    return descriptions.get(kind, f"the text {_quoted(short)}")


# --- the file as a whole -------------------------------------------------------------


def yaml_syntax(problem: str) -> str:
    return f"this is not valid YAML ({problem}); check the indentation and quotes here"


def yaml_tab() -> str:
    return "YAML indents with spaces, not tabs; replace the tab on this line"


def empty_file() -> str:
    return f"the file is empty; it needs at least one job, like:\n{EXAMPLE_JOBS}"


def not_a_mapping(found: str) -> str:
    return f"the file must be a mapping of keys (mode, jobs, merge…), not {found}"


def unsupported_yaml_tag(tag: str) -> str:
    return f"YAML reads `{tag}` as a tag; put the value in quotes"


def bad_merge_key(found: str) -> str:
    return f"`<<` can merge only mappings, not {found}; merge a mapping defined with `&name`"


# --- keys and types ------------------------------------------------------------------


def unknown_key(key: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if key in _ACTIONS_HINTS:
        return f"`{key}` is not a Greenlight key: {_ACTIONS_HINTS[key]}"
    hint = did_you_mean(key, allowed)
    return f"`{key}` is not a key here{hint or '; the keys are ' + _listing(allowed)}"


def duplicate_key(key: str) -> str:
    return f"`{key}` appears more than once here; keep one"


def key_not_text(found: str) -> str:
    return f"keys must be plain names, not {found}"


def wrong_type(expected: str, found: str) -> str:
    return f"must be {expected}, not {found}"


def nested_list_in_text(found: str) -> str:
    return f"must be text, not {found}; YAML reads [brackets] as a list, so quote it: '[skip ci]'"


def empty_text() -> str:
    return "is empty; write a value or remove the key"


def not_one_of(value: str, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    hint = did_you_mean(value, choices)
    return f"{_quoted(value)} is not one of {_listing(choices)}{hint}"


def not_a_boolean(found: str) -> str:
    return f"must be true or false, not {found}"


def not_a_count(found: str) -> str:
    return f"must be a whole number, 0 or more, not {found}"


def not_a_duration(value: str) -> str:
    return f"{_quoted(value)} is not a duration; write it like 90s, 15m or 1h30m"


def zero_duration(value: str) -> str:
    return f"{_quoted(value)} is no time at all; give a duration like 90s, 15m or 1h30m"


def not_a_variable_name(name: str) -> str:
    return f"`{name}` is not a variable name; use letters, digits and _, not starting with a digit"


# --- jobs ----------------------------------------------------------------------------


def no_jobs() -> str:
    return f"there are no jobs; add at least one, like:\n{EXAMPLE_JOBS}"


def run_and_steps() -> str:
    return "a job has either `run` or `steps`, not both; move the command into `steps`"


def nothing_to_run(name: str) -> str:
    return f"`{name}` has nothing to run; add `run: <command>` or a list of `steps`"


def empty_steps() -> str:
    return "the list of steps is empty; add one like `- run: make test`"


def step_not_a_mapping(found: str) -> str:
    return f"each step must be a mapping like `- run: make test`, not {found}"


def step_without_run() -> str:
    return "this step has no `run`; add the command, like `run: make test`"


def job_name_empty() -> str:
    return "a job needs a name; write one like `test:`"


def job_name_too_long(name: str, limit: int) -> str:
    return f"`{name[:40]}…` is {len(name)} characters; check run names are at most {limit}"


def job_name_characters(name: str, suggestion: str) -> str:
    hint = f"; did you mean `{suggestion}`?" if suggestion else ", like `unit-tests`"
    return f"{_quoted(name)} cannot be a job name: use only letters, digits, - and _{hint}"


def job_name_reserved(name: str) -> str:
    return f"`{name}` is the name of Greenlight's own check run; choose another name"


def matrix_name_too_long(check_name: str, limit: int) -> str:
    return f"the check run `{check_name[:40]}…` would be longer than {limit} characters"


def matrix_name_twice(check_name: str) -> str:
    return (
        f"two combinations of this matrix would both make the check run `{check_name}` "
        '(values are joined with ", "); take the comma out of a value'
    )


def unknown_need(name: str, jobs: Iterable[str]) -> str:
    jobs = tuple(jobs)
    return (
        f"no job is called `{name}`{did_you_mean(name, jobs) or '; the jobs are ' + _listing(jobs)}"
    )


def needs_itself(name: str) -> str:
    return f"`{name}` needs itself; remove `{name}` from its needs"


def needs_cycle(names: Iterable[str]) -> str:
    names = tuple(names)
    cycle = " → ".join((*names, names[0]))
    return f"these jobs need each other in a circle: {cycle}; remove one of these needs"


def bad_condition(detail: str) -> str:
    return f"the condition does not work: {detail}"


def empty_pattern() -> str:
    return "a path pattern is empty; write one like src/** or docs/*.md"


# --- matrix --------------------------------------------------------------------------


def empty_matrix() -> str:
    return 'the matrix is empty; give at least one axis, like {python: ["3.11", "3.12"]}'


def empty_axis(axis: str) -> str:
    return f'the matrix axis `{axis}` has no values; list some, like ["3.11", "3.12"]'


def bad_axis_name(axis: str) -> str:
    return f"`{axis}` cannot be a matrix axis; use letters, digits, _ and -"


def axis_value_not_scalar(found: str) -> str:
    return f"a matrix value must be text or a number, not {found}"


def duplicate_axis_value(axis: str, value: str) -> str:
    return f"{_quoted(value)} appears twice in the matrix axis `{axis}`; keep one"


_FEWER_JOBS = "or run several values in one job, looping over them in its steps"


def matrix_too_large(count: int, limit: int) -> str:
    return (
        f"this matrix makes {count} jobs; at most {limit} are allowed: remove values, {_FEWER_JOBS}"
    )


def plan_too_large(total: int, limit: int, sizes: Sequence[tuple[str, int]]) -> str:
    """`sizes`: each job's name and how many jobs it makes, the most first."""
    most = ", ".join(f"`{name}` {count}" for name, count in sizes[:3])
    more = ", …" if len(sizes) > 3 else ""
    return (
        f"the jobs make {total} check runs in all, matrices expanded ({most}{more}); "
        f"at most {limit} are allowed for one commit: remove matrix values or jobs, {_FEWER_JOBS}"
    )


def unknown_axis(axis: str, axes: Iterable[str]) -> str:
    axes = tuple(axes)
    if not axes:
        return f"`${{{{ matrix.{axis} }}}}` is used but this job has no `matrix`"
    hint = did_you_mean(axis, axes) or "; the axes are " + _listing(axes)
    return f"the matrix has no axis `{axis}`{hint}"


def unsupported_expression(expression: str) -> str:
    return (
        f"`${{{{ {expression} }}}}` is not supported: only ${{{{ matrix.NAME }}}} is replaced; "
        "secrets and job variables reach steps as environment variables"
    )


# --- deploy --------------------------------------------------------------------------


def environment_name(name: str, suggestion: str) -> str:
    hint = f"; did you mean `{suggestion}`?" if suggestion else ", like `staging`"
    return f"{_quoted(name)} cannot be an environment name: use only letters, digits, - and _{hint}"


def environment_name_too_long(name: str, limit: int) -> str:
    return f"`{name[:40]}…` is {len(name)} characters; environment names are at most {limit}"


def not_a_url(url: str) -> str:
    return f"{_quoted(url)} is not a web address; write it like https://staging.example.com"


# --- conditions (`if:`) --------------------------------------------------------------


def condition_at_column(message: str, column: int) -> str:
    return f"column {column}: {message}"


def condition_unexpected_character(character: str) -> str:
    return f"unexpected character {character!r}; use ==, !=, &&, ||, !, parentheses and quotes"


def condition_unterminated(quote: str) -> str:
    return f"the text is missing its closing {quote}"


def condition_unknown_name(name: str, names: Iterable[str], words: Iterable[str]) -> str:
    return f"unknown name `{name}`: the names are {_listing(names)}{did_you_mean(name, words)}"


def condition_bare_word(name: str) -> str:
    return f"unknown name `{name}`; put text in quotes: '{name}'"


def condition_unknown_function(name: str, functions: Iterable[str]) -> str:
    functions = tuple(functions)
    hint = did_you_mean(name, functions)
    return f"unknown function `{name}`: the only function is {_listing(functions)}{hint}"


def condition_token(kind: str, value: str) -> str:
    """A token of a condition, as named in errors; kind is end, text, name or operator."""
    if kind == "end":
        return "the end"
    return f"the text {value!r}" if kind == "text" else f"`{value}`"


def condition_expected(what: str, found: str) -> str:
    return f"expected {what} but found {found}"


def condition_needs_boolean(operator: str, operand: str) -> str:
    return (
        f"`{operator}` works on true/false values, but `{operand}` is text; "
        f"compare it, e.g. {operand} == 'main'"
    )


def condition_mixed_comparison(left: str, right: str) -> str:
    return f"`{left}` and `{right}` cannot be compared: one is text, the other true/false"


def condition_needs_text(operand: str) -> str:
    return f"startsWith takes text, but `{operand}` is true/false"


def condition_unknown_value(name: str, value: str, known: Iterable[str]) -> str:
    return f"`{name}` is never {value!r}; it is one of {_listing(known)}"


def condition_not_boolean(text: str) -> str:
    return f"the condition is text, not true/false; compare it, e.g. {text} == 'main'"


def condition_empty() -> str:
    return "the condition is empty; write one like branch == 'main'"


def condition_too_long(limit: int) -> str:
    return f"the condition is longer than {limit} characters; simplify it"


def condition_too_deep(limit: int) -> str:
    return f"the condition nests deeper than {limit} levels; simplify it"


# --- freeze windows ------------------------------------------------------------------

EXPECTED_FREEZE = "a list of windows, each a mapping with a name and cron or from"
EXPECTED_WINDOW = "a mapping with name, and cron with duration, or from with until"
EXPECTED_TIME = "a date and time like 2026-12-20T00:00:00Z"


def window_without_name() -> str:
    return "each freeze window needs a `name`, like `name: weekend`; it is shown while it holds"


def duplicate_window(name: str) -> str:
    return f"two freeze windows are called `{name}`; give each its own name"


def window_without_time() -> str:
    return (
        "say when the window is: `cron` and `duration` for a recurring one "
        '(cron: "0 18 * * FRI", duration: 62h), or `from` and `until` for one window'
    )


def window_of_both_kinds() -> str:
    return (
        "a window is either recurring (`cron`, `duration`) or one-off (`from`, `until`), not both"
    )


def window_needs(key: str, other: str) -> str:
    return f"`{other}` needs `{key}` beside it"


def bad_cron(expression: str, detail: str) -> str:
    return (
        f"{_quoted(expression)} is not a cron expression ({detail}); "
        'write five fields, minute hour day month weekday, like "0 18 * * FRI"'
    )


def unknown_timezone(name: str) -> str:
    return f"{_quoted(name)} is not a time zone; use an IANA name like Europe/Berlin, or UTC"


def not_a_time(value: str) -> str:
    return f"{_quoted(value)} is not a date and time; write it like 2026-12-20T00:00:00Z"


def until_not_after_from(start: str, end: str) -> str:
    return f"the window ends ({end}) before it starts ({start}); `until` must be after `from`"


def unknown_freeze_target(name: str, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    hint = did_you_mean(name, choices)
    return (
        f"`{name}` is neither `merge` nor an environment of deploy.environments"
        f"{hint or '; the choices are ' + _listing(choices)}"
    )


# --- health checks and rollback --------------------------------------------------------

EXPECTED_HEALTH = "a mapping with http or run, and optionally expect, every, for"
EXPECTED_ROLLBACK = "a mapping like {automatic: false}"


def health_without_probe() -> str:
    return "say how to check health: `http: https://example.com/healthz` or `run: ./check-health`"


def health_with_both() -> str:
    return "a health check is `http` or `run`, not both; keep one"


def not_a_status_code(found: str) -> str:
    return f"must be an HTTP status code from 100 to 599, like 200, not {found}"
