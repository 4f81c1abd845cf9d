"""`supervision-survey users ...` and `tokens ...`: staff accounts from the command line.

Passwords and tokens are printed once, to the terminal that asked for them, and never logged.
"""

from __future__ import annotations

from typing import Annotated

import typer

from app.accounts.models import Role
from app.accounts.service import (
    AccountError,
    create_token,
    create_user,
    generate_password,
    get_user,
)
from app.admin.audit import AuditAction, command_line_actor, record
from app.config import Settings
from app.db import make_engine, make_session_factory, transaction

users_cli = typer.Typer(help="Staff accounts: scrutiny, HR and admin.")
tokens_cli = typer.Typer(help="API tokens for scripted exports (shown once, stored hashed).")

EmailOption = Annotated[str, typer.Option("--email", help="The person's email address")]


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@users_cli.command("create")
def users_create(
    email: EmailOption,
    role: Annotated[
        list[Role], typer.Option("--role", help="scrutiny, hr or admin; repeat for several")
    ],
    generate: Annotated[
        bool, typer.Option("--generate", help="Make a random password and print it once")
    ] = False,
) -> None:
    """Create a staff account; asks for the password twice, or prints a generated one."""
    if generate:
        password = generate_password()
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    factory = make_session_factory(make_engine(Settings()))
    try:
        with transaction(factory) as session:
            user = create_user(
                session=session, email=email, roles=[r.value for r in role], password=password
            )
            record(
                session=session,
                actor=command_line_actor(),
                action=AuditAction.user_created,
                target=user.email,
                roles=user.roles,
            )
            summary = f"created {user.email} with role(s) {', '.join(user.roles)}"
    except AccountError as error:
        _fail(str(error))
    typer.echo(summary)
    if generate:
        typer.echo(f"password (shown once, give it to them privately): {password}")


@tokens_cli.command("create")
def tokens_create(
    email: EmailOption,
    name: Annotated[
        str, typer.Option("--name", help="What the token is for, e.g. 'HR monthly export'")
    ] = "export",
) -> None:
    """Create an API token for a user and print it once; only its hash is kept."""
    factory = make_session_factory(make_engine(Settings()))
    try:
        with transaction(factory) as session:
            user = get_user(session=session, email=email)
            if user is None:
                raise AccountError(f"There is no account for {email.strip().lower()}.")
            value = create_token(session=session, user=user, name=name)
            record(
                session=session,
                actor=command_line_actor(),
                action=AuditAction.token_created,
                target=user.email,
                name=name,
            )
    except AccountError as error:
        _fail(str(error))
    typer.echo(f"token for {email.strip().lower()} (shown once, store it now):")
    typer.echo(value)
