"""Destinations: the inbox no longer points into the built-in tracker; an outbox per destination.

The inbox, mappings and conflicts lose their foreign keys to ``shows``/``episodes``: a
show id may now belong to a tracker that lives elsewhere. ``deliveries`` holds each
event's delivery state for every destination other than the built-in tracker.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# SQLite's foreign keys are unnamed: this convention names them as reflected, so they can be dropped.
_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
_DROPPED = [("webhook_events", "show_id", "shows"), ("webhook_events", "episode_id", "episodes"),
            ("show_mappings", "show_id", "shows"), ("conflicts", "show_id", "shows")]


def _named(table: str, column: str, referred: str) -> str:
    """The foreign key's name: the convention's on SQLite, the server's own elsewhere
    (PostgreSQL named it ``<table>_<column>_fkey``)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        for fk in sa.inspect(bind).get_foreign_keys(table):
            if fk["constrained_columns"] == [column] and fk["referred_table"] == referred and fk["name"]:
                return str(fk["name"])
    return f"fk_{table}_{column}_{referred}"


def upgrade() -> None:
    for table in ("webhook_events", "show_mappings", "conflicts"):
        with op.batch_alter_table(table, naming_convention=_NAMES) as batch_op:
            for t, column, referred in _DROPPED:
                if t == table:
                    batch_op.drop_constraint(_named(t, column, referred), type_="foreignkey")
    op.create_table(
        'deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('destination', sa.String(length=64), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('delivered_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['event_id'], ['webhook_events.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('destination', 'event_id'),
    )
    op.create_index('ix_deliveries_queue', 'deliveries', ['destination', 'state', 'event_id'])


def downgrade() -> None:
    op.drop_index('ix_deliveries_queue', table_name='deliveries')
    op.drop_table('deliveries')
    for t, column, referred in _DROPPED:
        with op.batch_alter_table(t) as batch_op:
            batch_op.create_foreign_key(f"fk_{t}_{column}_{referred}", referred, [column], ["id"])
