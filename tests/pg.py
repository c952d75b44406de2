"""A throwaway PostgreSQL cluster for the test session: a real server, never a mock.

``PgServer.launch()`` finds the PostgreSQL binaries, runs ``initdb`` in a fresh temporary
folder and starts the server on 127.0.0.1 (a free port) and on a unix socket in that
folder; ``close()`` stops it (``pg_ctl stop -m immediate``) and removes the folder.

- Binaries: ``$SCROBBLETRAY_PG_BINDIR`` if set, else ``initdb`` on ``PATH`` (symlinks are
  resolved: ``pg_ctl`` and ``postgres`` must sit beside the real ``initdb``), else the
  newest ``/usr/lib/postgresql/*/bin`` (Debian's packages; CI installs ``postgresql``).
- Root: PostgreSQL refuses to run as root, so as root every PostgreSQL process runs as
  the unprivileged ``postgres`` user (Debian's package creates it; another one can be
  named in ``$SCROBBLETRAY_PG_OS_USER``) and the folder is chowned to it. No user is
  ever created: without one this fails with a clear message.
- Speed: ``fsync = off`` (and ``initdb --no-sync``). ``synchronous_commit`` stays on, so
  a committed row survives ``stop()`` even in ``immediate`` mode (it is in the WAL the
  operating system already holds; only the disk flush is skipped).
- Roles: the superuser ``postgres`` is reached on the unix socket (trust) for set-up;
  the tests' role ``scrobble`` logs in over TCP with a password (scram-sha-256), as a
  real user's URL does: ``url(dbname)``.
- Leaks: a small watchdog process holds a pipe from the test process; if the test
  process dies without cleaning up (a kill, ``os._exit`` on a timeout), the watchdog
  stops the server and removes the folder.

Every failure raises ``PostgresNotAvailable`` with what was tried and the server's log.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUPERUSER = "postgres"
TEST_ROLE = "scrobble"
TEST_PASSWORD = "tracker-pw-5f3a9c"
HOST = "127.0.0.1"
DEBIAN_GLOB = "/usr/lib/postgresql/*/bin"
BINDIR_ENV = "SCROBBLETRAY_PG_BINDIR"
OS_USER_ENV = "SCROBBLETRAY_PG_OS_USER"
INSTALL_HINT = ("install PostgreSQL's server (Debian/Ubuntu: `apt-get install postgresql`; "
                ".ci/run does this on CI) or point $SCROBBLETRAY_PG_BINDIR at its bin folder")


class PostgresNotAvailable(RuntimeError):
    """PostgreSQL cannot be found, initialised or started here; the message says why."""


@dataclass(frozen=True)
class PgBinaries:
    bindir: Path
    initdb: Path
    pg_ctl: Path
    postgres: Path
    version: str  # "15.18"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


def _version(exe: Path) -> str | None:
    try:
        out = subprocess.run([str(exe), "--version"], capture_output=True, text=True,
                             timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"\(PostgreSQL\)\s+(\d+(?:\.\d+)?)", out)
    return m.group(1) if m else None


def _binaries_in(bindir: Path) -> PgBinaries | None:
    exes = {name: bindir / name for name in ("initdb", "pg_ctl", "postgres")}
    if not all(p.is_file() and os.access(p, os.X_OK) for p in exes.values()):
        return None
    versions = {_version(p) for p in exes.values()}
    if len(versions) != 1 or None in versions:
        return None
    return PgBinaries(bindir, exes["initdb"], exes["pg_ctl"], exes["postgres"], versions.pop())


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def find_binaries(path: str | None = None, search_globs: Sequence[str] = (DEBIAN_GLOB,),
                  env_bindir: str | None = None) -> PgBinaries:
    """The PostgreSQL server binaries (``initdb``, ``pg_ctl``, ``postgres``) to use:
    ``$SCROBBLETRAY_PG_BINDIR`` if set, else the real folder of ``initdb`` on ``PATH``, else
    the newest folder matching ``search_globs``.

    ``path`` defaults to ``$PATH``, ``env_bindir`` to ``$SCROBBLETRAY_PG_BINDIR``."""
    tried: list[str] = []
    bindir = os.environ.get(BINDIR_ENV) if env_bindir is None else env_bindir
    if bindir:  # asked for explicitly: that one or a clear failure, no fallback
        found = _binaries_in(Path(bindir))
        if found is None:
            raise PostgresNotAvailable(f"${BINDIR_ENV}={bindir} holds no working initdb + pg_ctl "
                                       f"+ postgres of one version")
        return found
    candidates: list[Path] = []
    initdb = shutil.which("initdb", path=os.environ.get("PATH", "") if path is None else path)
    if initdb:
        real = Path(os.path.realpath(initdb))
        if real.name == "initdb":  # not a wrapper script under another name
            candidates.append(real.parent)
        else:
            tried.append(f"{initdb} (resolves to {real}, not initdb itself)")
    for pattern in search_globs:
        candidates += [Path(d) for d in sorted(glob.glob(pattern), key=_version_key, reverse=True)]
    seen: set[Path] = set()
    for cand in candidates:
        if cand in seen:
            continue
        seen.add(cand)
        found = _binaries_in(cand)
        if found:
            return found
        tried.append(f"{cand} (no working initdb + pg_ctl + postgres of one version)")
    where = "; ".join(tried) or f"no initdb on PATH, nothing matches {', '.join(search_globs)}"
    raise PostgresNotAvailable(f"PostgreSQL server binaries not found ({where}): {INSTALL_HINT}")


@dataclass(frozen=True)
class OsUser:
    name: str
    uid: int
    gid: int


def unprivileged_user(name: str | None = None) -> OsUser | None:
    """Whom to run PostgreSQL as: ``None`` (this process's own user) unless running as root,
    then the ``postgres`` user (or ``$SCROBBLETRAY_PG_OS_USER``); never creates one."""
    if os.geteuid() != 0:
        return None
    name = name or os.environ.get(OS_USER_ENV) or "postgres"
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        raise PostgresNotAvailable(
            f"running as root, and PostgreSQL refuses to run as root; there is no "
            f"unprivileged user {name!r} to run it as (Debian's postgresql package creates "
            f"'postgres'; or name an existing user in ${OS_USER_ENV}, or run the tests as "
            f"a non-root user)") from None
    if pw.pw_uid == 0:
        raise PostgresNotAvailable(f"{OS_USER_ENV}={name!r} is root; PostgreSQL refuses to run as root")
    return OsUser(name, pw.pw_uid, pw.pw_gid)


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _temp_parent(user: OsUser | None) -> str:
    """A temp folder another user can reach: every ancestor must be searchable by others."""
    parent = tempfile.gettempdir()
    if user is None:
        return parent
    p = Path(parent).resolve()
    for d in (p, *p.parents):
        if not os.stat(d).st_mode & 0o001:
            return "/tmp"
    return parent


_WATCHDOG = r"""
import json, os, shutil, subprocess, sys
cfg = json.loads(sys.argv[1])
sys.stdin.buffer.read()   # returns when the test process closes the pipe, or dies
if os.path.exists(os.path.join(cfg["data"], "postmaster.pid")):
    kw = {}
    if cfg["uid"] is not None:
        kw = dict(user=cfg["uid"], group=cfg["gid"], extra_groups=[])
    subprocess.run([cfg["pg_ctl"], "-D", cfg["data"], "-m", "immediate", "-w", "stop"],
                   cwd=cfg["base"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60, **kw)
shutil.rmtree(cfg["base"], ignore_errors=True)
"""


class PgServer:
    """One throwaway cluster. ``launch()`` = ``init()`` + ``start()``; ``close()`` ends it."""

    superuser = SUPERUSER
    user = TEST_ROLE
    password = TEST_PASSWORD
    host = HOST

    def __init__(self, binaries: PgBinaries | None = None, os_user: str | None = None,
                 settings: dict[str, Any] | None = None) -> None:
        self.binaries = binaries or find_binaries()
        self.os_user = unprivileged_user(os_user)
        self.base = Path(tempfile.mkdtemp(prefix="scrobbletray-pg-", dir=_temp_parent(self.os_user)))
        self.data_dir = self.base / "data"
        self.socket_dir = self.base  # short: a unix socket path has a ~100 byte limit
        self.log_file = self.base / "postgres.log"
        self.port = 0
        self.settings = dict(settings or {})
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._closed = False
        if self.os_user:
            os.chown(self.base, self.os_user.uid, self.os_user.gid)

    # -- life cycle ------------------------------------------------------------------------
    @classmethod
    def launch(cls, **kwargs: Any) -> PgServer:
        server = cls(**kwargs)
        try:
            server.init()
            server.start()
            server._create_test_role()
        except BaseException:
            server.close()
            raise
        return server

    def init(self) -> None:
        """``initdb`` + the configuration; arms the watchdog."""
        self._arm_watchdog()
        self._run([self.binaries.initdb, "-D", self.data_dir, "-U", self.superuser,
                   "--auth-local=trust", "--auth-host=scram-sha-256", "--no-locale",
                   "-E", "UTF8", "--no-sync"], what="initdb")

    def _write_config(self) -> None:
        conf = {
            "listen_addresses": f"'{self.host}'",
            "port": self.port,
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "off",
            "full_page_writes": "off",
            "password_encryption": "'scram-sha-256'",
            "max_connections": 100,
            "shared_buffers": "'32MB'",
            "log_min_messages": "warning",
            "log_connections": "off",
        }
        conf.update(self.settings)
        # postgresql.auto.conf is read last and belongs to the data folder's owner already.
        text = "".join(f"{k} = {v}\n" for k, v in conf.items())
        self._write_as_owner(self.data_dir / "postgresql.auto.conf", text)

    def start(self) -> None:
        """Start the server; the first start picks a free port, later ones reuse it."""
        if self._closed:
            raise PostgresNotAvailable("this PostgreSQL cluster has been closed")
        if self.running:
            return
        attempts = 3 if self.port == 0 else 1
        for attempt in range(attempts):
            if self.port == 0 or attempt:
                self.port = free_port(self.host)
            self._write_config()
            try:
                self._run([self.binaries.pg_ctl, "-D", self.data_dir, "-l", self.log_file,
                           "-w", "-t", "60", "start"], what="pg_ctl start")
                return
            except PostgresNotAvailable:
                if attempt == attempts - 1 or "already in use" not in self.log_tail():
                    raise

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server (``immediate``: as if it crashed; ``fast``: a clean shutdown).
        Open connections are cut; ``start()`` brings it back on the same port."""
        if not self.running:
            return
        self._run([self.binaries.pg_ctl, "-D", self.data_dir, "-m", mode, "-w", "-t", "60",
                   "stop"], what="pg_ctl stop")

    @property
    def running(self) -> bool:
        """Whether the postmaster of ``postmaster.pid`` is alive (a stale file is not)."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, 0)
        except PermissionError:  # alive, someone else's
            return True
        except (OSError, ValueError, IndexError):
            return False
        return True

    def close(self) -> None:
        """Stop the server and remove its folder (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.data_dir.exists():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
            if self._watchdog is not None:
                assert self._watchdog.stdin is not None
                self._watchdog.stdin.close()
                try:
                    self._watchdog.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self._watchdog.kill()

    def __enter__(self) -> PgServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connecting ------------------------------------------------------------------------
    def url(self, dbname: str = "postgres", *, password: str | None = None) -> str:
        """A SQLAlchemy URL for the tests' role over TCP with its password:
        ``postgresql+psycopg://scrobble:…@127.0.0.1:PORT/dbname``."""
        from sqlalchemy.engine import URL

        return URL.create("postgresql+psycopg", username=self.user,
                          password=self.password if password is None else password,
                          host=self.host, port=self.port,
                          database=dbname).render_as_string(hide_password=False)

    def connect(self, dbname: str = "postgres", *, user: str | None = None,
                autocommit: bool = False) -> Any:
        """A psycopg connection on the unix socket (trust), as the superuser by default."""
        import psycopg

        return psycopg.connect(host=str(self.socket_dir), port=self.port, dbname=dbname,
                               user=user or self.superuser, autocommit=autocommit,
                               sslmode="disable", connect_timeout=10)

    def admin(self, *statements: str) -> None:
        """Run statements as the superuser in the ``postgres`` database (autocommit)."""
        with self.connect(autocommit=True) as conn:
            for sql in statements:
                conn.execute(sql)  # type: ignore[arg-type]

    def _create_test_role(self) -> None:
        self.admin(f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'")

    # -- internals -------------------------------------------------------------------------
    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        return env

    def _as_user(self) -> dict[str, Any]:
        if self.os_user is None:
            return {}
        return {"user": self.os_user.uid, "group": self.os_user.gid, "extra_groups": []}

    def _run(self, args: Iterable[object], what: str) -> None:
        argv = [str(a) for a in args]
        try:
            proc = subprocess.run(argv, cwd=self.base, env=self._env(), stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=120, **self._as_user())
        except (OSError, subprocess.SubprocessError) as e:
            raise PostgresNotAvailable(f"{what} could not run ({' '.join(argv)}): {e}") from e
        if proc.returncode != 0:
            as_whom = f" as {self.os_user.name}" if self.os_user else ""
            raise PostgresNotAvailable(
                f"{what} failed{as_whom} (exit {proc.returncode}): {' '.join(argv)}\n"
                f"{proc.stdout}{proc.stderr}\n--- server log ---\n{self.log_tail()}")

    def _write_as_owner(self, path: Path, text: str) -> None:
        path.write_text(text)
        if self.os_user:
            os.chown(path, self.os_user.uid, self.os_user.gid)

    def _arm_watchdog(self) -> None:
        cfg = {"data": str(self.data_dir), "base": str(self.base), "pg_ctl": str(self.binaries.pg_ctl),
               "uid": self.os_user.uid if self.os_user else None,
               "gid": self.os_user.gid if self.os_user else None}
        # Its own session: a Ctrl+C in the terminal reaches pytest (which cleans up), not it.
        self._watchdog = subprocess.Popen([sys.executable, "-c", _WATCHDOG, json.dumps(cfg)],
                                          stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<PgServer {self.binaries.version} {self.host}:{self.port} {state} {self.base}>"
