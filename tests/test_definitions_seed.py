"""The Coventry questionnaires, checked against the seed reports they were copied from.

`data/seed_questions.csv` is a hand transcription of the October 2014 and October 2015 survey
reports: each question's number, its wording in the body of the report, its wording on the
contents page, and the option labels printed as the chart's legend. `data/reference/` holds the
published teams, headcounts and role groupings. No database is needed.
"""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from app.surveys.definitions import (
    AnswerIn,
    AnyOf,
    Comparability,
    DefinitionError,
    ResolvedQuestion,
    SurveyDefinition,
    resolve_questions,
)
from app.surveys.validation import comparability_between, load_definitions

HERE = Path(__file__).parent
DATA = HERE / "data"
REFERENCE = DATA / "reference"
DEFINITIONS = HERE.parent / "survey_definitions" / "coventry-supervision"
VERSIONS = ("2014", "2015")

# Questions the seed does not show, present only because the routing or the carry-over needs them.
# Each must be marked reconstructed.
CARRIED_OVER_2015 = {"20h", "20i", "20j", "20k"}
NEW_IN_2015 = {"5b", "17e", "19"}


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def definitions() -> dict[str, SurveyDefinition]:
    loaded = load_definitions([DEFINITIONS / f"{version}.yaml" for version in VERSIONS])
    return {definition.version: definition for definition in loaded}


@pytest.fixture(scope="module")
def questions(definitions: dict[str, SurveyDefinition]) -> dict[str, list[ResolvedQuestion]]:
    return {version: resolve_questions(definition) for version, definition in definitions.items()}


@pytest.fixture(scope="module")
def by_number(
    questions: dict[str, list[ResolvedQuestion]],
) -> dict[str, dict[str, ResolvedQuestion]]:
    return {version: {q.number: q for q in qs} for version, qs in questions.items()}


@pytest.fixture(scope="module")
def seed() -> dict[str, list[dict[str, str]]]:
    rows: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in _read_csv(DATA / "seed_questions.csv"):
        rows[row["version"]].append(row)
    return rows


def _seed_rows() -> list[dict[str, str]]:
    return _read_csv(DATA / "seed_questions.csv")


def _row_id(row: dict[str, str]) -> str:
    return f"{row['version']}-{row['number']}"


# --- the transcription itself ------------------------------------------------------------------


def test_seed_transcription_is_complete(seed: dict[str, list[dict[str, str]]]) -> None:
    for version in VERSIONS:
        numbers = [row["number"] for row in seed[version]]
        assert len(numbers) == len(set(numbers)), f"{version}: a number is listed twice"
    letters = "abcdefghijklm"
    common = [
        *["1", "2", "3", "4a", "4b", "5"],
        *["6a", "6b", "6c", "7a", "7b", "7c", "8", "9", "10"],
        *[f"11{x}" for x in letters[:13]],
        *[f"12{x}" for x in letters[:8]],
        *[f"13{x}" for x in letters[:6]],
        *["14", "15", "15b", "16a", "16b", "16c", "17a", "17b", "17c", "17d"],
        *[f"18{x}" for x in letters[:5]],
    ]
    assert sorted(row["number"] for row in seed["2014"]) == sorted(
        [*common, "NQSW", *[f"20{x}" for x in letters[:11]]]
    )
    assert sorted(row["number"] for row in seed["2015"]) == sorted(
        [*common, "5b", "17e", "19", *[f"20{x}" for x in letters[:7]]]
    )


# --- which questions exist ---------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_every_seed_question_and_no_other(
    version: str,
    seed: dict[str, list[dict[str, str]]],
    questions: dict[str, list[ResolvedQuestion]],
) -> None:
    seed_numbers = [row["number"] for row in seed[version]]
    defined = questions[version]
    extras = [q for q in defined if q.number not in seed_numbers]
    for question in extras:
        allowed = question.section == "about_you" or (
            version == "2015" and question.number in CARRIED_OVER_2015
        )
        assert allowed, f"{version}: question {question.number} is not in the seed"
        assert question.reconstructed, (
            f"{version}: question {question.number} must be reconstructed"
        )
        assert question.reconstructed_reason
    # Same questions, in the order the report prints them.
    assert [q.number for q in defined if q.number in seed_numbers] == seed_numbers


