"""Request ids, the access log and structured (JSON lines) logging.

The access log records what an operator needs and nothing about the person asking: method,
the route's pattern (`/s/{survey}/{wave_key}/section/{section}`, never the raw path or its
query), status, duration and request id. No address, user agent, cookie, body, code or key:
DESIGN.md's "Logs never contain request bodies, access codes or resume keys".
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
import uuid
from contextvars import ContextVar
from typing import Any, Literal

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.metrics import Metrics

ACCESS_LOG = logging.getLogger("app.access")
REQUEST_ID_HEADER = "X-Request-ID"
WELL_FORMED_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
"""What a proxy's id looks like (a UUID, nginx's `$request_id`): anything else is replaced."""
UNMATCHED = "(unmatched)"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

current_request_id: ContextVar[str] = ContextVar("current_request_id", default="-")
"""Set for the task that serves a request (uvicorn runs each request in a task of its own), so
every record logged while serving it, the server's own traceback included, carries the id."""


def request_id_from(scope: Scope) -> str:
    """The proxy's id when it is well formed, else a new one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            offered: str = value.decode("latin-1")
            if WELL_FORMED_REQUEST_ID.fullmatch(offered):
                return offered
            break
    return uuid.uuid4().hex


def route_template(scope: Scope, root_path: str) -> str:
    """The pattern of the route that served the request, so that ids and keys in a path never
    reach a log or a metric label; `(unmatched)` when no route did."""
    route = scope.get("route")
    template = getattr(route, "path_format", None)
    if isinstance(template, str):
        return template
    if scope.get("endpoint") is not None:  # a mounted app (the static files)
        return f"{scope['root_path'].removeprefix(root_path)}/{{path}}"
    return UNMATCHED


class RequestObservation:
    """Pure ASGI: gives each request an id (echoed as X-Request-ID), then logs one access line and
    records the request's metrics, whatever the outcome (a request that raised counts as 500)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        current_request_id.set(request_id)
        root_path = scope.get("root_path", "")
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope, root_path)
            self.metrics.observe(scope["method"], route, status, seconds)
            ACCESS_LOG.info(
                "%s %s %d %.1f ms",
                scope["method"],
                route,
                status,
                seconds * 1000,
                extra={
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                },
            )


class RequestIdFilter(logging.Filter):
    """Stamps every record with the id of the request being served (`-` outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's extra fields (the
    access log's method, route, status, duration_ms; the request id) and any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            (name, value) for name, value in vars(record).items() if name not in _RECORD_ATTRIBUTES
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


LogFormat = Literal["json", "text"]


def log_format(settings: Settings) -> LogFormat:
    if settings.log_format is not None:
        return settings.log_format
    return "json" if settings.environment == "production" else "text"


def logging_config(log_format: LogFormat) -> dict[str, Any]:
    """For `logging.config.dictConfig` (uvicorn applies it in every worker): one handler on the
    root logger; uvicorn's own loggers pass through it, its access log is off (ours replaces it)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "app.observability.RequestIdFilter"}},
        "formatters": {
            "json": {"()": "app.observability.JsonFormatter"},
            "text": {"format": TEXT_FORMAT},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": log_format,
                "filters": ["request_id"],
            }
        },
        "loggers": {
            "uvicorn": {"level": "INFO", "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
        "root": {"level": "INFO", "handlers": ["stderr"]},
    }
