"""`supervision-survey`: the operator's and survey owner's command line.

Every command reads the same settings as the web app (DATABASE_URL and friends), so
`DATABASE_URL=... supervision-survey db upgrade && ... demo seed && ... serve` works on any
database.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import typer

from app.accounts.cli import tokens_cli, users_cli
from app.config import Settings
from app.db import make_engine, make_session_factory, transaction
from app.exports.cli import export
from app.fieldwork.cli import invitations_cli
from app.models import WaveStatus
from app.releases.cli import results_cli
from app.surveys.definitions import DefinitionError, SurveyDefinition
from app.surveys.validation import load_definitions

cli = typer.Typer(
    help="Staff supervision surveys: definitions, database, waves, demo data and the web server.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
definitions_cli = typer.Typer(help="Check and publish questionnaire definition files.")
db_cli = typer.Typer(help="The database: migrations (Alembic), backup and restore.")
waves_cli = typer.Typer(help="Create, open and close a survey's waves.")
demo_cli = typer.Typer(help="The Coventry demo: both published waves with synthetic responses.")
codes_cli = typer.Typer(help="Single-use access codes for a wave.")
report_cli = typer.Typer(
    help="Reports from closed waves, every figure suppressed for small groups."
)
cli.add_typer(definitions_cli, name="definitions", no_args_is_help=True)
cli.add_typer(db_cli, name="db", no_args_is_help=True)
cli.add_typer(waves_cli, name="waves", no_args_is_help=True)
cli.add_typer(demo_cli, name="demo", no_args_is_help=True)
cli.add_typer(codes_cli, name="codes", no_args_is_help=True)
cli.add_typer(report_cli, name="report", no_args_is_help=True)
cli.add_typer(users_cli, name="users", no_args_is_help=True)
cli.add_typer(tokens_cli, name="tokens", no_args_is_help=True)
cli.add_typer(results_cli, name="results", no_args_is_help=True)
cli.add_typer(invitations_cli, name="invitations", no_args_is_help=True)
cli.command("export")(export)
retention_cli = typer.Typer(help="Delete what closed waves no longer need (RETENTION_YEARS).")
cli.add_typer(retention_cli, name="retention", no_args_is_help=True)

Paths = Annotated[
    list[Path], typer.Argument(help="Definition files (YAML), e.g. survey_definitions/*/*.yaml")
]
SurveyOption = Annotated[
    str, typer.Option("--survey", help="Survey key, e.g. coventry-supervision")
]
WaveOption = Annotated[str, typer.Option("--wave", help="Wave key, usually its year, e.g. 2016")]


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def _load(paths: list[Path]) -> list[SurveyDefinition]:
    try:
        return load_definitions(paths)
    except DefinitionError as error:
        for problem in error.problems:
            typer.secho(str(problem), fg=typer.colors.RED, err=True)
        typer.secho(f"{len(error.problems)} problem(s) found.", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from error


@definitions_cli.command("validate")
def validate(paths: Paths) -> None:
    """Check definition files; exit 1 naming file, question and field for each problem."""
    for definition in _load(paths):
        typer.echo(f"ok  {definition.survey} {definition.version}: {definition.title}")


@definitions_cli.command("publish")
def publish(paths: Paths) -> None:
    """Store versions. Unchanged content is left alone; a version with responses never changes."""
    from app.admin.audit import command_line_actor
    from app.admin.service import publish_and_record
    from app.surveys.service import PublishRefused

    definitions = _load(paths)
    order = {id(d): _publish_order(d, definitions) for d in definitions}
    definitions.sort(key=lambda d: order[id(d)])
    factory = make_session_factory(make_engine(Settings()))
    for definition in definitions:
        try:
            with transaction(factory) as session:
                version, outcome = publish_and_record(
                    session=session, actor=command_line_actor(), definition=definition
                )
                typer.echo(
                    f"{outcome.value:9} {definition.survey} {version.key} "
                    f"(content {version.content_hash[:12]})"
                )
        except PublishRefused as error:
            _fail(str(error))


def _publish_order(definition: SurveyDefinition, definitions: list[SurveyDefinition]) -> int:
    """How many of the given versions come before this one, so predecessors publish first."""
    by_version = {(d.survey, d.version): d for d in definitions}
    depth, current = 0, definition
    while current.previous_version and (current.survey, current.previous_version) in by_version:
        depth += 1
        current = by_version[(current.survey, current.previous_version)]
    return depth


@db_cli.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Option(help="Target revision")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from app.migrate import current_revision, upgrade

    engine = make_engine(Settings())
    upgrade(engine, revision)
    typer.echo(f"database at revision {current_revision(engine)}")


@db_cli.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Option(help="Target revision; 'base' drops everything")],
) -> None:
    """Undo migrations down to REVISION."""
    from app.migrate import current_revision, downgrade

    engine = make_engine(Settings())
    downgrade(engine, revision)
    typer.echo(f"database at revision {current_revision(engine) or 'base'}")


@db_cli.command("current")
def db_current() -> None:
    """Print the database's revision."""
    from app.migrate import current_revision

    typer.echo(current_revision(make_engine(Settings())) or "base (empty database)")


