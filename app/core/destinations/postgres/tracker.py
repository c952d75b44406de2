"""The PostgreSQL tracker as a destination: each delivery is one transaction in the
tracker's own database (the show's row locked while its ``seasons`` change), idempotent
per inbox event (its id is kept in the log row of that same transaction)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, NoSuchModuleError, OperationalError, SQLAlchemyError

from app.core.destinations.base import Attempt, Delivery, Live, OutboxDestination, Settled, Verdict
from app.core.destinations.postgres.movies import mark_movie
from app.core.destinations.postgres.privileges import grants, missing_privileges
from app.core.destinations.postgres.schema import IGNORED, Schema, insert, read_schema
from app.core.destinations.postgres.seasons import SeasonsNotUnderstood, mark_in_seasons, watched_count
from app.core.destinations.postgres.shows import TrackerShows
from app.core.destinations.postgres.target import PostgresTarget, label_for
from app.core.logs import add_secret
from app.core.payload import MAX_EPISODE, MAX_SEASON, PayloadError, PlexEvent, parse_payload
from app.core.tmdb import Tmdb
from app.core.types import SELF_TEST_EVENT, Check, CheckStatus, ShowFacts

if TYPE_CHECKING:
    from app.core.config import Settings
    from app.core.pipeline import PlexKnows

EVENT_KEY = "scrobbletray_event"  # in the logged payload: which inbox event this was
WORKERS = 2  # threads of a tracker's own pool: a delivery, and the dialog's or a check's call beside it
CLOSE_WAIT = 5.0  # seconds close() gives the pool to let the connections go
log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class _Outcome:
    status: str  # success, ignored, error (the reference's log statuses)
    action: str  # episode_marked, conflict_created, event_not_scrobble, ...
    detail: str
    verdict: Verdict = Verdict.DELIVERED  # REFUSED: logged in the tracker, not a delivery
    fix: str | None = None


class _NotNow(Exception):
    """This event cannot be delivered now, nothing was written (the transaction is rolled back)."""


class PostgresTracker(OutboxDestination):
    """Marks episodes in a PostgreSQL tracker database; idempotent per inbox event."""

    kind: ClassVar[str] = "postgres"
    idempotent: ClassVar[bool] = True

    def __init__(self, target: PostgresTarget, password: str | None,
                 settings: Settings | Callable[[], Settings], install_id: str = "scrobbletray",
                 timeout: float = 10.0, tmdb: Tmdb | None = None) -> None:
        url = make_url(target.url)
        super().__init__(target.id, target.label or label_for(target))
        self.target = target
        # Read at each delivery: a running core lends its current settings (see attach).
        self._settings: Callable[[], Settings] = settings if callable(settings) else (lambda: settings)
        self.install_id = install_id
        self.tmdb = tmdb  # turns a TheTVDB or IMDb id into the tmdb_id the tracker keys on
        # The show's ids from the Plex server, for a new-agent (plex://) payload: set by the core.
        self.server_show: Callable[[PlexEvent], Awaitable[ShowFacts | None]] | None = None
        self.plex: Callable[[], PlexKnows] | None = None  # the accounts' names and ids, likewise
        self._url = url.set(password=password) if password else url
        add_secret(password)
        self._timeout = timeout
        self._engine: Engine | None = None
        self.schema: Schema | None = None
        self.shows: TrackerShows | None = None  # the tracker's shows, compactly, for matching
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()  # one thread connects and reads the shape
        self.odd_conflicts: set[tuple[Any, str]] = set()  # plex_conflicts rows skipped (logged once each)

    @property
    def settings(self) -> Settings:
        """The settings events are judged by (stop threshold, accepted accounts): the current ones."""
        return self._settings()

    def attach(self, live: Live) -> None:
        self._settings = live.settings
        self.server_show = live.server_show
        self.plex = live.plex

    @property
    def shown_url(self) -> str:  # type: ignore[override]
        return self._url.render_as_string(hide_password=True)

    @property
    def enabled(self) -> bool:  # type: ignore[override]
        return self.target.enabled

    def wants(self, event: Settled) -> bool:
        return self.enabled and event.event != SELF_TEST_EVENT

    # -- its own threads ------------------------------------------------------------------
    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a blocking call on this tracker's own threads (never the default pool, which
        Plex calls can fill): deliveries, checks and the conflicts dialog's calls."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(WORKERS, thread_name_prefix=f"scrobbletray-{self.id}")
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(fn, *args, **kwargs))

    # -- connection and shape -----------------------------------------------------------
    def _connect(self) -> Engine:
        with self._lock:
            if self._engine is None:
                try:
                    # statement_timeout: a call stuck on a lock ends (and is retried) instead of
                    # holding one of the tracker's threads for ever.
                    self._engine = create_engine(self._url, pool_pre_ping=True, pool_size=WORKERS, connect_args={
                        "connect_timeout": int(self._timeout),
                        "options": f"-c statement_timeout={int(self._timeout * 3000)}"})
                except (NoSuchModuleError, ImportError) as exc:
                    raise _Misconfigured("the PostgreSQL driver is not installed: "
                                         "pip install 'scrobbletray[postgres]'") from exc
            if self.schema is None:
                schema = read_schema(self._engine, self.target.spelling or None)
                if not schema.usable:
                    raise _Misconfigured("not a tracker database: " + "; ".join(schema.missing[:3]))
                self.schema = schema
                self.shows = TrackerShows(schema.has("tvshows", "tmdb_id"))
            return self._engine

    async def close(self) -> None:
        """Let the connections go and end the threads, waiting at most CLOSE_WAIT seconds
        (a call still stuck in the database is left to its statement timeout)."""
        engine, self._engine = self._engine, None
        executor, self._executor = self._executor, None
        if executor is None:
            if engine is not None:
                engine.dispose()
            return
        if engine is not None:
            try:
                await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(executor, engine.dispose),
                                       CLOSE_WAIT)
            except (TimeoutError, RuntimeError):
                log.warning("%s: its connections did not close within %.0f s", self.label, CLOSE_WAIT)
        executor.shutdown(wait=False, cancel_futures=True)

    def _rights(self) -> tuple[Schema, str, list[str], list[str]]:
        engine = self._connect()
        assert self.schema is not None
        with engine.connect() as conn:
            return self.schema, *missing_privileges(conn, self.schema)

    async def checks(self) -> list[Check]:
        try:
            schema, role, lacking, lacking_optional = await self.run(self._rights)
        except _Misconfigured as exc:
            return [Check(self.label, CheckStatus.FAIL, f"{self.shown_url}: {exc}",
                          "Point the URL at the tracker's database (the one the web app uses).")]
        except SQLAlchemyError as exc:
            if "permission denied" in str(exc):  # the role may not even read the tables
                return [Check(self.label, CheckStatus.FAIL, f"{self.shown_url}: {_db_error(exc)}",
                              "As the database's owner, give the role in the URL the rights it needs: "
                              "SELECT, UPDATE on tvshows; SELECT, INSERT on plex_webhook_logs and "
                              "plex_show_mappings; SELECT, INSERT, UPDATE on plex_conflicts; "
                              "SELECT, UPDATE on plex_config.")]
            return [Check(self.label, CheckStatus.FAIL, f"{self.shown_url}: {_db_error(exc)}",
                          "Start PostgreSQL, or check the host, port, user and password.")]
        s = schema.spelling
        found = f"schema found: {', '.join(sorted(schema.columns))}; seasons keys {s.season}/{s.episode}"
        if lacking:
            return [Check(self.label, CheckStatus.FAIL,
                          f"{found}. The role {role} lacks the privilege of {', '.join(lacking)}: "
                          "episodes cannot be marked",
                          f"As the database's owner, run: {grants(role, lacking + lacking_optional)}")]
        if lacking_optional:
            schema = Schema(schema.columns, schema.spelling, (*schema.missing, *(
                f"the role {role} lacks the privilege of {r}: shows are not added" for r in lacking_optional)))
        if schema.missing:
            return [Check(self.label, CheckStatus.WARN, f"{found}. Missing: " + "; ".join(schema.missing),
                          "Nothing to do unless you want those parts: Scrobble Tray never changes "
                          "the tracker's tables." + (f" To let it add shows: {grants(role, lacking_optional)}"
                                                     if lacking_optional else ""))]
        return [Check(self.label, CheckStatus.PASS, found)]

    # -- delivery -----------------------------------------------------------------------
    async def _translated_ids(self, delivery: Delivery) -> dict[str, str]:
        """Show ids the payload does not carry, strongest first: the Plex server's for a
        new-agent show, else those of the show the built-in tracker matched it to (as Trakt
        and Simkl are given them), then a TMDB id for a TheTVDB or IMDb id (TMDB's /find)."""
        try:
            ev = parse_payload(delivery.payload)
        except PayloadError:
            return {}
        if not ev.is_episode:
            return {}
        ids: dict[str, str] = {}
        if not ev.show_ids and self.server_show is not None:
            facts = await self.server_show(ev)
            ids = dict(facts.ids) if facts else {}
        if not (ev.show_ids or ids):
            ids = dict(delivery.tracker_ids)
        known = ev.show_ids | ids
        if self.tmdb is None or "tmdb" in known or not (known or ev.episode_ids):
            return ids
        found = await self.tmdb.show_id(known, ev.episode_ids)
        return ids | ({"tmdb": str(found)} if found is not None else {})

    async def send(self, delivery: Delivery) -> Attempt:
        try:
            extra = await self._translated_ids(delivery)
            outcome = await self.run(self._deliver, delivery, extra)
        except _NotNow as exc:
            return Attempt(Verdict.RETRY, str(exc), fix="Nothing to do: it is sent again.")
        except _Misconfigured as exc:
            return Attempt(Verdict.REFUSED, str(exc), fix="Check the PostgreSQL tracker's URL in Settings.")
        except OperationalError as exc:
            self.schema = None  # read the shape again once it is back
            return Attempt(Verdict.RETRY, _db_error(exc),
                           fix="Start PostgreSQL (or check the network); events wait and are sent again.")
        except DBAPIError as exc:
            return Attempt(Verdict.REFUSED, _db_error(exc),
                           fix="The tracker's database refused the change: see Diagnostics.")
        except SQLAlchemyError as exc:
            return Attempt(Verdict.RETRY, _db_error(exc), fix="Events wait and are sent again.")
        except Exception as exc:  # a bug of ours: this event fails, the next ones go on
            log.exception("%s: event %s could not be delivered", self.label, delivery.event_id)
            return Attempt(Verdict.REFUSED, f"Scrobble Tray failed on this event ({type(exc).__name__}: {exc})",
                           fix="Please report it (Diagnostics has the details); the event can be sent again.")
        return Attempt(outcome.verdict, f"{outcome.status}: {outcome.action} ({outcome.detail})",
                       outcome=outcome.action, fix=outcome.fix, event_only=True)  # (one show's row)

    def _deliver(self, delivery: Delivery, extra_ids: dict[str, str] | None = None) -> _Outcome:
        engine = self._connect()
        schema = self.schema
        assert schema is not None
        key = f"{self.install_id}:{delivery.event_id}"
        with engine.begin() as conn:
            if schema.has("plex_webhook_logs", "payload"):
                done = conn.execute(text(
                    f"SELECT status, action_taken FROM plex_webhook_logs WHERE payload->>'{EVENT_KEY}' = :k "
                    "AND status IN ('success', 'ignored') ORDER BY id DESC LIMIT 1"), {"k": key}).first()
                if done is not None and done[1] != "conflict_created":  # (a resolved conflict: try again)
                    return _Outcome(done[0], done[1], "already recorded: not marked twice")
            ev: PlexEvent | None = None
            try:
                parsed = parse_payload(delivery.payload)
            except PayloadError as exc:
                outcome = _Outcome("error", "invalid_payload", str(exc))
            else:
                ev = parsed
                played = (delivery.received_at or datetime.now(UTC)).replace(tzinfo=UTC)
                outcome = self._apply(conn, schema, parsed, played.isoformat(timespec="milliseconds")
                                      .replace("+00:00", "Z"), extra_ids or {}, delivery.server_progress)
            self._log(conn, schema, ev, outcome, delivery, key)
            if schema.has("plex_config", "last_webhook_received"):
                conn.execute(text("UPDATE plex_config SET last_webhook_received = now()"))
        return outcome

    def _apply(self, conn: Any, schema: Schema, ev: PlexEvent, when: str, extra_ids: dict[str, str],
               server_progress: float | None = None) -> _Outcome:
        from app.core.pipeline import PlexKnows, filter_reason  # (the pipeline imports destinations)

        if ev.event not in ("media.scrobble", "media.stop") or not (ev.is_episode or ev.is_movie):
            return _Outcome("ignored", "event_not_scrobble", f"{ev.event} of a {ev.media_type or 'item'}")
        if reason := filter_reason(ev, self.settings, server_progress, self.plex() if self.plex else PlexKnows()):
            return _Outcome("ignored", "filtered", reason)
        if ev.is_movie:
            return _Outcome(*mark_movie(conn, schema, ev, when))
        if ev.season is None or ev.episode is None:
            return _Outcome("error", "no_episode_number", "the payload has no season or episode number")
        if not (0 <= ev.season <= MAX_SEASON and 0 <= ev.episode <= MAX_EPISODE):
            return _Outcome("error", "implausible_episode_number", f"season {ev.season}, episode {ev.episode}")
        show_id, method, _, candidates = self._resolve(conn, schema, ev, extra_ids)
        if method == IGNORED:
            return _Outcome("ignored", "show_ignored", f"“{ev.show_title}” is ignored (your choice)")
        if show_id is None:
            return self._conflict(conn, schema, ev, method, candidates)
        return self._mark(conn, schema, show_id, ev, method, when)

    # -- which show -----------------------------------------------------------------------
    def _resolve(self, conn: Any, schema: Schema, ev: PlexEvent,
                 extra_ids: dict[str, str]) -> tuple[int | None, str, float, list[Any]]:
        """(tvshow id, how, confidence, candidates); without an id, how says why (no_match,
        multiple_matches). A remembered mapping, then ids and titles over ``tvshows``."""
        keys = [(c, v) for c, v in (("plex_guid", ev.grandparent_guid), ("plex_rating_key", ev.grandparent_rating_key))
                if v and schema.has("plex_show_mappings", c)]
        if keys and schema.has("plex_show_mappings", "tvshow_id"):
            where = " OR ".join(f"{c} = :{c}" for c, _ in keys)
            method = "match_method" if schema.has("plex_show_mappings", "match_method") else "NULL"
            # (a mapping to a show deleted since counts for nothing: without a foreign key it stays)
            row = conn.execute(text(f"SELECT tvshow_id, {method} FROM plex_show_mappings m WHERE ({where}) AND "
                                    "(tvshow_id IS NULL OR EXISTS (SELECT 1 FROM tvshows t WHERE t.id = m.tvshow_id)) "
                                    "ORDER BY id DESC LIMIT 1"), dict(keys)).first()
            if row is not None and row[0] is not None:
                return int(row[0]), "mapping", 1.0, []
            if row is not None and row[1] == IGNORED:
                return None, IGNORED, 0.0, []
        result = self._shows().resolve(conn, ev.show_title, ev.year, ev.show_ids | extra_ids)
        if result.show_id is not None:
            self._remember(conn, schema, ev, result.show_id, result.method or "title", result.confidence)
            return result.show_id, result.method or "title", result.confidence, []
        tmdb_id = (ev.show_ids | extra_ids).get("tmdb")
        if self._auto_add(conn, schema) and tmdb_id and ev.show_title:
            cols = "title, tmdb_id, seasons" if schema.has("tvshows", "tmdb_id") else "title, seasons"
            vals = ":t, :m, '[]'::jsonb" if schema.has("tvshows", "tmdb_id") else ":t, '[]'::jsonb"
            new_id = int(conn.execute(text(f"INSERT INTO tvshows ({cols}) VALUES ({vals}) RETURNING id"),
                                      {"t": ev.show_title, "m": int(tmdb_id)}).scalar_one())
            self._remember(conn, schema, ev, new_id, "created", 1.0)
            return new_id, "created", 1.0, []
        kind = "multiple_matches" if result.conflict == "ambiguous" else "no_match"
        return None, kind, 0.0, list(result.candidates)

    def _shows(self) -> TrackerShows:
        if self.shows is None:
            self.shows = TrackerShows(bool(self.schema and self.schema.has("tvshows", "tmdb_id")))
        return self.shows

    def _auto_add(self, conn: Any, schema: Schema) -> bool:
        if not schema.has("plex_config", "auto_add_shows"):
            return False
        return bool(conn.execute(text("SELECT bool_or(auto_add_shows) FROM plex_config")).scalar())

    def _remember(self, conn: Any, schema: Schema, ev: PlexEvent, show_id: int, method: str, conf: float) -> None:
        if not schema.has("plex_show_mappings", "tvshow_id"):
            return
        values = {"plex_rating_key": ev.grandparent_rating_key, "plex_guid": ev.grandparent_guid,
                  "plex_title": ev.show_title, "tvshow_id": show_id, "match_method": method,
                  "match_confidence": conf}
        insert(conn, schema, "plex_show_mappings", values)

    def _conflict(self, conn: Any, schema: Schema, ev: PlexEvent, kind: str, found: list[Any]) -> _Outcome:
        if not schema.has("plex_conflicts"):
            return _Outcome("error", "no_match", f"no tracker show matches “{ev.show_title}”")
        candidates = [c.to_dict() for c in found]
        where = "plex_rating_key = :k" if schema.has("plex_conflicts", "plex_rating_key") else "plex_title = :t"
        resolved = " AND resolved IS NOT TRUE" if schema.has("plex_conflicts", "resolved") else ""
        open_ = conn.execute(text(f"SELECT id FROM plex_conflicts WHERE {where}{resolved} LIMIT 1"),
                             {"k": ev.grandparent_rating_key, "t": ev.show_title}).first()
        if open_ is None:
            insert(conn, schema, "plex_conflicts", {
                "plex_rating_key": ev.grandparent_rating_key, "plex_title": ev.show_title,
                "conflict_type": kind, "potential_matches": json.dumps(candidates)})
        return _Outcome("success", "conflict_created", f"{kind}: “{ev.show_title}” waits for a decision")

    # -- marking ----------------------------------------------------------------------------
    def _mark(self, conn: Any, schema: Schema, show_id: int, ev: PlexEvent, method: str, when: str) -> _Outcome:
        row = conn.execute(text("SELECT title, seasons FROM tvshows WHERE id = :i FOR UPDATE"),
                           {"i": show_id}).first()
        if row is None:  # deleted since it was matched: nothing is written, and the retry matches again
            raise _NotNow(f"tvshow #{show_id} (matched to “{ev.show_title}”) no longer exists in the tracker: "
                          "not marked; it is matched again")
        title, seasons = row
        seasons = [] if seasons is None else seasons  # no seasons yet: nothing there to lose
        spelling = schema.spelling
        try:
            added, already = mark_in_seasons(seasons, spelling, ev.season or 0, ev.episode or 0,
                                             ev.episode_title, when)
        except SeasonsNotUnderstood as exc:  # never write what is not understood
            return _Outcome("error", "seasons_not_understood",
                            f"tvshow #{show_id} “{title}”: {exc}; S{ev.season:02d}E{ev.episode:02d} not marked "
                            "and the row left as it was", Verdict.REFUSED,
                            "Fix that show's seasons in the tracker (a list of seasons, each with a list of "
                            "episodes), then send the event again.")
        sets, params = ["seasons = CAST(:s AS jsonb)"], {"s": json.dumps(seasons), "i": show_id}
        if schema.has("tvshows", "watched_episodes"):
            sets.append("watched_episodes = :n")
            params["n"] = watched_count(seasons, spelling)
        if schema.has("tvshows", "updated_at"):
            sets.append("updated_at = now()")
        if conn.execute(text(f"UPDATE tvshows SET {', '.join(sets)} WHERE id = :i"), params).rowcount != 1:
            raise _NotNow(f"tvshow #{show_id} “{title}” could not be updated (no row changed): not marked")
        what = "already watched" if already else ("added to the tracker and marked" if added else "marked")
        return _Outcome("success", "episode_marked",
                        f"S{ev.season:02d}E{ev.episode:02d} {what} in tvshow #{show_id} ({method})")

    def _log(self, conn: Any, schema: Schema, ev: PlexEvent | None, outcome: _Outcome, delivery: Delivery,
             key: str) -> None:
        if not schema.has("plex_webhook_logs"):
            return
        payload = None
        if schema.has("plex_webhook_logs", "payload"):
            try:
                data = json.loads(delivery.payload)
            except ValueError:
                data = {"raw": delivery.payload[:10_000]}
            payload = json.dumps((data if isinstance(data, dict) else {"raw": data}) | {EVENT_KEY: key})
        title = (ev.episode_title if ev.is_movie else ev.show_title) if ev else None  # (a movie: its own)
        insert(conn, schema, "plex_webhook_logs", {
            "event_type": ev.event if ev else None, "plex_title": title,
            "plex_season": ev.season if ev else None, "plex_episode": ev.episode if ev else None,
            "status": outcome.status, "action_taken": outcome.action,
            "error_message": outcome.detail if outcome.status == "error" else None, "payload": payload})



def _db_error(exc: SQLAlchemyError) -> str:
    """The database's own first line, without SQLAlchemy's statement dump."""
    orig = getattr(exc, "orig", None)
    line = str(orig or exc).strip().splitlines()[0] if str(orig or exc).strip() else type(exc).__name__
    return f"PostgreSQL: {line[:300]}"


class _Misconfigured(Exception):
    """The target is not a usable tracker database (not worth retrying as is)."""
