"""``scrobbletray --self-test``: proves that this installation (source or frozen) works.

It runs headless (Qt is never imported), offline (no tunnel; nothing leaves 127.0.0.1)
and on a temporary data folder that is removed afterwards: the user's data folder,
settings, keyring entries and tracker are never read or written. It starts the real
core, adds Breaking Bad to the tracker, posts a real Plex scrobble of S01E01 to its own
webhook over HTTP, waits until it is processed and checks that the episode was marked.
Each step is printed with its time; the exit code is 0 when every step passed, else 1.

``SCROBBLETRAY_SELFTEST_DATABASE_URL`` replaces the temporary SQLite database (the tests
use a broken URL to prove that the self-test can fail).

A windowed build has no stdout on Windows: the report then goes to the console of the
command prompt that started it (if any) and always to ``%TEMP%/scrobbletray-self-test.txt``.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import platform
import shutil
import ssl
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, TextIO

from app import __version__

DATABASE_URL_ENV = "SCROBBLETRAY_SELFTEST_DATABASE_URL"
REPORT_FILE_NAME = "scrobbletray-self-test.txt"
STEP_TIMEOUT = 20.0  # seconds; no step takes more than a fraction of that on a healthy install

SHOW = {"title": "Breaking Bad", "year": 2008, "tmdb_id": 1396, "tvdb_id": 81189,
        "imdb_id": "tt0903747"}

#: A Plex ``media.scrobble`` of Breaking Bad S01E01 from the legacy TMDB agent, as Plex
#: puts it in the multipart field ``payload`` (the test samples are not shipped).
SAMPLE_SCROBBLE: dict[str, Any] = {
    "event": "media.scrobble",
    "user": True,
    "owner": True,
    "Account": {"id": 1, "title": "homeowner"},
    "Server": {"title": "Scrobble Tray self-test", "uuid": "5e1f7e570000000000000000000000000000beef"},
    "Player": {"local": True, "publicAddress": "203.0.113.7", "title": "Chrome",
               "uuid": "selftestplayer01"},
    "Metadata": {
        "librarySectionType": "show",
        "ratingKey": "12345",
        "key": "/library/metadata/12345",
        "parentRatingKey": "11111",
        "grandparentRatingKey": "10000",
        "guid": "com.plexapp.agents.themoviedb://1396/1/1?lang=en",
        "parentGuid": "com.plexapp.agents.themoviedb://1396/1?lang=en",
        "grandparentGuid": "com.plexapp.agents.themoviedb://1396?lang=en",
        "type": "episode",
        "title": "Pilot",
        "grandparentKey": "/library/metadata/10000",
        "parentKey": "/library/metadata/11111",
        "librarySectionTitle": "TV Shows",
        "librarySectionID": 2,
        "grandparentTitle": "Breaking Bad",
        "parentTitle": "Season 1",
        "index": 1,
        "parentIndex": 1,
        "year": 2008,
        "originallyAvailableAt": "2008-01-20",
        "viewOffset": 3420000,
        "duration": 3480000,
        "lastViewedAt": 1762160000,
    },
}


class StepFailed(Exception):
    """A step found something wrong; the message says what (no traceback is shown)."""


@dataclass(frozen=True)
class StepResult:
    """One line of the report."""

    name: str
    status: str  # "ok", "warn" or "FAIL"
    ms: float
    detail: str


def build_kind() -> str:
    """How this program runs: from source, or which kind of PyInstaller bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    if not getattr(sys, "frozen", False) or not bundle:
        return "from source"
    # One-file builds unpack into a fresh _MEIxxxxxx folder at every start.
    return "frozen, one-file" if Path(bundle).name.startswith("_MEI") else "frozen, one-folder"