@db_cli.command("backup")
def db_backup(
    out: Annotated[Path, typer.Option(help="New file to write the backup to")],
) -> None:
    """Copy the whole database into one new file, safely while the service runs: a SQLite
    database file, or a pg_dump custom-format archive for PostgreSQL."""
    from app.operations.backup import BackupError, backend_of, backup_database

    settings = Settings()
    typer.echo(f"Backing up the {backend_of(settings).value} database to {out} ...")
    try:
        summary = backup_database(settings, out)
    except BackupError as error:
        _fail(str(error))
    typer.echo("\n".join(["Backup written:", *summary.report_lines()]))


@db_cli.command("restore")
def db_restore(
    backup: Annotated[Path, typer.Argument(help="A file made by `db backup`")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a database that already holds data")
    ] = False,
) -> None:
    """Replace the whole database, schema included, with a backup; then `db upgrade` brings it
    to this release. Stop the service first. Refuses to replace data without --force."""
    from app.operations.backup import BackupError, backend_of, restore_database

    settings = Settings()
    typer.echo(f"Restoring {backup} into the {backend_of(settings).value} database ...")
    try:
        summary = restore_database(settings, backup, force=force)
    except BackupError as error:
        _fail(str(error))
    typer.echo("\n".join(["Restored:", *summary.report_lines()]))


@retention_cli.command("apply")
def retention_apply(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be deleted; change nothing")
    ] = False,
) -> None:
    """Delete closed waves' drafts and unused access codes and, when RETENTION_YEARS is set,
    the responses of waves that closed more than that many years ago."""
    from app.admin.audit import command_line_actor
    from app.deps import local_today
    from app.operations.retention import apply_retention, retention_cutoff

    settings = Settings()
    today = local_today(settings)
    if settings.retention_years is None:
        typer.echo("RETENTION_YEARS is not set: every response is kept.")
    else:
        cutoff = retention_cutoff(today, settings.retention_years)
        typer.echo(
            f"RETENTION_YEARS={settings.retention_years}: "
            f"waves that closed before {cutoff} lose their responses."
        )
    sweeps = apply_retention(
        make_session_factory(make_engine(settings)),
        today=today,
        retention_years=settings.retention_years,
        dry_run=dry_run,
        actor=command_line_actor(),
    )
    for sweep in sweeps:
        typer.echo(sweep.report_line(dry_run=dry_run))
    if not sweeps:
        typer.echo("No wave has closed yet: nothing to delete.")
    if dry_run:
        typer.echo("Dry run: nothing was changed.")


