"""Every error a client can cause gets a specific 4xx with a field-level body, never a 500."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.responses.service import FieldError, SubmissionRejected, WaveNotAccepting
from app.surveys.service import NotFound


def problem_response(
    status: int, detail: str, errors: list[FieldError] | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail, **extra}
    if errors is not None:
        body["errors"] = [error.model_dump(exclude_none=True) for error in errors]
    return JSONResponse(body, status_code=status)


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

    @app.exception_handler(NotFound)
    async def _not_found(_request: Request, error: NotFound) -> JSONResponse:
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
        response = problem_response(
            413,
            f"The request body is larger than the {self.max_bytes // 1024} KiB this service "
            "accepts; nothing was stored.",
        )
        await response(scope, receive, send)
