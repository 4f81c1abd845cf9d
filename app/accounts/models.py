"""Staff accounts. Nothing here is linked to a respondent or a response.

Sessions and API tokens are found by the SHA-256 of their random value: the value itself is
given to the browser or the script once, and a copy of the database lets nobody in.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Date, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models import Base


class Role(StrEnum):
    scrutiny = "scrutiny"
    """Reads the dashboards and reports."""
    hr = "hr"
    """Reads the reports and downloads exports."""
    admin = "admin"
    """Runs the survey year and manages accounts."""


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lower_case"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    """argon2id, in the PHC string format (`$argon2id$v=19$...`)."""
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Any of the `Role` values; one person may hold several."""
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    """Failed sign-ins since the last success or lock-out."""
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    sessions: Mapped[list[StaffSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    api_tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    def has_role(self, *roles: Role | str) -> bool:
        return any(str(role) in self.roles for role in roles)


class StaffSession(Base):
    """A signed-in browser. Its id is the SHA-256 (hex) of the random value in the cookie."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(back_populates="sessions")


class ApiToken(Base):
    """A token for scripted exports. Its id is the SHA-256 (hex) of the token, shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_used_on: Mapped[dt.date | None] = mapped_column(Date)
    """The day only: enough to find unused tokens."""

    user: Mapped[User] = relationship(back_populates="api_tokens")
