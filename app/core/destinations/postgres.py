"""A PostgreSQL tracker: marks episodes straight in a web tracker's own database.

The reference schema is in ``shared/TRACKERS.md`` §2: shows in ``tvshows`` with their
episodes in a ``seasons`` JSON column, and ``plex_config``, ``plex_show_mappings``,
``plex_webhook_logs``, ``plex_conflicts`` beside it. The database is someone else's:
its shape is read by reflection and never changed (no DDL, ever); what is missing is
reported, and the parts that need it are skipped.

Each delivery is one PostgreSQL transaction: the show's row is locked (``FOR UPDATE``)
while its ``seasons`` value is read, changed and written back, so a web app writing the
same row waits rather than losing a mark; the event's id goes into the log row of that
same transaction, so a retry after a lost connection never marks or logs twice.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Awaitable, Callable, ClassVar
from urllib.parse import unquote, urlsplit

from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, NoSuchModuleError, OperationalError, SQLAlchemyError

from app.core.errors import SettingsInvalid
from app.core.destinations.base import (Attempt, Context, Delivery, Kind, Live, OutboxDestination, Settled,
                                        Target, Verdict)
from app.core.logs import add_secret
from app.core.matching import ShowIndex, ShowRef
from app.core.payload import MAX_EPISODE, MAX_SEASON, PayloadError, PlexEvent, parse_payload
from app.core.tmdb import TMDB_KEY, Tmdb
from app.core.types import SELF_TEST_EVENT, Candidate, Check, CheckStatus, ConflictRow, ShowFacts

if TYPE_CHECKING:
    from app.core.config import Settings
    from app.core.pipeline import PlexKnows

TABLES = ("tvshows", "plex_config", "plex_show_mappings", "plex_webhook_logs", "plex_conflicts")
NEEDED = {"tvshows": ("id", "title", "seasons")}
OPTIONAL = {"tvshows": ("tmdb_id", "watched_episodes", "updated_at"),
            "plex_webhook_logs": ("event_type", "plex_title", "plex_season", "plex_episode", "status",
                                  "action_taken", "error_message", "payload"),
            "plex_show_mappings": ("plex_rating_key", "plex_guid", "plex_title", "tvshow_id",
                                   "match_method", "match_confidence"),
            "plex_conflicts": ("plex_rating_key", "plex_title", "conflict_type", "potential_matches",
                               "resolved"),
            "plex_config": ("auto_add_shows", "last_webhook_received")}
EFFECT = {("plex_webhook_logs", "payload"): "events are logged without it, and the event id that "
                                            "makes a retry harmless cannot be kept (a mark is still never doubled)",
          ("tvshows", "watched_episodes"): "no counter is kept beside the JSON",
          ("tvshows", "updated_at"): "the row's change time is not set",
          ("tvshows", "tmdb_id"): "shows are matched by title only"}
EVENT_KEY = "scrobbletray_event"  # in the logged payload: which inbox event this was
IGNORED = "ignored"  # plex_show_mappings.match_method of a Plex show the user chose to ignore
_CONFLICT_KIND = {"no_match": "no_match", "multiple_matches": "ambiguous"}


@dataclass
class PostgresTarget(Target):
    """A tracker's own PostgreSQL database that Scrobble Tray marks episodes in.

    ``url`` carries no password: that is kept with the other secrets (see
    :func:`app.core.credentials.get_secret`, key :attr:`secret_key`).
    """

    id: str
    url: str  # postgresql+psycopg://user@host:5432/dbname
    enabled: bool = True
    label: str = ""
    spelling: dict[str, str] = field(default_factory=dict)  # key spellings in seasons, if not detected

    @property
    def secret_key(self) -> str:
        return f"postgres-password-{self.id}"


def postgres_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a PostgreSQL tracker's URL, or None."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("postgres", "postgresql", "postgresql+psycopg") or not parts.hostname \
            or not parts.path.strip("/"):
        return "the tracker must be a PostgreSQL URL like postgresql://user:password@localhost:5432/tracker"
    return None


@dataclass(frozen=True)
class Spelling:
    """The keys used inside ``seasons``."""

    season: str = "season_number"
    episodes: str = "episodes"
    episode: str = "episode_number"
    name: str = "name"
    watched: str = "watched"
    date_watched: str = "dateWatched"


_SEASON_KEYS = ("season_number", "seasonNumber", "season", "number")
_EPISODE_KEYS = ("episode_number", "episodeNumber", "episode", "number")
_DATE_KEYS = ("dateWatched", "date_watched", "watchedAt", "watched_at")


def detect_spelling(seasons_values: list[Any], override: dict[str, str] | None = None) -> Spelling:
    """The key spellings the tracker's existing rows use (the reference's when there are none)."""
    found: dict[str, str] = {}
    for seasons in seasons_values:
        for season in seasons if isinstance(seasons, list) else []:
            if not isinstance(season, dict):
                continue
            found.setdefault("season", next((k for k in _SEASON_KEYS if k in season), ""))
            for ep in season.get("episodes") or []:
                if isinstance(ep, dict):
                    found.setdefault("episode", next((k for k in _EPISODE_KEYS if k in ep), ""))
                    found.setdefault("date_watched", next((k for k in _DATE_KEYS if k in ep), ""))
    values = {k: v for k, v in found.items() if v} | (override or {})
    return Spelling(**values)


@dataclass(frozen=True)
class Schema:
    """What reflection found in the tracker's database."""

    columns: dict[str, frozenset[str]]
    spelling: Spelling
    missing: tuple[str, ...] = ()  # sentences for the user

    def has(self, table: str, column: str | None = None) -> bool:
        cols = self.columns.get(table)
        return cols is not None and (column is None or column in cols)

    @property
    def usable(self) -> bool:
        return all(self.has(t, c) for t, cs in NEEDED.items() for c in cs)


