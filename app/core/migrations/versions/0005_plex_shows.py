"""plex_shows: a show's ids and first year as its Plex server gave them (new-agent
payloads name the show only as plex://show/...); webhook_events.server_progress: how far a
play went, from the server, for a media.stop that does not say.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'plex_shows',
        sa.Column('server_uuid', sa.String(length=100), nullable=False),
        sa.Column('rating_key', sa.String(length=32), nullable=False),
        sa.Column('ids', sa.JSON(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=True),
        sa.Column('title', sa.String(length=500), nullable=True),
        sa.Column('fetched_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('server_uuid', 'rating_key'),
    )
    with op.batch_alter_table('webhook_events') as batch_op:
        batch_op.add_column(sa.Column('server_progress', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('webhook_events') as batch_op:
        batch_op.drop_column('server_progress')
    op.drop_table('plex_shows')
