"""The one door's destinations and routes: adding, changing, testing and removing the
places plays go, and which account's plays go where (a part of :class:`app.core.facade.Core`)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.core import config, routes, status_file
from app.core.config import Paths, Settings
from app.core.credentials import kept_context, set_secret
from app.core.destinations import kinds
from app.core.destinations.base import Attempt, Context, Kind, Target
from app.core.destinations.manager import destination_rows
from app.core.errors import AppError, SettingsInvalid
from app.core.events import DestinationsChanged
from app.core.logs import add_secret
from app.core.routes import AccountRoute
from app.core.state_keys import StateKey
from app.core.types import DestinationStatus

if TYPE_CHECKING:
    from app.core.runtime import Runtime

log = logging.getLogger(__name__)


def _forget_pause(paths: Paths, destination_id: str) -> None:
    """Drop a pause a previous run kept for ``destination_id`` (the user's Retry)."""
    kept = config.load_state(paths).get(StateKey.DESTINATIONS_PAUSED)
    if isinstance(kept, dict) and kept.pop(destination_id, None) is not None:
        config.save_state(paths, **{StateKey.DESTINATIONS_PAUSED: kept})


def no_destination(destination_id: str) -> AppError:
    return AppError(f"there is no destination {destination_id!r}", "See 'scrobbletray destinations list'.")


class DestinationsApi:
    """The destinations and routes calls of :class:`app.core.facade.Core`."""

    runtime: Runtime

    if TYPE_CHECKING:  # (Core's own)
        async def apply_settings(self, settings: Settings) -> None: ...

        def running_elsewhere(self) -> int | None: ...

    # -- destinations ----------------------------------------------------------------
    async def destinations(self) -> list[DestinationStatus]:
        """Every destination with its delivery state (the built-in tracker first): its
        senders' when they run here, the running app's (its status file) when it runs
        elsewhere, else what the outbox and a pause kept across starts say."""
        rt = self.runtime
        if rt._destinations is not None:
            return await rt._destinations.statuses()
        if rt.store is None:  # neither started nor opened (yet, or any more)
            return []
        running = (await asyncio.to_thread(status_file.destinations, rt.paths)
                   if self.running_elsewhere() is not None else {})
        kept = (await asyncio.to_thread(config.load_state, rt.paths)).get(StateKey.DESTINATIONS_PAUSED)
        return await rt.run(destination_rows, rt._store(), running, kept if isinstance(kept, dict) else {})

    async def add_destination(self, kind: str, url: str, label: str = "", **options: Any) -> str:
        """Add a destination of ``kind`` (a name in :data:`app.core.destinations.kinds.KINDS`)
        with its options (e.g. a relay's ``only_watched``); the secrets its kind takes out of
        the URL go to the keyring. Returns its id."""
        settings = dataclasses.replace(self.runtime.settings)
        target, secrets = config.add_destination(settings, kind, url, label, **options)
        for name, value in secrets.items():
            add_secret(value)
            await asyncio.to_thread(set_secret, self.runtime.paths, name, value)
        await self.apply_settings(settings)
        return target.id

    # The two kinds' own adds, as one-liners: the tests and the screenshot bench use them.
    async def add_relay(self, url: str, only_watched: bool = False, label: str = "") -> str:
        return await self.add_destination("relay", url, label, only_watched=only_watched)

    async def add_postgres(self, url: str, label: str = "") -> str:
        return await self.add_destination("postgres", url, label)

    async def update_destination(self, destination_id: str, **changes: Any) -> None:
        """Change a destination (url, label, enabled, its kind's options). A new URL or
        turning it on sends its failed events again."""
        _, old = self._target(destination_id)
        new = dataclasses.replace(old, **changes)  # type: ignore[type-var]
        await self.apply_settings(kinds.replaced(self.runtime.settings, new))
        if (new.url != old.url or (new.enabled and not old.enabled)) and self.runtime._destinations:
            await self.runtime._destinations.retry(destination_id)

    async def set_destination_enabled(self, destination_id: str, on: bool) -> None:
        """Turn a destination on or off (on: its failed events are sent again)."""
        await self.update_destination(destination_id, enabled=on)

    async def remove_destination(self, destination_id: str) -> list[str]:
        """Remove a destination (from every route too), the secrets its kind kept for it, and
        its deliveries. Returns what the removal left routed nowhere, in words."""
        kind, target = self._target(destination_id)
        before = set(routes.nowhere(self.runtime.settings))
        settings = kinds.without(self.runtime.settings, destination_id)
        await self.apply_settings(settings)
        left = [routes.nowhere_words(a, settings.builtin_tracker) for a in routes.nowhere(settings) if a not in before]
        for words in left:
            log.info("%s removed: %s", destination_id, words)
        for name in kind.secrets(target):
            await asyncio.to_thread(set_secret, self.runtime.paths, name, None)
        if self.runtime._destinations is not None:
            await self.runtime._destinations.forget(destination_id)
        else:
            await self.runtime.run(self.runtime._store().forget_deliveries, destination_id)
        self.runtime.events.publish(DestinationsChanged())
        return left

    async def retry_destination(self, destination_id: str) -> int:
        """Send a destination's failed events again, and its waiting ones now; unpauses it."""
        if self.runtime._destinations is None:  # sent when the app runs, unpaused
            if not any(d.id == destination_id for d in self.runtime._store().destinations):
                raise no_destination(destination_id)
            await asyncio.to_thread(_forget_pause, self.runtime.paths, destination_id)
            return int(await self.runtime.run(self.runtime._store().retry_deliveries, destination_id))
        n = await self.runtime._destinations.retry(destination_id)
        self.runtime.events.publish(DestinationsChanged())
        return n

    async def test_target(self, kind: str, url: str, **options: Any) -> Attempt:
        """Test a target before it is added (an add dialog's Test): what ``test_destination``
        does for one of ``kind`` at ``url`` with its ``options`` (e.g. a relay's preset);
        nothing is kept. SettingsInvalid when it cannot be one."""
        k = kinds.kind(kind)
        target, secrets = k.new_target("test", url, "", **options)
        if problem := k.problem(target):
            raise SettingsInvalid([problem])
        timeout = self.runtime.timing.timeout
        found = await asyncio.to_thread(k.build, target, Context(lambda: self.runtime.settings, secrets.get, timeout))
        try:
            return await found.test()
        finally:
            await found.close()

    async def test_destination(self, destination_id: str) -> Attempt:
        """Send a harmless test event to a destination (not through the outbox), or for
        one that takes none, check it; the running senders' when they run here."""
        if self.runtime._destinations is not None:
            return await self.runtime._destinations.test(destination_id)
        found = next((d for d in self.runtime._store().destinations if d.id == destination_id), None)
        if found is None:
            raise no_destination(destination_id)
        return await found.test()

    # -- accounts on online trackers -------------------------------------------------------
    async def sign_in(self, destination_id: str, on_prompt: Callable[[Any], None],
                      cancel: asyncio.Event | None = None) -> str:
        """Sign a destination in to its account (Trakt, Simkl): ``on_prompt`` is given the
        code to enter and where; returns who signed in. The tokens are kept with the secrets,
        and the events waiting for it go at once. Raises SignInFailed, said in words."""
        kind, target = self._target(destination_id)
        if not kind.signs_in:
            raise AppError(f"{destination_id} has no account to sign in to", "Only Trakt and Simkl have one.")
        context = kept_context(self.runtime.paths, lambda: self.runtime.settings)
        account = await kind.sign_in(target, context, on_prompt, cancel)
        await self.sign_in_changed(destination_id, account)
        return account

    async def sign_out(self, destination_id: str) -> None:
        """Forget a destination's sign-in (its events wait until it signs in again)."""
        kind, target = self._target(destination_id)
        if not kind.signs_in:
            raise AppError(f"{destination_id} has no account to sign in to", "Only Trakt and Simkl have one.")
        await asyncio.to_thread(set_secret, self.runtime.paths, target.tokens_key, None)  # type: ignore[attr-defined]
        await self.sign_in_changed(destination_id, "")

    async def sign_in_changed(self, destination_id: str, account: str = "") -> None:
        """A destination's kept sign-in changed (here, or by another process such as the CLI):
        keep who it is, and let its sender read it and send what waits."""
        _, target = self._target(destination_id)
        if getattr(target, "account", account) != account:
            await self.apply_settings(kinds.replaced(self.runtime.settings, dataclasses.replace(
                target, account=account)))  # type: ignore[type-var]
        if self.runtime._destinations is not None:
            await self.runtime._destinations.reload(destination_id)
        self.runtime.events.publish(DestinationsChanged())

    # -- whose plays go where ------------------------------------------------------------
    async def accounts(self) -> list[AccountRoute]:
        """Each accepted account (the owner first), the ids it stands for (those the Plex
        servers name, when signed in), and its destinations."""
        settings = self.runtime.settings
        off = {t.id for _, t in kinds.targets(settings) if not t.enabled}
        return routes.account_routes(settings, self.runtime.plex.knows(),
                                     [t.id for _, t in kinds.targets(settings)], off)

    async def route_account(self, account: str, destinations: list[str]) -> AccountRoute:
        """Send the plays of ``account`` (an accepted account's name or id, or ``owner``) to
        ``destinations`` (ids, or ``all``, or ``none``)."""
        settings = self.runtime.settings
        key = routes.key_of(account, settings, self.runtime.plex.knows())
        if key is None and self.runtime.plex.connected:  # an id of the servers' accounts, not asked yet
            await self.runtime.plex.users()
            key = routes.key_of(account, settings, self.runtime.plex.knows())
        if key is None:
            raise AppError(f"{account!r} is not an accepted account",
                           "Accept it first (Settings > Accepted accounts); 'scrobbletray accounts list' "
                           "shows the accepted ones.")
        chosen = _route_ids(destinations, settings)
        await self.apply_settings(dataclasses.replace(settings, routes=routes.routed(settings, key, chosen)))
        return next(a for a in await self.accounts() if a.account == key)

    def _target(self, destination_id: str) -> tuple[Kind, Target]:
        found = kinds.find(self.runtime.settings, destination_id)
        if found is None:
            raise no_destination(destination_id)
        return found


def _route_ids(given: list[str], settings: Settings) -> list[str] | None:
    """The destination ids a route names (None: ``all``), each checked."""
    words = [g.strip().lower() for g in given if g.strip()]
    if not words:
        raise AppError("name the destinations (ids), or all, or none")
    if set(words) & {routes.ALL, routes.NONE}:
        if len(words) > 1:
            raise AppError("'all' and 'none' stand alone, without destination ids")
        return None if words[0] == routes.ALL else []
    from app.core.destinations.builtin import BUILTIN_ID

    for word in words:
        if word == BUILTIN_ID:
            raise AppError("the built-in tracker is not routed: it keeps every accepted play with whose it was",
                           "Name the other destinations (see 'scrobbletray destinations list').")
        if kinds.find(settings, word) is None:
            raise no_destination(word)
    return words