@waves_cli.command("list")
def waves_list(survey: SurveyOption) -> None:
    """List a survey's waves with their version, dates and status."""
    from app.surveys.service import NotFound, get_survey

    factory = make_session_factory(make_engine(Settings()))
    try:
        with transaction(factory) as session:
            for wave in get_survey(session=session, survey_key=survey).waves:
                typer.echo(
                    f"{wave.key:8} version {wave.version.key:8} {wave.opens_on} to "
                    f"{wave.closes_on}  {wave.status}"
                )
    except NotFound as error:
        _fail(str(error))


@waves_cli.command("create")
def waves_create(
    survey: SurveyOption,
    wave: WaveOption,
    version: Annotated[str, typer.Option(help="Published version the wave asks")],
    opens: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="First day")],
    closes: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="Last day")],
    title: Annotated[
        str | None, typer.Option(help="What respondents see; default: survey title and wave")
    ] = None,
    open_link: Annotated[
        bool,
        typer.Option(
            "--open-link",
            help="Let anyone with the link respond, without an access code: anyone could then "
            "add responses to push a small team over k. Needs --confirm-open-link.",
        ),
    ] = False,
    confirm_open_link: Annotated[bool, typer.Option("--confirm-open-link")] = False,
) -> None:
    """Create a scheduled wave; its headcounts start as the version's. Respondents need an
    access code unless --open-link is given (and confirmed)."""
    if open_link and not confirm_open_link:
        _fail(
            "an open link lets anyone add responses and push a small team over k: "
            "give --confirm-open-link as well, or leave out --open-link to require codes"
        )
    from sqlalchemy.exc import IntegrityError

    from app.admin.audit import command_line_actor
    from app.admin.service import create_wave
    from app.surveys.service import NotFound

    factory = make_session_factory(make_engine(Settings()))
    try:
        with transaction(factory) as session:
            create_wave(
                session=session,
                actor=command_line_actor(),
                survey_key=survey,
                wave_key=wave,
                version_key=version,
                opens_on=opens.date(),
                closes_on=closes.date(),
                access_codes_required=not open_link,
                title=title,
            )
    except (NotFound, ValueError) as error:
        _fail(str(error))
    except IntegrityError:
        _fail(f"{survey} already has a wave {wave!r}")
    who = (
        "anyone with the link"
        if open_link
        else "access codes required: issue them with `codes issue`"
    )
    typer.echo(f"created wave {wave} of {survey} (scheduled; {who})")


def _set_status(survey: str, wave: str, status: WaveStatus) -> None:
    """By the admin pages' rules: only a scheduled wave opens, and a closed one never reopens."""
    from app.admin.audit import command_line_actor
    from app.admin.service import ActionRefused, close_wave, open_wave, wave_summary
    from app.deps import local_today
    from app.surveys.service import NotFound

    settings = Settings()
    change = open_wave if status == WaveStatus.open else close_wave
    try:
        with transaction(make_session_factory(make_engine(settings))) as session:
            summary = wave_summary(
                session=session, survey_key=survey, wave_key=wave, today=local_today(settings)
            )
            change(session=session, summary=summary, actor=command_line_actor())
    except (NotFound, ActionRefused) as error:
        _fail(str(error))
    typer.echo(f"wave {wave} of {survey} is now {status.value}")


@waves_cli.command("open")
def waves_open(survey: SurveyOption, wave: WaveOption) -> None:
    """Open a scheduled wave for responses (between its opening and closing dates)."""
    _set_status(survey, wave, WaveStatus.open)


@waves_cli.command("close")
def waves_close(survey: SurveyOption, wave: WaveOption) -> None:
    """Close a wave: it accepts no more responses, and never reopens."""
    _set_status(survey, wave, WaveStatus.closed)


