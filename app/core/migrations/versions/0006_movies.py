"""Movies in the built-in tracker: movies, their watches and remembered Plex mappings;
conflicts say whether they are about a show or a movie; an inbox row keeps its media type,
a movie's year and the tracker movie it marked.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'movies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=500), nullable=False),
        sa.Column('year', sa.Integer(), nullable=True),
        sa.Column('tmdb_id', sa.Integer(), nullable=True),
        sa.Column('imdb_id', sa.String(length=20), nullable=True),
        sa.Column('watch_count', sa.Integer(), nullable=False),
        sa.Column('first_watched_at', sa.DateTime(), nullable=True),
        sa.Column('last_watched_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('movies') as batch_op:
        batch_op.create_index(batch_op.f('ix_movies_tmdb_id'), ['tmdb_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_movies_imdb_id'), ['imdb_id'], unique=False)
    op.create_table(
        'movie_watches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('movie_id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.String(length=64), nullable=False),
        sa.Column('watched_at', sa.DateTime(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['movie_id'], ['movies.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['event_id'], ['webhook_events.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('movie_watches') as batch_op:
        batch_op.create_index('ix_movie_watches_movie_account', ['movie_id', 'account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_movie_watches_event_id'), ['event_id'], unique=False)
    op.create_table(
        'movie_mappings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('plex_key', sa.String(length=300), nullable=False),
        sa.Column('plex_title', sa.String(length=500), nullable=True),
        sa.Column('movie_id', sa.Integer(), nullable=True),
        sa.Column('ignored', sa.Boolean(), nullable=False),
        sa.Column('method', sa.String(length=32), nullable=False),
        sa.Column('confidence', sa.Float(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('plex_key'),
    )
    with op.batch_alter_table('conflicts') as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=False, server_default='show'))
    with op.batch_alter_table('webhook_events') as batch_op:
        batch_op.add_column(sa.Column('media_type', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('plex_year', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('movie_id', sa.Integer(), nullable=True))
    # Rows from before: an episode had a season; a movie was ignored with this reason.
    op.execute("UPDATE webhook_events SET media_type = 'episode' WHERE season IS NOT NULL")
    op.execute("UPDATE webhook_events SET media_type = 'movie' WHERE reason = 'movies are not tracked'")


def downgrade() -> None:
    with op.batch_alter_table('webhook_events') as batch_op:
        batch_op.drop_column('movie_id')
        batch_op.drop_column('plex_year')
        batch_op.drop_column('media_type')
    with op.batch_alter_table('conflicts') as batch_op:
        batch_op.drop_column('kind')
    op.drop_table('movie_mappings')
    op.drop_table('movie_watches')
    op.drop_table('movies')
