"""Load definition files and check everything the format alone cannot: references between
questions, routing order, codes, and claims about the previous version."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from app.surveys.definitions import (
    AllOf,
    AnswerIn,
    AnyOf,
    Comparability,
    Condition,
    DefinitionError,
    Grid,
    Option,
    Problem,
    QuestionType,
    ResolvedQuestion,
    SurveyDefinition,
    resolve_questions,
)


class _DefinitionLoader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true and false. Under YAML 1.1 an option code `yes` or `no` (or a
    team key `on`) would silently become a boolean."""


_DefinitionLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_DefinitionLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def load_definitions(paths: list[Path]) -> list[SurveyDefinition]:
    """Load and check every file; raise one DefinitionError listing every problem in all of them.

    A version that names a previous version is checked against it: the previous file is taken from
    the same list, or else from `<previous>.yaml` beside it.
    """
    problems: list[Problem] = []
    loaded: dict[Path, SurveyDefinition] = {}
    for path in paths:
        try:
            loaded[path] = _parse(path)
        except DefinitionError as error:
            problems.extend(error.problems)
    for path, definition in loaded.items():
        problems.extend(check_definition(definition, file=str(path)))
        if definition.previous_version is None:
            continue
        previous = _find_previous(definition, path, loaded)
        if previous is None:
            problems.append(
                Problem(
                    file=str(path),
                    where="file",
                    field="previous_version",
                    message=f"previous version {definition.previous_version!r} not found: "
                    f"expected {path.with_name(definition.previous_version + '.yaml')}",
                )
            )
        else:
            problems.extend(check_against_previous(definition, previous, file=str(path)))
    if problems:
        raise DefinitionError(problems)
    return [loaded[path] for path in paths]


def load_definition(path: Path) -> SurveyDefinition:
    return load_definitions([path])[0]


def _find_previous(
    definition: SurveyDefinition, path: Path, loaded: dict[Path, SurveyDefinition]
) -> SurveyDefinition | None:
    for other in loaded.values():
        if other.survey == definition.survey and other.version == definition.previous_version:
            return other
    sibling = path.with_name(f"{definition.previous_version}.yaml")
    if sibling.exists() and sibling not in loaded:
        try:
            return _parse(sibling)
        except DefinitionError:
            return None
    return None


def _parse(path: Path) -> SurveyDefinition:
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DefinitionError(
            [Problem(file=str(path), where="file", field="-", message=str(error))]
        ) from error
    return parse_definition(source, file=str(path))


def parse_definition(source: str, *, file: str) -> SurveyDefinition:
    """One definition from its YAML text (a file's, or an upload's kept in memory); `file` only
    names it in the problems."""
    try:
        raw = yaml.load(source, Loader=_DefinitionLoader)
    except yaml.YAMLError as error:
        raise DefinitionError(
            [Problem(file=file, where="file", field="-", message=f"not valid YAML: {error}")]
        ) from error
    if not isinstance(raw, dict):
        raise DefinitionError(
            [Problem(file=file, where="file", field="-", message="not a mapping")]
        )
    try:
        return SurveyDefinition.model_validate(raw)
    except ValidationError as error:
        raise DefinitionError(
            [_problem_from_pydantic(file, raw, detail) for detail in error.errors()]
        ) from error


def _problem_from_pydantic(file: str, raw: dict[str, Any], detail: Any) -> Problem:
    """Name the question, team or section a pydantic error is about, as a survey owner knows it."""
    loc = [part for part in detail["loc"] if not _is_union_tag(part)]
    where = "file"
    node: Any = raw
    field_parts: list[str] = []
    container = ""
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            field_parts.append(str(part))
            continue
        if isinstance(node, dict) and isinstance(part, int):
            where = _describe(node, container, where)
            field_parts = []
        elif container == "scales" and isinstance(node, dict):
            where = f"scale {part}"
            field_parts = []
        else:
            field_parts.append(str(part))
            container = str(part)
    message = detail["msg"]
    if detail["type"] == "missing":
        message = f"{field_parts[-1] if field_parts else 'value'} missing"
    elif detail["type"] == "extra_forbidden":
        message = "unknown field (check the spelling)"
    return Problem(file=file, where=where, field=".".join(field_parts) or "-", message=message)


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and part in {
        "Question",
        "Grid",
        "AnswerIn",
        "AllOf",
        "AnyOf",
        "function-after[_reason_given(), Question]",
    }