def read_schema(engine: Engine, override: dict[str, str] | None = None) -> Schema:
    """Reflect the tables and columns, and detect the key spellings from existing rows."""
    insp = inspect(engine)
    names = set(insp.get_table_names())
    columns = {t: frozenset(c["name"] for c in insp.get_columns(t)) for t in TABLES if t in names}
    missing = [f"there is no table {t}: " + ("shows cannot be found" if t == "tvshows" else
                                             f"{t.removeprefix('plex_').replace('_', ' ')} are skipped")
               for t in TABLES if t not in columns]
    for table, cols in (NEEDED | OPTIONAL).items():
        if table in columns:
            missing += [f"table {table} has no column {c}: " + EFFECT.get((table, c), "it is left out")
                        for c in cols if c not in columns[table]]
    seasons: list[Any] = []
    if {"seasons"} <= columns.get("tvshows", frozenset()):
        with engine.connect() as conn:
            seasons = [v for (v,) in conn.execute(text(
                "SELECT seasons FROM tvshows WHERE seasons IS NOT NULL AND seasons::text <> '[]' LIMIT 50"))]
    return Schema(columns, detect_spelling(seasons, override), tuple(missing))


@dataclass(frozen=True)
class _Outcome:
    status: str  # success, ignored, error (the reference's log statuses)
    action: str  # episode_marked, conflict_created, event_not_scrobble, ...
    detail: str