class Report:
    """Prints each step as it finishes (so a hang shows where) and keeps the results."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.steps: list[StepResult] = []

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def add(self, result: StepResult) -> None:
        self.steps.append(result)
        self.line(f"  {result.status:<4}  {result.name:<20} {result.ms:7.0f} ms  {result.detail}".rstrip())

    @property
    def failed(self) -> list[StepResult]:
        return [s for s in self.steps if s.status == "FAIL"]

    async def step(self, name: str, fn: Callable[[], Awaitable[Any]]) -> Any:
        """Run one step; its coroutine returns ``detail`` or ``(value, detail[, "warn"])``.

        Any exception fails the step (and the self-test) with a one-line message.
        """
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(fn(), STEP_TIMEOUT)
        except asyncio.TimeoutError:
            self._fail(name, started, f"no result within {STEP_TIMEOUT:g} s")
        except StepFailed as exc:
            self._fail(name, started, str(exc))
        except Exception as exc:  # the point of a self-test: say what broke, plainly
            self._fail(name, started, f"{type(exc).__name__}: {exc}")
        value, detail, status = None, "", "ok"
        if isinstance(result, tuple):
            value, detail, *rest = result
            status = rest[0] if rest else "ok"
        else:
            detail = str(result or "")
        self.add(StepResult(name, status, (time.perf_counter() - started) * 1000, detail))
        return value

    def _fail(self, name: str, started: float, message: str) -> None:
        message = " ".join(message.split())  # one line, whatever the exception said
        self.add(StepResult(name, "FAIL", (time.perf_counter() - started) * 1000, message))
        raise _Abort(name, message)


class _Abort(Exception):
    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")


# -- the checks that need no running core ---------------------------------------------
async def _load_core() -> str:
    """Import the core the way the app does: a frozen build shows missing modules here."""
    for name in ("app.core.facade", "aiohttp", "sqlalchemy", "alembic", "rapidfuzz", "yaml",
                 "pyngrok.installer", "keyring", "platformdirs"):
        importlib.import_module(name)
    import aiohttp
    import alembic
    import sqlalchemy

    return f"aiohttp {aiohttp.__version__}, SQLAlchemy {sqlalchemy.__version__}, alembic {alembic.__version__}"


async def _migrations() -> str:
    """The alembic scripts are files read at run time: they must be in the bundle."""
    from alembic.script import ScriptDirectory

    from app.core.db import MIGRATIONS

    if not (MIGRATIONS / "env.py").is_file():
        raise StepFailed(f"migration scripts not found in {MIGRATIONS}")
    scripts = ScriptDirectory(str(MIGRATIONS))
    revisions = list(scripts.walk_revisions())
    return f"{len(revisions)} revisions, head {scripts.get_current_head()}, in {MIGRATIONS}"


async def _resources() -> tuple[None, str, str] | str:
    """The icons the tray and the windows draw, where app.resources finds them."""
    from app.resources import resource_path

    icons = resource_path("icons")
    found = sorted(icons.glob("*.svg")) if icons.is_dir() else []
    if not found:
        raise StepFailed(f"no icons in {icons}: this installation is missing app/resources/icons")
    return f"{len(found)} icons in {icons}"


async def _rapidfuzz() -> str:
    """The fuzzy matcher's compiled extension (not the slow pure-Python fallback)."""
    from rapidfuzz import fuzz
    from rapidfuzz.fuzz import ratio

    score = fuzz.token_sort_ratio("Bad Breaking", "Breaking Bad")
    if score != 100:
        raise StepFailed(f"fuzzy score {score:.0f} for the same words in another order, not 100")
    impl = getattr(ratio, "__module__", "") or ""
    kind = "pure Python fallback" if impl.endswith("_py") else "compiled"
    return (None, f"{kind} ({impl})", "warn" if kind != "compiled" else "ok")


async def _keyring() -> tuple[None, str, str] | str:
    """keyring finds its backends through entry points: the metadata must be bundled.

    Only the backend is loaded; no password is read or written.
    """
    from importlib.metadata import entry_points

    import keyring

    names = sorted(ep.name for ep in entry_points(group="keyring.backends"))
    if not names:
        raise StepFailed("no keyring backends registered (keyring's package metadata is missing)")
    backend = keyring.get_keyring()
    detail = f"{len(names)} backends registered; in use: {backend.__class__.__module__}.{backend.__class__.__name__}"
    if backend.__class__.__module__.endswith(".fail"):
        return (None, detail + " (no keyring here: the authtoken would go to a private file)", "warn")
    return detail