_CONTAINER_NAMES = {
    "teams": "team",
    "role_groupings": "role grouping",
    "audiences": "audience",
    "sections": "section",
    "indicators": "indicator",
}


def _describe(node: dict[str, Any], container: str, outer: str) -> str:
    label = node.get("key", node.get("code", node.get("name", "?")))
    if container in {"questions", "items"}:
        kind = "grid" if node.get("type") == "grid" else "question"
        return f"{kind} {node.get('number', '?')} (key {node.get('key', '?')})"
    if container == "options":
        return f"{outer}, option {label}"
    if container in _CONTAINER_NAMES:
        return f"{_CONTAINER_NAMES[container]} {label}"
    return outer


def _where(question: ResolvedQuestion) -> str:
    return f"question {question.number} (key {question.key})"


def check_definition(definition: SurveyDefinition, *, file: str) -> list[Problem]:
    """Rules that span several parts of one version."""
    problems: list[Problem] = []

    def problem(where: str, field: str, message: str) -> None:
        problems.append(Problem(file=file, where=where, field=field, message=message))

    for name, scale in definition.scales.items():
        _check_options(scale.options, f"scale {name}", problem)

    for section in definition.sections:
        for entry in section.questions:
            kind = "grid" if isinstance(entry, Grid) else "question"
            where = f"{kind} {entry.number} (key {entry.key})"
            if entry.scale is not None and entry.scale not in definition.scales:
                problem(where, "scale", f"unknown scale {entry.scale!r}")
            if entry.scale is not None and entry.options:
                problem(where, "options", "give either options or scale, not both")
    if problems:
        return problems

    questions = resolve_questions(definition)
    grid_keys = [
        entry.key
        for section in definition.sections
        for entry in section.questions
        if isinstance(entry, Grid)
    ]
    key_counts = Counter([question.key for question in questions] + grid_keys)
    number_counts = Counter(question.number for question in questions)
    audiences = {audience.key: audience for audience in definition.population.audiences}
    position = {question.key: index for index, question in enumerate(questions)}
    by_key = {question.key: question for question in questions}

    for index, question in enumerate(questions):
        where = _where(question)
        if key_counts[question.key] > 1:
            problem(where, "key", f"duplicate key {question.key!r}")
        if number_counts[question.number] > 1:
            problem(
                where, "number", f"number {question.number!r} is printed on more than one question"
            )
        if question.type == QuestionType.free_text:
            if question.options:
                problem(where, "options", "a free-text question has no options")
        elif not question.options:
            problem(where, "options", f"a {question.type.value} question needs options")
        _check_options(question.options, where, problem)
        for audience_key in question.applies_to:
            if audience_key not in audiences:
                problem(where, "applies_to", f"unknown audience {audience_key!r}")
            elif position.get(audiences[audience_key].question, len(questions)) >= index:
                problem(
                    where,
                    "applies_to",
                    f"audience {audience_key!r} is decided by question "
                    f"{audiences[audience_key].question!r}, which does not come before this one",
                )
        if question.show_if is not None:
            for code_problem in _condition_problems(question.show_if, by_key, position, index):
                problem(where, "show_if", code_problem)

    for audience in definition.population.audiences:
        deciding = by_key.get(audience.question)
        where = f"audience {audience.key}"
        if deciding is None:
            problem(where, "question", f"unknown question {audience.question!r}")
            continue
        for code in audience.answers:
            if deciding.option(code) is None:
                problem(where, "answers", f"question {deciding.number} has no option {code!r}")

    for indicator in definition.indicators:
        where = f"indicator {indicator.key}"
        measured = by_key.get(indicator.question)
        if measured is None:
            problem(where, "question", f"unknown question {indicator.question!r}")
        elif not any(option.positive for option in measured.options):
            problem(
                where,
                "question",
                f"question {measured.number} has no positive option, so no positive share",
            )
    for key, count in Counter(i.key for i in definition.indicators).items():
        if count > 1:
            problem(f"indicator {key}", "key", f"duplicate indicator key {key!r}")

    for kind, items in (
        ("team", definition.population.teams),
        ("role grouping", definition.population.role_groupings),
    ):
        for key, count in Counter(item.key for item in items).items():
            if count > 1:
                problem(f"{kind} {key}", "key", f"duplicate {kind} key {key!r}")
        for name, count in Counter(item.name for item in items).items():
            if count > 1:
                problem(f"{kind} {name}", "name", f"duplicate {kind} name {name!r}")

    if definition.previous_version is None:
        for team in definition.population.teams:
            if team.succeeds:
                problem(f"team {team.key}", "succeeds", "there is no previous_version to succeed")
        for question in questions:
            if question.continues is not None:
                problem(_where(question), "continues", "there is no previous_version to continue")
    return problems


