"""The questionnaire definition format: one YAML file per survey version.

A file is written by a survey owner, so every rule that keeps a version coherent is checked here,
before anything reaches the database, and every problem is reported with the file, the question
and the field it concerns.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
"""Stable identifiers: question keys, option codes, team and role keys."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuestionType(StrEnum):
    single_choice = "single_choice"
    yes_no = "yes_no"
    likert = "likert"
    multiple_choice = "multiple_choice"
    free_text = "free_text"


class Comparability(StrEnum):
    comparable = "comparable"
    comparable_with_note = "comparable_with_note"
    not_comparable = "not_comparable"


class Option(Strict):
    code: Key
    label: str = Field(min_length=1)
    positive: bool = False
    excluded_from_base: bool = False
    """Answers such as "Not applicable to my role": stored, but left out of every percentage's
    base."""


class Reconstructable(Strict):
    reconstructed: bool = False
    reconstructed_reason: str | None = None
    """Why the option list had to be rebuilt (the seed report's charts were images)."""

    @model_validator(mode="after")
    def _reason_given(self) -> Reconstructable:
        if self.reconstructed and not self.reconstructed_reason:
            raise ValueError("reconstructed: true needs a one-line reconstructed_reason")
        if self.reconstructed_reason and not self.reconstructed:
            raise ValueError("reconstructed_reason is given but reconstructed is not true")
        return self


class AnswerIn(Strict):
    """True when the earlier question was answered with one of these codes."""

    question: Key
    in_: list[Key] = Field(alias="in", min_length=1)


class AllOf(Strict):
    all: list[Condition] = Field(min_length=1)


class AnyOf(Strict):
    any: list[Condition] = Field(min_length=1)


Condition = AnswerIn | AllOf | AnyOf


def condition_questions(condition: Condition) -> list[str]:
    """Every question key a condition reads."""
    if isinstance(condition, AnswerIn):
        return [condition.question]
    parts = condition.all if isinstance(condition, AllOf) else condition.any
    return [key for part in parts for key in condition_questions(part)]


def condition_holds(condition: Condition, answers: Mapping[str, Any]) -> bool:
    """Whether a condition holds for a respondent's answers so far (codes, or lists of codes)."""
    if isinstance(condition, AnswerIn):
        given = answers.get(condition.question)
        chosen = given if isinstance(given, list) else [given]
        return any(code in condition.in_ for code in chosen)
    if isinstance(condition, AllOf):
        return all(condition_holds(part, answers) for part in condition.all)
    return any(condition_holds(part, answers) for part in condition.any)


class Continues(Strict):
    """The earlier version's question this one carries on, and how far the two can be compared."""

    question: Key
    comparability: Comparability
    note: str | None = None

    @model_validator(mode="after")
    def _note_when_needed(self) -> Continues:
        if self.comparability != Comparability.comparable and not self.note:
            raise ValueError(f"comparability {self.comparability.value} needs a note saying why")
        return self


class QuestionBase(Reconstructable):
    key: Key
    number: str = Field(min_length=1, max_length=16)
    """As printed: "4b", "NQSW", "11e"."""
    text: str = Field(min_length=1)
    """The wording respondents saw."""
    short_title: str | None = None
    """The wording of the report's contents page, where it differs from the question."""
    required: bool = True
    applies_to: list[Key] = []
    """Audiences (see Population.audiences): shown only to respondents in every one of them."""
    show_if: Condition | None = None
    continues: Continues | None = None
    hint: str | None = None


class Question(QuestionBase):
    type: QuestionType
    stem: str | None = None
    """A heading shared with neighbouring questions ("Is your supervision session ever cancelled
    or postponed ..." over 6a and 6b), where `text` alone ("... by you?") is not the question."""
    options: list[Option] = []
    scale: Key | None = None
    """Name of a shared option list in the version's `scales`, instead of `options`."""
    extra_options: list[Option] = []
    """Appended to the scale's options (a "Not applicable" that only some items offer)."""


class GridItem(QuestionBase):
    options: list[Option] = []
    """Replaces the grid's scale for this item only (18d has its own two options)."""
    extra_options: list[Option] = []


class Grid(Reconstructable):
    """Items that share one stem and one scale (11a–m). Each item is a question of its own."""

    type: Literal["grid"]
    key: Key
    number: str
    stem: str
    short_title: str | None = None
    intro: str | None = None
    options: list[Option] = []
    scale: Key | None = None
    applies_to: list[Key] = []
    show_if: Condition | None = None
    items: list[GridItem] = Field(min_length=1)


class Section(Strict):
    key: Key
    title: str
    intro: str | None = None
    applies_to: list[Key] = []
    """Inherited by every question of the section."""
    questions: list[Annotated[Question | Grid, Field(union_mode="left_to_right")]] = Field(
        min_length=1
    )


class Team(Strict):
    key: Key
    name: str
    headcount: int = Field(ge=0)
    succeeds: list[Key] = []
    """Teams of the previous version this one replaces (a split or a merge). A team with the same
    key as one in the previous version continues it without saying so."""


class RoleGrouping(Reconstructable):
    key: Key
    name: str


class Audience(Strict):
    """A group of respondents some questions are only for, decided by their answer to a question."""

    key: Key
    label: str
    question: Key
    answers: list[Key] = Field(min_length=1)


class Population(Strict):
    teams: list[Team] = Field(min_length=1)
    role_groupings: list[RoleGrouping] = Field(min_length=1)
    audiences: list[Audience] = []


