"""Parse `.github/greenlight.yml` into a Config, or report every problem in it at once.

YAML is composed, not loaded, so every value keeps the line it came from; each problem
becomes a ConfigError with the dotted key, that line, and what to write instead.
All the wording lives in `bot.core.config_messages`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.core import config_messages as msg
from bot.core.conditions import ConditionError, parse_condition
from bot.core.config import (
    Config,
    ConfigError,
    DeployConfig,
    Environment,
    JobConfig,
    MergeConfig,
    Mode,
    Step,
    TrustConfig,
    TrustedAuthors,
)
from bot.core.config_yaml import (
    NULL,
    VARIABLE,
    Pair,
    Reader,
    format_duration,
    found,
    line_of,
    parse_duration,
)
from bot.core.freeze_parser import parse_freeze
from bot.core.health_parser import parse_health, parse_rollback
from bot.core.plan import (
    EXPRESSION,
    MATRIX_REFERENCE,
    PLAN_LIMIT,
    Matrix,
    check_run_names,
    matrix_size,
)

__all__ = ["format_duration", "parse_config", "parse_duration"]

CHECK_NAME_LIMIT = 100  # keeps check-run names readable in GitHub's checks list
ENVIRONMENT_NAME_LIMIT = 255  # GitHub's limit for environment names

# fmt: off
TOP_KEYS = ("mode", "jobs", "merge", "deploy", "trust", "skip_markers", "freeze")
JOB_KEYS = ("run", "steps", "needs", "env", "matrix", "timeout", "reports", "secrets",
            "secret_files", "if", "paths", "reuse")
STEP_KEYS = ("name", "run")
MERGE_KEYS = ("auto", "method", "approvals", "block_labels", "require_labels", "delete_branch",
              "update_branch")
# fmt: on
DEPLOY_KEYS = ("environments",)
ENVIRONMENT_KEYS = (
    "run", "steps", "url", "secrets", "secret_files", "protected", "timeout", "health", "rollback"
)  # fmt: skip
TRUST_KEYS = ("authors",)

_AXIS = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# Job ids as GitHub Actions allows them (letters, digits, - and _), and environment names
# alike: they name check runs, `needs`, commands, variables and page addresses, and must
# never read as a path or break a command, a URL or a Markdown table.
_IDENTIFIER = re.compile(r"[A-Za-z0-9_-]+")
_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9_-]+")
_WRAPPED = re.compile(r"\$\{\{(.*)\}\}", re.DOTALL)


# --- steps, shared by jobs and environments ------------------------------------------


def _check_expressions(
    reader: Reader, text: str, key: str, node: Node, axes: tuple[str, ...]
) -> None:
    for match in EXPRESSION.finditer(text):
        reference = MATRIX_REFERENCE.fullmatch(match.group(1))
        if reference is None:
            reader.error(key, node, msg.unsupported_expression(match.group(1)))
        elif reference.group(1) not in axes:
            reader.error(key, node, msg.unknown_axis(reference.group(1), axes))


def _step_name(command: str) -> str:
    return next((line.strip() for line in command.splitlines() if line.strip()), command)


def _command(reader: Reader, node: Node, key: str, axes: tuple[str, ...]) -> str | None:
    command = reader.text(node, key, msg.EXPECTED_COMMAND)
    if command is not None:
        _check_expressions(reader, command, key, node, axes)
    return command


def _step(reader: Reader, node: Node, key: str, axes: tuple[str, ...]) -> Step | None:
    if not isinstance(node, MappingNode):
        reader.error(key, node, msg.step_not_a_mapping(found(node)))
        return None
    fields = reader.fields(node, key, STEP_KEYS, msg.EXPECTED_STEP) or {}
    if "run" not in fields:
        reader.error(key, node, msg.step_without_run())
        return None
    command = _command(reader, fields["run"], f"{key}.run", axes)
    name: str | None = None
    if "name" in fields:
        name = reader.text(fields["name"], f"{key}.name", msg.EXPECTED_TEXT)
        if name is not None:
            _check_expressions(reader, name, f"{key}.name", fields["name"], axes)
    if command is None:
        return None
    return Step(name=name or _step_name(command), run=command)


def _steps(
    reader: Reader, fields: dict[str, Node], key: str, owner: Pair, axes: tuple[str, ...]
) -> tuple[Step, ...]:
    run, steps = fields.get("run"), fields.get("steps")
    if run is not None and steps is not None:
        reader.error(f"{key}.steps", steps, msg.run_and_steps())
    elif run is not None:
        command = _command(reader, run, f"{key}.run", axes)
        return () if command is None else (Step(name=_step_name(command), run=command),)
    elif steps is None:
        reader.error(key, owner[1], msg.nothing_to_run(owner[0]))
    elif not isinstance(steps, SequenceNode):
        reader.error(f"{key}.steps", steps, msg.wrong_type(msg.EXPECTED_STEPS, found(steps)))
    elif not steps.value:
        reader.error(f"{key}.steps", steps, msg.empty_steps())
    else:
        parsed = [
            _step(reader, item, f"{key}.steps[{i}]", axes) for i, item in enumerate(steps.value)
        ]
        return tuple(step for step in parsed if step is not None)
    return ()


# --- jobs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Draft:
    """A job as read, with the nodes that later checks across jobs point at."""

    name: str
    key_node: Node
    needs: tuple[tuple[str, Node], ...]
    job: JobConfig | None  # None when the job itself has errors
    matrix: Node | None = None
    size: int = 1  # planned jobs it makes, counted even when the job has errors


def _identifier_like(name: str) -> str:
    """`name` made a valid id, for a hint: accents dropped, other characters become `-`."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _NOT_IDENTIFIER.sub("-", plain).strip("-")