class PostgresTracker(OutboxDestination):
    """Marks episodes in a PostgreSQL tracker database; idempotent per inbox event."""

    kind: ClassVar[str] = "postgres"
    idempotent: ClassVar[bool] = True

    def __init__(self, target: PostgresTarget, password: str | None,
                 settings: Settings | Callable[[], Settings], install_id: str = "scrobbletray",
                 timeout: float = 10.0, tmdb: Tmdb | None = None) -> None:
        url = make_url(target.url)
        super().__init__(target.id, target.label or POSTGRES.default_label(target))
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
        self._index: ShowIndex | None = None
        self._stamp: tuple[int, int] | None = None

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

    # -- connection and shape -----------------------------------------------------------
    def _connect(self) -> Engine:
        if self._engine is None:
            try:
                self._engine = create_engine(self._url, pool_pre_ping=True, pool_size=2,
                                             connect_args={"connect_timeout": int(self._timeout)})
            except (NoSuchModuleError, ImportError) as exc:
                raise _Misconfigured("the PostgreSQL driver is not installed: "
                                     "pip install 'scrobbletray[postgres]'") from exc
        if self.schema is None:
            self.schema = read_schema(self._engine, self.target.spelling or None)
            if not self.schema.usable:
                schema, self.schema = self.schema, None
                raise _Misconfigured("not a tracker database: " + "; ".join(schema.missing[:3]))
        return self._engine

    async def close(self) -> None:
        if self._engine is not None:
            await asyncio.to_thread(self._engine.dispose)
            self._engine = None

    async def checks(self) -> list[Check]:
        try:
            schema = await asyncio.to_thread(lambda: (self._connect(), self.schema)[1])
        except _Misconfigured as exc:
            return [Check(self.label, CheckStatus.FAIL, f"{self.shown_url}: {exc}",
                          "Point the URL at the tracker's database (the one the web app uses).")]
        except SQLAlchemyError as exc:
            return [Check(self.label, CheckStatus.FAIL, f"{self.shown_url}: {_db_error(exc)}",
                          "Start PostgreSQL, or check the host, port, user and password.")]
        assert schema is not None
        s = schema.spelling
        found = f"schema found: {', '.join(sorted(schema.columns))}; seasons keys {s.season}/{s.episode}"
        if schema.missing:
            return [Check(self.label, CheckStatus.WARN, f"{found}. Missing: " + "; ".join(schema.missing),
                          "Nothing to do unless you want those parts: Scrobble Tray never changes "
                          "the tracker's tables.")]
        return [Check(self.label, CheckStatus.PASS, found)]

    # -- delivery -----------------------------------------------------------------------
    async def _translated_ids(self, delivery: Delivery) -> dict[str, str]:
        """Show ids the payload does not carry, strongest first: the Plex server's for a
        new-agent show, then a TMDB id for a TheTVDB or IMDb id (TMDB's /find)."""
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
        known = ev.show_ids | ids
        if self.tmdb is None or "tmdb" in known or not (known or ev.episode_ids):
            return ids
        found = await self.tmdb.show_id(known, ev.episode_ids)
        return ids | ({"tmdb": str(found)} if found is not None else {})

    async def send(self, delivery: Delivery) -> Attempt:
        try:
            extra = await self._translated_ids(delivery)
            outcome = await asyncio.to_thread(self._deliver, delivery, extra)
        except _Misconfigured as exc:
            return Attempt(Verdict.REFUSED, str(exc), fix="Check the PostgreSQL tracker's URL in Settings.")
        except OperationalError as exc:
            self.schema = None  # read the shape again once it is back
            return Attempt(Verdict.RETRY, _db_error(exc),
                           fix="Start PostgreSQL (or check the network); events wait and are sent again.")
        except DBAPIError as exc:
            return Attempt(Verdict.REFUSED, _db_error(exc),
                           fix="The tracker's database refused the change: see Diagnostics.")
        return Attempt(Verdict.DELIVERED, f"{outcome.status}: {outcome.action} ({outcome.detail})",
                       outcome=outcome.action)

    def _deliver(self, delivery: Delivery, extra_ids: dict[str, str] | None = None) -> _Outcome:
        engine = self._connect()
        schema = self.schema
        assert schema is not None
        key = f"{self.install_id}:{delivery.event_id}"
        with engine.begin() as conn:
            if schema.has("plex_webhook_logs", "payload"):
                done = conn.execute(text(
                    f"SELECT status, action_taken FROM plex_webhook_logs WHERE payload->>'{EVENT_KEY}' = :k "
                    "ORDER BY id DESC LIMIT 1"), {"k": key}).first()
                if done is not None and done[1] != "conflict_created":  # (a resolved conflict: try again)
                    return _Outcome(done[0], done[1], "already recorded: not marked twice")
            try:
                ev = parse_payload(delivery.payload)
            except PayloadError as exc:
                outcome, ev = _Outcome("error", "invalid_payload", str(exc)), None
            else:
                played = (delivery.received_at or datetime.now(timezone.utc)).replace(tzinfo=timezone.utc)
                outcome = self._apply(conn, schema, ev, played.isoformat(timespec="milliseconds")
                                      .replace("+00:00", "Z"), extra_ids or {}, delivery.server_progress)
            self._log(conn, schema, ev, outcome, delivery, key)
            if schema.has("plex_config", "last_webhook_received"):
                conn.execute(text("UPDATE plex_config SET last_webhook_received = now()"))
        return outcome

    def _apply(self, conn: Any, schema: Schema, ev: PlexEvent, when: str, extra_ids: dict[str, str],
               server_progress: float | None = None) -> _Outcome:
        from app.core.pipeline import PlexKnows, filter_reason  # (the pipeline imports destinations)

        if ev.event not in ("media.scrobble", "media.stop") or not ev.is_episode:
            return _Outcome("ignored", "event_not_scrobble", f"{ev.event} of a {ev.media_type or 'item'}")
        if reason := filter_reason(ev, self.settings, server_progress, self.plex() if self.plex else PlexKnows()):
            return _Outcome("ignored", "filtered", reason)
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
            row = conn.execute(text(f"SELECT tvshow_id, {method} FROM plex_show_mappings "
                                    f"WHERE ({where}) ORDER BY id DESC LIMIT 1"), dict(keys)).first()
            if row is not None and row[0] is not None:
                return int(row[0]), "mapping", 1.0, []
            if row is not None and row[1] == IGNORED:
                return None, IGNORED, 0.0, []
        result = self._shows(conn).resolve(ev.show_title, ev.year, ev.show_ids | extra_ids)
        if result.show_id is not None:
            self._remember(conn, schema, ev, result.show_id, result.method or "title", result.confidence)
            return result.show_id, result.method or "title", result.confidence, []
        tmdb_id = (ev.show_ids | extra_ids).get("tmdb")
        if self._auto_add(conn, schema) and tmdb_id and ev.show_title:
            cols = "title, tmdb_id, seasons" if schema.has("tvshows", "tmdb_id") else "title, seasons"
            vals = ":t, :m, '[]'::jsonb" if schema.has("tvshows", "tmdb_id") else ":t, '[]'::jsonb"
            new_id = int(conn.execute(text(f"INSERT INTO tvshows ({cols}) VALUES ({vals}) RETURNING id"),
                                      {"t": ev.show_title, "m": int(tmdb_id)}).scalar_one())
            self._index = None
            self._remember(conn, schema, ev, new_id, "created", 1.0)
            return new_id, "created", 1.0, []
        kind = "multiple_matches" if result.conflict == "ambiguous" else "no_match"
        return None, kind, 0.0, list(result.candidates)

    def _shows(self, conn: Any) -> ShowIndex:
        stamp = tuple(conn.execute(text("SELECT count(*), coalesce(max(id), 0) FROM tvshows")).one())
        if self._index is None or stamp != self._stamp:
            tmdb = "tmdb_id" if self.schema and self.schema.has("tvshows", "tmdb_id") else "NULL"
            self._index = ShowIndex(ShowRef(int(i), t, None, m) for i, t, m in conn.execute(text(
                f"SELECT id, title, {tmdb} FROM tvshows WHERE title IS NOT NULL")))
            self._stamp = stamp  # type: ignore[assignment]
        return self._index

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
        _insert(conn, schema, "plex_show_mappings", values)

    def _conflict(self, conn: Any, schema: Schema, ev: PlexEvent, kind: str, found: list[Any]) -> _Outcome:
        if not schema.has("plex_conflicts"):
            return _Outcome("error", "no_match", f"no tracker show matches “{ev.show_title}”")
        candidates = [c.to_dict() for c in found]
        where = "plex_rating_key = :k" if schema.has("plex_conflicts", "plex_rating_key") else "plex_title = :t"
        resolved = " AND NOT resolved" if schema.has("plex_conflicts", "resolved") else ""
        open_ = conn.execute(text(f"SELECT id FROM plex_conflicts WHERE {where}{resolved} LIMIT 1"),
                             {"k": ev.grandparent_rating_key, "t": ev.show_title}).first()
        if open_ is None:
            _insert(conn, schema, "plex_conflicts", {
                "plex_rating_key": ev.grandparent_rating_key, "plex_title": ev.show_title,
                "conflict_type": kind, "potential_matches": json.dumps(candidates)})
        return _Outcome("success", "conflict_created", f"{kind}: “{ev.show_title}” waits for a decision")

    # -- marking ----------------------------------------------------------------------------
    def _mark(self, conn: Any, schema: Schema, show_id: int, ev: PlexEvent, method: str, when: str) -> _Outcome:
        row = conn.execute(text("SELECT seasons FROM tvshows WHERE id = :i FOR UPDATE"), {"i": show_id}).first()
        if row is None:
            return _Outcome("error", "show_missing", f"tvshow #{show_id} no longer exists")
        seasons = row[0] if isinstance(row[0], list) else []
        added, already = mark_in_seasons(seasons, self.schema.spelling if self.schema else Spelling(),
                                         ev.season or 0, ev.episode or 0, ev.episode_title, when)
        sets, params = ["seasons = CAST(:s AS jsonb)"], {"s": json.dumps(seasons), "i": show_id}
        if schema.has("tvshows", "watched_episodes"):
            sets.append("watched_episodes = :n")
            params["n"] = watched_count(seasons, self.schema.spelling if self.schema else Spelling())
        if schema.has("tvshows", "updated_at"):
            sets.append("updated_at = now()")
        conn.execute(text(f"UPDATE tvshows SET {', '.join(sets)} WHERE id = :i"), params)
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
        _insert(conn, schema, "plex_webhook_logs", {
            "event_type": ev.event if ev else None, "plex_title": ev.show_title if ev else None,
            "plex_season": ev.season if ev else None, "plex_episode": ev.episode if ev else None,
            "status": outcome.status, "action_taken": outcome.action,
            "error_message": outcome.detail if outcome.status == "error" else None, "payload": payload})


