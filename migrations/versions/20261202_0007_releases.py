"""releases of closed waves' figures; a wave's team × role breakdown setting; no date on a
response

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("breakdowns", sa.JSON(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("audit", sa.String(length=200), nullable=False),
        sa.Column("cost", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["wave_id"], ["waves.id"], name=op.f("fk_releases_wave_id_waves"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_releases")),
        sa.UniqueConstraint("wave_id", "number", name=op.f("uq_releases_wave_id_number")),
    )
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_releases_wave_id"), ["wave_id"], unique=False)
    op.create_table(
        "release_figures",
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=64), nullable=False),
        sa.Column("team", sa.String(length=400), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("option", sa.String(length=64), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("base", sa.Integer(), nullable=True),
        sa.Column("positive_count", sa.Integer(), nullable=True),
        sa.Column("withheld", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("banded", sa.Boolean(), nullable=False),
        sa.Column("band", sa.String(length=64), nullable=True),
        sa.Column("positive_band", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["releases.id"],
            name=op.f("fk_release_figures_release_id_releases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "release_id", "question", "team", "role", "option", name=op.f("pk_release_figures")
        ),
    )
    with op.batch_alter_table("waves", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "team_role_breakdown", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
    # SQLite rebuilds the table: it keeps no row ids, so its order is the random key's.
    with op.batch_alter_table(
        "responses", schema=None, table_kwargs={"sqlite_with_rowid": False}
    ) as batch_op:
        batch_op.drop_column("submitted_on")


def downgrade() -> None:
    # The dates were never kept: every response comes back dated the day of the downgrade.
    with op.batch_alter_table(
        "responses", schema=None, table_kwargs={"sqlite_with_rowid": False}
    ) as batch_op:
        batch_op.add_column(
            sa.Column(
                "submitted_on", sa.Date(), server_default=sa.func.current_date(), nullable=False
            )
        )
    with op.batch_alter_table("waves", schema=None) as batch_op:
        batch_op.drop_column("team_role_breakdown")
    op.drop_table("release_figures")
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_releases_wave_id"))
    op.drop_table("releases")
