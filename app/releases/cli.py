"""`supervision-survey results ...`: a closed wave's release from the command line."""

from __future__ import annotations

from typing import Annotated

import typer

from app.admin.audit import command_line_actor
from app.config import Settings
from app.db import make_engine, make_session_factory, transaction
from app.deps import local_today
from app.releases.service import ReleaseRefused, ReleaseSummary, release
from app.responses.service import load_wave, wave_state
from app.surveys.service import NotFound

results_cli = typer.Typer(help="A closed wave's release: every figure suppressed once, frozen.")


@results_cli.command("release")
def results_release(
    survey: Annotated[str, typer.Option("--survey", help="Survey key")],
    wave: Annotated[str, typer.Option("--wave", help="Wave key")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Work it out and say what it costs; store nothing")
    ] = False,
) -> None:
    """Release a closed wave's results (again, after a correction): a new release withholds at
    least what the last one did. Prints what suppression cost, per breakdown."""
    settings = Settings()
    engine = make_engine(settings)
    try:
        with transaction(make_session_factory(engine)) as session:
            opened = load_wave(session=session, survey_key=survey, wave_key=wave)
            if wave_state(opened, local_today(settings)) != "closed":
                raise ReleaseRefused(
                    f"Wave {wave} is still open: its results are released when it closes."
                )
            typer.echo(f"Suppressing every figure of wave {wave} together ...")
            summary = release(
                session=session,
                wave=opened,
                actor=None if dry_run else command_line_actor(),
                dry_run=dry_run,
            )
            if dry_run:
                session.rollback()
    except (NotFound, ReleaseRefused) as error:
        typer.secho(str(error), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from error
    finally:
        engine.dispose()
    typer.echo(describe(summary))


def describe(summary: ReleaseSummary) -> str:
    """The release, and per breakdown what was shown and withheld, as a small text table."""
    stored = "dry run, nothing stored" if summary.number is None else f"release {summary.number}"
    lines = [
        f"{summary.survey} wave {summary.wave}: {stored}",
        f"threshold {summary.threshold}; complements chosen by {summary.method}",
        f"audit {summary.audit}",
        f"content hash {summary.content_hash}",
        "",
        f"{'breakdown':<12} {'shown':>8} {'below k':>8} {'complements':>12}",
    ]
    for cost in summary.cost:
        lines.append(
            f"{cost.breakdown:<12} {cost.shown:>8} {cost.withheld_below_k:>8} "
            f"{cost.withheld_as_complements:>12}"
        )
    lines.append("(figures: one per question and group; 'respondents' is the response profile)")
    lines += [f"left out: {reason}" for reason in summary.dropped]
    return "\n".join(lines)
