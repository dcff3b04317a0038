"""Agents' inserts of suggested lines and supervisors' pins and retirements.

Revision ID: 0003_script_actions
Revises: 0002_access
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003_script_actions"
down_revision: Union[str, None] = "0002_access"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "script_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.String(length=128), nullable=True),
        sa.Column("note", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("at", "line_id", "action"):
        op.create_index(f"ix_script_actions_{column}", "script_actions", [column])


def downgrade() -> None:
    op.drop_table("script_actions")
