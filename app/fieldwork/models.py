"""What fieldwork keeps: who is on a wave's staff list, and last night's count of responses.

Neither holds anything a response could be matched with. An entry knows whether its person has
answered (their code is spent), never which response is theirs or when they sent it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models import NO_ROWID, Base


class Invitation(Base):
    """One person on a wave's staff list, to be sent their personal link and reminded until they
    answer. Deleted, with every address, when the wave closes."""

    __tablename__ = "invitations"
    __table_args__ = (NO_ROWID,)

    wave_id: Mapped[int] = mapped_column(
        ForeignKey("waves.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    team: Mapped[str] = mapped_column(String(64))
    """The team's key, as the list gave it: for the survey owner's view of who is behind."""
    code_seed: Mapped[str] = mapped_column(String(32))
    """The person's access code is worked out from this and the server's secret, so reminders
    can send it again although only its hash is stored."""
    invited: Mapped[bool] = mapped_column(default=False)
    reminders: Mapped[int] = mapped_column(Integer, default=0)


class ProgressSnapshot(Base):
    """Responses per team and role grouping as counted once a day, for an open wave's progress:
    a count that changes only overnight cannot be tied to a submission someone saw. Only the
    latest count is kept."""

    __tablename__ = "progress_snapshots"

    wave_id: Mapped[int] = mapped_column(
        ForeignKey("waves.id", ondelete="CASCADE"), primary_key=True
    )
    team: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(64), primary_key=True)
    responses: Mapped[int] = mapped_column(Integer)
    taken_on: Mapped[dt.date] = mapped_column(Date)
