"""The runtime's side of destinations: a sender per destination, started after the
settings say which, and a look now and then at how long they have been failing."""

from __future__ import annotations

import asyncio
import logging

from app.core import config
from app.core.destinations.base import Live
from app.core.destinations.manager import DestinationManager
from app.core.destinations.outbox import Outbox
from app.core.events import DestinationsChanged
from app.core.runtime.parts import Parts, destinations_of
from app.core.state_keys import StateKey

log = logging.getLogger(__name__)
WATCH_EVERY = 5.0  # seconds between looks at how long destinations have been failing


class Delivery(Parts):
    """A part of :class:`app.core.runtime.Runtime`."""

    def _destinations_changed(self) -> None:
        self._watch_destinations()
        self._status_moved.set()  # the status file says each destination's state
        self.events.publish(DestinationsChanged())

    def _watch_destinations(self) -> None:
        if self._destinations is not None:
            self._set_status(destinations_failing=self._destinations.wanting_attention())

    async def _watch_loop(self) -> None:
        """Failing turns into "wants attention" with time alone, and a PostgreSQL tracker's
        conflicts change in its own app: look now and then."""
        failed: set[str] = set()  # the kinds of error already logged with a traceback
        while True:
            await asyncio.sleep(WATCH_EVERY)
            try:
                self._watch_destinations()
                if self._conflicts is not None and await self._conflicts.sync():
                    await self.refresh_conflicts()
            except Exception as exc:  # one look failed (the database busy, say): the next one may not
                log.warning("looking at the destinations failed: %s: %s", type(exc).__name__, exc,
                            exc_info=type(exc).__name__ not in failed)
                failed.add(type(exc).__name__)

    async def _start_destinations(self, rebuild: bool = True) -> None:
        """Start a sender per destination; ``rebuild`` after the settings changed (at start,
        open_store has just built them)."""
        store = self._store()
        if rebuild:
            store.destinations = await asyncio.to_thread(destinations_of, self.paths, self.settings,
                                                           self.timing)
        kept = None
        if self._destinations is None:
            self._destinations = DestinationManager(
                Outbox(store.sessions), store.builtin, self.timing, self._destinations_changed, self._arriving,
                lambda paused: config.save_state(self.paths, **{StateKey.DESTINATIONS_PAUSED: paused}))
        else:
            kept = self._destinations.kept_pauses()  # (the state file may not have them yet)
            await self._destinations.stop()
        live = Live(lambda: self.settings, self.server_show, self.plex.knows)
        for destination in store.destinations:
            destination.attach(live)
        if kept is None:
            kept = (await asyncio.to_thread(config.load_state, self.paths)).get(StateKey.DESTINATIONS_PAUSED)
        self._destinations.start(store.destinations, kept if isinstance(kept, dict) else {})
        self._destinations_changed()
