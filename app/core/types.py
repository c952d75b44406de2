"""The plain data the core hands out: enums, constants and frozen dataclasses.

The CLI and the UI get these from :class:`app.core.facade.Core`, never ORM rows or dicts
(Maestral's rule). This module imports nothing heavier than the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

SELF_TEST_EVENT = "scrobbletray.selftest"
#: The log's search (``store.search``): a text this short is not in the index and is
#: looked for in the newest ``SEARCH_RECENT`` webhooks only (the window says so).
SEARCH_MIN_CHARS = 3
SEARCH_RECENT = 20_000
T = TypeVar("T")


class Action(StrEnum):
    """The outcome recorded on an inbox row."""

    MARKED = "marked"
    REWATCH = "rewatch"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    CONFLICT = "conflict"
    FAILED = "failed"
    UNDONE = "undone"
    COUNTED = "counted"  # a finished episode, left to the other trackers (the built-in one is off)

    @property
    def watched(self) -> bool:
        """Whether this outcome counted a play."""
        return self in (Action.MARKED, Action.REWATCH, Action.COUNTED)


class ServerState(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    LISTENING = "listening"
    ERROR = "error"


class TunnelState(StrEnum):
    """Where the tunnel is in its life."""

    OFF = "off"
    INSTALLING = "installing"  # downloading the ngrok agent
    STARTING = "starting"
    ONLINE = "online"
    RECONNECTING = "reconnecting"  # lost; retrying with back-off
    ERROR = "error"  # cannot work until the user fixes something (reason + fix)


class CheckStatus(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


class DeliveryState(StrEnum):
    """One event's delivery to one destination (a row of the outbox)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # given up on: the destination refused it (reason kept)


class DestinationState(StrEnum):
    """A destination as the status window shows it."""

    OK = "ok"  # nothing waiting
    DELIVERING = "delivering"  # events waiting, being sent
    FAILING = "failing"  # the last attempt failed; retrying with back-off
    PAUSED = "paused"  # refused every event the same way: waits for the user's fix
    OFF = "off"  # turned off in Settings
    STOPPED = "stopped"  # its sender ended unexpectedly: nothing is sent until Retry or a restart


@dataclass(frozen=True)
class Outcome:
    """What became of one event, published after the commit."""

    event_id: int
    action: Action
    reason: str | None = None
    show_id: int | None = None
    conflict_id: int | None = None
    conflict_opened: bool = False
    plex_title: str | None = None  # set when a conflict was opened


@dataclass(frozen=True)
class Check:
    """One row of the diagnostics window."""

    name: str
    status: CheckStatus
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Compacted:
    """What ``database compact`` did to the SQLite file."""

    before_bytes: int
    after_bytes: int
    pruned: int  # raw payloads dropped (events that never count, past retention)


@dataclass(frozen=True)
class ShowFacts:
    """What a Plex server knows about a show that a new-agent webhook does not say."""

    ids: dict[str, str] = field(default_factory=dict)  # tmdb/tvdb/imdb
    year: int | None = None  # the show's first year (the payload's is the episode's)
    title: str | None = None


@dataclass(frozen=True)
class CatchUpResult:
    """What one catch-up from the servers' history found."""

    at: datetime | None = None  # naive UTC
    read: int = 0  # history entries read
    added: int = 0  # plays put into the inbox (never seen here before)
    already: int = 0  # plays the inbox had: their webhook came
    ignored: int = 0  # plays that would not count (another account, not an episode)
    failed: tuple[str, ...] = ()  # servers that did not answer
    new_servers: tuple[str, ...] = ()  # first seen: older history only when asked
    notes: tuple[str, ...] = ()  # what stopped a reading early or was left out, in words
    marks_read: int = 0  # items the servers say were viewed since the last look
    marks_added: int = 0  # of those, marks made by hand put into the inbox (no other play had them)
    marks_accounts: tuple[str, ...] = ()  # whose marks made by hand were looked at
    marks_not_covered: tuple[str, ...] = ()  # accepted accounts whose marks cannot be seen (no token)
    unmarked: tuple[str, ...] = ()  # items marked unplayed in Plex since they were seen viewed, in words


