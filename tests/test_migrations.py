"""The schema exists only through Alembic, and the models and the migrations agree."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from app.db import make_engine
from app.migrate import current_revision, downgrade, upgrade
from app.models import Base
from tests.conftest import _settings


def _tables(engine) -> set[str]:  # type: ignore[no-untyped-def]
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    engine = make_engine(_settings(empty_database_url))
    assert _tables(engine) == set()
    upgrade(engine)
    assert _tables(engine) == set(Base.metadata.tables)
    assert current_revision(engine) is not None
    downgrade(engine, "base")
    assert _tables(engine) == set()
    assert current_revision(engine) is None
    upgrade(engine)
    assert _tables(engine) == set(Base.metadata.tables)
    engine.dispose()


def test_models_and_migrations_agree(empty_database_url: str) -> None:
    engine = make_engine(_settings(empty_database_url))
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []


def test_sqlite_response_tables_keep_no_arrival_order(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """SQLite's rowid would number responses in the order they arrived."""
    engine = make_engine(_settings(f"sqlite:///{tmp_path / 'order.db'}"))
    upgrade(engine)
    with engine.connect() as connection:
        for table in ("responses", "answers", "text_answers", "submission_receipts"):
            sql = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = ?", (table,)
            ).scalar_one()
            assert "WITHOUT ROWID" in sql, table
    engine.dispose()