def test_about_you_questions(by_number: dict[str, dict[str, ResolvedQuestion]]) -> None:
    assert sorted(n for n, q in by_number["2014"].items() if q.section == "about_you") == [
        "A1",
        "A2",
        "A3",
    ]
    assert sorted(n for n, q in by_number["2015"].items() if q.section == "about_you") == [
        "A1",
        "A2",
        "A3",
    ]
    for version in VERSIONS:
        for question in by_number[version].values():
            if question.section == "about_you":
                assert question.reconstructed
                assert question.number.startswith("A")
    # 2015: the team-manager question is only asked of those who give supervision.
    team_manager = by_number["2015"]["A3"]
    assert team_manager.show_if == AnswerIn(question="gives_supervision", **{"in": ["yes"]})


# --- wording ------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", _seed_rows(), ids=_row_id)
def test_text_as_printed(
    row: dict[str, str], by_number: dict[str, dict[str, ResolvedQuestion]]
) -> None:
    question = by_number[row["version"]][row["number"]]
    assert question.text == row["text"]


@pytest.mark.parametrize("row", _seed_rows(), ids=_row_id)
def test_short_title_is_the_contents_wording(
    row: dict[str, str], by_number: dict[str, dict[str, ResolvedQuestion]]
) -> None:
    question = by_number[row["version"]][row["number"]]
    assert question.short_title == (row["short_title"] or None)
    assert question.short_title != question.text


# --- options ------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", _seed_rows(), ids=_row_id)
def test_options_are_the_printed_legend(
    row: dict[str, str], by_number: dict[str, dict[str, ResolvedQuestion]]
) -> None:
    question = by_number[row["version"]][row["number"]]
    labels = [option.label for option in question.options]
    if row["legend"]:
        assert labels == row["legend"].split(" | ")
        assert not question.reconstructed, "a printed legend needs no reconstruction"
    else:
        assert question.reconstructed, "no legend printed: the options must be marked reconstructed"
        assert question.reconstructed_reason
        assert labels


@pytest.mark.parametrize("version", VERSIONS)
def test_option_flags(version: str, questions: dict[str, list[ResolvedQuestion]]) -> None:
    for question in questions[version]:
        where = f"{version} {question.number}"
        for option in question.options:
            not_applicable = option.label.startswith(("Not applicable", "N/A"))
            assert option.excluded_from_base == not_applicable, f"{where}: {option.label}"
            assert not (option.positive and option.excluded_from_base), where
        if question.section != "about_you":
            assert any(option.positive for option in question.options), f"{where}: no positive"
            assert not all(
                option.positive for option in question.options if not option.excluded_from_base
            ), f"{where}: every counted option is positive"


def test_positive_options(by_number: dict[str, dict[str, ResolvedQuestion]]) -> None:
    def positive(version: str, number: str) -> list[str]:
        return [o.label for o in by_number[version][number].options if o.positive]

    for version in VERSIONS:
        assert positive(version, "11a") == ["Yes, always", "Most times"]
        assert positive(version, "4a") == ["Yes"]
        assert positive(version, "12c") == ["Yes, I do"]
        assert positive(version, "14") == [
            "This has always been a strong feature of my supervision sessions"
        ]
        assert positive(version, "17b") == ["Yes"]
        assert positive(version, "18a") == ["Yes, always", "Most times"]
        assert positive(version, "18d") == ["Yes, definitely"]
        assert positive(version, "20a") == ["Yes, regularly"]
        for number in ("6a", "6b", "7a", "7b"):
            assert positive(version, number) == ["Hardly ever / never"]
    assert positive("2014", "NQSW") == ["Yes, definitely"]


def test_option_codes_stable_across_years(
    by_number: dict[str, dict[str, ResolvedQuestion]],
) -> None:
    """The same label means the same code in both years, whatever the question."""
    codes: dict[str, set[str]] = defaultdict(set)
    for version in VERSIONS:
        for question in by_number[version].values():
            for option in question.options:
                codes[option.label].add(option.code)
    assert {label: c for label, c in codes.items() if len(c) > 1} == {}
    assert by_number["2014"]["11m"].options[-1].code == by_number["2015"]["11m"].options[-1].code


def test_11m_not_applicable_from_the_note(
    by_number: dict[str, dict[str, ResolvedQuestion]],
) -> None:
    last = by_number["2014"]["11m"].options[-1]
    assert last.label == "Not applicable as no areas of disagreement yet/"
    assert last.excluded_from_base


# --- routing ------------------------------------------------------------------------------------


