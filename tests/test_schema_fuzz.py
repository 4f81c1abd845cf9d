"""schemathesis against the app's own OpenAPI schema, every operation of the API: generated
requests, valid and invalid, as an admin (so the reports answer) on both backends. No 5xx, and
every response (status, content type, headers, body) is one the schema documents.

The number of examples per operation is kept small for `make test`; set SCHEMA_FUZZ_EXAMPLES
to run more, e.g. `SCHEMA_FUZZ_EXAMPLES=500 pytest tests/test_schema_fuzz.py`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.openapi import from_asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.db import make_engine, make_session_factory, transaction
from app.main import create_app
from app.surveys.definitions import SurveyDefinition
from app.surveys.service import publish_definition
from tests.conftest import BACKENDS, _settings, migrated_database
from tests.support.small_site import build_small_site

EXAMPLES = int(os.environ.get("SCHEMA_FUZZ_EXAMPLES", "20"))
REAL_VALUES = {
    "survey": ["coventry-supervision"],
    "wave": ["2015", "2016"],
    "version": ["2014", "2015"],
    "question": ["4a", "agreement", "11e"],
    "from": ["2014"],
    "to": ["2015"],
}
"""Most generated requests would name a survey that does not exist: half the cases use the
small site's own keys instead, so that each operation also reaches real data."""


def _negated(case: Case) -> set[ParameterLocation]:
    """The parts of the request schemathesis made invalid on purpose: it then expects a refusal,
    so neither a real key nor the admin's token may make them valid again."""
    components = case.meta.components if case.meta else {}
    return {location for location, part in components.items() if part.mode.is_negative}


def _use_real_keys(case: Case, data: st.DataObject) -> None:
    for location, parameters in (
        (ParameterLocation.PATH, case.path_parameters),
        (ParameterLocation.QUERY, case.query),
    ):
        if parameters is None or location in _negated(case):
            continue
        for name in sorted(parameters.keys() & REAL_VALUES.keys()):
            parameters[name] = data.draw(st.sampled_from(REAL_VALUES[name]), label=name)


@dataclass(frozen=True)
class FuzzedApi:
    schema: schemathesis.BaseSchema
    token: str


@pytest.fixture(scope="module", params=BACKENDS)
def fuzzed_api(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    coventry_definitions: dict[str, SurveyDefinition],
) -> Iterator[FuzzedApi]:
    """The small site (closed waves with figures, an open one taking responses), its schema
    read from the app as a client would, and an admin's API token."""
    settings_ = _settings(migrated_database(request, tmp_path_factory.mktemp("fuzz")))
    engine = make_engine(settings_)
    factory = make_session_factory(engine)
    for version in ("2014", "2015"):
        with transaction(factory) as session:
            publish_definition(session=session, definition=coventry_definitions[version])
    tokens = build_small_site(settings_, factory)
    yield FuzzedApi(from_asgi("/openapi.json", create_app(settings_)), tokens["admin"])
    engine.dispose()


def _operations() -> list[str]:
    """Every operation in the schema, as "METHOD /path" (the schema needs no database)."""
    app = create_app(_settings("sqlite://"))
    paths = app.openapi()["paths"]
    return [f"{method.upper()} {path}" for path, item in paths.items() for method in item]


@pytest.mark.parametrize("operation", _operations())
def test_the_api_keeps_to_its_schema(fuzzed_api: FuzzedApi, operation: str) -> None:
    method, path = operation.split(" ", 1)
    token = {"Authorization": f"Bearer {fuzzed_api.token}"}

    found = fuzzed_api.schema[path][method]
    cases = st.one_of([found.as_strategy(generation_mode=mode) for mode in GenerationMode])
    statuses: dict[bool, list[int]] = {True: [], False: []}

    @given(case=cases, data=st.data())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def keeps_to_it(case: Case, data: st.DataObject) -> None:
        real = data.draw(st.sampled_from([True, False]), label="real keys")  # real first
        if real:
            _use_real_keys(case, data)
        sent = {} if ParameterLocation.HEADER in _negated(case) else token
        reply = case.call_and_validate(
            headers=sent, timeout=60, excluded_checks=[positive_data_acceptance]
        )  # the first workbook of a release takes seconds on a busy machine
        statuses[real].append(reply.status_code)

    keeps_to_it()
    print(operation, {real: sorted(Counter(seen).items()) for real, seen in statuses.items()})
    assert set(statuses[True]) - {404}, "no case with the site's keys got past finding them"