class PostgresConflicts:
    """The tracker's ``plex_conflicts``, for the desktop conflicts dialog (blocking calls)."""

    def __init__(self, tracker: PostgresTracker) -> None:
        self.tracker = tracker

    def conflicts(self, status: str | None = "open") -> list[ConflictRow]:
        engine = self.tracker._connect()
        schema = self.tracker.schema
        assert schema is not None
        if not schema.has("plex_conflicts"):
            return []
        where = " WHERE NOT resolved" if status == "open" and schema.has("plex_conflicts", "resolved") else ""
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT * FROM plex_conflicts{where} ORDER BY id")).mappings().all()
        return [ConflictRow(
            r["id"], r.get("plex_rating_key") or r.get("plex_title") or "", r.get("plex_title") or "?", None,
            _CONFLICT_KIND.get(r.get("conflict_type") or "", "no_match"),
            "resolved" if r.get("resolved") else "open",
            tuple(Candidate.from_dict(c) for c in (r.get("potential_matches") or []) if isinstance(c, dict)),
            {"grandparent_guid": None, "guid": None, "show_ids": {}}, created_at=r.get("created_at"))
            for r in rows]

    def search_shows(self, query: str, limit: int = 20) -> list[Candidate]:
        with self.tracker._connect().connect() as conn:
            return self.tracker._shows(conn).search(query, limit=limit)

    def resolve(self, conflict_id: int, *, show_id: int | None = None, create: bool = False,
                ignore: bool = False) -> ConflictRow:
        """Answer a conflict: remember the mapping (or the choice to ignore), mark it resolved."""
        engine = self.tracker._connect()
        schema = self.tracker.schema
        assert schema is not None
        with engine.begin() as conn:
            row = conn.execute(text("SELECT * FROM plex_conflicts WHERE id = :i FOR UPDATE"),
                               {"i": conflict_id}).mappings().first()
            if row is None:
                raise LookupError(f"there is no conflict #{conflict_id} in the tracker")
            if create:
                show_id = int(conn.execute(text("INSERT INTO tvshows (title, seasons) VALUES (:t, '[]'::jsonb) "
                                                "RETURNING id"), {"t": row["plex_title"]}).scalar_one())
                self.tracker._index = None
            elif show_id is not None and conn.execute(text("SELECT 1 FROM tvshows WHERE id = :i"),
                                                      {"i": show_id}).first() is None:
                raise LookupError(f"there is no tvshow #{show_id} in the tracker")
            _insert(conn, schema, "plex_show_mappings", {
                "plex_rating_key": row.get("plex_rating_key"), "plex_title": row.get("plex_title"),
                "tvshow_id": None if ignore else show_id,
                "match_method": IGNORED if ignore else ("created" if create else "user"),
                "match_confidence": 1.0})
            if schema.has("plex_conflicts", "resolved"):
                conn.execute(text("UPDATE plex_conflicts SET resolved = true WHERE id = :i"), {"i": conflict_id})
        return next(c for c in self.conflicts(None) if c.id == conflict_id)

    def resolved_among(self, conflict_ids: set[int]) -> list[ConflictRow]:
        """Which of these conflicts have been resolved since (in the web app, say)."""
        return [c for c in self.conflicts(None) if c.id in conflict_ids and c.status == "resolved"]