async def _tls() -> tuple[None, str, str] | str:
    """CA certificates for HTTPS (the first download of the ngrok agent needs them)."""
    paths = ssl.get_default_verify_paths()
    file = os.environ.get("SSL_CERT_FILE") or paths.cafile
    folder = os.environ.get("SSL_CERT_DIR") or paths.capath
    ctx = ssl.create_default_context()
    loaded = ctx.cert_store_stats().get("x509_ca", 0)
    if loaded or (file and os.path.isfile(file)):
        return f"{ssl.OPENSSL_VERSION}; {loaded} CA certificates from {file}"
    if folder and os.path.isdir(folder) and any(os.scandir(folder)):
        return f"{ssl.OPENSSL_VERSION}; CA certificates in {folder}"
    if sys.platform == "win32":  # Python reads the Windows certificate store instead
        return f"{ssl.OPENSSL_VERSION}; Windows certificate store"
    looked = os.environ.get("SSL_CERT_FILE") or paths.openssl_cafile
    return (None, f"no CA certificates found (looked in {looked} and {paths.openssl_capath}): the "
                  f"ngrok agent cannot be downloaded; give its path with --ngrok-path", "warn")


async def _ngrok_installer() -> str:
    """pyngrok's installer runs in this build: platform detected, download URL known.

    Nothing is downloaded (the self-test stays offline).
    """
    from pyngrok import installer

    return f"agent {installer.get_ngrok_bin()} from {installer.get_ngrok_cdn_url('3')} (not downloaded)"


async def _postgres_driver() -> tuple[None, str, str] | str:
    """The optional PostgreSQL driver (for a PostgreSQL tracker): psycopg with its libpq."""
    try:
        import psycopg
        import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401 (the dialect SQLAlchemy loads by name)
    except ImportError:
        return (None, "not installed: a PostgreSQL tracker needs pip install 'scrobbletray[postgres]'", "warn")
    libpq = psycopg.pq.version()
    return f"psycopg {psycopg.__version__} ({psycopg.pq.__impl__}), libpq {libpq // 10000}.{libpq % 100}"


async def _plexapi() -> str:
    """python-plexapi (sign in with Plex) loads, with our headers; nothing is sent."""
    import plexapi
    from plexapi.myplex import MyPlexPinLogin  # noqa: F401

    from app.core.plex.http import Identity

    Identity("self-test").apply()
    return f"python-plexapi {plexapi.VERSION}, as {plexapi.BASE_HEADERS['X-Plex-Product']}"


# -- the end-to-end run ---------------------------------------------------------------
async def _run(report: Report, data_dir: Path) -> None:
    await report.step("load core", _load_core)
    await report.step("migration scripts", _migrations)
    await report.step("resources", _resources)
    await report.step("fuzzy matching", _rapidfuzz)
    await report.step("keyring", _keyring)
    await report.step("TLS certificates", _tls)
    await report.step("ngrok installer", _ngrok_installer)
    await report.step("PostgreSQL driver", _postgres_driver)
    await report.step("Plex sign-in", _plexapi)

    import aiohttp

    from app.core.config import Paths, Settings
    from app.core.events import ScrobbleRecorded
    from app.core.facade import Core
    from app.core.pipeline import Action, Outcome

    settings = Settings(port=0, database_url=os.environ.get(DATABASE_URL_ENV) or None,
                        tunnel_enabled=False, auto_add_shows=False)  # a wrong match must fail
    core = Core(Paths(data_dir), settings)
    outcomes: dict[int, asyncio.Future[Outcome]] = {}
    loop = asyncio.get_running_loop()

    def on_event(event: Any) -> None:
        if isinstance(event, ScrobbleRecorded):
            outcomes.setdefault(event.outcome.event_id, loop.create_future())
            fut = outcomes[event.outcome.event_id]
            if not fut.done():
                fut.set_result(event.outcome)

    core.events.subscribe(on_event)

    async def start() -> str:
        await core.start(port=0, tunnel=False)
        return f"database created and migrated; webhook server on {core.status.host}:{core.status.port}"

    async def add_show() -> tuple[int, str]:
        assert core.store is not None
        show = await core.run(core.store.add_show, **SHOW)
        return show.id, f"{show.title} (tmdb {SHOW['tmdb_id']}) is show #{show.id}"

    async def post() -> tuple[int, str]:
        url = core.local_webhook_url
        if not url:
            raise StepFailed("the core is not listening")
        form = aiohttp.FormData()
        form.add_field("payload", json.dumps(SAMPLE_SCROBBLE), content_type="application/json")
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.post(url, data=form, headers={"User-Agent": "PlexMediaServer/selftest"}) as r:
                body = await r.text()
                if r.status != 200:
                    raise StepFailed(f"HTTP {r.status}: {body.strip()[:200]}")
        event_id = int(json.loads(body)["id"])
        return event_id, f"media.scrobble S01E01 accepted over HTTP as event #{event_id}"

    try:
        await report.step("start core", start)
        show_id = await report.step("add show", add_show)
        event_id = await report.step("post scrobble", post)

        async def processed() -> str:
            outcome = await outcomes.setdefault(event_id, loop.create_future())
            if outcome.action is not Action.MARKED:
                raise StepFailed(f"event #{event_id} was {outcome.action.value}: {outcome.reason or 'no reason'}")
            if outcome.show_id != show_id:
                raise StepFailed(f"event #{event_id} matched show #{outcome.show_id}, not #{show_id}")
            return f"event #{event_id} marked on show #{show_id}"

        await report.step("processed", processed)

        async def marked() -> str:
            assert core.store is not None
            episodes = await core.run(core.store.episodes, show_id)
            pilot = [e for e in episodes if (e.season, e.number) == (1, 1)]
            if not pilot or not pilot[0].watched:
                raise StepFailed(f"S01E01 is not watched in the tracker: {episodes}")
            log = await core.run(core.store.scrobbles, limit=1)
            if not log or log[0].id != event_id or log[0].action != "marked":
                raise StepFailed(f"the scrobble log does not show event #{event_id} as marked: {log}")
            return f"S01E01 watched ({pilot[0].watch_count}x); scrobble log agrees"

        await report.step("episode marked", marked)
    finally:
        async def stop() -> str:
            await core.stop()
            if core.store is not None:  # release the SQLite file so the folder can go
                core.store.sessions.kw["bind"].dispose()
            return "server and worker stopped"

        try:
            await report.step("stop core", stop)
        except _Abort:
            pass  # recorded in the report; the first failure is the one to tell