def _check_job_name(reader: Reader, name: str, key: str, node: Node) -> None:
    if not name.strip():
        reader.error(key, node, msg.job_name_empty())
    elif len(name) > CHECK_NAME_LIMIT:
        reader.error(key, node, msg.job_name_too_long(name, CHECK_NAME_LIMIT))
    elif not _IDENTIFIER.fullmatch(name):
        reader.error(key, node, msg.job_name_characters(name, _identifier_like(name)))
    elif name == "greenlight":
        reader.error(key, node, msg.job_name_reserved(name))


def _axis_values(reader: Reader, node: Node, key: str, axis: str) -> tuple[str, ...]:
    if not isinstance(node, SequenceNode):
        reader.error(key, node, msg.wrong_type(msg.EXPECTED_AXIS, found(node)))
        return ()
    if not node.value:
        reader.error(key, node, msg.empty_axis(axis))
    values: list[str] = []
    for item in node.value:
        if not isinstance(item, ScalarNode) or item.tag == NULL:
            reader.error(key, item, msg.axis_value_not_scalar(found(item)))
        elif (value := reader.text(item, key, msg.EXPECTED_TEXT)) is None:
            continue
        elif value in values:
            reader.error(key, item, msg.duplicate_axis_value(axis, value))
        else:
            values.append(value)
    return tuple(values)


def _matrix(reader: Reader, node: Node | None, key: str) -> Matrix:
    pairs = reader.pairs(node, key, msg.EXPECTED_MATRIX)
    if node is None or pairs is None:
        return ()
    if not pairs:
        reader.error(key, node, msg.empty_matrix())
    axes: list[tuple[str, tuple[str, ...]]] = []
    for axis, key_node, value_node in pairs:
        if not _AXIS.fullmatch(axis):
            reader.error(f"{key}.{axis}", key_node, msg.bad_axis_name(axis))
        axes.append((axis, _axis_values(reader, value_node, f"{key}.{axis}", axis)))
    if (count := matrix_size(tuple(axes))) > PLAN_LIMIT:
        reader.error(key, node, msg.matrix_too_large(count, PLAN_LIMIT))
    return tuple(axes)


