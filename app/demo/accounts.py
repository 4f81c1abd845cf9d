"""The demo's staff accounts: one per role, with fresh passwords each time the demo starts.

Only `make run` (through `supervision-survey demo accounts`) creates them, and never in
production: a real installation's accounts are made one by one with `users create`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from app.accounts.models import Role
from app.accounts.service import create_user, generate_password, get_user, set_password
from app.db import transaction

DEMO_DOMAIN = "demo.invalid"
"""A reserved domain (RFC 2606): these addresses can never reach anybody."""


@dataclass(frozen=True)
class DemoAccount:
    email: str
    role: Role
    password: str


def reset_demo_accounts(factory: sessionmaker[Session]) -> list[DemoAccount]:
    """Create the demo accounts, or give existing ones new passwords."""
    accounts = []
    with transaction(factory) as session:
        for role in Role:
            account = DemoAccount(f"{role.value}@{DEMO_DOMAIN}", role, generate_password())
            user = get_user(session=session, email=account.email)
            if user is None:
                create_user(
                    session=session,
                    email=account.email,
                    roles=[role.value],
                    password=account.password,
                )
            else:
                user.roles = [role.value]
                set_password(user=user, password=account.password)
            accounts.append(account)
    return accounts