def test_applies_to(by_number: dict[str, dict[str, ResolvedQuestion]]) -> None:
    for version in VERSIONS:
        q4b = by_number[version]["4b"]
        assert q4b.applies_to == ["new_in_post"]
        assert q4b.show_if == AnswerIn(question="agreement", **{"in": ["yes"]})
        for number, question in by_number[version].items():
            if number.startswith("18"):
                assert question.applies_to == ["supervisors"], f"{version} {number}"
            elif number.startswith("20"):
                expected = ["supervisors"] if version == "2014" else ["team_managers"]
                assert question.applies_to == expected, f"{version} {number}"
            elif number not in {"4b", "NQSW", "19"}:
                assert question.applies_to == [], f"{version} {number}"
    assert by_number["2014"]["NQSW"].applies_to == ["newly_qualified"]
    assert by_number["2015"]["19"].applies_to == ["supervisors"]


def test_audiences_decided_by_about_you(definitions: dict[str, SurveyDefinition]) -> None:
    expected = {
        "2014": {
            "supervisors": "gives_supervision",
            "new_in_post": "in_post_under_12_months",
            "newly_qualified": "newly_qualified_asye",
        },
        "2015": {
            "supervisors": "gives_supervision",
            "new_in_post": "in_post_under_12_months",
            "team_managers": "team_manager_level",
        },
    }
    for version, definition in definitions.items():
        audiences = {a.key: a.question for a in definition.population.audiences}
        assert audiences == expected[version]
        assert all(a.answers == ["yes"] for a in definition.population.audiences)


@pytest.mark.parametrize("version", VERSIONS)
def test_made_up_only_if_it_happens(
    version: str, by_number: dict[str, dict[str, ResolvedQuestion]]
) -> None:
    for number, (first, second) in {"6c": ("6a", "6b"), "7c": ("7a", "7b")}.items():
        condition = by_number[version][number].show_if
        assert isinstance(condition, AnyOf)
        parts = condition.any
        assert all(isinstance(part, AnswerIn) for part in parts)
        assert [part.question for part in parts] == [  # type: ignore[union-attr]
            by_number[version][first].key,
            by_number[version][second].key,
        ]
        for part in parts:
            happens = {o.code for o in by_number[version][first].options if not o.positive}
            assert set(part.in_) == happens  # type: ignore[union-attr]


# --- population ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_teams_and_headcounts(version: str, definitions: dict[str, SurveyDefinition]) -> None:
    reference = _read_csv(REFERENCE / f"coventry_{version}_response_profile.csv")
    teams = definitions[version].population.teams
    assert [(t.name, t.headcount) for t in teams] == [
        (row["team"], int(row["headcount"])) for row in reference
    ]
    assert sum(t.headcount for t in teams) == {"2014": 509, "2015": 570}[version]


def test_team_keys_stable_and_mash_split(definitions: dict[str, SurveyDefinition]) -> None:
    before = {t.name: t.key for t in definitions["2014"].population.teams}
    after = definitions["2015"].population.teams
    for team in after:
        if team.name in before:
            assert team.key == before[team.name]
            assert team.succeeds == []
    successors = {t.name: t for t in after if t.succeeds}
    mash = before["MASH – Referral & Assessment Service"]
    assert set(successors) == {"MASH – CSE", "Referral & Assessment Service"}
    for team in successors.values():
        assert team.succeeds == [mash]
        assert team.key not in before.values()


def test_role_groupings(definitions: dict[str, SurveyDefinition]) -> None:
    reference = [
        row["role_grouping"] for row in _read_csv(REFERENCE / "coventry_2014_role_groupings.csv")
    ]
    roles_2014 = definitions["2014"].population.role_groupings
    roles_2015 = definitions["2015"].population.role_groupings
    assert len(reference) == 18
    assert [r.name for r in roles_2014] == reference
    assert not any(r.reconstructed for r in roles_2014)
    assert [(r.key, r.name) for r in roles_2015] == [(r.key, r.name) for r in roles_2014]
    assert all(r.reconstructed and r.reconstructed_reason for r in roles_2015)


# --- across the years ---------------------------------------------------------------------------


def test_q5_not_comparable(by_number: dict[str, dict[str, ResolvedQuestion]]) -> None:
    before, after = by_number["2014"]["5"], by_number["2015"]["5"]
    assert after.continues is not None
    assert after.continues.question == before.key
    assert after.continues.comparability == Comparability.not_comparable
    assert after.continues.note
    assert comparability_between(before, after) == Comparability.not_comparable


