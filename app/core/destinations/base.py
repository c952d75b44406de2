"""The interface every destination implements, the data it is handed, and the
declaration of a kind of destination.

Modelled on Vorta's keyring ABC and Home Assistant's notify platforms: each destination
says what it wants from an inbox event, how it delivers, whether a repeated delivery is
harmless, and how to check it; retries, pacing and bookkeeping live once, in
:mod:`.sender` and :mod:`.outbox`. Each kind (relay, postgres) declares once, in a
:class:`Kind` beside its destination, what the rest of the app needs to know about it;
:mod:`.kinds` lists them.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from app.core.logs import redact_url
from app.core.types import Action, Check, CheckStatus

if TYPE_CHECKING:
    from app.core.config import Settings
    from app.core.payload import PlexEvent
    from app.core.pipeline import PlexKnows
    from app.core.types import Candidate, ConflictRow, ShowFacts

EVERY_EVENT = "Every Plex event"  # what a destination is sent unless its kind says less (Kind.sends)


@dataclass(frozen=True)
class Settled:
    """What a destination may look at to decide whether it wants an inbox event."""

    event_id: int
    event: str | None  # Plex's event name, e.g. media.scrobble
    action: Action  # what the pipeline made of it
    account_id: str | None = None  # whose play it was (routes: app.core.routes)
    account_title: str | None = None
    media_type: str | None = None  # Plex's Metadata.type: episode, movie, track...; None: not known


@dataclass(frozen=True)
class Delivery:
    """One outbox row to send, with the event's raw payload."""

    id: int
    event_id: int
    payload: str
    attempts: int
    next_attempt_at: datetime | None  # naive UTC
    received_at: datetime | None = None  # when Plex sent it (naive UTC): the time of the play
    server_progress: float | None = None  # how far a stop went, as the Plex server said
    outcome: str | None = None  # the last attempt's word: SENDING or UNKNOWN when it may have arrived
    action: str | None = None  # what the pipeline made of the event (an Action's value)
    tracker_ids: dict[str, str] = field(default_factory=dict)  # the built-in tracker's ids of its show or movie


SENDING = "sending"  # kept before a send to a destination that does not de-duplicate (a crash leaves it)
UNKNOWN = "unknown"  # a send with no answer: it may have been recorded there


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # the destination could not take it now: try again later
    REFUSED = "refused"  # the destination will never take it: stop trying this event


@dataclass(frozen=True)
class Attempt:
    """The result of one send."""

    verdict: Verdict
    detail: str  # for the user: what happened
    status: int | None = None  # the HTTP status, when the destination answered
    retry_after: float | None = None  # seconds the destination asked us to wait
    fix: str | None = None  # what the user can do about it
    outcome: str | None = None  # what the destination did with it (e.g. episode_marked, conflict_created)
    answer: str | None = None  # what the far end said, as it said it (e.g. "HTTP 200: ok")
    limited: bool = False  # a rate limit other than a 429 (Simkl's 403/412): paced as one
    event_only: bool = False  # a refusal of this event alone (an item unknown there): never pauses


@dataclass(frozen=True)
class Live:
    """What a running core lends its destinations: asked at each delivery, never copied, so
    a change of settings (or of the Plex sign-in) counts from the next event on."""

    settings: Callable[[], Settings]  # the settings as last applied
    server_show: Callable[[PlexEvent], Awaitable[ShowFacts | None]] | None = None  # a show's ids, from Plex
    plex: Callable[[], PlexKnows] | None = None  # the Plex accounts' names and ids


class Destination(ABC):
    """Somewhere a scrobble is delivered."""

    kind: ClassVar[str]
    exactly_once: ClassVar[bool] = False  # delivered in the inbox row's own transaction
    idempotent: ClassVar[bool] = False  # a repeated delivery is harmless at the far end

    def __init__(self, id: str, label: str) -> None:
        self.id = id
        self.label = label

    @abstractmethod
    def wants(self, event: Settled) -> bool:
        """Whether this event is to be delivered here."""

    @abstractmethod
    async def checks(self) -> list[Check]:
        """Diagnostics: reach the destination and say which hop failed, if one did."""

    def attach(self, live: Live) -> None:  # noqa: B027 (a hook: most destinations need nothing lent)
        """Take what the running core lends (see :class:`Live`); by default, nothing."""