def _check_options(options: list[Option], where: str, problem: Any) -> None:
    for code, count in Counter(option.code for option in options).items():
        if count > 1:
            problem(where, "options", f"option code {code!r} is used more than once")
    for option in options:
        if option.positive and option.excluded_from_base:
            problem(
                where,
                f"options.{option.code}",
                "an option excluded from the base cannot also count as positive",
            )


def _condition_problems(
    condition: Condition,
    by_key: dict[str, ResolvedQuestion],
    position: dict[str, int],
    index: int,
) -> list[str]:
    problems: list[str] = []
    if isinstance(condition, AnswerIn):
        target = by_key.get(condition.question)
        if target is None:
            return [f"condition on unknown question {condition.question!r}"]
        if position[condition.question] >= index:
            return [
                f"condition on question {target.number} ({condition.question}), "
                "which does not come before this one"
            ]
        for code in condition.in_:
            if target.option(code) is None:
                problems.append(f"question {target.number} has no option {code!r}")
        return problems
    parts = condition.all if isinstance(condition, AllOf) else condition.any
    assert isinstance(condition, AllOf | AnyOf)
    for part in parts:
        problems.extend(_condition_problems(part, by_key, position, index))
    return problems


def check_against_previous(
    definition: SurveyDefinition, previous: SurveyDefinition, *, file: str
) -> list[Problem]:
    """Claims of continuity must hold: the earlier question and team exist, and a question called
    comparable really asks the same thing with the same options."""
    problems: list[Problem] = []
    earlier = {question.key: question for question in resolve_questions(previous)}
    earlier_teams = {team.key for team in previous.population.teams}
    for team in definition.population.teams:
        for predecessor in team.succeeds:
            if predecessor not in earlier_teams:
                problems.append(
                    Problem(
                        file=file,
                        where=f"team {team.key}",
                        field="succeeds",
                        message=f"version {previous.version} has no team {predecessor!r}",
                    )
                )
    for question in resolve_questions(definition):
        if question.continues is None:
            continue
        where = _where(question)
        before = earlier.get(question.continues.question)
        if before is None:
            problems.append(
                Problem(
                    file=file,
                    where=where,
                    field="continues.question",
                    message=f"version {previous.version} has no question "
                    f"{question.continues.question!r}",
                )
            )
            continue
        claimed = question.continues.comparability
        actual = comparability_between(before, question)
        if _rank(claimed) < _rank(actual):
            problems.append(
                Problem(
                    file=file,
                    where=where,
                    field="continues.comparability",
                    message=f"claims {claimed.value} with {previous.version} question "
                    f"{before.number}, but {_difference(before, question)}: "
                    f"it is at most {actual.value}",
                )
            )
    return problems


def comparability_between(before: ResolvedQuestion, after: ResolvedQuestion) -> Comparability:
    """The most a pair of questions can claim: identical, same counted options, or neither."""
    if before.text == after.text and _options(before.options) == _options(after.options):
        return Comparability.comparable
    if _counted(before.options) == _counted(after.options):
        return Comparability.comparable_with_note
    return Comparability.not_comparable


def _options(options: list[Option]) -> list[tuple[str, str, bool, bool]]:
    return [(o.code, o.label, o.positive, o.excluded_from_base) for o in options]


def _counted(options: list[Option]) -> list[tuple[str, str, bool]]:
    return [(o.code, o.label, o.positive) for o in options if not o.excluded_from_base]


def _rank(comparability: Comparability) -> int:
    return list(Comparability).index(comparability)


def _difference(before: ResolvedQuestion, after: ResolvedQuestion) -> str:
    if _counted(before.options) != _counted(after.options):
        return "the options that count towards the base differ"
    if _options(before.options) != _options(after.options):
        return "the options differ"
    return "the wording differs"
