"""The audit log: what the survey owner's pages changed, by whom and when.

An event holds counts, statuses and names, never an answer, an access code, a password or a
token: the log can be read by any admin, and outlives the accounts it mentions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models import Base


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    """Cleared when the account is removed (its id may be given to a new one); the email stays."""
    actor_email: Mapped[str] = mapped_column(String(254))
    """The account's email, or "command line (user)" for a command run on the server."""
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(300))
    """What was acted on: "coventry-supervision/2016" (a version or wave), or an account's email."""
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Counts, statuses, dates and roles only."""
