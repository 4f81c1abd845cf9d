"""Closed waves' results worked out as the service starts, so the first reader does not wait."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.main import create_app
from app.reports import service
from app.surveys.definitions import SurveyDefinition
from tests.support.factories import SURVEY
from tests.support.small_site import CLOSED_WAVES, TEAMS, build_small_site
from tests.support.staff import sign_in


def test_warming_is_on_except_in_tests_unless_set() -> None:
    def warms(**values: object) -> bool:
        return Settings(_env_file=None, **values).warms_results  # type: ignore[call-arg]

    assert warms(environment="development") and not warms(environment="test")
    assert warms(environment="test", warm_results=True)
    assert not warms(environment="development", warm_results=False)


def test_the_results_pages_need_no_suppression_once_warmed(
    settings: Settings,
    session_factory: sessionmaker[Session],
    coventry: dict[str, SurveyDefinition],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    build_small_site(settings, session_factory)
    caplog.set_level(logging.INFO, logger="app.reports.warming")
    warming = settings.model_copy(update={"warm_results": True})
    with TestClient(create_app(warming), headers={"accept": "text/html"}) as client:
        client.app.state.results_warming.join(timeout=300)  # type: ignore[attr-defined]
        assert "results worked out in advance for 2 closed waves" in caplog.text
        monkeypatch.setattr(service, "_suppressed", _refuse)
        assert sign_in(client, "scrutiny@example.org").status_code == 303
        pages = [
            f"/results/{SURVEY}",
            f"/results/{SURVEY}/compare?from=2014&to=2015",
            *(f"/results/{SURVEY}/waves/{wave}/teams/{TEAMS[0]}" for wave in CLOSED_WAVES),
            *(f"/results/{SURVEY}/waves/{wave}/consistency" for wave in CLOSED_WAVES),
        ]
        for page in pages:
            assert client.get(page).status_code == 200, page


def test_without_warming_the_first_page_does_the_work(
    settings: Settings,
    session_factory: sessionmaker[Session],
    coventry: dict[str, SurveyDefinition],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The check above can fail: the same page, not warmed, suppresses."""
    build_small_site(settings, session_factory)
    with TestClient(create_app(settings), headers={"accept": "text/html"}) as client:
        assert not hasattr(client.app.state, "results_warming")  # type: ignore[attr-defined]
        monkeypatch.setattr(service, "_suppressed", _refuse)
        assert sign_in(client, "scrutiny@example.org").status_code == 303
        with pytest.raises(AssertionError, match="suppressed"):
            client.get(f"/results/{SURVEY}")


def _refuse(*_args: object) -> None:
    raise AssertionError("a page suppressed a wave itself")
