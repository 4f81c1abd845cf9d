"""Every error a client can cause gets a specific 4xx with a field-level body, never a 500."""

from __future__ import annotations

import logging
from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability import current_request_id
from app.reports.service import ResultsNotReleased
from app.responses.codes import CodeRefused
from app.responses.service import FieldError, SubmissionRejected, WaveNotAccepting
from app.surveys.service import NotFound

LOG = logging.getLogger(__name__)


class Problem(BaseModel):
    """The body of every refusal: what is wrong and, where there is more than one thing, each
    field's problem."""

    model_config = ConfigDict(extra="allow")
    detail: str
    errors: list[FieldError] | None = None


def problem_response(
    status: int, detail: str, errors: list[FieldError] | None = None, **extra: Any
) -> JSONResponse:
    problem = Problem(detail=detail, errors=errors, **extra)
    return JSONResponse(problem.model_dump(mode="json", exclude_none=True), status_code=status)


PROBLEMS = {
    400: "The body could not be read, or holds a value the database cannot (a NUL character)",
    401: "No session and no valid API token",
    403: "The user's roles do not allow this",
    404: "No such survey, wave, version or question",
    409: "The wave does not allow this now (still open, closed, or not yet open)",
    413: "The body is larger than MAX_REQUEST_BYTES",
    415: "The body is not JSON",
    422: "Not valid: one error per field, all at once",
    503: "The database is unavailable for now: the same request may be sent again",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the refusals a route can give, so that clients (and schemathesis)
    know each one's shape."""
    return {status: {"model": Problem, "description": PROBLEMS[status]} for status in statuses}


TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"), autoescape=True
)
PAGE_TITLES = {
    400: "We could not read what was sent",
    404: "Page not found",
    413: "Your answers were too large to send",
    415: "We could not read what was sent",
    500: "Sorry, there is a problem with the service",
    503: "Sorry, the service is unavailable",
}
DATABASE_UNAVAILABLE = (
    "The service is busy or restarting, so this did not go through. Nothing has been lost: "
    "answers saved before are still saved. Wait a few seconds, then try again."
)
RETRY_AFTER_SECONDS = 5
RESPONDENT_DETAIL = (
    "Nothing was changed, and your earlier answers are still saved. Go back and try again."
)


def wants_html(scope: Scope) -> bool:
    """Respondent pages and browsers get pages; the API, and API clients, get JSON."""
    if _is_api(scope):
        return False
    accept = dict(scope.get("headers") or []).get(b"accept", b"")
    return str(scope.get("path", "")).startswith("/s/") or b"text/html" in accept


def problem_page(status: int, detail: str) -> HTMLResponse:
    html = TEMPLATES.get_template("problem.html").render(
        title=PAGE_TITLES.get(status, "There is a problem"), detail=detail
    )
    return HTMLResponse(html, status_code=status)


