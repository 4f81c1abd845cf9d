"""Checks on parts of the format the Coventry files exercise only in their valid form."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.surveys.definitions import DefinitionError
from app.surveys.validation import load_definition
from tests.conftest import DATA

MINI = (DATA / "mini-survey" / "1.yaml").read_text(encoding="utf-8")


def _problems(tmp_path: Path, extra: str) -> list[str]:
    path = tmp_path / "1.yaml"
    path.write_text(MINI + extra, encoding="utf-8")
    with pytest.raises(DefinitionError) as error:
        load_definition(path)
    return [str(problem) for problem in error.value.problems]


def test_indicators_must_measure_a_question_with_a_positive_answer(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        """indicators:
  - {key: budgets, title: "Budgets reviewed", question: budget, target_pct: 90}
  - {key: ghost, title: "Nothing", question: no_such_question, target_pct: 50}
  - {key: ghost, title: "Nothing again", question: support_comment, target_pct: 50}
""",
    )
    assert problems == [
        f"{tmp_path / '1.yaml'}: indicator ghost: question: unknown question 'no_such_question'",
        f"{tmp_path / '1.yaml'}: indicator ghost: question: question 2b has no positive option, so no positive share",
        f"{tmp_path / '1.yaml'}: indicator ghost: key: duplicate indicator key 'ghost'",
    ]


def test_a_target_is_a_percentage(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path, 'indicators:\n  - {key: x, title: "X", question: budget, target_pct: 150}\n'
    )
    assert len(problems) == 1
    assert "indicator x: target_pct" in problems[0]
