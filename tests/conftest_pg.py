"""PostgreSQL fixtures, a plugin that test modules opt in to::

    pytest_plugins = ["tests.conftest_pg"]

so modules that don't need PostgreSQL never start it. A real server (tests/pg.py), never
a mock; nothing is skipped: without PostgreSQL every test that asks for it fails with the
reason (CI installs it in .ci/run).

- ``pg_server`` (session): the running ``PgServer``; ``url(dbname)``, ``stop()``, ``start()``.
- ``pg_tracker_db`` (function): a fresh database per test, cloned from a template holding
  the reference tracker schema and seed (tests/pg_schema.py). The shape defaults to
  ``"reference"``; another one by indirect parametrization::

      @pytest.mark.parametrize("pg_tracker_db", ["camel", "minimal"], indirect=True)

- ``make_pg_tracker_db`` (function): a factory for more databases in one test:
  ``make_pg_tracker_db("legacy")`` or ``make_pg_tracker_db(Variant(...))``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.pg import PgServer, PostgresNotAvailable
from tests.pg_schema import VARIANTS, Spelling, Variant


@dataclass
class TrackerDB:
    """One test's tracker database: connect with ``url`` (SQLAlchemy + psycopg, the tests'
    role and its password, over TCP) or the ready ``engine``."""
    name: str
    url: str
    variant: Variant
    server: PgServer
    _engine: Any = field(default=None, repr=False)

    @property
    def spelling(self) -> Spelling:
        return self.variant.spelling

    @property
    def optional_columns(self) -> bool:
        return self.variant.optional_columns

    @property
    def engine(self) -> Any:
        """A SQLAlchemy engine on ``url`` (made on first use, disposed after the test)."""
        if self._engine is None:
            import sqlalchemy

            self._engine = sqlalchemy.create_engine(self.url)
        return self._engine

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


class TrackerTemplates:
    """One template database per variant, built on first use and cloned per test."""

    def __init__(self, server: PgServer) -> None:
        self.server = server
        self._built: dict[Variant, str] = {}

    def template_for(self, variant: Variant) -> str:
        name = self._built.get(variant)
        if name is None:
            name = f"tpl_{len(self._built)}_{_ident(variant.name)}"[:63]
            s = self.server
            s.admin(f'CREATE DATABASE "{name}" OWNER {s.user}')
            try:
                # built as the tests' role, so the tables (and every clone's) belong to it
                with s.connect(name, user=s.user) as conn:
                    variant.build(conn)
            except BaseException:
                s.admin(f'DROP DATABASE "{name}" WITH (FORCE)')
                raise
            s.admin(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')
            self._built[variant] = name
        return name


def _ident(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "x"


_counter = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A throwaway PostgreSQL cluster for the whole session (stopped and removed after)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        problem = "psycopg is not installed: pip install -e '.[test]' (or '.[postgres]')"
    else:
        try:
            server = PgServer.launch()
            problem = ""
        except PostgresNotAvailable as e:
            problem = str(e)
    if problem:  # outside the except: the message alone, no chained traceback
        pytest.fail(f"PostgreSQL for the tests: {problem}", pytrace=False)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def pg_tracker_templates(pg_server: PgServer) -> TrackerTemplates:
    return TrackerTemplates(pg_server)


@pytest.fixture
def make_pg_tracker_db(pg_server: PgServer, pg_tracker_templates: TrackerTemplates,
                       request: pytest.FixtureRequest) -> Iterator[Callable[..., TrackerDB]]:
    """``make(variant="reference") -> TrackerDB``: a fresh database, dropped after the test."""
    made: list[TrackerDB] = []

    def make(variant: str | Variant = "reference") -> TrackerDB:
        if isinstance(variant, str):
            if variant not in VARIANTS:
                raise ValueError(f"unknown tracker schema {variant!r}: one of {', '.join(VARIANTS)}")
            variant = VARIANTS[variant]
        if not pg_server.running:  # a test stopped it and did not start it again
            pg_server.start()
        template = pg_tracker_templates.template_for(variant)
        name = f"t{next(_counter)}_{_ident(request.node.name)}"[:63]
        pg_server.admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}" OWNER {pg_server.user}')
        db = TrackerDB(name, pg_server.url(name), variant, pg_server)
        made.append(db)
        return db

    yield make
    for db in made:
        db.dispose()
    if made:
        if not pg_server.running:
            pg_server.start()
        pg_server.admin(*(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)' for db in made))


@pytest.fixture
def pg_tracker_db(request: pytest.FixtureRequest,
                  make_pg_tracker_db: Callable[..., TrackerDB]) -> TrackerDB:
    """A fresh tracker database for this test: the ``"reference"`` shape, or the variant
    named by indirect parametrization (a key of ``tests.pg_schema.VARIANTS``)."""
    return make_pg_tracker_db(getattr(request, "param", "reference"))