def test_continuity(by_number: dict[str, dict[str, ResolvedQuestion]]) -> None:
    earlier = by_number["2014"]
    earlier_by_key = {q.key: q for q in earlier.values()}
    for number, question in by_number["2015"].items():
        if number in NEW_IN_2015 or number == "A3":
            assert question.continues is None, number
            continue
        assert question.continues is not None, f"2015 {number} should continue a 2014 question"
        assert question.continues.question == question.key, number
        before = earlier_by_key[question.continues.question]
        assert before.number == number
        actual = comparability_between(before, question)
        if number.startswith("20"):
            # Same wording and options, but asked only of team managers in 2015.
            assert actual == Comparability.comparable
            assert question.continues.comparability == Comparability.comparable_with_note
            assert "Team Manager" in (question.continues.note or "")
        else:
            assert question.continues.comparability == actual, number
    with_note = {
        n
        for n, q in by_number["2015"].items()
        if q.continues and q.continues.comparability == Comparability.comparable_with_note
    }
    assert {"1", "10", "11k", "11l", "11m", "13f", "16b", "16c"} <= with_note
    assert "NQSW" not in by_number["2015"]


# --- a broken file is reported precisely --------------------------------------------------------

BREAKAGES = {
    "duplicate key": (
        "      - key: next_date_reviewed\n",
        "      - key: dates_booked\n",
        "question 5 (key dates_booked)",
        "key",
    ),
    "missing headcount": (
        '{key: mash_cse, name: "MASH – CSE", headcount: 17, ',
        '{key: mash_cse, name: "MASH – CSE", ',
        "team mash_cse",
        "headcount",
    ),
    "condition on a later question": (
        '        number: "5"\n',
        '        number: "5"\n        show_if: {question: cancelled_by_you, in: [often]}\n',
        "question 5 (key dates_booked)",
        "show_if",
    ),
    "option code reused": (
        '{code: two, label: "Two"}',
        '{code: one, label: "Two"}',
        "question 5 (key dates_booked)",
        "options",
    ),
    "comparable claimed for Q5": (
        "          comparability: not_comparable\n",
        "          comparability: comparable\n",
        "question 5 (key dates_booked)",
        "continues.comparability",
    ),
    "continues a question 2014 lacks": (
        "        number: 5b\n",
        "        number: 5b\n"
        "        continues: {question: next_date_reviewed, comparability: comparable}\n",
        "question 5b (key next_date_reviewed)",
        "continues.question",
    ),
}


def _broken_copy(tmp_path: Path, breakages: list[tuple[str, str]]) -> list[Path]:
    shutil.copy(DEFINITIONS / "2014.yaml", tmp_path / "2014.yaml")
    text = (DEFINITIONS / "2015.yaml").read_text(encoding="utf-8")
    for old, new in breakages:
        assert text.count(old) == 1, f"the breakage needs {old!r} exactly once in 2015.yaml"
        text = text.replace(old, new)
    (tmp_path / "2015.yaml").write_text(text, encoding="utf-8")
    return [tmp_path / "2014.yaml", tmp_path / "2015.yaml"]


@pytest.mark.parametrize("name", BREAKAGES)
def test_broken_copy_names_file_question_and_field(name: str, tmp_path: Path) -> None:
    old, new, where, field = BREAKAGES[name]
    paths = _broken_copy(tmp_path, [(old, new)])
    with pytest.raises(DefinitionError) as raised:
        load_definitions(paths)
    problems = raised.value.problems
    matching = [p for p in problems if p.where == where and p.field == field]
    assert matching, f"no problem at {where} / {field}: {[str(p) for p in problems]}"
    assert all(p.file == str(paths[1]) for p in problems)
    assert f"{paths[1]}: {where}: {field}: " in str(raised.value)


def test_broken_copy_reports_every_cross_check_at_once(tmp_path: Path) -> None:
    """One file with every breakage the cross-checks catch: all are reported in one error. (A
    schema error, such as a missing headcount, stops the file being read any further.)"""
    names = [name for name in BREAKAGES if name not in {"missing headcount", "duplicate key"}]
    breakages = [BREAKAGES[name][:2] for name in names]
    # A duplicate key of its own, away from question 5's other breakages.
    breakages.append(("      - key: sup_training\n", "      - key: sup_skills\n"))
    paths = _broken_copy(tmp_path, breakages)
    with pytest.raises(DefinitionError) as raised:
        load_definitions(paths)
    found = {(p.where, p.field) for p in raised.value.problems}
    for name in names:
        assert BREAKAGES[name][2:] in found, name
    assert ("question 19 (key sup_skills)", "key") in found
    assert ("question 18d (key sup_skills)", "key") in found
    assert {p.file for p in raised.value.problems} == {str(paths[1])}
