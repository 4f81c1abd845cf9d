"""The app factory: tests, the CLI and uvicorn all build the app from explicit settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import plotly
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.types import ASGIApp

from app.accounts.router import router as accounts_router
from app.admin.pages import router as admin_router
from app.admin.web import FormExpired, form_expired_page
from app.config import Settings, get_settings
from app.dashboards.pages import router as dashboards_router
from app.db import make_engine, make_session_factory
from app.errors import BodySizeLimit, BodyTypeCheck, install_error_handlers, problem_responses
from app.exports.router import router as exports_router
from app.metrics import Metrics
from app.metrics import router as metrics_router
from app.observability import RequestObservation
from app.reports.printable import router as printable_router
from app.reports.router import router as reports_router
from app.responses.ratelimit import GuessLimiter
from app.responses.router import router as responses_router
from app.security import SecurityHeaders
from app.surveys.pages import router as pages_router
from app.surveys.router import router as surveys_router

STATIC_DIR = Path(__file__).resolve().parent / "static"
PLOTLY_BUNDLE = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
"""Charts' JavaScript, served from the installed package: pages load nothing from elsewhere."""
STAFF_PROBLEMS = problem_responses(400, 401, 403, 404, 409, 422, 503)


class SurveyApp(FastAPI):
    """FastAPI with the request id, access log, metrics and security headers outside everything,
    Starlette's server-error handler included, so that a 500 carries them too."""

    def build_middleware_stack(self) -> ASGIApp:
        observed = RequestObservation(super().build_middleware_stack(), metrics=self.state.metrics)
        return SecurityHeaders(observed, production=self.state.settings.environment == "production")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = SurveyApp(
        title="Supervision survey platform",
        version="1",
        description="Versioned staff supervision questionnaires, anonymous responses, and "
        "disclosure-controlled results.",
        lifespan=lifespan,
        # Swagger UI and ReDoc load their code from a CDN and start it with an inline script:
        # neither passes the Content-Security-Policy. The schema itself stays at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.metrics = Metrics(app.state.session_factory)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(BodyTypeCheck)  # outside the size limit: a wrong type is refused unread
    install_error_handlers(app)
    app.state.guess_limiter = GuessLimiter(per_client=10, overall=300)
    app.include_router(surveys_router, responses=problem_responses(400, 404, 422, 503))
    app.include_router(
        responses_router, responses=problem_responses(400, 404, 409, 413, 415, 422, 503)
    )
    app.include_router(reports_router, responses=STAFF_PROBLEMS)
    app.include_router(accounts_router)
    app.include_router(pages_router)
    app.include_router(dashboards_router)
    app.include_router(printable_router)
    app.include_router(exports_router, responses=STAFF_PROBLEMS)
    app.include_router(admin_router)
    app.add_exception_handler(FormExpired, form_expired_page)
    app.include_router(metrics_router)

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_bundle() -> FileResponse:
        return FileResponse(
            PLOTLY_BUNDLE,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        """For clients that ask for it without reading the pages' icon link."""
        return FileResponse(
            STATIC_DIR / "favicon.svg",
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/healthz", tags=["operations"], responses=problem_responses(503))
    def healthz() -> dict[str, str]:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok", "database": "ok"}

    return app
