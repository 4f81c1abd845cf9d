"""The app factory: tests, the CLI and uvicorn all build the app from explicit settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from app.config import Settings, get_settings
from app.db import make_engine, make_session_factory
from app.errors import BodySizeLimit, install_error_handlers
from app.responses.router import router as responses_router
from app.surveys.router import router as surveys_router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="Supervision survey platform",
        version="1",
        description="Versioned staff supervision questionnaires, anonymous responses, and "
        "disclosure-controlled results.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    install_error_handlers(app)
    app.include_router(surveys_router)
    app.include_router(responses_router)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok", "database": "ok"}

    return app