class OutboxDestination(Destination):
    """A destination reached after the commit: its deliveries wait in the outbox."""

    enabled: bool = True  # turned on in Settings
    only_watched: bool = False  # takes only the events that counted as watched
    shown_url: str | None = None  # where it delivers, as it may be shown (secrets masked)
    min_interval: float = 0.0  # seconds between sends at least (a limit the service publishes)
    note: str | None = None  # what the user should know of it whatever its state (e.g. what it cannot do)
    late: str | None = None  # while a backlog goes out late to a target that dates events when received
    needs: tuple[str, str] | None = None  # (what, the fix) the user must give before it can send (a sign-in)

    @abstractmethod
    async def send(self, delivery: Delivery) -> Attempt:
        """Deliver one event; never raises for the destination's own failures."""

    async def test(self) -> Attempt:
        """What the user's Test does: by default, the diagnostics checks as one answer."""
        checks = await self.checks()
        ok = all(c.status != CheckStatus.FAIL for c in checks)
        return Attempt(Verdict.DELIVERED if ok else Verdict.REFUSED,
                       "; ".join(f"{c.status.value}: {c.detail}" if c.status != CheckStatus.PASS else c.detail
                                 for c in checks),
                       fix=next((c.fix for c in checks if c.fix), None))

    async def reload(self) -> None:
        """Read what is kept for it again (the user has just signed in); by default, nothing."""

    async def close(self) -> None:
        """Release connections (the sender is stopping)."""


