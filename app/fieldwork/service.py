"""The staff list of a wave: importing it, mailing each person their personal link once, and
reminding those who have not answered.

An entry's access code is worked out from its seed and the server's secret; only the code's
hash is stored, with the other codes. Whether a person has answered is whether that code is
spent: the list learns nothing else, and is deleted when the wave closes.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage

import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.accounts.models import User
from app.admin.audit import AuditAction, record
from app.config import Settings
from app.db import transaction
from app.fieldwork.mail import MailRefused, postbox, render_message
from app.fieldwork.models import Invitation
from app.fieldwork.staff_list import StaffMember
from app.models import AccessCode, Wave
from app.responses.codes import code_hash, invitation_code
from app.responses.service import OpenedWave, load_wave, wave_state


class StaffListRefused(Exception):
    """The wave cannot take a staff list, or send to one, now."""


def wave_teams(wave: OpenedWave) -> dict[str, str]:
    return {team.key: team.name for team in wave.published.definition.population.teams}


@dataclass(frozen=True)
class ImportSummary:
    added: int
    already_listed: int


def import_staff_list(
    *,
    session: Session,
    survey_key: str,
    wave: OpenedWave,
    people: list[StaffMember],
    secret: str,
    today: dt.date,
    actor: User | str,
) -> ImportSummary:
    """Add each person not yet on the list, with an access code of their own; from then on the
    wave requires codes. People already listed keep their entry and code."""
    if wave_state(wave, today) == "closed":
        raise StaffListRefused(
            f"Wave {wave.key} is closed: nobody can answer it, and its staff list was deleted."
        )
    listed = {
        email.casefold()
        for email in session.scalars(select(Invitation.email).where(Invitation.wave_id == wave.id))
    }
    new = [person for person in people if person.email.casefold() not in listed]
    seeds = [secrets.token_hex(16) for _ in new]
    if new:
        session.execute(
            insert(Invitation),
            [
                {
                    "wave_id": wave.id,
                    "email": person.email,
                    "team": person.team_key,
                    "code_seed": seed,
                    "invited": False,
                    "reminders": 0,
                }
                for person, seed in zip(new, seeds, strict=True)
            ],
        )
        session.execute(
            insert(AccessCode),
            [
                {"wave_id": wave.id, "code_hash": code_hash(invitation_code(secret, seed))}
                for seed in seeds
            ],
        )
    session.execute(update(Wave).where(Wave.id == wave.id).values(access_codes_required=True))
    summary = ImportSummary(added=len(new), already_listed=len(people) - len(new))
    record(
        session=session,
        actor=actor,
        action=AuditAction.staff_list_imported,
        target=f"{survey_key}/{wave.key}",
        added=summary.added,
        already_listed=summary.already_listed,
    )
    return summary


@dataclass(frozen=True)
class ListEntry:
    email: str
    team: str
    code: str
    invited: bool
    answered: bool


def staff_list(*, session: Session, wave_id: int, secret: str) -> list[ListEntry]:
    """Everyone on the list, in address order, with whether they have been sent their link and
    whether they have answered (their code is spent)."""
    spent = set(
        session.scalars(
            select(AccessCode.code_hash).where(AccessCode.wave_id == wave_id, AccessCode.used)
        )
    )
    entries = []
    for invitation in session.scalars(
        select(Invitation).where(Invitation.wave_id == wave_id).order_by(Invitation.email)
    ):
        code = invitation_code(secret, invitation.code_seed)
        entries.append(
            ListEntry(
                email=invitation.email,
                team=invitation.team,
                code=code,
                invited=invitation.invited,
                answered=code_hash(code) in spent,
            )
        )
    return entries


def list_by_team(entries: Iterable[ListEntry], teams: dict[str, str]) -> pd.DataFrame:
    """Per team: on the list, and sent their link. Not who has answered: a live count per team
    would move as someone is seen to submit; teams' progress is the progress page's, counted
    once a day and suppressed."""
    frame = pd.DataFrame(
        [(entry.team, entry.invited) for entry in entries], columns=["team", "invited"]
    )
    grouped = frame.groupby("team").agg(listed=("team", "size"), invited=("invited", "sum"))
    table = grouped.reindex(list(teams)).dropna().astype("int64").reset_index()
    table.insert(1, "name", table["team"].map(teams))
    return table


@dataclass
class MailRun:
    """What a send or reminder run did (or, dry, would do)."""

    to_send: int
    delivered: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    """Address and the server's reason."""
    not_yet_invited: int = 0
    """For reminders: people on the list never sent their first invitation."""


