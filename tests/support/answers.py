"""Build answer sets the real form could produce, for tests and benchmarks."""

from __future__ import annotations

from app.responses.service import applies
from app.surveys.service import PublishedVersion


def complete_answers(
    published: PublishedVersion, chosen: dict[str, str] | None = None
) -> dict[str, str]:
    """Answer every question this respondent is shown: `chosen` where given, else the first
    option."""
    chosen = chosen or {}
    answers: dict[str, str] = {}
    for question in published.questions:
        if not applies(published, question, answers) or not question.options:
            continue
        answers[question.key] = chosen.get(question.key, question.options[0].code)
    return answers