class PostgresKind(Kind):
    """PostgreSQL trackers: a web tracker's own database, marked in directly."""

    name = "postgres"
    label = "PostgreSQL tracker"
    settings_key = "postgres"
    target = PostgresTarget
    add_help = "mark episodes straight in a tracker's PostgreSQL database"
    url_help = "e.g. 'postgresql://user:password@localhost:5432/tracker' (the password goes to the keyring)"
    holds_conflicts = True

    def url_problem(self, url: str) -> str | None:
        return postgres_url_problem(url)

    def new_target(self, id: str, url: str, label: str = "", **options: Any) -> tuple[Target, dict[str, str | None]]:
        """The URL without its password (that is kept with the secrets), as psycopg's."""
        if problem := postgres_url_problem(url):
            raise SettingsInvalid([problem])
        parts = urlsplit(url.strip())
        password = unquote(parts.password) if parts.password else None
        netloc = parts.netloc.rsplit("@", 1)
        user = netloc[0].split(":", 1)[0] if len(netloc) == 2 else ""
        host = netloc[-1]
        clean = parts._replace(scheme="postgresql+psycopg", netloc=f"{user}@{host}" if user else host).geturl()
        target = PostgresTarget(id, clean, True, label.strip(), **options)
        return target, {target.secret_key: password}

    def secrets(self, target: Any) -> list[str]:
        return [target.secret_key]

    def default_label(self, target: Any) -> str:
        url = make_url(target.url)
        return f"PostgreSQL tracker {url.database} on {url.host}"

    def build(self, target: Any, context: Context) -> PostgresTracker:
        key = context.secret(TMDB_KEY)
        tmdb = Tmdb(key, context.settings().tmdb_base_url) if key else None
        return PostgresTracker(target, context.secret(target.secret_key), context.settings, context.install_id,
                               context.timeout, tmdb)

    def conflicts(self, destination: Any) -> PostgresConflicts:
        return PostgresConflicts(destination)


