"""Alembic environment: migrations run on the connection the app hands over."""

from alembic import context

from app.core.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs table rebuilds
)
with context.begin_transaction():
    context.run_migrations()
