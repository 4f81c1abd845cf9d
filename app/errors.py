"""Every error a client can cause gets a specific 4xx with a field-level body, never a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.reports.service import ResultsNotReleased
from app.responses.service import FieldError, SubmissionRejected, WaveNotAccepting
from app.surveys.service import NotFound


def problem_response(
    status: int, detail: str, errors: list[FieldError] | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail, **extra}
    if errors is not None:
        body["errors"] = [error.model_dump(exclude_none=True) for error in errors]
    return JSONResponse(body, status_code=status)


TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"), autoescape=True
)
PAGE_TITLES = {
    400: "We could not read what was sent",
    404: "Page not found",
    413: "Your answers were too large to send",
}


def wants_html(scope: Scope) -> bool:
    """Respondent pages and browsers get pages; API clients get JSON."""
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
    async def _invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        return problem_response(422, "The request is not a valid submission.", _field_errors(error))

    @app.exception_handler(SubmissionRejected)
    async def _rejected(_request: Request, error: SubmissionRejected) -> JSONResponse:
        return problem_response(422, "The answers have problems; nothing was stored.", error.errors)

    @app.exception_handler(WaveNotAccepting)
    async def _not_accepting(_request: Request, error: WaveNotAccepting) -> JSONResponse:
        return problem_response(409, str(error), state=error.state)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        if wants_html(request.scope) and 400 <= error.status_code < 500:
            return problem_page(
                error.status_code,
                "Nothing was changed, and your earlier answers are still saved. Go back and "
                "try again.",
            )
        return await http_exception_handler(request, error)

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
        detail = (
            f"The request body is larger than the {self.max_bytes // 1024} KiB this service "
            "accepts; nothing was stored."
        )
        response: Response = (
            problem_page(
                413,
                "What you sent was too large, so nothing was changed. Your earlier answers are "
                "still saved: go back and try again.",
            )
            if wants_html(scope)
            else problem_response(413, detail)
        )
        await response(scope, receive, send)
