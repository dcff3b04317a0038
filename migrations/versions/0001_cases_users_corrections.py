"""Cases, users and corrections, as deescalate/db/models.py defines them.

Revision ID: 0001
Revises:
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: Union[str, None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

CASE_INDEXES = ("cause", "created_at", "handoff", "reply_deadline", "risk", "status")


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("domain", sa.String(length=16), nullable=True),
        sa.Column("cause", sa.String(length=64), nullable=True),
        sa.Column("demand", sa.JSON(), nullable=False),
        sa.Column("demand_note", sa.Text(), nullable=True),
        sa.Column("amount", sa.Float(), nullable=True),
        sa.Column("approval_tier", sa.Integer(), nullable=True),
        sa.Column("approval_role", sa.String(length=64), nullable=True),
        sa.Column("first_handler", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("handoff", sa.Boolean(), nullable=False),
        sa.Column("emotion_peak", sa.String(length=16), nullable=True),
        sa.Column("emotion_last", sa.String(length=16), nullable=True),
        sa.Column("escalation", sa.JSON(), nullable=False),
        sa.Column("risk", sa.String(length=8), nullable=True),
        sa.Column("stage", sa.String(length=24), nullable=True),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("taboo_hits", sa.Integer(), nullable=False),
        sa.Column("narrative", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("reply_deadline", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("case_id"),
    )
    with op.batch_alter_table("cases") as batch_op:
        for column in CASE_INDEXES:
            batch_op.create_index(batch_op.f(f"ix_cases_{column}"), [column], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=64), nullable=True),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )

    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("predicted_intent", sa.String(length=64), nullable=True),
        sa.Column("predicted_emotion", sa.String(length=16), nullable=True),
        sa.Column("intent", sa.String(length=64), nullable=True),
        sa.Column("emotion", sa.String(length=16), nullable=True),
        sa.Column("trainer", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("exported_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.case_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("corrections") as batch_op:
        batch_op.create_index(batch_op.f("ix_corrections_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("corrections") as batch_op:
        batch_op.drop_index(batch_op.f("ix_corrections_case_id"))
    op.drop_table("corrections")
    op.drop_table("users")
    with op.batch_alter_table("cases") as batch_op:
        for column in CASE_INDEXES:
            batch_op.drop_index(batch_op.f(f"ix_cases_{column}"))
    op.drop_table("cases")