@dataclass(frozen=True)
class PlexStatus:
    """The Plex account as the windows show it."""

    signed_in: bool = False
    username: str | None = None
    plex_pass: bool | None = None  # None: not known yet
    servers: tuple[str, ...] = ()  # names
    registered: bool | None = None  # the current webhook URL is in the account's list
    registered_url: str | None = None  # the URL last put there (secret masked)
    note: str | None = None  # the last thing that happened, in words
    caught_up: CatchUpResult | None = None  # the last catch-up from the servers' history
    live: tuple[str, ...] = ()  # servers whose live sessions are followed (no Plex Pass, or chosen)
    problem: str | None = None
    fix: str | None = None


@dataclass(frozen=True)
class CoreStatus:
    """The state the tray icon and the status window show."""

    server: ServerState = ServerState.STOPPED
    server_error: str | None = None
    host: str | None = None
    port: int | None = None
    paused: bool = False
    conflicts_open: int = 0
    tunnel: TunnelState = TunnelState.OFF
    public_url: str | None = None
    tunnel_reason: str | None = None
    tunnel_fix: str | None = None
    tunnel_progress: float | None = None  # 0..1 while the ngrok agent downloads
    url_changed: bool = False  # the public URL moved: Plex must be given the new one
    destinations_failing: int = 0  # failing for over 5 minutes, or paused
    plex: PlexStatus = field(default_factory=lambda: PlexStatus())
    plex_location: str | None = None  # the setting: where the user said their Plex server runs
    database_problem: str | None = None  # it takes no writes: webhooks get 503 and are held
    database_fix: str | None = None
    database_since: datetime | None = None  # aware, UTC
    database_held: int = 0  # webhooks refused meanwhile, held in memory until it is back
    database_notice: str | None = None  # a damaged file was moved aside at start (and where)
    processing_problem: str | None = None  # processing fails (webhooks are kept, retried)
    processing_fix: str | None = None
    stopped_work: str | None = None  # a background task of the app ended unexpectedly (which, and why)

    @property
    def attention(self) -> bool:
        """Something wants the user: conflicts, the tunnel not up, a destination failing."""
        return (self.conflicts_open > 0 or self.destinations_failing > 0
                or self.tunnel in (TunnelState.ERROR, TunnelState.RECONNECTING))


@dataclass(frozen=True)
class Counts:
    """Figures for the status window and diagnostics."""

    shows: int = 0
    movies: int = 0
    scrobbles_24h: int = 0  # plays counted in the last 24 hours: marked here, or for the others
    conflicts_open: int = 0
    pending: int = 0
    last_webhook_at: datetime | None = None


@dataclass(frozen=True)
class WebhookStats:
    """What the webhook server has seen since it started."""

    accepted: int = 0
    rejected: int = 0
    last_webhook_at: datetime | None = None  # aware, UTC
    last_source: str | None = None
    last_server: str | None = None
    refused: tuple[tuple[str, int], ...] = ()  # (why, how many), most first

    def refused_text(self) -> str:
        """``12 refused: 10 wrong secret, 2 malformed``; empty when none were."""
        if not self.rejected:
            return ""
        return f"{self.rejected} refused: " + ", ".join(f"{n} {why}" for why, n in self.refused)


@dataclass(frozen=True)
class DeliveryMark:
    """Where one event went: a destination's label and the state of its delivery."""

    destination: str
    state: DeliveryState
    detail: str | None = None


@dataclass(frozen=True)
class ScrobbleRow:
    """One inbox event and its outcome (the log), without the raw payload."""

    id: int
    received_at: datetime
    status: str  # pending, done
    event: str | None = None
    source: str | None = None
    account_id: str | None = None
    account_title: str | None = None
    server_title: str | None = None
    plex_title: str | None = None
    episode_title: str | None = None
    season: int | None = None
    episode: int | None = None
    action: Action | None = None
    reason: str | None = None
    show_id: int | None = None
    show_title: str | None = None
    match_method: str | None = None
    confidence: float | None = None
    conflict_id: int | None = None
    processed_at: datetime | None = None
    deliveries: tuple[DeliveryMark, ...] = ()
    media_type: str | None = None  # episode, movie, track... (None: an unreadable payload)
    plex_year: int | None = None  # a movie's year, as Plex gave it
    movie_id: int | None = None  # the tracker movie it marked
    kind: str = "episode"  # movie or episode (anything else Plex plays is only ever ignored)


