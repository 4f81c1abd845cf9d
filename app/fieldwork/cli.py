"""`supervision-survey invitations ...`: a wave's staff list, invitations and reminders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.admin.audit import command_line_actor
from app.config import Settings
from app.db import make_engine, make_session_factory, transaction
from app.deps import local_today
from app.fieldwork.mail import MailNotConfigured
from app.fieldwork.progress import take_snapshot
from app.fieldwork.service import (
    MailRun,
    StaffListRefused,
    deliver,
    import_staff_list,
    plan_mailing,
    wave_teams,
)
from app.fieldwork.staff_list import read_staff_list
from app.responses.service import load_wave, wave_state
from app.surveys.service import NotFound

invitations_cli = typer.Typer(
    help="A wave's staff list: personal links by mail, and reminders to those yet to answer."
)
SurveyOption = Annotated[str, typer.Option("--survey", help="Survey key")]
WaveOption = Annotated[str, typer.Option("--wave", help="Wave key")]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Say how many would be sent; send nothing")
]


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@invitations_cli.command("import")
def invitations_import(
    survey: SurveyOption,
    wave: WaveOption,
    file: Annotated[Path, typer.Option("--file", help="CSV with the header email,team")],
) -> None:
    """Add the people in FILE to the wave's list, each with a single-use access code; the wave
    then requires codes. A file with any problem stores nothing."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        _fail(f"cannot read {file}: {error}")
    settings = Settings()
    engine = make_engine(settings)
    try:
        with transaction(make_session_factory(engine)) as session:
            opened = load_wave(session=session, survey_key=survey, wave_key=wave)
            read = read_staff_list(text, wave_teams(opened))
            if read.problems:
                _fail(f"{file}: nothing was stored.\n" + "\n".join(read.problems))
            summary = import_staff_list(
                session=session,
                survey_key=survey,
                wave=opened,
                people=read.people,
                secret=settings.secret_key,
                today=local_today(settings),
                actor=command_line_actor(),
            )
    except (NotFound, StaffListRefused) as error:
        _fail(str(error))
    finally:
        engine.dispose()
    already = f"; {summary.already_listed} already on it" if summary.already_listed else ""
    typer.echo(
        f"wave {wave} of {survey}: {summary.added} added to the staff list{already}. "
        "The wave now requires an access code; send the links with `invitations send`."
    )


def _mail(survey: str, wave: str, *, reminder: bool, dry_run: bool) -> None:
    settings = Settings()
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    what = "reminders" if reminder else "invitations"
    try:
        with transaction(factory) as session:
            mailing = plan_mailing(
                session=session,
                survey_key=survey,
                wave_key=wave,
                secret=settings.secret_key,
                today=local_today(settings),
                reminder=reminder,
            )
        if dry_run or not mailing.chosen:
            run = MailRun(to_send=len(mailing.chosen), not_yet_invited=mailing.not_yet_invited)
        else:
            with typer.progressbar(length=len(mailing.chosen), label=f"Sending {what}") as bar:
                run = deliver(
                    factory,
                    mailing,
                    settings=settings,
                    actor=command_line_actor(),
                    progress=bar.update,
                )
    except (NotFound, StaffListRefused, MailNotConfigured) as error:
        _fail(str(error))
    finally:
        engine.dispose()
    typer.echo(_described(run, what, dry_run))
    if run.failed:
        raise typer.Exit(1)


def _described(run: MailRun, what: str, dry_run: bool) -> str:
    if dry_run:
        lines = [f"dry run: {run.to_send} {what} would be sent; nothing was sent"]
    elif not run.to_send:
        lines = [
            "no reminders to send: everyone who was invited has answered"
            if what == "reminders"
            else "no invitations to send: everyone on the list has been sent theirs"
        ]
    else:
        lines = [f"{run.delivered} of {run.to_send} {what} delivered"]
        lines += [f"  not delivered to {email}: {reason}" for email, reason in run.failed]
        if run.failed:
            lines.append("Run the command again to retry them: nobody is sent anything twice.")
    if run.not_yet_invited:
        lines.append(
            f"{run.not_yet_invited} on the list were never sent their invitation: "
            "run `invitations send` for them."
        )
    return "\n".join(lines)


@invitations_cli.command("send")
def invitations_send(survey: SurveyOption, wave: WaveOption, dry_run: DryRunOption = False) -> None:
    """Mail each person on the list not yet invited their personal link (once)."""
    _mail(survey, wave, reminder=False, dry_run=dry_run)


@invitations_cli.command("remind")
def invitations_remind(
    survey: SurveyOption, wave: WaveOption, dry_run: DryRunOption = False
) -> None:
    """Mail the link again to those invited whose code is unspent: nobody who has answered."""
    _mail(survey, wave, reminder=True, dry_run=dry_run)


@invitations_cli.command("count")
def invitations_count(survey: SurveyOption, wave: WaveOption) -> None:
    """Take today's progress count of an open wave now: run it from a nightly job, so the
    figures readers see all day are the night's, whoever looks first."""
    settings = Settings()
    engine = make_engine(settings)
    today = local_today(settings)
    try:
        with transaction(make_session_factory(engine)) as session:
            opened = load_wave(session=session, survey_key=survey, wave_key=wave)
            if wave_state(opened, today) != "open":
                raise StaffListRefused(f"Wave {wave} is not open: only an open wave is counted.")
            take_snapshot(session=session, wave_id=opened.id, today=today)
    except (NotFound, StaffListRefused) as error:
        _fail(str(error))
    finally:
        engine.dispose()
    typer.echo(f"wave {wave} of {survey}: responses counted for {today:%-d %B %Y}")
