"""What the runtime's parts share: the attributes each may use, declared once."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from app.core import config
from app.core.config import Paths, Settings
from app.core.credentials import get_secret, set_secret
from app.core.destinations.base import OutboxDestination
from app.core.destinations.manager import outbox_destinations
from app.core.destinations.sender import Timing
from app.core.events import EventBus
from app.core.types import CoreStatus, Outcome

if TYPE_CHECKING:
    from app.core.catchup import CatchUp
    from app.core.conflicts import Conflicts
    from app.core.destinations.manager import DestinationManager
    from app.core.inbox import Inbox
    from app.core.plex.live import LiveFollower
    from app.core.plex.service import PlexLink
    from app.core.store import Store
    from app.core.webhooks import WebhookServer
    from app.core.worker import Worker

T = TypeVar("T")


def destinations_of(paths: Paths, settings: Settings, timing: Timing | None) -> list[OutboxDestination]:
    """The outbox destinations the settings name (blocking: passwords come from the keyring)."""
    return outbox_destinations(settings, timing, functools.partial(get_secret, paths), config.install_id(paths),
                               functools.partial(set_secret, paths))


class Parts:
    """The state every part of the runtime reads; :class:`app.core.runtime.Runtime` sets it."""

    paths: Paths
    settings: Settings
    events: EventBus
    timing: Timing
    store: Store | None
    server: WebhookServer | None
    plex: PlexLink
    catch_up: CatchUp
    _status: CoreStatus
    _secret: str
    _inbox: Inbox | None
    _worker: Worker | None
    _live: LiveFollower
    _destinations: DestinationManager | None
    _conflicts: Conflicts | None
    _tunnel_lost: bool
    _status_moved: asyncio.Event
    _background: set[asyncio.Task[Any]]

    @property
    def status(self) -> CoreStatus:
        return self._status

    def _set_status(self, **changes: Any) -> None:
        raise NotImplementedError

    def _later(self, work: Awaitable[Any]) -> None:
        """Run ``work`` in the background, kept referenced until it is done."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _store(self) -> Store:
        raise NotImplementedError

    async def _put(self, inbox: Inbox, payload: str, source: str | None) -> int:
        raise NotImplementedError

    async def refresh_conflicts(self, opened: Outcome | None = None) -> None:
        raise NotImplementedError

    def _arriving(self) -> bool:
        raise NotImplementedError

    @property
    def public_webhook_url(self) -> str | None:
        raise NotImplementedError

    async def _register_automatically(self, changed: bool = False) -> None:
        raise NotImplementedError

    async def _follow_live(self) -> None:
        raise NotImplementedError

    async def server_show(self, ev: Any) -> Any:
        raise NotImplementedError