def _open_output() -> tuple[TextIO, Path | None]:
    """stdout; when a windowed Windows build has none, the parent console and a file."""
    if sys.stdout is not None:
        return sys.stdout, None
    file = Path(tempfile.gettempdir()) / REPORT_FILE_NAME
    streams: list[TextIO] = [open(file, "w", encoding="utf-8")]  # noqa: SIM115
    if sys.platform == "win32":
        try:
            import ctypes

            if ctypes.windll.kernel32.AttachConsole(-1):  # ATTACH_PARENT_PROCESS
                streams.append(open("CONOUT$", "w", encoding="utf-8"))  # noqa: SIM115
        except (OSError, AttributeError):
            pass
    return _Tee(streams), file


class _Tee:
    """A minimal text stream writing to several others."""

    def __init__(self, streams: list[TextIO]) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
        return len(text)

    def flush(self) -> None:
        for s in self.streams:
            s.flush()


def run_self_test(out: TextIO | None = None) -> int:
    """Run the self-test, print the report; 0 if every step passed, else 1."""
    stream, copy = (out, None) if out is not None else _open_output()
    report = Report(stream)  # type: ignore[arg-type]
    data_dir = Path(tempfile.mkdtemp(prefix="scrobbletray-selftest-"))
    report.line(f"Scrobble Tray {__version__} self-test")
    report.line(f"python {platform.python_version()} ({platform.python_implementation()}), "
                f"{sys.platform} {platform.machine()}, {build_kind()}")
    report.line(f"program: {sys.executable}")
    report.line(f"data folder: {data_dir} (temporary, removed afterwards)")
    started = time.perf_counter()
    failure: str | None = None
    try:
        asyncio.run(_run(report, data_dir))
    except _Abort as exc:
        failure = str(exc)
    except KeyboardInterrupt:
        failure = "interrupted"
    shutil.rmtree(data_dir, ignore_errors=True)
    if data_dir.exists():
        report.line(f"  warn  could not remove {data_dir}")
    total = (time.perf_counter() - started) * 1000
    failure = failure or (f"{report.failed[0].name}: {report.failed[0].detail}" if report.failed else None)
    if failure:
        report.line(f"SELF-TEST FAILED after {total:.0f} ms: {failure}")
    else:
        warned = sum(s.status == "warn" for s in report.steps)
        report.line(f"SELF-TEST PASSED: {len(report.steps)} steps in {total:.0f} ms"
                    + (f" ({warned} warning{'s' * (warned != 1)})" if warned else ""))
    if copy is not None:
        report.line(f"(this report is also in {copy})")
    stream.flush()
    return 1 if failure else 0
