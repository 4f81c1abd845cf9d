"""Questionnaires in progress: kept server-side, found only through a random key the respondent
holds (in a cookie, and written down if they choose to come back later)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Draft
from app.responses.service import AnswerMap, visible_questions
from app.surveys.service import PublishedVersion

KEY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ"
"""23 letters, none that reads as a digit or as another letter (no I, L, O)."""
KEY_GROUPS = 4
KEY_GROUP_LENGTH = 5
"""23**20 is about 2**90: far more than the 80 bits a guessable key must exceed."""


def new_key() -> str:
    letters = "".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_GROUPS * KEY_GROUP_LENGTH))
    return "-".join(
        letters[i : i + KEY_GROUP_LENGTH] for i in range(0, len(letters), KEY_GROUP_LENGTH)
    )


def normalise_key(typed: str) -> str | None:
    """What the respondent typed, as a key: case, spaces and dashes do not matter."""
    letters = "".join(ch for ch in typed.upper() if ch.isalnum())
    if len(letters) != KEY_GROUPS * KEY_GROUP_LENGTH or any(
        ch not in KEY_ALPHABET for ch in letters
    ):
        return None
    return "-".join(
        letters[i : i + KEY_GROUP_LENGTH] for i in range(0, len(letters), KEY_GROUP_LENGTH)
    )


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def submission_id_for(key: str, secret: str) -> str:
    """The submission id a draft is submitted under: the same for every retry of the same draft,
    and not derivable from the stored key hash without the server's secret."""
    return hmac.new(secret.encode(), f"submission:{key}".encode(), hashlib.sha256).hexdigest()


def masked_code_hash(key: str, code_hash: str) -> str:
    """A draft's access-code hash, masked with the respondent's key (and unmasked the same way):
    without the key, which only the respondent holds, nobody reading the database can tell
    which code, nor so which staff-list entry, a draft in progress belongs to."""
    mask = hashlib.sha256(f"access-code:{key}".encode()).digest()
    return bytes(a ^ b for a, b in zip(bytes.fromhex(code_hash), mask, strict=True)).hex()


def start_draft(*, session: Session, wave_id: int, access_code_hash: str | None = None) -> str:
    key = new_key()
    session.add(
        Draft(
            key_hash=key_hash(key),
            wave_id=wave_id,
            answers={},
            discarded=[],
            access_code_hash=None
            if access_code_hash is None
            else masked_code_hash(key, access_code_hash),
        )
    )
    session.flush()
    return key


def find_draft(*, session: Session, wave_id: int, key: str | None) -> Draft | None:
    if not key:
        return None
    return session.scalar(
        select(Draft).where(Draft.key_hash == key_hash(key), Draft.wave_id == wave_id)
    )


def save_answers(
    *, draft: Draft, published: PublishedVersion, page: list[str], given: AnswerMap
) -> None:
    """Replace the answers to the page's questions, then drop any answer that routing no longer
    asks for, and remember which, so the check page can say so."""
    answers = {key: value for key, value in draft.answers.items() if key not in page}
    answers.update({key: value for key, value in given.items() if value not in ("", [], None)})
    shown = {question.key for question in visible_questions(published, answers)}
    dropped = [key for key in answers if key not in shown]
    for key in dropped:
        del answers[key]
    draft.answers = answers
    draft.discarded = sorted({*draft.discarded, *dropped} - set(answers))
