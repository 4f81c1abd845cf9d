from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.deps import SessionDep, TodayDep, commits_in_thread
from app.models import Survey, SurveyVersion, Team
from app.responses.service import wave_state
from app.surveys.definitions import SurveyDefinition, resolve_questions
from app.surveys.schemas import (
    AudienceOut,
    QuestionOut,
    RoleGroupingOut,
    SurveySummary,
    TeamOut,
    VersionOut,
    VersionSummary,
    WaveSummary,
)

router = APIRouter(prefix="/api/v1", tags=["surveys"])


@router.get("/surveys", response_model=list[SurveySummary])
@commits_in_thread
def list_surveys(session: SessionDep, today: TodayDep) -> list[SurveySummary]:
    surveys = session.scalars(
        select(Survey)
        .options(selectinload(Survey.versions), selectinload(Survey.waves))
        .order_by(Survey.key)
    )
    summaries = []
    for survey in surveys:
        version_keys = {version.id: version.key for version in survey.versions}
        summaries.append(
            SurveySummary(
                key=survey.key,
                title=survey.title,
                suppression_threshold=survey.suppression_threshold,
                versions=[
                    VersionSummary(
                        key=version.key,
                        title=version.title,
                        content_hash=version.content_hash,
                        previous_version=version.previous_version_key,
                        published_at=version.published_at,
                    )
                    for version in survey.versions
                ],
                waves=[
                    WaveSummary(
                        key=wave.key,
                        version=version_keys[wave.version_id],
                        opens_on=wave.opens_on,
                        closes_on=wave.closes_on,
                        status=wave.status,
                        accepting_responses=wave_state(wave, today) == "open",
                    )
                    for wave in survey.waves
                ],
            )
        )
    return summaries


@router.get("/surveys/{survey}/versions/{version}", response_model=VersionOut)
@commits_in_thread
def get_version(survey: str, version: str, session: SessionDep) -> VersionOut:
    stored = session.scalar(
        select(SurveyVersion)
        .join(Survey)
        .where(Survey.key == survey, SurveyVersion.key == version)
        .options(selectinload(SurveyVersion.teams).selectinload(Team.predecessors))
    )
    if stored is None:
        raise HTTPException(404, f"survey {survey!r} has no published version {version!r}")
    definition = SurveyDefinition.model_validate(stored.definition)
    return VersionOut(
        survey=definition.survey,
        survey_title=definition.survey_title,
        version=definition.version,
        title=definition.title,
        organisation=definition.organisation,
        content_hash=stored.content_hash,
        previous_version=definition.previous_version,
        fieldwork_opens=definition.fieldwork.opens,
        fieldwork_closes=definition.fieldwork.closes,
        suppression_threshold=definition.suppression_threshold,
        questions=[
            QuestionOut(
                **dict(question),
                comparability=question.continues.comparability.value
                if question.continues
                else None,
            )
            for question in resolve_questions(definition)
        ],
        teams=[
            TeamOut(
                key=team.key,
                name=team.name,
                headcount=team.headcount,
                succeeds=[predecessor.key for predecessor in team.predecessors],
            )
            for team in stored.teams
        ],
        role_groupings=[
            RoleGroupingOut(key=role.key, name=role.name, reconstructed=role.reconstructed)
            for role in definition.population.role_groupings
        ],
        audiences=[
            AudienceOut(**audience.model_dump()) for audience in definition.population.audiences
        ],
    )