# -- kinds ------------------------------------------------------------------------------------
class Target:
    """What every kind's target dataclass has (mixed in, so each keeps its own field order):
    where it delivers, whether it is on, a name, and its settings.json form."""

    id: str
    url: str
    enabled: bool
    label: str

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        """The target saved as ``data``, unknown keys ignored."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]


@dataclass(frozen=True)
class Option:
    """A choice that adding a destination offers besides its URL and label: yes/no, or one
    of ``choices``."""

    name: str  # the target's field, and the keyword of Core.add_destination
    flag: str  # the CLI's flag, e.g. --only-watched
    help: str  # the CLI's help
    on: str  # in a sentence about the target, when set ("only watched episodes")
    off: str  # likewise, when not ("every Plex event")
    choices: tuple[str, ...] = ()  # a choice among names (the CLI's --flag NAME), not yes/no
    default: Any = False  # a yes/no one True: on unless the CLI's flag (then a --no-...) turns it off


@dataclass(frozen=True)
class Field:
    """A value adding a destination asks for besides its URL (e.g. Trakt's client id)."""

    name: str  # the keyword of Core.add_destination (and the target's field, unless secret)
    flag: str  # the CLI's flag, e.g. --client-id
    help: str  # the CLI's help
    secret: bool = False  # kept with the secrets, never in settings.json; the CLI reads it from stdin
    required: bool = True


@dataclass(frozen=True)
class Context:
    """What building a destination may use besides its target."""

    settings: Callable[[], Settings]  # the settings (a running core lends live ones: see Live)
    secret: Callable[[str], str | None] = lambda name: None  # a kept secret (may block on the keyring)
    timeout: float = 10.0  # seconds one delivery may take
    install_id: str = "scrobbletray"  # tells this installation's events apart in a shared tracker
    keep: Callable[[str, str | None], object] = lambda name, value: None  # keeps (None: forgets) a secret (may block)


class ConflictSource(Protocol):
    """A destination's own conflicts, for the desktop dialog (blocking calls, each run
    through :meth:`run`: the destination's own threads)."""

    def run(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Awaitable[Any]: ...

    def conflicts(self, status: str | None = "open") -> list[ConflictRow]: ...

    def open_keys(self) -> set[str]:
        """The Plex shows (rating key, else title) with an open conflict, odd rows included."""
        ...

    def search_shows(self, query: str, limit: int = 20) -> list[Candidate]: ...

    def resolve(self, conflict_id: int, *, show_id: int | None = None, create: bool = False,
                ignore: bool = False) -> ConflictRow: ...


class Kind(ABC):
    """One kind of destination, declared once: the settings, the manager, the façade, the
    conflicts, the CLI and the windows read this instead of naming the kind.

    A kind is one module (its target dataclass, its :class:`OutboxDestination` and this
    declaration) plus one entry in :data:`app.core.destinations.kinds.KINDS`.
    """

    name: ClassVar[str]  # "relay": DestinationStatus.kind, the id prefix, the CLI's add-relay
    label: ClassVar[str]  # in sentences: "relay target"
    settings_key: ClassVar[str]  # the Settings list (and settings.json key) of its targets
    target: ClassVar[type[Target]]  # its target dataclass
    add_help: ClassVar[str]  # what adding one does (the CLI's help)
    url_help: ClassVar[str]  # the URL it takes, e.g. (the CLI's help)
    options: ClassVar[tuple[Option, ...]] = ()  # yes/no choices besides the URL and the label
    holds_conflicts: ClassVar[bool] = False  # its own conflicts can be the ones the dialog shows
    test_sends: ClassVar[bool] = False  # Test sends a harmless event (else it checks the far end)
    takes_url: ClassVar[bool] = True  # adding one asks for a URL (else its fields say where)
    fields: ClassVar[tuple[Field, ...]] = ()  # values asked for besides the URL
    signs_in: ClassVar[bool] = False  # an account to sign in to (see sign_in)

    @property
    def id_prefix(self) -> str:
        return f"{self.name}-"

    @abstractmethod
    def url_problem(self, url: str) -> str | None:
        """Why ``url`` cannot be one of these, for the user; None when it will do."""

    @abstractmethod
    def default_label(self, target: Any) -> str:
        """The name of a target without a label (where it is)."""

    @abstractmethod
    def build(self, target: Any, context: Context) -> OutboxDestination:
        """The destination for ``target`` (blocking: may read its secrets)."""

    def new_target(self, id: str, url: str, label: str = "", **options: Any) -> tuple[Target, dict[str, str | None]]:
        """A target from what the user gave, and the secrets to keep (name -> value) that
        were taken out of it. ValueError when it cannot be one."""
        return self.target(id=id, url=url.strip(), label=label.strip(), **options), {}  # type: ignore[call-arg]

    def problem(self, target: Any) -> str | None:
        """What is wrong with a saved target (checked whenever settings are applied); None."""
        return None

    def secrets(self, target: Any) -> list[str]:
        """The names of the secrets kept for ``target`` (forgotten when it is removed)."""
        return []

    def secret_segments(self, url: str) -> tuple[int, ...]:
        """Which segments of ``url``'s path (split on "/") are credentials; by default none."""
        return ()

    def shown_url(self, target: Any) -> str:
        """Where ``target`` delivers, as it may be shown (credentials masked in their place)."""
        return redact_url(target.url, self.secret_segments(target.url))

    def sends(self, target: Any) -> str:
        """What it is sent, in a few words (the Destinations list's "Sends" column)."""
        return EVERY_EVENT

    def sends_tip(self, target: Any) -> str | None:
        """More on what it is sent (the "Sends" column's tooltip), or None."""
        return None

    def described(self, target: Any) -> str:
        """Its options in words ("only watched episodes"), for a sentence about it; "" if none."""
        return ", ".join(o.on if getattr(target, o.name) else o.off for o in self.options)

    async def sign_in(self, target: Any, context: Context, on_prompt: Callable[[Any], None],
                      cancel: Any = None) -> str:
        """Sign ``target`` in to its account (``on_prompt`` shows the code to enter, ``cancel``
        an asyncio.Event ends it); keeps the tokens and returns who is signed in, in words."""
        raise NotImplementedError(f"a {self.label} has no account to sign in to")

    def conflicts(self, destination: Any) -> ConflictSource:
        """Its own conflicts (only for a kind that ``holds_conflicts``)."""
        raise NotImplementedError(f"a {self.label} holds no conflicts")
