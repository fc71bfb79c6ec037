"""Tool use survives logging and feedback: a logged request keeps the tools it offered and the calls its answer
made; feedback keeps the tools, the calls of the answer it rates and the calls of its correction, so a corrected
call becomes a tool-use training conversation.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("tools", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("response_tool_calls", sa.JSON(), nullable=True))
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("tools", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("answer_tool_calls", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("correction_tool_calls", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        for column in ("correction_tool_calls", "answer_tool_calls", "tools"):
            batch.drop_column(column)
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("response_tool_calls")
        batch.drop_column("tools")