def _field_errors(error: RequestValidationError) -> list[FieldError]:
    errors = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"] if part != "body"]
        if item["type"] == "json_invalid":
            errors.append(
                FieldError(field="body", code="malformed", message="The body is not valid JSON.")
            )
            continue
        field = ".".join(loc) or "body"
        message = item["msg"]
        if item["type"] == "missing":
            message = f"{field} is required."
        elif item["type"] == "extra_forbidden":
            message = f"{field} is not a field of a submission."
        errors.append(FieldError(field=field, code=item["type"], message=message))
    return errors


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, error: RequestValidationError) -> Response:
        errors = _field_errors(error)
        if wants_html(request.scope):
            fields = ", ".join(sorted({e.field for e in errors}))
            return problem_page(
                422, f"This page cannot use what was sent ({fields}), so nothing was changed."
            )
        return problem_response(422, "The request is not valid: see each field's error.", errors)

    @app.exception_handler(SubmissionRejected)
    async def _rejected(_request: Request, error: SubmissionRejected) -> JSONResponse:
        return problem_response(422, "The answers have problems; nothing was stored.", error.errors)

    @app.exception_handler(CodeRefused)
    async def _code_refused(_request: Request, error: CodeRefused) -> JSONResponse:
        field = FieldError(field="access_code", code=error.code, message=str(error))
        return problem_response(error.status_code, f"{error} Nothing was stored.", [field])

    @app.exception_handler(WaveNotAccepting)
    async def _not_accepting(_request: Request, error: WaveNotAccepting) -> JSONResponse:
        return problem_response(409, str(error), state=error.state)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        if wants_html(request.scope) and 400 <= error.status_code < 500:
            return problem_page(error.status_code, _page_detail(request, error))
        return await http_exception_handler(request, error)

    @app.exception_handler(Exception)
    async def _server_error(request: Request, _error: Exception) -> Response:
        """Starlette's server-error handler: the request id lets an operator find the
        traceback in the log, where the server writes it."""
        detail = (
            "Something went wrong on our side. Try again in a few minutes. If it happens "
            f"again, give this reference to the survey team: {current_request_id.get()}."
        )
        if wants_html(request.scope):
            return problem_page(500, detail)
        return problem_response(500, detail)

    async def _database_unavailable(request: Request, error: Exception) -> Response:
        """The database restarting, out of reach or too busy. A transaction is all or nothing, so
        nothing half-done is stored, and sending the same request again once it is back is safe
        (a submission is stored once, whatever the number of tries)."""
        LOG.warning("database unavailable (%s): answered 503", type(error).__name__)
        response = (
            problem_page(503, DATABASE_UNAVAILABLE)
            if wants_html(request.scope)
            else problem_response(503, DATABASE_UNAVAILABLE, retryable=True)
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    for unavailable in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(unavailable, _database_unavailable)

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, _error: DataError) -> Response:
        """A value the database refuses to hold, such as a NUL character that PostgreSQL
        (unlike SQLite) rejects even in a lookup: the sender's doing, and rolled back."""
        return _refusal(
            request.scope,
            400,
            page="What was sent holds characters this service cannot accept, so nothing was "
            "changed. Go back and try again without them.",
            api="The request holds a value the database cannot accept (such as a NUL "
            "character); nothing was stored.",
        )

    @app.exception_handler(ResultsNotReleased)
    async def _not_released(_request: Request, error: ResultsNotReleased) -> JSONResponse:
        return problem_response(409, str(error), state="open")

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, error: NotFound) -> Response:
        if wants_html(request.scope):
            return problem_page(
                404, "There is no survey at this address. Check the link you were sent."
            )
        return problem_response(404, str(error))


def _page_detail(request: Request, error: StarletteHTTPException) -> str:
    """Respondents are told their answers are safe; anyone else what the route said, when it
    said more than the status's name."""
    if request.url.path.startswith("/s/"):
        return RESPONDENT_DETAIL
    if error.detail != HTTPStatus(error.status_code).phrase:
        return str(error.detail)
    return "Nothing was changed. Check the address, or go back and try again."


class BodySizeLimit:
    """Refuse bodies over the limit with 413, whether or not they declare their length.

    The body is read here, up to the limit, before the app sees it: a route's own body parsing
    would turn any error into a 400.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in {"GET", "HEAD", "OPTIONS"}:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body.extend(message.get("body", b""))
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = _refusal(
            scope,
            413,
            page="What you sent was too large, so nothing was changed. Your earlier answers are "
            "still saved: go back and try again.",
            api=f"The request body is larger than the {self.max_bytes // 1024} KiB this service "
            "accepts; nothing was stored.",
        )
        await response(scope, receive, send)


FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


class BodyTypeCheck:
    """A request body must be what the route reads: JSON under /api/, a form anywhere else.

    Anything else is refused with 415 before a route sees it: a form reader handed JSON or text
    would find an empty form and act on it (start a questionnaire, say) as if nothing were
    wrong. Requests without a body pass: the route says what is missing.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope) or _body_type_fits(scope):
            await self.app(scope, receive, send)
            return
        response = _refusal(
            scope,
            415,
            page="What was sent was not a form from this site, so nothing was changed. Go back "
            "to the page and try again.",
            api="Send the body as JSON, with Content-Type: application/json; nothing was stored."
            if _is_api(scope)
            else "Send a form (application/x-www-form-urlencoded or multipart/form-data); "
            "nothing was stored.",
        )
        await response(scope, receive, send)


def _is_api(scope: Scope) -> bool:
    return str(scope["path"]).startswith("/api/")


def _body_type_fits(scope: Scope) -> bool:
    declared: str = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
    media_type = declared.split(";", 1)[0].strip().lower()
    if _is_api(scope):
        return media_type == "application/json" or media_type.endswith("+json")
    return media_type in FORM_TYPES


def _has_body(scope: Scope) -> bool:
    headers = dict(scope["headers"])
    length = headers.get(b"content-length", b"0")
    return b"transfer-encoding" in headers or not length.isdigit() or int(length) > 0


def _refusal(scope: Scope, status: int, *, page: str, api: str) -> Response:
    """A problem page for browsers and respondents, JSON with `detail` for the API."""
    return problem_page(status, page) if wants_html(scope) else problem_response(status, api)