POSTGRES = PostgresKind()


def mark_in_seasons(seasons: list[Any], s: Spelling, season: int, number: int, title: str | None,
                    when: str) -> tuple[bool, bool]:
    """Mark an episode watched inside ``seasons`` (in place), adding the season or episode
    in the same shape when the tracker lacks it. Returns ``(added, already watched)``."""
    entry = next((x for x in seasons if isinstance(x, dict) and x.get(s.season) == season), None)
    added = False
    if entry is None:
        entry = {s.season: season, s.episodes: []}
        seasons.append(entry)
        seasons.sort(key=lambda x: x.get(s.season, 0) if isinstance(x, dict) else 0)
    episodes = entry.setdefault(s.episodes, [])
    ep = next((e for e in episodes if isinstance(e, dict) and e.get(s.episode) == number), None)
    if ep is None:
        ep = {s.episode: number, s.name: title, s.watched: False, s.date_watched: None}
        episodes.append(ep)
        episodes.sort(key=lambda e: e.get(s.episode, 0) if isinstance(e, dict) else 0)
        added = True
    already = bool(ep.get(s.watched))
    if not already:
        ep[s.watched] = True
        ep[s.date_watched] = when
    return added, already


def watched_count(seasons: list[Any], s: Spelling) -> int:
    return sum(1 for x in seasons if isinstance(x, dict) for e in x.get(s.episodes) or []
               if isinstance(e, dict) and e.get(s.watched))


def _insert(conn: Any, schema: Schema, table: str, values: dict[str, Any]) -> None:
    """INSERT only the columns the table has (the shape is the tracker's, not ours)."""
    cols = [c for c in values if schema.has(table, c)]
    if not cols:
        return
    casts = {"potential_matches": "CAST(:potential_matches AS jsonb)", "payload": "CAST(:payload AS jsonb)"}
    conn.execute(text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                      f"({', '.join(casts.get(c, ':' + c) for c in cols)})"), {c: values[c] for c in cols})


def _db_error(exc: SQLAlchemyError) -> str:
    """The database's own first line, without SQLAlchemy's statement dump."""
    orig = getattr(exc, "orig", None)
    line = str(orig or exc).strip().splitlines()[0] if str(orig or exc).strip() else type(exc).__name__
    return f"PostgreSQL: {line[:300]}"


class _Misconfigured(Exception):
    """The target is not a usable tracker database (not worth retrying as is)."""
