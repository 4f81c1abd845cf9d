"""A small but complete site, quick to build on either backend: closed and released waves 2014
and 2015 (on their own questionnaires) whose two teams have enough responses to show figures and compare,
an open wave 2016 (on the 2015 questionnaire) for respondents, and the staff users of
`staff_tokens`."""

from __future__ import annotations

import itertools
import uuid

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import transaction
from app.main import create_app
from app.models import WaveStatus
from app.releases.service import release
from app.responses.service import load_wave
from app.surveys.service import set_wave_status
from tests.support.answers import complete_answers
from tests.support.factories import SURVEY, create_wave_for_test
from tests.support.staff import staff_tokens

CLOSED_WAVES = ("2014", "2015")
TEAMS = ("cf_first", "childrens_disabilities")
RESPONSES_PER_TEAM = 6


def build_small_site(settings: Settings, factory: sessionmaker[Session]) -> dict[str, str]:
    """Needs both Coventry versions published (the `coventry` fixture); returns the staff API
    tokens by role."""
    published = {
        wave: create_wave_for_test(
            factory, wave=wave, version=wave, opens_in_days=-1, closes_in_days=20
        )
        for wave in CLOSED_WAVES
    }
    create_wave_for_test(factory, wave="2016", version="2015", opens_in_days=-1, closes_in_days=20)
    with TestClient(create_app(settings)) as client:
        for wave, team in itertools.product(CLOSED_WAVES, TEAMS):
            for _ in range(RESPONSES_PER_TEAM):
                reply = client.post(
                    f"/api/v1/surveys/{SURVEY}/waves/{wave}/responses",
                    json={
                        "submission_id": uuid.uuid4().hex,
                        "team": team,
                        "role": "social_worker",
                        "answers": complete_answers(published[wave]),
                    },
                )
                assert reply.status_code == 201, reply.text
    for wave in CLOSED_WAVES:
        with transaction(factory) as session:
            set_wave_status(
                session=session, survey_key=SURVEY, wave_key=wave, status=WaveStatus.closed
            )
            opened = load_wave(session=session, survey_key=SURVEY, wave_key=wave)
            release(session=session, wave=opened, actor=None)
    return staff_tokens(factory)
