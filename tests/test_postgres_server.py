"""Smoke test for tests/support/postgres_server.py: a real server starts, works and goes away."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import create_engine, text

from tests.support.postgres_server import PostgresUnavailable, running_postgres


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.mark.postgres
def test_running_postgres_serves_an_empty_database_and_cleans_up() -> None:
    try:
        server = running_postgres()
        url = server.__enter__()
    except PostgresUnavailable as exc:
        if _in_ci():
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(str(exc))

    socket_dir = Path(parse_qs(urlsplit(url).query)["host"][0])
    try:
        assert url.startswith("postgresql+psycopg://")
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                version = conn.execute(text("select version()")).scalar_one()
                assert version.startswith("PostgreSQL ")
                tables = conn.execute(
                    text(
                        "select count(*) from information_schema.tables "
                        "where table_schema = 'public'"
                    )
                ).scalar_one()
                assert tables == 0, "the database should start empty"

                conn.execute(text("create table smoke (id int primary key, label text)"))
                conn.execute(text("insert into smoke values (1, 'ünïcode')"))
                assert conn.execute(text("select label from smoke")).scalar_one() == "ünïcode"
                conn.execute(text("drop table smoke"))
        finally:
            engine.dispose()
    finally:
        server.__exit__(None, None, None)

    assert not socket_dir.parent.exists(), "the temporary directory should be removed"