@dataclass(frozen=True)
class Candidate:
    """A ranked possibility, for a conflict or a search."""

    show_id: int
    title: str
    year: int | None
    score: float

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Candidate:
        return cls(int(data["show_id"]), str(data["title"]), data.get("year"), float(data.get("score", 0)))

    def to_dict(self) -> dict[str, object]:
        return {"show_id": self.show_id, "title": self.title, "year": self.year,
                "score": round(self.score, 1)}


@dataclass(frozen=True)
class ConflictRow:
    """A Plex show the matcher could not place, with its ranked candidates."""

    id: int
    plex_key: str
    plex_title: str
    plex_year: int | None
    type: str  # no_match, ambiguous, low_confidence
    status: str  # open, resolved
    candidates: tuple[Candidate, ...] = ()  # best first
    guids: dict[str, Any] = field(default_factory=dict)
    resolution: str | None = None
    show_id: int | None = None
    created_at: datetime | None = None
    resolved_at: datetime | None = None
    waiting: int = 0
    kind: str = "show"  # show or movie: what show_id and the candidates' ids name


@dataclass(frozen=True)
class ShowRow:
    id: int
    title: str
    year: int | None = None
    tmdb_id: int | None = None
    tvdb_id: int | None = None
    imdb_id: str | None = None
    anidb_id: int | None = None
    watched_episodes: int = 0
    known_episodes: int = 0  # episodes the tracker has rows for, watched or not
    total_plays: int = 0
    last_watched_at: datetime | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class EpisodeRow:
    id: int
    show_id: int
    season: int
    number: int
    title: str | None = None
    watch_count: int = 0
    first_watched_at: datetime | None = None
    last_watched_at: datetime | None = None
    watched: bool = False  # watched at least once


@dataclass(frozen=True)
class DestinationStatus:
    """A destination as the status window, Settings and ``destinations list`` show it."""

    id: str
    kind: str  # builtin, or the name of its kind (app.core.destinations.kinds: relay, postgres)
    label: str
    state: DestinationState
    target: str | None = None  # where it delivers, secrets redacted
    only_watched: bool = False
    enabled: bool = True
    exactly_once: bool = False
    pending: int = 0
    oldest_pending_at: datetime | None = None
    delivered: int = 0
    failed: int = 0
    last_delivered_at: datetime | None = None
    reason: str | None = None  # why the last attempt failed, or why it is paused
    fix: str | None = None
    failing_since: datetime | None = None  # aware, UTC
    note: str | None = None  # what it cannot do (a relay's tracker: app.core.destinations.presets)
    late: str | None = None  # a backlog delivered late to a tracker that dates a play when it receives it
    needs: str | None = None  # what it needs from the user before it can send at all (a sign-in)

    @property
    def attention(self) -> bool:
        return needs_attention(self.state, self.failing_since)


FAILING_FOR_ATTENTION = 300.0  # seconds a destination may fail before the tray icon asks


def needs_attention(state: DestinationState, failing_since: datetime | None) -> bool:
    """Paused or stopped, or failing for more than 5 minutes."""
    if state in (DestinationState.PAUSED, DestinationState.STOPPED):
        return True
    if state is DestinationState.FAILING and failing_since is not None:
        return (datetime.now(failing_since.tzinfo) - failing_since).total_seconds() > FAILING_FOR_ATTENTION
    return False


@dataclass(frozen=True)
class MovieRow:
    """A movie in the built-in tracker."""

    id: int
    title: str
    year: int | None = None
    tmdb_id: int | None = None
    imdb_id: str | None = None
    watch_count: int = 0
    first_watched_at: datetime | None = None
    last_watched_at: datetime | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    """Some rows of a list (a window shows the first, then more as it scrolls), and how
    many the whole list holds."""

    rows: list[T]
    total: int
