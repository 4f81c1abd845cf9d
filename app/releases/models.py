"""A release: every figure published for a closed wave, after suppression, and nothing else.

Withheld figures are stored as NULL: what a release holds is what any reader may see, so a
release table can be read, exported or backed up without care.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models import Base


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("wave_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    """1 for a wave's first release; readers see the highest."""
    threshold: Mapped[int] = mapped_column(Integer)
    breakdowns: Mapped[list[str]] = mapped_column(JSON)
    """"overall", "team", "role", "linked", and "team,role" when the wave turned it on."""
    method: Mapped[str] = mapped_column(String(32))
    """How the complements were chosen: "milp", or "greedy" where the programme ran out of time."""
    released_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    """When the survey owner (or the first reader of a wave closed by its date) released it."""
    content_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the figures, in a fixed order: a release never changes."""
    audit: Mapped[str] = mapped_column(String(200))
    """The independent audit's verdict: a release that fails it is never stored."""
    cost: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """Per breakdown: figures published, withheld below k, withheld as complements."""


class ReleaseFigure(Base):
    """One group's figures for one option of one question (or its number of respondents)."""

    __tablename__ = "release_figures"

    release_id: Mapped[int] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True
    )
    question: Mapped[str] = mapped_column(String(64), primary_key=True)
    team: Mapped[str] = mapped_column(String(400), primary_key=True)
    role: Mapped[str] = mapped_column(String(64), primary_key=True)
    option: Mapped[str] = mapped_column(String(64), primary_key=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    """The figure's place in the release: questions in order, then groups, then options."""
    count: Mapped[int | None] = mapped_column(Integer)
    base: Mapped[int | None] = mapped_column(Integer)
    positive_count: Mapped[int | None] = mapped_column(Integer)
    withheld: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(32))
    banded: Mapped[bool] = mapped_column(Boolean)
    band: Mapped[str | None] = mapped_column(String(64))
    positive_band: Mapped[str | None] = mapped_column(String(64))
