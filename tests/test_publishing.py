"""A version is stored with its content hash, and never changes once staff have answered it."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.db import transaction
from app.models import Question, SurveyVersion, TeamSuccession
from app.responses.service import SubmissionIn, store_response
from app.surveys.definitions import SurveyDefinition, content_hash
from app.surveys.service import (
    PublishOutcome,
    PublishRefused,
    publish_definition,
)
from app.surveys.validation import load_definition
from tests.conftest import COVENTRY_DIR
from tests.support.answers import complete_answers
from tests.support.factories import create_wave_for_test

SURVEY = "coventry-supervision"


def _publish(factory: sessionmaker[Session], definition: SurveyDefinition) -> PublishOutcome:
    with transaction(factory) as session:
        return publish_definition(session=session, definition=definition)[1]


def _reworded(definition: SurveyDefinition) -> SurveyDefinition:
    data = definition.model_dump(mode="json", by_alias=True)
    data["title"] = data["title"] + " (corrected)"
    return SurveyDefinition.model_validate(data)


def _answer_once(factory: sessionmaker[Session], version: str) -> None:
    published = create_wave_for_test(factory, wave=version, version=version)
    with transaction(factory) as session:
        store_response(
            session=session,
            survey_key=SURVEY,
            wave_key=version,
            submission=SubmissionIn(
                submission_id=uuid.uuid4().hex,
                team=next(iter(published.team_ids)),
                role=next(iter(published.role_ids)),
                answers=complete_answers(published),
            ),
            today=dt.date.today(),
        )


def test_publishing_stores_the_version_with_its_content_hash(
    session_factory: sessionmaker[Session], coventry: dict[str, SurveyDefinition]
) -> None:
    with transaction(session_factory) as session:
        versions = session.scalars(select(SurveyVersion).order_by(SurveyVersion.key)).all()
        assert [v.key for v in versions] == ["2014", "2015"]
        for version in versions:
            assert version.content_hash == content_hash(coventry[version.key])
            assert SurveyDefinition.model_validate(version.definition) == coventry[version.key]


def test_publishing_the_same_content_again_changes_nothing(
    session_factory: sessionmaker[Session], coventry: dict[str, SurveyDefinition]
) -> None:
    with transaction(session_factory) as session:
        before = session.scalar(select(func.count()).select_from(Question))
        published_at = session.scalar(select(SurveyVersion.published_at).limit(1))
    assert _publish(session_factory, coventry["2015"]) == PublishOutcome.unchanged
    with transaction(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Question)) == before
        assert session.scalar(select(SurveyVersion.published_at).limit(1)) == published_at


def test_different_content_replaces_a_version_nobody_has_answered(
    session_factory: sessionmaker[Session], coventry: dict[str, SurveyDefinition]
) -> None:
    corrected = _reworded(coventry["2015"])
    assert _publish(session_factory, corrected) == PublishOutcome.replaced
    with transaction(session_factory) as session:
        stored = session.scalar(select(SurveyVersion).where(SurveyVersion.key == "2015"))
        assert stored is not None
        assert stored.content_hash == content_hash(corrected)


def test_a_version_with_responses_never_changes(
    session_factory: sessionmaker[Session], coventry: dict[str, SurveyDefinition]
) -> None:
    _answer_once(session_factory, "2015")
    with pytest.raises(PublishRefused, match="new version"):
        _publish(session_factory, _reworded(coventry["2015"]))
    with transaction(session_factory) as session:
        stored = session.scalar(select(SurveyVersion).where(SurveyVersion.key == "2015"))
        assert stored is not None
        assert stored.content_hash == content_hash(coventry["2015"])
    assert _publish(session_factory, coventry["2015"]) == PublishOutcome.unchanged


def test_a_version_cannot_be_published_before_the_one_it_continues(
    session_factory: sessionmaker[Session], coventry_definitions: dict[str, SurveyDefinition]
) -> None:
    with pytest.raises(PublishRefused, match="publish it first"):
        _publish(session_factory, coventry_definitions["2015"])


def test_the_split_team_records_its_predecessor(
    session_factory: sessionmaker[Session], coventry: dict[str, SurveyDefinition]
) -> None:
    successors = {team.key for team in coventry["2015"].population.teams if team.succeeds}
    assert len(successors) == 2
    with transaction(session_factory) as session:
        # 17 teams in 2015: 15 continue a 2014 team by key, 2 succeed the split MASH team.
        assert session.scalar(select(func.count()).select_from(TeamSuccession)) == 17


def _run(settings: Settings, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), env={"DATABASE_URL": settings.database_url})


def test_cli_validate_accepts_both_coventry_files() -> None:
    result = CliRunner().invoke(
        cli, ["definitions", "validate", *map(str, sorted(COVENTRY_DIR.glob("*.yaml")))]
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("ok ") == 2


def test_cli_validate_names_file_question_and_field(tmp_path: Path) -> None:
    shutil.copy(COVENTRY_DIR / "2014.yaml", tmp_path / "2014.yaml")
    broken = tmp_path / "2015.yaml"
    text = (COVENTRY_DIR / "2015.yaml").read_text(encoding="utf-8")
    numbers = {q.number: q.key for q in _questions(COVENTRY_DIR / "2015.yaml")}
    broken.write_text(
        text.replace(f"key: {numbers['9']}\n", f"key: {numbers['8']}\n", 1), encoding="utf-8"
    )
    result = CliRunner().invoke(cli, ["definitions", "validate", str(broken)])
    assert result.exit_code == 1
    assert f"{broken}: question 9 (key {numbers['8']}): key: duplicate key" in result.output


def _questions(path: Path):  # type: ignore[no-untyped-def]
    from app.surveys.definitions import resolve_questions

    return resolve_questions(load_definition(path))


def test_cli_publish_is_idempotent_and_refuses_to_change_an_answered_version(
    settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    files = [str(COVENTRY_DIR / "2015.yaml"), str(COVENTRY_DIR / "2014.yaml")]
    first = _run(settings, "definitions", "publish", *files)
    assert first.exit_code == 0, first.output
    assert "created   coventry-supervision 2014" in first.output
    again = _run(settings, "definitions", "publish", *files)
    assert again.exit_code == 0
    assert again.output.count("unchanged") == 2

    _answer_once(session_factory, "2015")
    shutil.copy(COVENTRY_DIR / "2014.yaml", tmp_path / "2014.yaml")
    changed = tmp_path / "2015.yaml"
    changed.write_text(
        (COVENTRY_DIR / "2015.yaml")
        .read_text(encoding="utf-8")
        .replace("organisation: ", "organisation: Corrected ", 1),
        encoding="utf-8",
    )
    refused = _run(settings, "definitions", "publish", str(changed))
    assert refused.exit_code == 1
    assert "already has responses" in refused.output
    assert "new version" in refused.output