@dataclass(frozen=True)
class Mailing:
    survey_key: str
    wave: OpenedWave
    reminder: bool
    chosen: list[ListEntry]
    not_yet_invited: int


def plan_mailing(
    *,
    session: Session,
    survey_key: str,
    wave_key: str,
    secret: str,
    today: dt.date,
    reminder: bool,
) -> Mailing:
    """Invitations go to everyone not yet invited; reminders to the invited whose code is
    unspent. Only while the wave is open: a link to a closed or unopened wave helps nobody."""
    wave = load_wave(session=session, survey_key=survey_key, wave_key=wave_key)
    state = wave_state(wave, today)
    if state != "open":
        raise StaffListRefused(
            f"Wave {wave.key} is {'closed' if state == 'closed' else 'not open yet'}: "
            "invitations and reminders go out while it is open."
        )
    entries = staff_list(session=session, wave_id=wave.id, secret=secret)
    if reminder:
        chosen = [entry for entry in entries if entry.invited and not entry.answered]
    else:
        chosen = [entry for entry in entries if not entry.invited]
    return Mailing(
        survey_key=survey_key,
        wave=wave,
        reminder=reminder,
        chosen=chosen,
        not_yet_invited=sum(not entry.invited for entry in entries) if reminder else 0,
    )


def deliver(
    factory: sessionmaker[Session],
    mailing: Mailing,
    *,
    settings: Settings,
    actor: User | str,
    progress: Callable[[int], None] = lambda done: None,
) -> MailRun:
    """Each delivery is committed on its own, so a run cut short sends nobody twice; a refused
    message is reported, and the next run tries it again."""
    run = MailRun(to_send=len(mailing.chosen), not_yet_invited=mailing.not_yet_invited)
    if not mailing.chosen:
        return run
    wave = mailing.wave
    with postbox(settings.smtp_url) as box:
        for entry in mailing.chosen:
            try:
                box.send(_message(mailing, entry, settings))
            except MailRefused as refused:
                run.failed.append((entry.email, str(refused)))
            else:
                run.delivered += 1
                with transaction(factory) as session:
                    _mark_sent(session, wave.id, entry.email, mailing.reminder)
            progress(1)
    with transaction(factory) as session:
        record(
            session=session,
            actor=actor,
            action=AuditAction.reminders_sent if mailing.reminder else AuditAction.invitations_sent,
            target=f"{mailing.survey_key}/{wave.key}",
            delivered=run.delivered,
            failed=len(run.failed),
        )
    return run


def _mark_sent(session: Session, wave_id: int, email: str, reminder: bool) -> None:
    where = (Invitation.wave_id == wave_id) & (Invitation.email == email)
    if reminder:
        session.execute(update(Invitation).where(where).values(reminders=Invitation.reminders + 1))
    else:
        session.execute(update(Invitation).where(where).values(invited=True))


def _message(mailing: Mailing, entry: ListEntry, settings: Settings) -> EmailMessage:
    wave = mailing.wave
    subject = (
        f"Reminder: {wave.title} closes on {wave.closes_on:%-d %B}"
        if mailing.reminder
        else f"Your invitation: {wave.title}"
    )
    link = f"{settings.base_url.rstrip('/')}/s/{mailing.survey_key}/{wave.key}#code={entry.code}"
    return render_message(
        template="invitation",
        sender=settings.mail_from,
        recipient=entry.email,
        subject=subject,
        reminder=mailing.reminder,
        title=wave.title,
        organisation=wave.published.definition.organisation,
        link=link,
        code=entry.code,
        closes_on=wave.closes_on,
        minutes=wave.minutes_to_answer,
        threshold=wave.suppression_threshold,
    )