@waves_cli.command("breakdowns")
def waves_breakdowns(
    survey: SurveyOption,
    wave: WaveOption,
    team_role: Annotated[
        bool,
        typer.Option(
            "--team-role/--no-team-role",
            help="Whether the release shows each team's role groupings (off unless turned on)",
        ),
    ],
) -> None:
    """Choose the wave's breakdowns before it closes: teams, role groupings and the whole wave
    are always shown; team × role grouping figures only when turned on."""
    from app.admin.audit import command_line_actor
    from app.admin.service import ActionRefused, set_team_role_breakdown, wave_summary
    from app.deps import local_today
    from app.surveys.service import NotFound

    settings = Settings()
    try:
        with transaction(make_session_factory(make_engine(settings))) as session:
            summary = wave_summary(
                session=session, survey_key=survey, wave_key=wave, today=local_today(settings)
            )
            set_team_role_breakdown(
                session=session, summary=summary, on=team_role, actor=command_line_actor()
            )
    except (NotFound, ActionRefused) as error:
        _fail(str(error))
    typer.echo(f"wave {wave} of {survey}: team × role figures {'on' if team_role else 'off'}")


CODES_PER_BATCH = 1000


@codes_cli.command("issue")
def codes_issue(
    survey: SurveyOption,
    wave: WaveOption,
    count: Annotated[int, typer.Option(min=1, max=1_000_000, help="How many codes to make")],
    out: Annotated[Path, typer.Option(help="CSV file to write the codes to (one per line)")],
) -> None:
    """Make COUNT single-use codes and require them for the wave. Only their hashes are stored:
    the CSV is the only copy, so send it to whoever hands the codes out, then delete it."""
    from app.admin.audit import AuditAction, command_line_actor, record
    from app.responses.codes import issue_codes
    from app.surveys.service import NotFound, get_wave

    if out.exists():
        _fail(f"{out} already exists: choose another file, codes are never overwritten")
    factory = make_session_factory(make_engine(Settings()))
    issued: list[str] = []
    try:
        with typer.progressbar(length=count, label="Issuing codes") as progress:
            while len(issued) < count:
                batch = min(CODES_PER_BATCH, count - len(issued))
                with transaction(factory) as session:
                    found = get_wave(session=session, survey_key=survey, wave_key=wave)
                    issued.extend(issue_codes(session=session, wave=found, count=batch))
                    record(
                        session=session,
                        actor=command_line_actor(),
                        action=AuditAction.codes_issued,
                        target=f"{survey}/{wave}",
                        count=batch,
                    )
                progress.update(batch)
    except NotFound as error:
        _fail(str(error))
    with out.open("w", encoding="utf-8", newline="") as file:
        file.write("code\n")
        file.writelines(f"{code}\n" for code in issued)
    typer.echo(f"{count} codes written to {out}; wave {wave} of {survey} now requires a code")


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


FormatOption = Annotated[Format, typer.Option("--format", help="table, csv or json")]
RATE_COLUMNS = {
    "group": "Group",
    "respondents": "Responses",
    "headcount": "Headcount",
    "rate_pct": "Response rate %",
    "one_person_pct": "1 person = %",
    "reason": "Withheld",
}
QUESTION_COLUMNS = {
    "wave": "Wave",
    "number": "Q",
    "team": "Team",
    "role": "Role grouping",
    "label": "Answer",
    "base": "Base",
    "count": "Count",
    "share_pct": "Share %",
    "positive_pct": "Positive %",
    "one_person_pct": "1 person = %",
    "reason": "Withheld",
}


