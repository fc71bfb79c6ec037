"""Feedback keeps its own (masked) copy of the answer it rates, as it does of the prompt: logged requests
expire after `feedback.retention_days`, and the served answer is the rejected side of a preference pair.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("answer", sa.Text(), nullable=True))
    # Feedback given before this revision: copy the answer from its logged request while it is still kept.
    op.execute("UPDATE feedback SET answer = (SELECT NULLIF(requests.response_text, '') FROM requests "
               "WHERE requests.id = feedback.response_id) WHERE answer IS NULL AND response_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("answer")
