from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.deps import SessionDep, TodayDep, commits_in_thread
from app.errors import Problem
from app.responses.codes import CodeRefused, CodeState, code_hash, code_state, spend_for_submission
from app.responses.service import (
    OpenedWave,
    StoreStatus,
    SubmissionIn,
    check_wave_accepting,
    load_wave,
    store_response,
    submission_received,
    validate_submission,
)

router = APIRouter(prefix="/api/v1", tags=["responses"])


class StoredOut(BaseModel):
    status: StoreStatus
    id: str | None
    """The new response's id; none when the submission had already been stored."""
    message: str


@router.post(
    "/surveys/{survey}/waves/{wave}/responses",
    status_code=201,
    response_model=StoredOut,
    responses={
        200: {"model": StoredOut, "description": "Already stored: nothing was stored twice"},
        401: {"model": Problem, "description": "The wave requires an access code; none was sent"},
        403: {"model": Problem, "description": "The access code is not the wave's, or was used"},
        404: {"description": "No such survey or wave"},
        409: {"description": "The wave is closed or not open yet"},
        413: {"description": "The request body is too large"},
        422: {"description": "One error per field, all at once"},
        429: {"model": Problem, "description": "Too many access codes tried: wait a minute"},
    },
)
@commits_in_thread
def submit_response(
    survey: str,
    wave: str,
    submission: SubmissionIn,
    request: Request,
    session: SessionDep,
    today: TodayDep,
) -> StoredOut | JSONResponse:
    opened = load_wave(session=session, survey_key=survey, wave_key=wave)
    retry = submission_received(
        session=session, wave_id=opened.id, submission_id=submission.submission_id
    )
    if opened.access_codes_required and not retry:
        _spend_code(request, opened, submission, today)
    outcome = store_response(
        session=session, survey_key=survey, wave_key=wave, submission=submission, today=today
    )
    if outcome.status == StoreStatus.already_stored:
        body = StoredOut(
            status=outcome.status,
            id=None,
            message="This submission had already been received; nothing was stored twice.",
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=200)
    return StoredOut(status=outcome.status, id=outcome.response_id, message="Response stored.")


def _spend_code(
    request: Request, wave: OpenedWave, submission: SubmissionIn, today: dt.date
) -> None:
    """As on the pages: the wave must be open and the answers valid before the code is spent,
    so a refused submission does not use it up."""
    if not submission.access_code:
        raise CodeRefused(
            401, "missing", "This wave requires an access code: send it as access_code."
        )
    check_wave_accepting(wave, today)
    validate_submission(wave.published, submission)
    client = request.client.host if request.client else "unknown"
    limiter = request.app.state.guess_limiter
    if limiter.blocked(client):
        raise CodeRefused(429, "too_many_tries", "Too many access codes tried: wait a minute.")
    if spend_for_submission(
        factory=request.app.state.session_factory,
        wave_id=wave.id,
        hashed=code_hash(submission.access_code),
        submission_id=submission.submission_id,
    ):
        return
    limiter.missed(client)
    with request.app.state.session_factory() as session:
        state = code_state(session=session, wave_id=wave.id, typed=submission.access_code)
    if state == CodeState.used:
        raise CodeRefused(403, "used", "This access code has already been used: each works once.")
    raise CodeRefused(403, "unknown", "This access code is not one of this wave's.")
