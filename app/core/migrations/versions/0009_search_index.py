"""Search: an FTS5 trigram index over the inbox's titles (Plex title, episode title,
account), kept in step by triggers, so the Recent scrobbles window finds any text of three
characters or more without reading five years of rows; and indexes on the rows' tracker
show and movie, for the tracker's own titles. SQLite only, and only when its FTS5 has the
trigram tokenizer (3.34 and later): without it the log searches as before.

The index is an external-content table (the titles stay in ``webhook_events``). A row
enters it only once it has a title (an event is stored untitled and processed later), and
the triggers pass FTS5's 'delete' command exactly the values that were indexed.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# Kept word for word as app.core.store.search.TABLE.
TABLE = 'webhook_search'
_TITLED = "{0}.plex_title IS NOT NULL OR {0}.episode_title IS NOT NULL OR {0}.account_title IS NOT NULL"
_ADD = (f"INSERT INTO {TABLE} (rowid, plex_title, episode_title, account_title) "
        "SELECT new.id, new.plex_title, new.episode_title, new.account_title WHERE " + _TITLED.format("new") + ";")
_DROP = (f"INSERT INTO {TABLE} ({TABLE}, rowid, plex_title, episode_title, account_title) "
         "SELECT 'delete', old.id, old.plex_title, old.episode_title, old.account_title WHERE "
         + _TITLED.format("old") + ";")
TRIGGERS = {
    f"{TABLE}_insert": f"AFTER INSERT ON webhook_events BEGIN {_ADD} END",
    f"{TABLE}_delete": f"AFTER DELETE ON webhook_events BEGIN {_DROP} END",
    f"{TABLE}_update": ("AFTER UPDATE OF plex_title, episode_title, account_title ON webhook_events "
                        f"BEGIN {_DROP} {_ADD} END"),
}


def _trigram(bind: sa.Connection) -> bool:
    """Whether this SQLite has FTS5 with the trigram tokenizer."""
    try:
        bind.exec_driver_sql("CREATE VIRTUAL TABLE temp.fts5_probe USING fts5(a, tokenize='trigram')")
    except sa.exc.OperationalError:
        return False
    bind.exec_driver_sql("DROP TABLE temp.fts5_probe")
    return True


def upgrade() -> None:
    with op.batch_alter_table('webhook_events') as batch_op:
        batch_op.create_index('ix_webhook_events_show_id', ['show_id'], unique=False,
                              sqlite_where=sa.text('show_id IS NOT NULL'),
                              postgresql_where=sa.text('show_id IS NOT NULL'))
        batch_op.create_index('ix_webhook_events_movie_id', ['movie_id'], unique=False,
                              sqlite_where=sa.text('movie_id IS NOT NULL'),
                              postgresql_where=sa.text('movie_id IS NOT NULL'))
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite' or not _trigram(bind):
        return
    # detail='full': 'column' and 'none' are smaller but refuse phrases, and a trigram
    # search for four characters or more is a phrase.
    op.execute(f"CREATE VIRTUAL TABLE {TABLE} USING fts5(plex_title, episode_title, account_title, "
               "content='webhook_events', content_rowid='id', tokenize='trigram', detail='full')")
    op.execute(f"INSERT INTO {TABLE} (rowid, plex_title, episode_title, account_title) "
               "SELECT id, plex_title, episode_title, account_title FROM webhook_events WHERE "
               + _TITLED.format("webhook_events"))
    for name, body in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        for name in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"DROP TABLE IF EXISTS {TABLE}")
    with op.batch_alter_table('webhook_events') as batch_op:
        batch_op.drop_index('ix_webhook_events_movie_id')
        batch_op.drop_index('ix_webhook_events_show_id')