COMPARE_COLUMNS = {
    "waves": "Waves",
    "number": "Q",
    "group": "Team",
    "lineage": "Lineage",
    "label_after": "Answer",
    "label_before": "Answer (earlier)",
    "base_before": "Base before",
    "base_after": "Base after",
    "share_before": "% before",
    "share_after": "% after",
    "change_pp": "Change (points)",
    "positive_share_before": "Positive % before",
    "positive_share_after": "Positive % after",
    "positive_change_pp": "Positive change (points)",
    "p_value": "p",
    "significant": "Significant at 95%",
    "comparability": "Comparability",
    "note": "Note",
    "reason": "Withheld",
    "no_test_reason": "No test because",
}
TEAM_COLUMNS = {
    "number": "Q",
    "group": "Team",
    "base": "Base",
    "positive_share": "Positive %",
    "overall_positive_share": "All teams positive %",
    "difference_pp": "Difference (points)",
    "p_value": "p (team against the rest)",
    "significant": "Significant at 95%",
    "reason": "Withheld",
    "no_test_reason": "No test because",
}
CONSISTENCY_COLUMNS = {
    "number": "Q",
    "overall_positive_share": "All teams positive %",
    "teams_shown": "Teams shown",
    "lowest": "Lowest %",
    "highest": "Highest %",
    "range_pp": "Range (points)",
    "teams_significant": "Teams differing significantly",
    "teams_above": "Above",
    "teams_below": "Below",
}
INDICATOR_COLUMNS = {
    "title": "Indicator",
    "wave": "Wave",
    "status": "Status",
    "base": "Base",
    "value_pct": "Value %",
    "target_pct": "Target %",
    "gap_pp": "Gap (points)",
    "met": "Met",
    "source": "Source",
}
PERCENT_COLUMNS = {
    "share_before", "share_after", "positive_share_before", "positive_share_after",
    "positive_share", "overall_positive_share", "lowest", "highest",
}  # fmt: skip
ONE_DECIMAL_COLUMNS = {
    "change_pp", "positive_change_pp", "value_pct", "gap_pp", "target_pct", "difference_pp",
    "range_pp",
}  # fmt: skip


def _displayed(frame: Any) -> Any:
    """Rounded for reading (half up), from the exact figures; JSON keeps the exact ones."""
    import pandas as pd

    from analysis.rounding import half_up

    def rounded(value: Any, places: int, scale: int = 1) -> Any:
        return value if pd.isna(value) else half_up(value, places, scale)

    shown = frame.copy()
    for column in PERCENT_COLUMNS & set(shown.columns):
        shown[column] = shown[column].map(lambda v: rounded(v, 0, scale=100))
    for column in ONE_DECIMAL_COLUMNS & set(shown.columns):
        shown[column] = shown[column].map(lambda v: rounded(v, 1))
    if "p_value" in shown.columns:
        shown["p_value"] = shown["p_value"].map(lambda v: rounded(v, 3))
    return shown


def _emit(frame: Any, columns: dict[str, str], output: Format, title: str) -> None:
    """Print a report: withheld figures are empty in CSV and JSON (with the reason beside them)
    and a marker in a table, never a number and never 0."""
    if output != Format.json:
        frame = _displayed(frame)
    shown = frame[[c for c in columns if c in frame.columns]]
    if output == Format.json:  # every field, exact, for scripts
        records = json.loads(frame.to_json(orient="records", force_ascii=False))
        typer.echo(json.dumps(records, ensure_ascii=False, indent=2))
    elif output == Format.csv:
        typer.echo(shown.rename(columns=columns).to_csv(index=False), nl=False)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for column in shown.columns:
            table.add_column(columns[column], overflow="fold")
        for row in shown.itertuples(index=False):
            table.add_row(*("" if _missing(value) else str(value) for value in row))
        Console(width=200).print(table)


def _missing(value: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(value)) if not isinstance(value, list | tuple) else False


RateBreakdown = Literal["team", "role"]
Breakdown = Literal["team", "role", "team,role", "overall"]
"""Checked by hand in each command: Typer options are plain strings."""


def _report(
    build: Callable[[Any], Any], columns: dict[str, str], output: Format, title: str
) -> None:
    """Run one report in its own session and print it; a missing wave or question, or a wave
    still open, is a clear message and exit 1."""
    from app.reports.service import ResultsNotReleased
    from app.surveys.service import NotFound

    try:
        with transaction(make_session_factory(make_engine(Settings()))) as session:
            frame = build(session)
    except (NotFound, ResultsNotReleased) as error:
        _fail(str(error))
    _emit(frame, columns, output, title)


