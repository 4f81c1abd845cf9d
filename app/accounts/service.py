"""Users, passwords, sessions and API tokens.

Passwords are hashed with argon2id; session and token values are random, given out once, and
stored only as their SHA-256. Nothing here logs a password, a session value or a token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.accounts.models import ApiToken, Role, StaffSession, User

PASSWORD_MIN_LENGTH = 12
MAX_FAILED_SIGN_INS = 5
LOCK_OUT = dt.timedelta(minutes=15)
SESSION_LIFETIME = dt.timedelta(hours=8)
TOKEN_PREFIX = "sst_"
"""Marks a supervision-survey token, so a leaked one is easy to recognise and search for."""

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password: checked when the email is unknown")
"""Verified against when no user has the email, so an unknown address takes as long as a
wrong password and timing does not tell which addresses have accounts."""


class AccountError(ValueError):
    """A user cannot be created as asked; the message says why and can be shown."""


class SignInRefused(Exception):
    """The email and password did not sign anyone in; the message can be shown as it is."""


class AccountLocked(SignInRefused):
    def __init__(self, until: dt.datetime) -> None:
        self.until = until
        super().__init__(
            f"Too many failed sign-ins: this account is locked for "
            f"{int(LOCK_OUT.total_seconds() // 60)} minutes, until {until:%H:%M} UTC. "
            "Try again then, or ask an administrator."
        )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; everything here is stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_roles(roles: Iterable[str]) -> list[str]:
    roles = list(dict.fromkeys(roles))
    unknown = [role for role in roles if role not in Role.__members__]
    if unknown:
        known = ", ".join(Role)
        raise AccountError(f"Unknown role {', '.join(unknown)}: roles are {known}.")
    return roles


def check_password(password: str) -> None:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError(f"A password needs at least {PASSWORD_MIN_LENGTH} characters.")
    if len(set(password)) < 4:
        raise AccountError("A password needs more than a few different characters.")


def generate_password() -> str:
    """A random password of about 120 bits, easy to copy (no look-alike characters)."""
    return "-".join(secrets.token_urlsafe(6).replace("_", "x").replace("-", "y") for _ in range(4))


def get_user(*, session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def create_user(*, session: Session, email: str, roles: Iterable[str], password: str) -> User:
    email = normalise_email(email)
    if "@" not in email.strip("@") or len(email) > 254:
        raise AccountError(f"{email!r} is not an email address.")
    checked = check_roles(roles)
    check_password(password)
    if get_user(session=session, email=email) is not None:
        raise AccountError(f"There is already an account for {email}.")
    user = User(
        email=email,
        password_hash=_hasher.hash(password),
        roles=checked,
        failed_sign_ins=0,
        created_at=_now(),
    )
    session.add(user)
    session.flush()
    return user


def set_password(*, user: User, password: str) -> None:
    """A new password, which also lifts any lock-out."""
    check_password(password)
    user.password_hash = _hasher.hash(password)
    user.failed_sign_ins = 0
    user.locked_until = None


def authenticate(
    *, session: Session, email: str, password: str, now: dt.datetime | None = None
) -> User:
    """The user with this email and password, or `SignInRefused` (`AccountLocked` after
    `MAX_FAILED_SIGN_INS` failures in a row, for `LOCK_OUT`).

    Commit even when it raises: the count of failures is part of what it changes.
    """
    now = now or _now()
    user = get_user(session=session, email=email)
    if user is None:
        _verify(_DUMMY_HASH, password)
        raise SignInRefused("Enter a correct email address and password.")
    if user.locked_until is not None:
        if _aware(user.locked_until) > now:
            raise AccountLocked(_aware(user.locked_until))
        user.locked_until = None
    if not _verify(user.password_hash, password):
        user.failed_sign_ins += 1
        if user.failed_sign_ins >= MAX_FAILED_SIGN_INS:
            user.failed_sign_ins = 0
            user.locked_until = now + LOCK_OUT
            session.flush()
            raise AccountLocked(user.locked_until)
        session.flush()
        raise SignInRefused("Enter a correct email address and password.")
    user.failed_sign_ins = 0
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    session.flush()
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def start_session(*, session: Session, user: User, now: dt.datetime | None = None) -> str:
    """A new session for `user`: returns the value for the cookie, which is stored nowhere."""
    now = now or _now()
    session.execute(
        delete(StaffSession).where(StaffSession.user_id == user.id, StaffSession.expires_at < now)
    )
    value = secrets.token_urlsafe(32)
    session.add(StaffSession(id=_digest(value), user_id=user.id, expires_at=now + SESSION_LIFETIME))
    session.flush()
    return value


def end_session(*, session: Session, value: str) -> None:
    session.execute(delete(StaffSession).where(StaffSession.id == _digest(value)))


def user_for_session(
    *, session: Session, value: str, now: dt.datetime | None = None
) -> User | None:
    found = session.get(StaffSession, _digest(value))
    if found is None:
        return None
    if _aware(found.expires_at) <= (now or _now()):
        session.delete(found)
        return None
    return found.user


def create_token(*, session: Session, user: User, name: str) -> str:
    """A new API token for `user`, returned once: only its hash is kept."""
    name = name.strip()
    if not name or len(name) > 100:
        raise AccountError("A token needs a name of 1 to 100 characters, saying what it is for.")
    value = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(id=_digest(value), user_id=user.id, name=name, created_at=_now()))
    session.flush()
    return value


def user_for_token(*, session: Session, value: str, today: dt.date | None = None) -> User | None:
    if not value.startswith(TOKEN_PREFIX):
        return None
    found = session.get(ApiToken, _digest(value))
    if found is None:
        return None
    today = today or _now().date()
    if found.last_used_on != today:
        found.last_used_on = today
    return found.user
