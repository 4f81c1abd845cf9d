"""Every row of every table, to compare whole databases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, create_engine, select

Rows = dict[str, list[dict[str, Any]]]


def every_row(database_url: str) -> Rows:
    """Each table's rows, sorted (tables have no inherent order), alembic_version included.
    A plain engine: the app's would switch a SQLite backup file to WAL."""
    engine = create_engine(database_url)
    try:
        metadata = MetaData()
        metadata.reflect(bind=engine)
        with engine.connect() as connection:
            return {
                name: sorted(
                    (dict(row._mapping) for row in connection.execute(select(table))),
                    key=lambda row: repr(sorted(row.items())),
                )
                for name, table in sorted(metadata.tables.items())
            }
    finally:
        engine.dispose()