@report_cli.command("response-rates")
def report_response_rates(
    survey: SurveyOption,
    wave: WaveOption,
    by: Annotated[str, typer.Option(help="team or role")] = "team",
    output: FormatOption = Format.table,
) -> None:
    """Responses, headcount, response rate and what one person is worth, per team or role."""
    from app.reports.service import response_rates

    if by not in ("team", "role"):
        _fail("--by is team or role")
    _report(
        lambda session: response_rates(
            session=session, survey_key=survey, wave_key=wave, by=cast(RateBreakdown, by)
        ),
        RATE_COLUMNS,
        output,
        f"{survey} {wave}: response rates by {by}",
    )


@report_cli.command("question")
def report_question(
    survey: SurveyOption,
    wave: WaveOption,
    question: Annotated[str, typer.Option(help="Printed number (4a) or key")],
    by: Annotated[str, typer.Option(help="team, role, team,role or overall")] = "team",
    output: FormatOption = Format.table,
) -> None:
    """One question's results by team, role grouping, both, or overall."""
    from app.reports.service import question_report

    if by not in ("team", "role", "team,role", "overall"):
        _fail("--by is team, role, team,role or overall")
    _report(
        lambda session: question_report(
            session=session, survey_key=survey, wave_key=wave, question=question,
            by=cast(Breakdown, by), today=dt.date.today(),
        ),
        QUESTION_COLUMNS,
        output,
        f"{survey} {wave}: question {question} by {by}",
    )  # fmt: skip


@report_cli.command("compare")
def report_compare(
    survey: SurveyOption,
    from_wave: Annotated[str, typer.Option("--from", help="The earlier wave")],
    to_wave: Annotated[str, typer.Option("--to", help="The later wave")],
    question: Annotated[str | None, typer.Option(help="One question (number or key)")] = None,
    by: Annotated[str, typer.Option(help="team (the only breakdown with headcounts)")] = "team",
    output: FormatOption = Format.table,
) -> None:
    """Year on year per team: shares, change, significance; split teams against their
    predecessor; questions that changed their options side by side, marked not comparable."""
    from app.reports.service import year_on_year_report

    if by != "team":
        _fail("--by team: comparisons need headcounts, which only teams have")
    _report(
        lambda session: year_on_year_report(
            session=session, survey_key=survey, from_wave=from_wave, to_wave=to_wave,
            question=question,
        ),
        COMPARE_COLUMNS,
        output,
        f"{survey}: {from_wave} to {to_wave} by team",
    )  # fmt: skip


@report_cli.command("teams")
def report_teams(
    survey: SurveyOption,
    wave: WaveOption,
    question: Annotated[str | None, typer.Option(help="One question (number or key)")] = None,
    output: FormatOption = Format.table,
) -> None:
    """Each team against all teams ("Report 1"), tested against the rest of the wave."""
    from app.reports.service import team_report

    _report(
        lambda session: team_report(
            session=session, survey_key=survey, wave_key=wave, today=dt.date.today(),
            question=question,
        ),
        TEAM_COLUMNS,
        output,
        f"{survey} {wave}: teams against all teams",
    )  # fmt: skip


@report_cli.command("consistency")
def report_consistency(
    survey: SurveyOption, wave: WaveOption, output: FormatOption = Format.table
) -> None:
    """Per question, how far apart the teams are and how many differ from the rest."""
    from app.reports.service import consistency_report

    _report(
        lambda session: consistency_report(
            session=session, survey_key=survey, wave_key=wave, today=dt.date.today()
        ),
        CONSISTENCY_COLUMNS,
        output,
        f"{survey} {wave}: consistency across teams",
    )


@report_cli.command("indicators")
def report_indicators(survey: SurveyOption, output: FormatOption = Format.table) -> None:
    """Each indicator in each closed wave against its target."""
    from app.reports.service import indicators_report

    _report(
        lambda session: indicators_report(
            session=session, survey_key=survey, today=dt.date.today()
        ),
        INDICATOR_COLUMNS,
        output,
        f"{survey}: indicators against targets",
    )


