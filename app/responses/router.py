from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.deps import SessionDep, TodayDep, commits_in_thread
from app.responses.service import StoreStatus, SubmissionIn, store_response

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
        404: {"description": "No such survey or wave"},
        409: {"description": "The wave is closed or not open yet"},
        413: {"description": "The request body is too large"},
        422: {"description": "One error per field, all at once"},
    },
)
@commits_in_thread
def submit_response(
    survey: str, wave: str, submission: SubmissionIn, session: SessionDep, today: TodayDep
) -> StoredOut | JSONResponse:
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
