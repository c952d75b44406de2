"""Database engine, sessions and schema migrations.

SQLite is the embedded default (WAL, full sync, foreign keys on); any SQLAlchemy URL
works. The schema is brought up to date at start-up with alembic, after a copy of the
SQLite file has been taken.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from app.core.errors import AppError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest migration. A database already there is opened without loading alembic
# (and mako and pygments with it: 11 MB of the headless app's memory); a test checks
# this against alembic's own head.
HEAD = "0009"


BUSY_TIMEOUT = 30.0  # seconds a write waits for another connection's lock before it fails
WAL_LIMIT = 16 << 20  # bytes the -wal file is cut back to once checkpointed (it fills to ~4 MB between)
# The copies taken before migrations (the backups folder): the newest this many, and no more
# than this many bytes together; the newest copy is kept whatever its size.
BACKUPS_KEEP = 5
BACKUPS_MAX_BYTES = 1 << 30
_BACKUP_NAME = re.compile(r".+-(\d{4}|empty)-\d{8}-\d{6}\.sqlite3")


class DatabaseError(AppError):
    """The database could not be opened or migrated; the message says why."""


class DatabaseGone(DatabaseError):
    """The SQLite file was deleted or moved while open: what is written now is lost."""


class FileGuard:
    """Notices the SQLite file being deleted, moved or replaced while the app runs. Writes
    to a deleted file still succeed, into a file nobody will read again: a webhook stored
    there must not be acknowledged. A file put back (from the trash) is opened afresh."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.path = Path(engine.url.database or "")
        self._identity = self._now()

    def _now(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def before(self) -> None:
        """Raise :class:`DatabaseGone` unless the file is there; reopen it if replaced."""
        now = self._now()
        if now is None:
            raise DatabaseGone(f"the database file {self.path} was deleted or moved while Scrobble Tray "
                               "was running")
        if now != self._identity:
            log.warning("the database file %s was replaced (put back?): opening it afresh", self.path)
            self.engine.dispose()  # pooled connections still write to the old file
            self._identity = now

    def after(self) -> None:
        """Raise :class:`DatabaseGone` if the file changed since :meth:`before`."""
        if self._now() != self._identity:
            raise DatabaseGone(f"the database file {self.path} was deleted or moved while Scrobble Tray "
                               "was writing to it")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets the pragmas that make it safe and fast."""
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite":
            return create_engine(parsed, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        # A wrong URL, an unknown dialect, or a driver that is not installed.
        raise DatabaseError(f"not a database URL that can be used: {_safe(url)} ({exc})") from None
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT, "check_same_thread": False})
    # Space given back in idle time (store.retention): the mode takes effect only on a file
    # with no tables yet, set on its first connection before WAL mode writes the header (on
    # an existing file the pragma reads it, and would fail while another program holds the
    # lock). An older file keeps its mode until the one VACUUM that switches it (runtime.upkeep).
    new_file = [not parsed.database or parsed.database == ":memory:" or not Path(parsed.database).exists()
                or Path(parsed.database).stat().st_size == 0]

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        cur = dbapi_conn.cursor()
        if new_file[0]:
            cur.execute("PRAGMA auto_vacuum=INCREMENTAL")
            new_file[0] = parsed.database in (None, "", ":memory:")  # (each connection its own database)
        cur.execute("PRAGMA journal_mode=WAL")
        # The -wal file is emptied at each checkpoint but keeps its size; one large
        # transaction (a VACUUM) would leave it that large for good.
        cur.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
        # FULL: an acknowledged webhook survives a power cut, not just a crash.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine


def trouble_words(exc: BaseException, engine: Engine) -> tuple[str, str]:
    """What is wrong with a database that takes no writes, and the fix, in the words the
    windows show."""
    where = engine.url.database if engine.dialect.name == "sqlite" else _safe(str(engine.url))
    said = str(getattr(exc, "orig", None) or exc)
    low = said.lower()
    if isinstance(exc, DatabaseGone):
        return ("The database file was deleted or moved while Scrobble Tray was running",
                f"Put {where} back (from the trash, say) and Scrobble Tray goes on by itself, or quit and "
                "start it again for a new, empty database")
    if "full" in low:
        return ("The disk holding the database is full",
                f"Free some space on the disk of {where}")
    if isinstance(exc, TimeoutError):
        return (said[0].upper() + said[1:], f"If another program has {where} open (a database browser?), close it")
    if "locked" in low:
        return ("The database is locked by another program",
                f"Close the program that has {where} open (a database browser?)")
    if "readonly" in low or "read-only" in low:
        return "The database file cannot be written", f"Check the permissions of {where}"
    return f"The database takes no writes: {said}", "See the log file"


def _safe(url: str) -> str:
    """``url`` with any password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable URL)"


