"""Retention: what a closed wave no longer needs is deleted.

A closed wave lets nobody in, so its drafts, unused access codes, staff list and progress counts
serve no one (closing a wave deletes them; this also sweeps up waves closed by their date
alone). When RETENTION_YEARS is set, a wave's responses go too once its closing date is more
than that many years past, with their answers, their submission receipts and the codes spent on
them: the wave then reports nothing.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Connection, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.admin.audit import AuditAction, record
from app.db import transaction
from app.fieldwork.models import Invitation, ProgressSnapshot
from app.models import (
    AccessCode,
    Answer,
    Base,
    Draft,
    Response,
    SubmissionReceipt,
    Survey,
    TextAnswer,
    Wave,
)
from app.responses.service import wave_state


class WaveSweep(BaseModel):
    """What went (or, in a dry run, would go) from one closed wave."""

    survey: str
    wave: str
    closes_on: dt.date
    responses_expired: bool
    rows: dict[str, int]
    """Rows per kind of record, in the order they are deleted."""

    def report_line(self, *, dry_run: bool) -> str:
        done = "would delete" if dry_run else "deleted"
        counts = ", ".join(f"{count:,} {what}" for what, count in self.rows.items())
        kept = "" if self.responses_expired else "; responses kept"
        return f"{self.survey} {self.wave} (closed {self.closes_on}): {done} {counts}{kept}"


Target = tuple[str, type[Base], ColumnElement[bool]]


def retention_cutoff(today: dt.date, retention_years: int) -> dt.date:
    """Waves that closed before this day have had their responses kept long enough."""
    try:
        return today.replace(year=today.year - retention_years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - retention_years, day=28)


def apply_retention(
    factory: sessionmaker[Session],
    *,
    today: dt.date,
    retention_years: int | None,
    dry_run: bool,
    actor: str = "retention",
) -> list[WaveSweep]:
    """Sweep every closed wave, each in its own transaction; a dry run only counts. What is
    deleted is recorded in the audit log as `actor`'s doing, in the same transaction."""
    with transaction(factory) as session:
        waves = [
            (survey_key, wave)
            for survey_key, wave in session.execute(
                select(Survey.key, Wave).join(Survey).order_by(Survey.key, Wave.key)
            )
            if wave_state(wave, today) == "closed"
        ]
    cutoff = None if retention_years is None else retention_cutoff(today, retention_years)
    sweeps = []
    for survey_key, wave in waves:
        expired = cutoff is not None and wave.closes_on < cutoff
        with transaction(factory) as session:
            rows = _sweep(session.connection(), _targets(wave.id, expired), dry_run=dry_run)
            if not dry_run and any(rows.values()):
                record(
                    session=session,
                    actor=actor,
                    action=AuditAction.retention_applied,
                    target=f"{survey_key}/{wave.key}",
                    responses_expired=expired,
                    **{what.replace(" ", "_"): count for what, count in rows.items()},
                )
        sweeps.append(
            WaveSweep(
                survey=survey_key,
                wave=wave.key,
                closes_on=wave.closes_on,
                responses_expired=expired,
                rows=rows,
            )
        )
    return sweeps


def _targets(wave_id: int, responses_expired: bool) -> list[Target]:
    """What goes from a closed wave, children before the rows they refer to."""
    leftovers: list[Target] = [
        ("drafts", Draft, Draft.wave_id == wave_id),
        ("unused access codes", AccessCode, (AccessCode.wave_id == wave_id) & ~AccessCode.used),
        ("staff list entries", Invitation, Invitation.wave_id == wave_id),
        ("progress counts", ProgressSnapshot, ProgressSnapshot.wave_id == wave_id),
    ]
    if not responses_expired:
        return leftovers
    responses_of_wave = select(Response.id).where(Response.wave_id == wave_id)
    return [
        *leftovers,
        ("answers", Answer, Answer.response_id.in_(responses_of_wave)),
        ("text answers", TextAnswer, TextAnswer.response_id.in_(responses_of_wave)),
        ("responses", Response, Response.wave_id == wave_id),
        ("submission receipts", SubmissionReceipt, SubmissionReceipt.wave_id == wave_id),
        ("spent access codes", AccessCode, (AccessCode.wave_id == wave_id) & AccessCode.used),
    ]


def _sweep(connection: Connection, targets: list[Target], *, dry_run: bool) -> dict[str, int]:
    if dry_run:
        return {
            what: connection.execute(
                select(func.count()).select_from(model).where(condition)
            ).scalar_one()
            for what, model, condition in targets
        }
    return {
        what: connection.execute(delete(model).where(condition)).rowcount
        for what, model, condition in targets
    }