def _env(
    reader: Reader, node: Node | None, key: str, axes: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    variables: list[tuple[str, str]] = []
    for name, key_node, value_node in reader.pairs(node, key, msg.EXPECTED_ENV) or []:
        if not VARIABLE.fullmatch(name):
            reader.error(f"{key}.{name}", key_node, msg.not_a_variable_name(name))
        value = reader.text(value_node, f"{key}.{name}", msg.EXPECTED_TEXT, empty=True)
        if value is not None:
            _check_expressions(reader, value, f"{key}.{name}", value_node, axes)
            variables.append((name, value))
    return tuple(variables)


def _condition(reader: Reader, node: Node | None, key: str) -> str | None:
    text = None if node is None else reader.text(node, key, msg.EXPECTED_CONDITION)
    if text is None:
        return None
    if wrapped := _WRAPPED.fullmatch(text.strip()):  # GitHub Actions style: ${{ … }}
        text = wrapped.group(1).strip()
    try:
        parse_condition(text)
    except ConditionError as error:
        reader.error(key, node, msg.bad_condition(str(error)))
    return text


def _paths(reader: Reader, node: Node | None, key: str) -> tuple[str, ...]:
    patterns = reader.text_items(node, key, msg.EXPECTED_TEXT_LIST)
    for pattern, item in patterns:
        if pattern.strip() == "!":
            reader.error(key, item, msg.empty_pattern())
    return tuple(pattern for pattern, _ in patterns)


def _job(reader: Reader, owner: Pair) -> _Draft:
    name, key_node, node = owner
    key = f"jobs.{name}"
    before = len(reader.errors)
    _check_job_name(reader, name, key, key_node)
    fields = reader.fields(node, key, JOB_KEYS, msg.EXPECTED_JOB)
    if fields is None:
        return _Draft(name, key_node, (), None)
    matrix = _matrix(reader, fields.get("matrix"), f"{key}.matrix")
    axes = tuple(axis for axis, _ in matrix)
    needs = tuple(reader.text_items(fields.get("needs"), f"{key}.needs", msg.EXPECTED_NEEDS))
    job = JobConfig(
        name=name,
        steps=_steps(reader, fields, key, owner, axes),
        needs=tuple(need for need, _ in needs),
        env=_env(reader, fields.get("env"), f"{key}.env", axes),
        matrix=matrix,
        timeout_seconds=reader.duration(fields.get("timeout"), f"{key}.timeout"),
        reports=reader.text_list(fields.get("reports"), f"{key}.reports", ()),
        secrets=reader.names(fields.get("secrets"), f"{key}.secrets"),
        secret_files=reader.names(fields.get("secret_files"), f"{key}.secret_files"),
        condition=_condition(reader, fields.get("if"), f"{key}.if"),
        paths=_paths(reader, fields.get("paths"), f"{key}.paths"),
        reuse=reader.boolean(fields.get("reuse"), f"{key}.reuse", True),
        line=line_of(key_node),
    )
    valid = job if len(reader.errors) == before else None
    return _Draft(name, key_node, needs, valid, fields.get("matrix"), matrix_size(matrix))


def _cycles(needs: dict[str, list[str]]) -> list[tuple[str, ...]]:
    """Each distinct cycle of the needs graph, as the jobs along it (depth-first, no recursion)."""
    state: dict[str, str] = {}
    cycles: dict[frozenset[str], tuple[str, ...]] = {}
    for root in needs:
        if root in state:
            continue
        path, stack = [root], [iter(needs[root])]
        state[root] = "open"
        while stack:
            child = next(stack[-1], None)
            if child is None:
                state[path.pop()] = "done"
                stack.pop()
            elif state.get(child) == "open":
                cycle = tuple(path[path.index(child) :])
                cycles.setdefault(frozenset(cycle), cycle)
            elif child not in state:
                state[child] = "open"
                path.append(child)
                stack.append(iter(needs[child]))
    return list(cycles.values())


def _check_needs(reader: Reader, drafts: list[_Draft]) -> None:
    names = [draft.name for draft in drafts]
    graph: dict[str, list[str]] = {}
    for draft in drafts:
        key = f"jobs.{draft.name}.needs"
        for need, node in draft.needs:
            if need == draft.name:
                reader.error(key, node, msg.needs_itself(need))
            elif need not in names:
                reader.error(key, node, msg.unknown_need(need, names))
        graph[draft.name] = [n for n, _ in draft.needs if n in names and n != draft.name]
    for cycle in _cycles(graph):
        first = min(cycle, key=names.index)
        start = cycle.index(first)
        ordered = cycle[start:] + cycle[:start]
        draft = drafts[names.index(first)]
        node = next(node for need, node in draft.needs if need == ordered[1 % len(ordered)])
        reader.error(f"jobs.{first}.needs", node, msg.needs_cycle(ordered))


def _check_check_names(reader: Reader, drafts: list[_Draft]) -> None:
    """Each job's check-run names fit GitHub's list and differ, once per job. Names of
    different jobs cannot meet: a matrix adds " (", which no job id holds."""
    for draft in drafts:
        if draft.job is None:
            continue
        names = check_run_names(draft.job)
        too_long = next((name for name in names if len(name) > CHECK_NAME_LIMIT), None)
        if too_long is not None:
            message = msg.matrix_name_too_long(too_long, CHECK_NAME_LIMIT)
            reader.error(f"jobs.{draft.name}", draft.key_node, message)
        twice = next((name for name, count in Counter(names).items() if count > 1), None)
        if twice is not None:
            reader.error(f"jobs.{draft.name}.matrix", draft.matrix, msg.matrix_name_twice(twice))


def _check_plan_size(reader: Reader, drafts: list[_Draft]) -> None:
    """At most PLAN_LIMIT planned jobs in all, pointing at the job that makes the most."""
    total = sum(draft.size for draft in drafts)
    if total <= PLAN_LIMIT or any(draft.size > PLAN_LIMIT for draft in drafts):
        return  # within the cap, or one matrix alone is over it and says so where it is
    ranked = sorted(drafts, key=lambda draft: draft.size, reverse=True)
    largest = ranked[0]
    key = f"jobs.{largest.name}" + (".matrix" if largest.matrix is not None else "")
    sizes = [(draft.name, draft.size) for draft in ranked]
    reader.error(
        key, largest.matrix or largest.key_node, msg.plan_too_large(total, PLAN_LIMIT, sizes)
    )


def _jobs(reader: Reader, node: Node | None) -> tuple[JobConfig, ...]:
    pairs = reader.pairs(node, "jobs", msg.EXPECTED_JOBS)
    if pairs == []:
        reader.error("jobs", node, msg.no_jobs())
    drafts = [_job(reader, pair) for pair in pairs or []]
    _check_needs(reader, drafts)
    _check_check_names(reader, drafts)
    _check_plan_size(reader, drafts)
    return tuple(draft.job for draft in drafts if draft.job is not None)


# --- the other sections -------------------------------------------------------------


def _merge(reader: Reader, node: Node | None, mode: Mode) -> MergeConfig:
    default = MergeConfig(auto=mode is Mode.DEPLOYMENT)
    fields = reader.fields(node, "merge", MERGE_KEYS, msg.EXPECTED_SECTION) or {}

    def field(name: str) -> tuple[Node | None, str]:
        return fields.get(name), f"merge.{name}"

    return MergeConfig(
        auto=reader.boolean(*field("auto"), default.auto),
        method=reader.choice(*field("method"), default.method),
        approvals=reader.count(*field("approvals"), default.approvals),
        block_labels=reader.text_list(*field("block_labels"), default.block_labels),
        require_labels=reader.text_list(*field("require_labels"), default.require_labels),
        delete_branch=reader.boolean(*field("delete_branch"), default.delete_branch),
        update_branch=reader.boolean(*field("update_branch"), default.update_branch),
    )


def _url(reader: Reader, node: Node | None, key: str) -> str | None:
    url = None if node is None else reader.text(node, key, msg.EXPECTED_TEXT)
    if node is not None and url is not None and not url.startswith(("https://", "http://")):
        reader.error(key, node, msg.not_a_url(url))
    return url


def _environment(reader: Reader, owner: Pair) -> Environment:
    name, key_node, node = owner
    key = f"deploy.environments.{name}"
    if len(name) > ENVIRONMENT_NAME_LIMIT:
        reader.error(key, key_node, msg.environment_name_too_long(name, ENVIRONMENT_NAME_LIMIT))
    elif not _IDENTIFIER.fullmatch(name):
        reader.error(key, key_node, msg.environment_name(name, _identifier_like(name)))
    fields = reader.fields(node, key, ENVIRONMENT_KEYS, msg.EXPECTED_ENVIRONMENT) or {}
    return Environment(
        name=name,
        steps=_steps(reader, fields, key, owner, axes=()),
        url=_url(reader, fields.get("url"), f"{key}.url"),
        secrets=reader.names(fields.get("secrets"), f"{key}.secrets"),
        secret_files=reader.names(fields.get("secret_files"), f"{key}.secret_files"),
        protected=reader.boolean(fields.get("protected"), f"{key}.protected", False),
        timeout_seconds=reader.duration(fields.get("timeout"), f"{key}.timeout"),
        health=parse_health(reader, fields.get("health"), f"{key}.health"),
        rollback_automatic=parse_rollback(reader, fields.get("rollback"), f"{key}.rollback"),
    )


def _deploy(reader: Reader, node: Node | None) -> DeployConfig:
    fields = reader.fields(node, "deploy", DEPLOY_KEYS, msg.EXPECTED_SECTION) or {}
    key = "deploy.environments"
    pairs = reader.pairs(fields.get("environments"), key, msg.EXPECTED_ENVIRONMENTS) or []
    return DeployConfig(environments=tuple(_environment(reader, pair) for pair in pairs))


def _config(reader: Reader, root: MappingNode) -> Config:
    fields = reader.fields(root, "", TOP_KEYS, msg.EXPECTED_SECTION) or {}
    mode = reader.choice(fields.get("mode"), "mode", Mode.INTEGRATION)
    trust = reader.fields(fields.get("trust"), "trust", TRUST_KEYS, msg.EXPECTED_SECTION) or {}
    deploy = _deploy(reader, fields.get("deploy"))
    environments = tuple(environment.name for environment in deploy.environments)
    return Config(
        mode=mode,
        jobs=_jobs(reader, fields.get("jobs")),
        merge=_merge(reader, fields.get("merge"), mode),
        deploy=deploy,
        freeze=parse_freeze(reader, fields.get("freeze"), environments),
        trust=TrustConfig(
            authors=reader.choice(
                trust.get("authors"), "trust.authors", TrustedAuthors.COLLABORATORS
            )
        ),
        skip_markers=reader.text_list(
            fields.get("skip_markers"), "skip_markers", Config().skip_markers
        ),
    )


def _compose(text: str) -> Node | ConfigError:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or str(error)
        message = msg.yaml_tab() if "'\\t'" in problem else msg.yaml_syntax(problem)
        return ConfigError(key="", line=1 if mark is None else mark.line + 1, message=message)
    except yaml.YAMLError as error:  # a ReaderError: a character YAML does not allow
        position = getattr(error, "position", 0)
        line = text.count("\n", 0, position) + 1
        return ConfigError(key="", line=line, message=msg.yaml_syntax(str(error)))
    if root is None or (isinstance(root, ScalarNode) and root.tag == NULL):
        return ConfigError(key="", line=1, message=msg.empty_file())
    return root


def parse_config(text: str) -> Config | tuple[ConfigError, ...]:
    """The Config in `text`, or every problem found in it, ordered by line."""
    root = _compose(text)
    if isinstance(root, ConfigError):
        return (root,)
    if not isinstance(root, MappingNode):
        return (ConfigError(key="", line=line_of(root), message=msg.not_a_mapping(found(root))),)
    reader = Reader()
    config = _config(reader, root)
    if reader.errors:
        return tuple(sorted(reader.errors, key=lambda error: error.line))
    return config