def _alembic_config(connection: Connection | None) -> Config:
    """Alembic's configuration, on ``connection`` (None: only the scripts are read)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _backup_sqlite(path: Path, backups: Path, revision: str | None) -> Path:
    backups.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = backups / f"{path.stem}-{revision or 'empty'}-{stamp}.sqlite3"
    src = sqlite3.connect(path)
    try:
        dst = sqlite3.connect(target)
        with dst:
            src.backup(dst)
        dst.close()
    finally:
        src.close()
    bound_backups(backups)
    return target


def bound_backups(backups: Path, keep: int = BACKUPS_KEEP, max_bytes: int = BACKUPS_MAX_BYTES) -> list[Path]:
    """Delete the oldest of the copies taken before migrations beyond the newest ``keep``
    or ``max_bytes`` together (the newest is always kept); the files deleted. Only files
    named as :func:`_backup_sqlite` names them are counted or touched."""
    copies = sorted((p for p in backups.glob("*.sqlite3") if _BACKUP_NAME.fullmatch(p.name) and p.is_file()),
                    key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
    total, dropped = 0, []
    for i, copy in enumerate(copies):
        total += copy.stat().st_size
        if i > 0 and (i >= keep or total > max_bytes):
            try:
                copy.unlink()
                dropped.append(copy)
            except OSError as exc:
                log.warning("could not delete the old backup %s: %s", copy, exc)
    if dropped:
        log.info("deleted %d old backup(s): at most %d are kept, %d MB together", len(dropped), keep,
                 max_bytes >> 20)
    return dropped


def _foreign(url: str, tables: list[str]) -> DatabaseError:
    """The refusal of another application's database (tables, none of them alembic's)."""
    shown = ", ".join(tables[:6]) + (", …" if len(tables) > 6 else "")
    return DatabaseError(
        f"{_safe(url)} already holds tables ({shown}) and no Scrobble Tray schema: "
        "it is another application's database, and Scrobble Tray will not change it. Use an "
        "empty database (or none: the built-in SQLite file). To mark episodes in that tracker, "
        "add it as a destination: scrobbletray destinations add-postgres URL")


def _refuse_foreign_sqlite(url: str) -> None:
    """Raise the refusal if ``url`` is an SQLite file of another application, found by
    reading it read-only: the engine's first connection switches the file to WAL mode (a
    write), and refusing must leave someone else's file byte for byte as it was. A missing,
    empty, unreadable or damaged file is left to :func:`migrate` and its error handling."""
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
            return
    except (ArgumentError, NoSuchModuleError, ImportError):
        return  # make_engine says what is wrong with the URL
    path = Path(parsed.database)
    try:
        if not path.is_file() or path.stat().st_size == 0:
            return
        with path.open("rb") as f:
            header = f.read(20)
        # A WAL-mode file (header bytes 18-19 are 2) with no -wal beside it holds all its
        # content; even a read-only connection would leave a -wal and -shm behind, so it is
        # read as immutable. Should another program write it meanwhile, the worst is an
        # error here, and migrate() still refuses it.
        immutable = header[18:20] == b"\x02\x02" and not Path(f"{path}-wal").exists()
    except OSError:
        return
    where = f"file:{quote(str(path.absolute()))}?mode=ro" + ("&immutable=1" if immutable else "")
    try:
        conn = sqlite3.connect(where, uri=True, timeout=BUSY_TIMEOUT)
    except sqlite3.Error:
        return
    try:
        # The names SQLAlchemy's inspector lists (sqlite's own tables left out), as migrate() sees them.
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite~_%' ESCAPE '~' "
            "ORDER BY name")]
        current = (conn.execute("SELECT version_num FROM alembic_version").fetchone()
                   if "alembic_version" in tables else None)
    except sqlite3.Error:
        return
    finally:
        conn.close()
    if current is None and tables:
        raise _foreign(url, tables)


def migrate(engine: Engine, backups_dir: Path | None = None) -> None:
    """Bring the schema to the newest version, backing up an SQLite file first."""
    with engine.connect() as conn:
        tables = sorted(inspect(conn).get_table_names())
        current = (conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                   if "alembic_version" in tables else None)
    if current == HEAD:
        return
    from alembic import command
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config(None)).get_current_head()
    if current is None and tables:  # someone else's database: never ours to migrate
        raise _foreign(str(engine.url), tables)
    db_path = engine.url.database
    if (
        backups_dir is not None
        and current is not None
        and engine.url.get_backend_name() == "sqlite"
        and db_path
        and Path(db_path).exists()
    ):
        copy = _backup_sqlite(Path(db_path), backups_dir, current)
        log.info("database backed up to %s before migrating", copy)
    log.info("migrating database from %s to %s", current or "empty", head)
    with engine.connect() as conn:
        sqlite = engine.url.get_backend_name() == "sqlite"
        if sqlite:
            # A table rebuild drops the old table: with foreign keys on, that would delete
            # (or refuse to delete) the rows that point at it. The pragma only takes
            # effect outside a transaction.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        with conn.begin():
            command.upgrade(_alembic_config(conn), "head")
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


def open_database(url: str, backups_dir: Path | None = None) -> sessionmaker[Session]:
    """Open (creating and migrating as needed) the database at ``url``. A damaged SQLite
    file (its header intact, its pages not) is moved aside, never overwritten, and a fresh
    one made; the log says where the damaged file and the newest backup are. A file that is
    no SQLite file at all is left alone, with a clear error."""
    _refuse_foreign_sqlite(url)  # before the engine's first connection writes to the file
    engine = make_engine(url)
    try:
        migrate(engine, backups_dir)
    except DatabaseError:
        raise
    except Exception as exc:
        engine.dispose()
        moved = _move_aside_if_damaged(engine, exc, backups_dir)
        if moved is None:
            raise DatabaseError(f"cannot open database {_safe(url)}: {exc}") from exc
        engine = make_engine(url)
        migrate(engine, backups_dir)
        return sessionmaker(engine, expire_on_commit=False, info={"moved_aside": moved})
    return sessionmaker(engine, expire_on_commit=False)


def _move_aside_if_damaged(engine: Engine, exc: Exception, backups_dir: Path | None) -> str | None:
    """Move a damaged SQLite file aside; the sentence saying so (and offering the newest
    backup), or None when the file is not a damaged SQLite file."""
    cause = getattr(exc, "orig", exc)
    words = str(cause).lower()
    damaged = isinstance(cause, sqlite3.DatabaseError) and ("malformed" in words or "not a database" in words)
    path = Path(engine.url.database or "")
    if not (damaged and engine.url.get_backend_name() == "sqlite" and path.is_file()):
        return None
    with path.open("rb") as f:
        if f.read(16) != b"SQLite format 3\x00":  # not an SQLite file at all: not ours to move
            return None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        part = Path(f"{path}{suffix}")
        if part.exists():
            part.rename(Path(f"{aside}{suffix}"))
    backups = sorted(backups_dir.glob("*.sqlite3"), key=lambda p: p.stat().st_mtime) if backups_dir else []
    offer = (f"The newest backup is {backups[-1]}: to go back to it, quit Scrobble Tray and copy it to {path}."
             if backups else "There is no backup of it.")
    said = (f"The database file was damaged ({cause}): it was moved to {aside}, untouched, and a new "
            f"empty one was made. {offer}")
    log.error("%s", said)
    return said
