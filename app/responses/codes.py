"""Single-use access codes: issued in bulk, stored only as hashes, spent on submission.

Spending a code happens in its own transaction, before the response's, and writes nothing the
response could be matched with: no time, no shared key, no foreign key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import StrEnum

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction
from app.models import AccessCode, Wave
from app.responses.service import submission_received

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""31 characters with no 0/O, 1/I/L look-alikes."""
CODE_LENGTH = 16
"""31**16 is about 2**79: well beyond the 60 bits a code must have."""
CODE_GROUP = 4


class CodeState(StrEnum):
    valid = "valid"
    used = "used"
    unknown = "unknown"


def new_code() -> str:
    return _grouped("".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)))


def invitation_code(secret: str, seed: str) -> str:
    """The code a staff-list entry is sent, worked out again for each reminder: 256 bits of HMAC
    read in base 31, so it is as unguessable as a random code."""
    digest = hmac.new(secret.encode(), f"invitation:{seed}".encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest, "big")
    letters = []
    for _ in range(CODE_LENGTH):
        number, digit = divmod(number, len(CODE_ALPHABET))
        letters.append(CODE_ALPHABET[digit])
    return _grouped("".join(letters))


def _grouped(raw: str) -> str:
    return "-".join(raw[i : i + CODE_GROUP] for i in range(0, CODE_LENGTH, CODE_GROUP))


def code_hash(typed: str) -> str:
    """Case, spaces and dashes do not matter when a code is typed in."""
    letters = "".join(ch for ch in typed.upper() if ch.isalnum())
    return hashlib.sha256(letters.encode()).hexdigest()


def issue_codes(*, session: Session, wave: Wave, count: int) -> list[str]:
    """Make `count` new codes for a wave and require codes from now on; return them in clear,
    once: only their hashes are kept."""
    codes = [new_code() for _ in range(count)]
    session.execute(
        insert(AccessCode),
        [{"wave_id": wave.id, "code_hash": code_hash(code), "used": False} for code in codes],
    )
    wave.access_codes_required = True
    return codes


def code_state(*, session: Session, wave_id: int, typed: str) -> CodeState:
    used = session.scalar(
        select(AccessCode.used).where(
            AccessCode.wave_id == wave_id, AccessCode.code_hash == code_hash(typed)
        )
    )
    if used is None:
        return CodeState.unknown
    return CodeState.used if used else CodeState.valid


def spend_code(*, session: Session, wave_id: int, hashed: str) -> bool:
    """Mark a code used; False when it already was (someone else sent answers with it)."""
    spent = session.execute(
        update(AccessCode)
        .where(
            AccessCode.wave_id == wave_id,
            AccessCode.code_hash == hashed,
            AccessCode.used.is_(False),
        )
        .values(used=True)
        .returning(AccessCode.wave_id)
    )
    return spent.first() is not None


def spend_for_submission(
    *, factory: sessionmaker[Session], wave_id: int, hashed: str, submission_id: str
) -> bool:
    """Spend a code in a transaction of its own, before the response's, so that the two share no
    transaction, time or order. True too when this submission was already received: a retry,
    whose code the first try spent."""
    with transaction(factory) as separate:
        spent = spend_code(session=separate, wave_id=wave_id, hashed=hashed)
        received = submission_received(
            session=separate, wave_id=wave_id, submission_id=submission_id
        )
    return spent or received


class CodeRefused(Exception):
    """A submission to a wave that requires codes, without one it may spend: nothing stored."""

    def __init__(self, status_code: int, code: str, message: str):
        self.status_code, self.code = status_code, code
        super().__init__(message)
