"""fieldwork: a wave's staff list, and its once-a-day progress counts

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("code_seed", sa.String(32), nullable=False),
        sa.Column("invited", sa.Boolean(), nullable=False),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["wave_id"], ["waves.id"], name="fk_invitations_wave_id_waves", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("wave_id", "email", name="pk_invitations"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "progress_snapshots",
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("taken_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["wave_id"],
            ["waves.id"],
            name="fk_progress_snapshots_wave_id_waves",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("wave_id", "team", "role", name="pk_progress_snapshots"),
    )


def downgrade() -> None:
    op.drop_table("progress_snapshots")
    op.drop_table("invitations")