@report_cli.command("pdf")
def report_pdf(
    survey: SurveyOption,
    wave: WaveOption,
    out: Annotated[Path, typer.Option(help="PDF file to write, e.g. report-2015.pdf")],
) -> None:
    """A closed wave's whole printable report (as /reports/SURVEY/WAVE shows it) as an A4 PDF,
    printed by headless Chromium at /usr/bin/chromium."""
    from app.reports.pdf import ChromiumMissing, write_report_pdf
    from app.reports.service import ResultsNotReleased
    from app.surveys.service import NotFound

    try:
        write_report_pdf(
            Settings(), survey_key=survey, wave_key=wave, out=out, today=dt.date.today()
        )
    except (NotFound, ResultsNotReleased, ChromiumMissing) as error:
        _fail(str(error))
    typer.echo(f"wrote {out}")


@demo_cli.command("seed")
def demo_seed() -> None:
    """Load the Coventry 2014 and 2015 waves with synthetic responses that reproduce the published
    counts, and an open 2016 wave. Does nothing if they are already there."""
    from app.demo.seed import DemoOutdated, seed_demo

    settings = Settings()
    factory = make_session_factory(make_engine(settings))
    try:
        seed_demo(factory, definitions_dir=settings.definitions_dir, echo=typer.echo)
    except DemoOutdated as error:
        _fail(str(error))


@demo_cli.command("accounts")
def demo_accounts() -> None:
    """Create one demo account per role (scrutiny, hr, admin) with new passwords, and print
    them. Refused in production."""
    from app.demo.accounts import reset_demo_accounts

    settings = Settings()
    if settings.environment == "production":
        _fail("Demo accounts are never created in production: use `users create`.")
    accounts = reset_demo_accounts(make_session_factory(make_engine(settings)))
    typer.echo("Demo staff accounts (new passwords each time the demo starts):")
    for account in accounts:
        typer.echo(f"  {account.role.value:<9} {account.email:<22} {account.password}")


@cli.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, envvar="WEB_CONCURRENCY", help="Worker processes")
    ] = 1,
    proxy_headers: Annotated[
        bool,
        typer.Option(
            help="Believe X-Forwarded-For and X-Forwarded-Proto from --forwarded-allow-ips"
        ),
    ] = True,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            envvar="FORWARDED_ALLOW_IPS",
            help="Comma-separated addresses of the reverse proxies to believe; '*' only when "
            "nothing but the proxy can reach the port",
        ),
    ] = "127.0.0.1,::1",
) -> None:
    """Serve the web app and API with uvicorn; each worker reads the settings from the
    environment. Logs go to standard error, as JSON lines in production (LOG_FORMAT)."""
    import uvicorn

    from app.metrics import metrics_shared_by_workers
    from app.observability import log_format, logging_config

    settings = Settings()  # a bad setting stops here, once, rather than in every worker
    with metrics_shared_by_workers(workers):
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=proxy_headers,
            forwarded_allow_ips=forwarded_allow_ips,
            log_level="info",
            log_config=logging_config(log_format(settings)),
            access_log=False,  # ours, without addresses or query strings, replaces uvicorn's
        )


@cli.command("doctor")
def doctor() -> None:
    """Check the settings, secret key, database and migrations; say what to fix; exit 1 on a
    problem."""
    from app.operations.doctor import Outcome, diagnose

    colours = {
        Outcome.ok: None,
        Outcome.warning: typer.colors.YELLOW,
        Outcome.problem: typer.colors.RED,
    }
    findings = diagnose()
    for finding in findings:
        typer.secho(str(finding), fg=colours[finding.outcome])
    if any(finding.outcome == Outcome.problem for finding in findings):
        raise typer.Exit(1)


def main() -> None:
    cli()
