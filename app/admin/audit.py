"""Recording and reading the audit log. Each event is written in the transaction of the change
it describes, so the log holds exactly the changes that happened."""

from __future__ import annotations

import datetime as dt
import getpass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.admin.models import AuditEvent

Detail = str | int | bool | list[str] | None
"""What an event may carry: counts, statuses, dates, roles. Never an answer, code or secret."""


class AuditAction(StrEnum):
    definition_published = "definition_published"
    wave_created = "wave_created"
    wave_opened = "wave_opened"
    wave_closed = "wave_closed"
    threshold_set = "threshold_set"
    headcounts_saved = "headcounts_saved"
    codes_issued = "codes_issued"
    user_created = "user_created"
    roles_changed = "roles_changed"
    user_unlocked = "user_unlocked"
    user_removed = "user_removed"
    token_created = "token_created"
    retention_applied = "retention_applied"
    results_released = "results_released"
    team_role_breakdown_set = "team_role_breakdown_set"
    staff_list_imported = "staff_list_imported"
    invitations_sent = "invitations_sent"
    reminders_sent = "reminders_sent"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    AuditAction.definition_published: "Published a definition",
    AuditAction.wave_created: "Created a wave",
    AuditAction.wave_opened: "Opened a wave",
    AuditAction.wave_closed: "Closed a wave",
    AuditAction.results_released: "Released a wave's results",
    AuditAction.team_role_breakdown_set: "Set a wave's team × role breakdown",
    AuditAction.threshold_set: "Set a wave's threshold",
    AuditAction.headcounts_saved: "Saved headcounts",
    AuditAction.codes_issued: "Issued access codes",
    AuditAction.user_created: "Created an account",
    AuditAction.roles_changed: "Changed an account's roles",
    AuditAction.user_unlocked: "Unlocked an account",
    AuditAction.user_removed: "Removed an account",
    AuditAction.token_created: "Created an API token",
    AuditAction.retention_applied: "Deleted what retention no longer keeps",
    AuditAction.staff_list_imported: "Imported a staff list",
    AuditAction.invitations_sent: "Sent invitations",
    AuditAction.reminders_sent: "Sent reminders",
}


def record(
    *, session: Session, actor: User | str, action: AuditAction, target: str, **details: Detail
) -> None:
    """`actor`: the signed-in account, or for the command line `command_line_actor()`."""
    session.add(
        AuditEvent(
            occurred_at=dt.datetime.now(dt.UTC),
            actor_id=actor.id if isinstance(actor, User) else None,
            actor_email=actor.email if isinstance(actor, User) else actor,
            action=action.value,
            target=target,
            details=details,
        )
    )
    session.flush()


def command_line_actor() -> str:
    """Who ran a command, as the operating system knows them: the command line has no account."""
    try:
        return f"command line ({getpass.getuser()})"
    except (KeyError, OSError):  # no name for this uid, as in some containers
        return "command line"


def recent_events(*, session: Session, limit: int = 200) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )
