"""Retention: an index of the inbox rows whose raw payload may be dropped once old enough
(ignored playback states and other events that never count, payload still there), so
pruning reads only those; and deliveries indexed by event, for the question "does any
delivery still need this event's payload?" (and the log's "where did it go").

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# Kept word for word as app.core.store.retention.PRUNABLE: a partial index serves a query
# only when the query's WHERE repeats the index's.
PRUNABLE = ("action = 'ignored' AND payload <> '' AND event IS NOT NULL "
            "AND event NOT IN ('media.scrobble', 'media.stop')")


def upgrade() -> None:
    with op.batch_alter_table('webhook_events') as batch_op:
        batch_op.create_index('ix_webhook_events_prunable', ['received_at'], unique=False,
                              sqlite_where=sa.text(PRUNABLE), postgresql_where=sa.text(PRUNABLE))
    with op.batch_alter_table('deliveries') as batch_op:
        batch_op.create_index('ix_deliveries_event_id', ['event_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('deliveries') as batch_op:
        batch_op.drop_index('ix_deliveries_event_id')
    with op.batch_alter_table('webhook_events') as batch_op:
        batch_op.drop_index('ix_webhook_events_prunable')
