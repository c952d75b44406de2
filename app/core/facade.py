"""The one door: what the windows, the CLI and the headless runner ask of the core.

:class:`Core` checks each request and delegates it to the :class:`~app.core.runtime.Runtime`
that builds and runs the parts; what it returns is plain typed data
(:mod:`app.core.types`), and what changed is published on :attr:`Core.events`. Nothing
outside the core reaches the runtime, the database service or the Plex link directly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from app.core import config, diagnostics, instance
from app.core.config import Paths, Settings
from app.core.conflicts import Conflicts
from app.core.destinations.sender import Timing
from app.core.errors import AppError, NotRunning
from app.core.events import EventBus
from app.core.facade_destinations import DestinationsApi
from app.core.plex.http import PlexError
from app.core.runtime import Runtime
from app.core.show_files import read_show_file
from app.core.types import (
    Candidate,
    CatchUpResult,
    Check,
    Compacted,
    ConflictRow,
    CoreStatus,
    Counts,
    EpisodeRow,
    MovieRow,
    Outcome,
    Page,
    ScrobbleRow,
    ShowRow,
    WebhookStats,
)

if TYPE_CHECKING:
    from app.core.control import ControlServer
    from app.core.plex.account import PlexUser
    from app.core.plex.signin import SignIn

T = TypeVar("T")
log = logging.getLogger(__name__)


#: What a command may ask the running app to do (through :mod:`app.core.control`): the
#: changes that its senders, match index, settings or Plex link must see at once.
REMOTE = ("add_show", "import_shows", "add_movie", "import_movies", "resolve_conflict", "add_destination",
          "remove_destination", "retry_destination", "catch_up", "reload_settings", "route_account",
          "accounts",  # (a question, but the running app knows the ids of the servers' accounts)
          "sign_in_changed", "sign_out")


class Core(DestinationsApi):
    """Scrobble Tray's API: start it, subscribe to :attr:`events`, ask it, stop it."""

    def __init__(self, paths: Paths, settings: Settings | None = None, *,
                 timing: Timing | None = None) -> None:
        self.runtime = Runtime(paths, settings, timing=timing)
        self._control: ControlServer | None = None

    # -- state ---------------------------------------------------------------------
    @property
    def paths(self) -> Paths:
        return self.runtime.paths

    @property
    def settings(self) -> Settings:
        """The settings in force (a copy to change goes to :meth:`apply_settings`)."""
        return self.runtime.settings

    @property
    def events(self) -> EventBus:
        return self.runtime.events

    @property
    def status(self) -> CoreStatus:
        return self.runtime.status

    @property
    def secret(self) -> str:
        return self.runtime.secret

    @property
    def local_webhook_url(self) -> str | None:
        """The webhook URL on this machine (for a Plex server on the same host)."""
        return self.runtime.local_webhook_url

    @property
    def public_webhook_url(self) -> str | None:
        """The webhook URL through the tunnel, while it is online."""
        return self.runtime.public_webhook_url

    def webhook_urls(self) -> list[tuple[str, str]]:
        """Labelled URLs to paste into Plex, best first."""
        return self.runtime.webhook_urls()

    def best_webhook_url(self) -> str | None:
        """The one URL to paste into Plex."""
        return self.runtime.best_webhook_url()

    def secrets(self) -> list[str]:
        """Values that must never appear in logs, reports or screenshots."""
        return self.runtime.secrets()

    def webhook_stats(self) -> WebhookStats:
        """What the webhook server has seen since it started."""
        return self.runtime.webhook_stats()

    def authtoken(self) -> str | None:
        """The ngrok authtoken, as read at start (or last set)."""
        return self.runtime.authtoken()

    def tunnel_wanted(self) -> bool:
        """The tunnel setting; unset means on once an authtoken is known."""
        return self.runtime.tunnel_wanted()

    def live_wanted(self) -> bool:
        """Whether live sessions are followed (chosen, or no Plex Pass)."""
        return self.runtime.live_wanted()

    # -- lifecycle -----------------------------------------------------------------
    async def start(self, port: int | None = None, tunnel: bool = True) -> None:
        """Open the database, process what a crash left pending, start serving; the tunnel
        (when wanted) opens in the background: see :meth:`wait_tunnel`. One core runs per
        data folder: a second start raises :class:`app.core.instance.AlreadyRunning`."""
        await self.runtime.start(port, tunnel)
        if self._control is None:
            from app.core.control import ControlServer  # (aiohttp's server: not for a command's read)

            calls = {name: getattr(self, name) for name in REMOTE if name != "catch_up"}
            self._control = ControlServer(self.paths, calls | {"catch_up": self._catch_up_since})
            await self._control.start()

    async def open(self) -> None:
        """Open the database for a command, without serving (the app may run elsewhere)."""
        await self.runtime.open()

    async def stop(self) -> None:
        """Stop everything (or close what :meth:`open` opened); accepted events stay in the inbox."""
        if self._control is not None:
            await self._control.stop()
            self._control = None
        await self.runtime.stop()

    async def compact(self) -> Compacted:
        """Shrink the SQLite file for good, while no core serves this folder (see Runtime.compact)."""
        return await self.runtime.compact()

    def running_elsewhere(self) -> int | None:
        """The pid of another process running the core on this data folder (0: unknown), or None."""
        return None if self.runtime.serving else instance.holder(self.paths)

    async def reload_settings(self) -> None:
        """Apply ``settings.json`` as a command left it."""
        await self.apply_settings(await asyncio.to_thread(config.load_settings, self.paths))

    async def start_tunnel(self) -> None:
        await self.runtime.start_tunnel()

    async def wait_tunnel(self) -> None:
        """Wait until the tunnel is online, failed, or retrying (no-op when off)."""
        await self.runtime.wait_tunnel()

    def set_paused(self, paused: bool) -> None:
        """Pause or resume processing; webhooks are still accepted and stored."""
        self.runtime.set_paused(paused)

    async def apply_settings(self, settings: Settings) -> None:
        """Check, save and apply new settings (the server restarts if its address changed)."""
        await self.runtime.apply_settings(settings)

    async def set_authtoken(self, token: str | None) -> str:
        """Save (or forget) the ngrok authtoken; returns where it was kept."""
        return await self.runtime.set_authtoken(token)

    # -- the log -------------------------------------------------------------------
    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A blocking call of the database service, on its thread; publishes outcomes."""
        return await self.runtime.run(fn, *args, **kwargs)

    async def counts(self) -> Counts:
        return await self._db(self.runtime._store().counts)

    async def scrobbles(self, limit: int = 50, action: str | None = None,
                        search: str | None = None) -> list[ScrobbleRow]:
        """The log, newest first, with where each event was delivered."""
        if limit < 1:
            raise AppError("The limit must be 1 or more")
        return await self._db(self.runtime._store().scrobbles, limit, action, search)

    async def rerun(self, event_id: int) -> Outcome:
        """Process a failed or ignored event again."""
        return await self._db(self.runtime._store().rerun, event_id)

    async def undo(self, event_id: int) -> Outcome:
        """Take back the watch an event counted."""
        return await self._db(self.runtime._store().undo, event_id)

    # -- the built-in tracker's shows ------------------------------------------------
    async def list_shows(self, search: str | None = None, limit: int | None = None) -> list[ShowRow]:
        return await self._db(self.runtime._store().list_shows, search, limit)

    async def show_page(self, search: str | None, offset: int, limit: int) -> Page[ShowRow]:
        """``limit`` shows from ``offset`` (by title), and how many there are."""
        store = self.runtime._store()
        return await self._db(lambda: Page(store.list_shows(search, limit, offset=offset), store.count_shows(search)))

    async def episodes(self, show_id: int) -> list[EpisodeRow]:
        return await self._db(self.runtime._store().episodes, show_id)

    async def plays(self, show_id: int) -> dict[int, list[tuple[str, datetime]]]:
        """Each episode's plays (source, when), by episode id."""
        return await self._db(self.runtime._store().plays, show_id)

    async def add_show(self, **values: Any) -> ShowRow:
        return await self._db(self.runtime._store().add_show, **values)

    async def update_show(self, show_id: int, **values: Any) -> ShowRow:
        return await self._db(self.runtime._store().update_show, show_id, **values)

    async def delete_show(self, show_id: int) -> None:
        await self._db(self.runtime._store().delete_show, show_id)

    async def import_shows(self, path: Path | str) -> Any:
        """Add the shows of a JSON or CSV file; returns how many were added and skipped."""
        store = self.runtime._store()
        return await self._db(lambda: store.import_shows(read_show_file(Path(path))))

    # -- the built-in tracker's movies -----------------------------------------------
    async def list_movies(self, search: str | None = None, limit: int | None = None) -> list[MovieRow]:
        return await self._db(self.runtime._store().list_movies, search, limit)

    async def movie_page(self, search: str | None, offset: int, limit: int) -> Page[MovieRow]:
        """``limit`` movies from ``offset`` (by title and year), and how many there are."""
        store = self.runtime._store()
        return await self._db(lambda: Page(store.list_movies(search, limit, offset), store.count_movies(search)))

    async def add_movie(self, **values: Any) -> MovieRow:
        return await self._db(self.runtime._store().add_movie, **values)

    async def update_movie(self, movie_id: int, **values: Any) -> MovieRow:
        return await self._db(self.runtime._store().update_movie, movie_id, **values)

    async def delete_movie(self, movie_id: int) -> None:
        await self._db(self.runtime._store().delete_movie, movie_id)

    async def import_movies(self, path: Path | str) -> Any:
        """Add the movies of a JSON or CSV file (as shows'); returns how many were added and skipped."""
        store = self.runtime._store()
        return await self._db(lambda: store.import_movies(read_show_file(Path(path))))

    async def search_movies(self, query: str, limit: int = 20) -> list[Candidate]:
        """Ranked tracker movies for a title (candidates for a movie's conflict)."""
        return await self._db(self.runtime._store().search_movies, query, limit)

    # -- conflicts -----------------------------------------------------------------
    def _conflicts(self) -> Conflicts:
        if self.runtime._conflicts is None:
            raise NotRunning("Conflicts")
        return self.runtime._conflicts

    async def conflicts(self, status: str | None = "open") -> list[ConflictRow]:
        """Conflicts of the tracker that counts (see :mod:`app.core.conflicts`)."""
        return await self._conflicts().conflicts(status)

    async def waiting_events(self, conflict_id: int) -> list[ScrobbleRow]:
        """The scrobbles a conflict holds."""
        return await self._conflicts().waiting_events(conflict_id)

    async def search_shows(self, query: str, limit: int = 20) -> list[Candidate]:
        """Ranked tracker shows for a title (the conflicts dialog's search)."""
        return await self._conflicts().search_shows(query, limit)

    async def candidate_details(self, show_ids: list[int]) -> dict[int, ShowRow]:
        """What tells conflict candidates apart: their ids and episode counts."""
        return await self._conflicts().details(show_ids)

    async def resolve_conflict(self, conflict_id: int, **answer: Any) -> list[Outcome]:
        """Answer a conflict and apply its waiting scrobbles."""
        outcomes = await self._conflicts().resolve(conflict_id, **answer)
        await self.runtime._publish(outcomes)
        await self.runtime.refresh_conflicts()
        return list(outcomes)

    # -- diagnostics ---------------------------------------------------------------
    async def tunnel_checks(self) -> list[Check]:
        return await diagnostics.tunnel_checks(self.status, self.public_webhook_url)

    async def diagnostics(self) -> list[Check]:
        """Every connection check, in the order a person would look."""
        rt = self.runtime
        counts: Counts | None = None
        if rt.store is not None:
            try:
                counts = await self.counts()
            except Exception as exc:  # the detail is what the user needs, not a traceback
                return [diagnostics.database_check(None, exc)]
        checks = [diagnostics.database_check(counts, None, self.status)]
        if counts is not None and rt._worker is not None:  # (serving: the one that keeps it small)
            checks.append(await rt.space_check())
        checks += await diagnostics.server_checks(self.status, self.local_webhook_url)
        checks += await self.tunnel_checks()
        checks.append(diagnostics.last_webhook_check(self.webhook_stats(), counts))
        if counts is not None:
            checks.append(diagnostics.conflicts_check(counts))
        if rt._destinations is not None:
            checks += await rt._destinations.checks()
        if rt.plex.connected:  # Plex's own list says better whether the URL is there
            await rt.plex.refresh(self.public_webhook_url)
            checks = [c for c in checks if c.name != "Webhook URL in Plex"]
        checks += rt.plex.checks(self.public_webhook_url)
        checks += [live.check() for live in rt._live.following]
        return checks

    def report(self, checks: list[Check]) -> str:
        """A Markdown report of ``checks``, with every secret redacted."""
        return diagnostics.report(checks, self.best_webhook_url())

    # -- Plex ----------------------------------------------------------------------
    async def plex_begin_sign_in(self, browser: bool = True) -> SignIn:
        """Start Plex's sign-in (a PIN; the browser opens on Plex's page when asked)."""
        return await self.runtime.plex.begin_sign_in(browser)

    async def plex_signed_in(self, token: str) -> str:
        """Keep a sign-in's token, read the account, and register the webhook URL when the
        user lets it happen by itself. Returns where the token was kept."""
        return await self.runtime.plex_signed_in(token)

    async def plex_sign_out(self) -> None:
        await self.runtime.plex.sign_out()

    async def plex_users(self) -> list[PlexUser]:
        """The accounts of the user's servers (for Settings > Accepted accounts)."""
        return await self.runtime.plex.users()

    async def plex_register(self) -> str:
        """Put the current public webhook URL in the Plex account's webhooks."""
        url = self.public_webhook_url
        if url is None:
            raise PlexError("There is no public webhook URL to register: the tunnel is not online",
                            "Turn the tunnel on (Settings > Tunnel); a Plex server elsewhere cannot "
                            "reach this computer without it.")
        note = await self.runtime.plex.register(url, self.secret)
        self.runtime._set_status(url_changed=False)
        return note

    async def _catch_up_since(self, since: str | None = None) -> tuple[CatchUpResult, dict[str, int]]:
        return await self.catch_up(datetime.fromisoformat(since) if since else None)

    async def catch_up(self, since: datetime | None = None,
                       progress: Callable[[int], None] = lambda n: None) -> tuple[CatchUpResult, dict[str, int]]:
        """Import the servers' plays since ``since`` and wait until each is processed:
        the result and what became of the plays added (action -> count)."""
        rt = self.runtime
        if not rt.plex.connected:
            raise PlexError("Not signed in to Plex", "Sign in first: Settings > Plex, or 'scrobbletray plex login'.")
        await rt.catch_up.wait_idle()  # one under way (at start, say) goes first
        result = await rt.catch_up.run(since, progress)
        ids = rt.catch_up.last_ids
        store = rt._store()
        while ids and (await rt.run(store.actions_of, ids)).get("pending"):
            await asyncio.sleep(0.2)
        return result, (await rt.run(store.actions_of, ids) if ids else {})