class Fieldwork(Strict):
    opens: dt.date
    closes: dt.date

    @model_validator(mode="after")
    def _in_order(self) -> Fieldwork:
        if self.closes < self.opens:
            raise ValueError("fieldwork closes before it opens")
        return self


class Indicator(Strict):
    """A question's positive share that scrutiny follows against a target, wave after wave."""

    key: Key
    """The same key every year, so one indicator can be followed across versions."""
    title: str
    question: Key
    target_pct: float = Field(ge=0, le=100)
    source: str | None = None
    """Where the target comes from (a scrutiny recommendation, a policy standard)."""


class Scale(Reconstructable):
    options: list[Option] = Field(min_length=1)


class SurveyDefinition(Strict):
    """One version of one survey, exactly as its file says."""

    survey: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)]
    survey_title: str
    version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=32)
    title: str
    organisation: str
    fieldwork: Fieldwork
    previous_version: str | None = None
    suppression_threshold: int = Field(default=5, ge=2)
    one_person_decimals: int = Field(default=0, ge=0, le=2)
    """How "1 person = x%" is printed: Coventry used whole percents in 2014, one decimal in 2015."""
    band_small_groups: bool = False
    """Show the shares of groups under twice the threshold as bands ("fewer than 5"), so that a
    0% or 100% cannot say what everyone in a small group answered."""
    intro: str | None = None
    population: Population
    scales: dict[Key, Scale] = {}
    sections: list[Section] = Field(min_length=1)
    indicators: list[Indicator] = []


class ResolvedQuestion(BaseModel):
    """A question as respondents and analysis see it: scale, grid and section folded in."""

    model_config = ConfigDict(frozen=True)

    key: str
    number: str
    text: str
    short_title: str | None
    section: str
    section_title: str
    type: QuestionType
    grid: str | None
    stem: str | None
    """The grid's or the question's shared heading, shown above `text`."""
    options: list[Option]
    required: bool
    applies_to: list[str]
    show_if: Condition | None
    continues: Continues | None
    reconstructed: bool
    reconstructed_reason: str | None
    hint: str | None

    def option(self, code: str) -> Option | None:
        return next((option for option in self.options if option.code == code), None)


YES_NO = [
    Option(code="yes", label="Yes", positive=True),
    Option(code="no", label="No"),
]


class DefinitionError(Exception):
    """Every problem found in one or more definition files."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


class Problem(BaseModel):
    file: str
    where: str
    """"question 11e (key task_agenda)", "team mash_cse", "file"."""
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.field}: {self.message}"


def resolve_questions(definition: SurveyDefinition) -> list[ResolvedQuestion]:
    """Flatten sections and grids into the ordered list of questions a respondent can meet."""
    resolved: list[ResolvedQuestion] = []
    for section in definition.sections:
        for entry in section.questions:
            if isinstance(entry, Grid):
                grid_options = _scale_options(definition, entry.scale, entry.options)
                for item in entry.items:
                    options = item.options or grid_options
                    resolved.append(
                        _resolved(
                            section,
                            item,
                            QuestionType.likert,
                            [*options, *item.extra_options],
                            grid=entry,
                            scale=None if item.options else _scale(definition, entry.scale),
                        )
                    )
            else:
                options = _scale_options(definition, entry.scale, entry.options)
                if entry.type == QuestionType.yes_no and not options:
                    options = YES_NO
                resolved.append(
                    _resolved(
                        section,
                        entry,
                        entry.type,
                        [*options, *entry.extra_options],
                        scale=_scale(definition, entry.scale),
                    )
                )
    return resolved


def _scale_options(
    definition: SurveyDefinition, scale: str | None, options: list[Option]
) -> list[Option]:
    if scale is None:
        return list(options)
    return list(definition.scales[scale].options)


def _scale(definition: SurveyDefinition, name: str | None) -> Scale | None:
    return None if name is None else definition.scales.get(name)


def _resolved(
    section: Section,
    question: QuestionBase,
    question_type: QuestionType,
    options: list[Option],
    grid: Grid | None = None,
    scale: Scale | None = None,
) -> ResolvedQuestion:
    conditions = [c for c in (grid.show_if if grid else None, question.show_if) if c is not None]
    show_if: Condition | None = None
    if len(conditions) == 1:
        show_if = conditions[0]
    elif conditions:
        show_if = AllOf(all=conditions)
    applies_to = list(
        dict.fromkeys(
            [*section.applies_to, *(grid.applies_to if grid else []), *question.applies_to]
        )
    )
    sources = [part for part in (question, grid, scale) if part is not None and part.reconstructed]
    return ResolvedQuestion(
        key=question.key,
        number=question.number,
        text=question.text,
        short_title=question.short_title or (grid.short_title if grid else None),
        section=section.key,
        section_title=section.title,
        type=question_type,
        grid=grid.key if grid else None,
        stem=grid.stem if grid else getattr(question, "stem", None),
        options=options,
        required=question.required,
        applies_to=applies_to,
        show_if=show_if,
        continues=question.continues,
        reconstructed=bool(sources),
        reconstructed_reason=sources[0].reconstructed_reason if sources else None,
        hint=question.hint,
    )


def content_hash(definition: SurveyDefinition) -> str:
    """A hash of what the definition means, not of how its file is laid out."""
    canonical = json.dumps(
        definition.model_dump(mode="json", by_alias=True), sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
