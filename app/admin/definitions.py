"""Uploading, checking and publishing a definition file.

The upload is read into memory and parsed there; its file name only labels the validator's
messages. The page that shows a valid definition carries its text back in the publish form,
where it is checked again before anything is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.admin.service import publish_and_record
from app.admin.web import (
    AdminUser,
    FormDep,
    FormError,
    Upload,
    UploadRefused,
    admin_page,
    form_text,
    read_upload,
    shown_name,
)
from app.config import Settings
from app.deps import SessionDep, SettingsDep, commits_in_thread
from app.models import Survey, SurveyVersion
from app.surveys.definitions import (
    DefinitionError,
    Problem,
    SurveyDefinition,
    content_hash,
    resolve_questions,
)
from app.surveys.service import PublishRefused, published_version
from app.surveys.validation import check_against_previous, check_definition, parse_definition

router = APIRouter()

TEMPLATE = "admin/definitions.html"
DEFINITION_MAX_BYTES = 200 * 1024
"""Well over the largest real definition (Coventry 2015: 47 KiB), and under the request limit
with room for the publish form, which sends the text back."""


@dataclass(frozen=True)
class CheckedDefinition:
    upload: Upload
    definition: SurveyDefinition | None
    problems: list[Problem]
    published_hash: str | None
    """The content hash of the version as published now, if it is."""

    def summary(self) -> list[tuple[str, str]]:
        definition = self.definition
        assert definition is not None
        teams = definition.population.teams
        questions = resolve_questions(definition)
        return [
            ("Survey", f"{definition.survey_title} ({definition.survey})"),
            ("Version", f"{definition.version}: {definition.title}"),
            ("Continues version", definition.previous_version or "None (a first version)"),
            (
                "Fieldwork",
                f"{definition.fieldwork.opens:%-d %B %Y} to "
                f"{definition.fieldwork.closes:%-d %B %Y}",
            ),
            ("Sections", str(len(definition.sections))),
            ("Questions", str(len(questions))),
            (
                "Questions with reconstructed options",
                str(sum(question.reconstructed for question in questions)),
            ),
            ("Teams", f"{len(teams)} (headcount {sum(team.headcount for team in teams)})"),
            ("Role groupings", str(len(definition.population.role_groupings))),
            ("Indicators", str(len(definition.indicators))),
            ("Suppression threshold", str(definition.suppression_threshold)),
        ]

    @property
    def publishing_changes(self) -> str:
        """What publishing would do, in words."""
        if self.published_hash is None:
            return "new"
        assert self.definition is not None
        return "unchanged" if self.published_hash == content_hash(self.definition) else "replaces"


def check_upload(*, session: Session, upload: Upload) -> CheckedDefinition:
    """Every problem the validator finds, the previous version taken as published."""
    try:
        definition = parse_definition(upload.text, file=upload.name)
    except DefinitionError as error:
        return CheckedDefinition(upload, None, error.problems, None)
    problems = check_definition(definition, file=upload.name)
    if definition.previous_version is not None:
        previous = _published(session, definition.survey, definition.previous_version)
        if previous is None:
            problems.append(
                Problem(
                    file=upload.name,
                    where="file",
                    field="previous_version",
                    message=f"previous version {definition.previous_version!r} of "
                    f"{definition.survey} is not published: publish it first",
                )
            )
        else:
            previous_definition = published_version(session=session, version=previous).definition
            problems.extend(
                check_against_previous(definition, previous_definition, file=upload.name)
            )
    current = _published(session, definition.survey, definition.version)
    return CheckedDefinition(
        upload, definition, problems, current.content_hash if current is not None else None
    )


def _published(session: Session, survey_key: str, version_key: str) -> SurveyVersion | None:
    return session.scalar(
        select(SurveyVersion)
        .join(Survey)
        .where(Survey.key == survey_key, SurveyVersion.key == version_key)
    )


def _page(
    request: Request,
    settings: Settings,
    user: User,
    checked: CheckedDefinition | None = None,
    errors: Sequence[FormError] = (),
) -> HTMLResponse:
    if not errors and checked is not None and checked.problems:
        count = len(checked.problems)
        errors = [
            FormError(
                "problems",
                f"{checked.upload.name} has {count} problem{'s' if count > 1 else ''}: "
                "correct the file and upload it again",
            )
        ]
    return admin_page(request, settings, TEMPLATE, {"checked": checked}, user=user, errors=errors)


@router.get("/definitions", response_class=HTMLResponse)
def upload_page(request: Request, settings: SettingsDep, user: AdminUser) -> HTMLResponse:
    return _page(request, settings, user)


@router.post("/definitions", response_class=HTMLResponse)
def check(
    request: Request, session: SessionDep, settings: SettingsDep, user: AdminUser, form: FormDep
) -> HTMLResponse:
    try:
        upload = read_upload(
            form, "definition", max_bytes=DEFINITION_MAX_BYTES, kind="definition (YAML)"
        )
    except UploadRefused as refused:
        return _page(request, settings, user, errors=[FormError("definition", str(refused))])
    return _page(request, settings, user, check_upload(session=session, upload=upload))


@router.post("/definitions/publish", response_class=HTMLResponse)
@commits_in_thread
def publish(
    request: Request, session: SessionDep, settings: SettingsDep, user: AdminUser, form: FormDep
) -> Response:
    source = form.get("source")
    if not isinstance(source, str) or len(source.encode()) > DEFINITION_MAX_BYTES:
        return _page(request, settings, user, errors=[FormError("definition", "Upload the file")])
    upload = Upload(name=shown_name(form_text(form, "name")), text=source)
    checked = check_upload(session=session, upload=upload)
    if checked.definition is None or checked.problems:
        return _page(request, settings, user, checked)
    try:
        _, outcome = publish_and_record(session=session, actor=user, definition=checked.definition)
    except PublishRefused as refused:
        session.rollback()
        return _page(request, settings, user, checked, [FormError("publish", str(refused))])
    return RedirectResponse(f"/admin?done={outcome.value}", status_code=303)
