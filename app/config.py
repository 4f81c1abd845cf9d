"""Settings, read once from the environment (and a `.env` file if present)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEVELOPMENT_SECRET = "development-only-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'supervision-survey.db'}"
    secret_key: str = DEVELOPMENT_SECRET
    suppression_threshold: int = Field(default=5, ge=2)
    """Default `k` for surveys whose definition does not set one."""
    max_request_bytes: int = Field(default=256 * 1024, ge=1024)
    """Largest request body accepted; a whole questionnaire's answers fit in a few kilobytes."""
    timezone: str = "Europe/London"
    """"Today" is the local date here: when waves open and close, when progress is counted."""
    definitions_dir: Path = PROJECT_ROOT / "survey_definitions"
    sql_echo: bool = False
    log_format: Literal["json", "text"] | None = None
    """`serve`'s log lines: JSON lines, or text for reading in a terminal; unset, JSON in
    production and text elsewhere."""
    metrics_token: str | None = Field(default=None, min_length=16)
    """The bearer token that opens /metrics to the monitoring system; unset, nobody can read it."""
    smtp_url: str | None = None
    """Where invitations and reminders are handed over: `smtp://host:port` (STARTTLS when the
    server offers it), or `smtps://user:password@host:465`; unset, no mail can be sent."""
    mail_from: str = "supervision-survey@localhost"
    base_url: str = "http://127.0.0.1:8000"
    """The address respondents reach the service at, for the links in invitations."""
    retention_years: int | None = Field(default=None, ge=1)
    """`retention apply` deletes the responses of waves that closed more than this many years
    ago; unset, every response is kept."""

    @model_validator(mode="after")
    def _no_default_secret_in_production(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError("SECRET_KEY must be set to a random value in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
