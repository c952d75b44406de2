"""The Plex link of a running core: the token, the account, registering the webhook URL,
and show ids asked of the server a play came from. Blocking plexapi calls run on Plex's
own threads (:mod:`.threads`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from app.core import config
from app.core.config import Paths, Settings
from app.core.credentials import get_secret, set_secret
from app.core.logs import add_secret
from app.core.pipeline import PlexKnows
from app.core.plex.account import PlexAccount, PlexAccountInfo, PlexServerInfo, PlexUser
from app.core.plex.http import Identity, NoPlexPass, PlexError, SignInAgain, plex_tv_url
from app.core.plex.registration import plan
from app.core.plex.signin import SignIn
from app.core.plex.threads import on_plex_thread
from app.core.state_keys import StateKey
from app.core.timefmt import ago
from app.core.types import CatchUpResult, Check, CheckStatus, PlexStatus, ShowFacts

log = logging.getLogger(__name__)
TOKEN_KEY = "plex-token"
FACTS_WAIT = 5.0  # seconds a processing batch waits for show ids, all servers together
RETRY_SERVER = 300.0  # a server that did not answer is asked again after this
K = TypeVar("K")
V = TypeVar("V")
_HOSTS_KEY = StateKey.PLEX_WEBHOOK_HOSTS


def masked(url: str | None, secret: str) -> str | None:
    return url.replace(secret, "…") if url and secret else url


class PlexLink:
    """Sign-in state and the Plex calls the core makes; reports changes to ``publish``."""

    def __init__(self, paths: Paths, settings: Settings, publish: Callable[[PlexStatus], None]) -> None:
        self.paths = paths
        self.settings = settings
        self._publish = publish
        self._account: PlexAccount | None = None
        self.status = PlexStatus()
        self._down: dict[str, float] = {}  # server uuid -> monotonic time to ask again
        self._servers: tuple[PlexServerInfo, ...] = ()
        self._users: list[PlexUser] = []  # the accounts of the owned servers
        self._registering = asyncio.Lock()

    # -- state ------------------------------------------------------------------------
    @property
    def plex_tv(self) -> str | None:
        return plex_tv_url(self.settings.plex_tv_url)

    @property
    def token(self) -> str | None:
        """The account's token (for redaction lists; never shown)."""
        return self._account.token if self._account else None

    @property
    def account(self) -> PlexAccount | None:
        """The signed-in account's blocking client (None when signed out)."""
        return self._account if self.connected else None

    @property
    def known_users(self) -> list[PlexUser]:
        return list(self._users)

    async def own_servers(self) -> list[PlexServerInfo]:
        """The servers the account owns (their history is readable), asking plex.tv if unknown."""
        if not self._servers:
            await self.refresh()
        return [s for s in self._servers if s.owned]

    def caught_up(self, result: CatchUpResult) -> None:
        self._set(caught_up=result)

    def following(self, servers: tuple[str, ...]) -> None:
        self._set(live=servers)

    @property
    def connected(self) -> bool:
        """Signed in, and plex.tv has not refused the token."""
        return self._account is not None and self.status.signed_in

    def _set(self, **changes: Any) -> None:
        new = dataclasses.replace(self.status, **changes)
        if new != self.status:
            self.status = new
            self._publish(new)

    def _identity(self) -> None:
        Identity(config.install_id(self.paths)).apply()

    async def load(self) -> None:
        """Read the saved token (the keyring may block: off the loop)."""
        token = await asyncio.to_thread(get_secret, self.paths, TOKEN_KEY)
        if token:
            add_secret(token)
            await asyncio.to_thread(self._identity)
            self._account = PlexAccount(token, self.plex_tv)
            self._set(signed_in=True)

    def _failed(self, exc: PlexError) -> None:
        if isinstance(exc, SignInAgain):
            self._account = None
            self._set(signed_in=False, username=None, plex_pass=None, servers=(), registered=None,
                      problem=str(exc), fix=exc.fix)
            log.warning("%s", exc)
        else:
            self._set(problem=str(exc), fix=exc.fix)

    async def refresh(self, current_url: str | None = None) -> PlexStatus:
        """Ask plex.tv again: the account, its Plex Pass, servers, and whether our URL is listed."""
        account = self._account
        if account is None:
            return self.status
        try:
            info: PlexAccountInfo = await on_plex_thread(account.info)
            self._servers = info.servers
            self._set(signed_in=True, username=info.username, plex_pass=info.plex_pass,
                      servers=tuple(s.name for s in info.servers), problem=None, fix=None)
            if current_url and info.plex_pass:
                listed = await on_plex_thread(account.webhooks)
                self._set(registered=current_url in listed)
            elif not info.plex_pass:
                self._set(registered=None, problem=str(NoPlexPass(info.username)), fix=NoPlexPass().fix)
        except PlexError as exc:
            self._failed(exc)
        return self.status

    def knows(self) -> PlexKnows:
        """What processing may use: signed in or not, and the accounts' names and ids."""
        aliases: dict[str, frozenset[str]] = {}
        owner: frozenset[str] = frozenset()
        for user in self._users:
            same = frozenset(str(v).casefold() for v in (user.name, user.plex_id, user.server_id) if v)
            for value in same:
                aliases[value] = aliases.get(value, frozenset()) | same
            if user.owner:
                owner |= same
        return PlexKnows(self.connected, aliases, owner)

    async def users(self) -> list[PlexUser]:
        """The accounts that can play on the account's own servers (the owner first)."""
        account = self._account
        if account is None:
            return []
        found: dict[str, PlexUser] = {}
        for server in await self.own_servers():
            try:
                for user in await on_plex_thread(account.users, server.uuid):
                    found.setdefault(user.name.casefold(), user)
            except PlexError as exc:
                log.warning("Could not list the accounts of %s: %s", server.name, exc)
        self._users = sorted(found.values(), key=lambda u: (not u.owner, u.name.casefold()))
        return self._users

    # -- signing in and out -----------------------------------------------------------
    async def begin_sign_in(self, browser: bool = True) -> SignIn:
        """A PIN sign-in with its URL (and code) ready to show."""
        await asyncio.to_thread(self._identity)
        sign_in = SignIn(self.plex_tv, browser=browser)
        await sign_in.start()
        return sign_in

    async def signed_in(self, token: str) -> str:
        """Keep the token a sign-in returned; returns where it was kept."""
        add_secret(token)
        where = await asyncio.to_thread(set_secret, self.paths, TOKEN_KEY, token)
        self._account = PlexAccount(token, self.plex_tv)
        self._set(signed_in=True, problem=None, fix=None, note="Signed in to Plex")
        log.info("signed in to Plex (token kept in %s)", where)
        return where

    async def sign_out(self) -> None:
        """Forget the token here (Plex keeps the webhook URLs the account has)."""
        await asyncio.to_thread(set_secret, self.paths, TOKEN_KEY, None)
        self._account = None
        self.status = PlexStatus()
        self._publish(self.status)
        log.info("signed out of Plex")

    # -- the webhook URL ----------------------------------------------------------------
    async def register(self, url: str, secret: str) -> str:
        """Put ``url`` in the account's webhooks, keeping every URL that is not ours, and
        replacing ours that are stale. Returns what was done, in words; PlexError if not."""
        account = self._account
        if account is None:
            raise PlexError("Not signed in to Plex", "Sign in to Plex first.")
        async with self._registering:  # one read-modify-write at a time
            try:
                existing = await on_plex_thread(account.webhooks)  # raises NoPlexPass
                state = config.load_state(self.paths)
                hosts = set(state.get(_HOSTS_KEY) or [])
                todo = plan(existing, url, secret, hosts)
                if todo.changed:
                    written = await on_plex_thread(account.set_webhooks, todo.urls)
                    if url not in written:
                        raise PlexError("Plex did not keep the webhook URL", "Try again, or add it in Plex Web.")
                host = urlsplit(url).netloc
                if host not in hosts:
                    config.save_state(self.paths, **{_HOSTS_KEY: sorted(hosts | {host})[-20:]})
            except PlexError as exc:
                self._failed(exc)
                raise
        if not todo.changed:
            note = "The webhook URL was already registered in Plex"
        elif todo.removed:
            note = (f"Registered the webhook URL in Plex, replacing {len(todo.removed)} old one(s) of "
                    f"Scrobble Tray; {len(todo.urls) - 1} other webhook(s) kept")
        else:
            note = f"Registered the webhook URL in Plex; {len(todo.urls) - 1} other webhook(s) kept"
        self._set(registered=True, registered_url=masked(url, secret), note=note, problem=None, fix=None)
        log.info("%s", note)
        return note

    async def url_changed(self, url: str, secret: str) -> bool:
        """The public URL or the secret changed: re-register when the user opted in."""
        if not (self.connected and self.settings.plex_auto_register):
            return False
        try:
            await self.register(url, secret)
        except PlexError as exc:
            log.warning("Could not register the new webhook URL in Plex: %s", exc)
            return False
        return True

    # -- show ids from the server --------------------------------------------------------
    async def show_facts(self, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], ShowFacts]:
        """Ids and first years of shows, from the servers their plays came from."""
        account = self._account
        if account is None:
            return {}
        return await self._ask({key: (key[0], functools.partial(account.show_facts, *key))
                                for key in wanted})

    async def progress(self, stops: list[tuple[int, str, str, datetime]]) -> dict[int, float]:
        """How far each stopped play went (event id -> 0..1), as its server says."""
        account = self._account
        if account is None:
            return {}
        return await self._ask({event_id: (uuid, functools.partial(account.progress, uuid, key, played_at))
                                for event_id, uuid, key, played_at in stops})

    async def _ask(self, calls: dict[K, tuple[str, Callable[[], V | None]]]) -> dict[K, V]:
        """Blocking server calls at once, within FACTS_WAIT; a server that does not answer
        is left alone for RETRY_SERVER (one warning, no storm)."""
        now = time.monotonic()
        calls = {k: c for k, c in calls.items() if self._down.get(c[0], 0.0) <= now}

        async def one(uuid: str, call: Callable[[], V | None]) -> V | None:
            try:
                return await on_plex_thread(call)
            except SignInAgain as exc:
                self._failed(exc)
            except PlexError as exc:
                if self._down.get(uuid, 0.0) <= time.monotonic():
                    log.warning("No answer from the Plex server: %s (titles are matched instead)", exc)
                self._down[uuid] = time.monotonic() + RETRY_SERVER
            return None

        if not calls:
            return {}
        tasks = {asyncio.ensure_future(one(uuid, call)): (key, uuid) for key, (uuid, call) in calls.items()}
        done, pending = await asyncio.wait(tasks, timeout=FACTS_WAIT)
        for task in pending:  # its thread finishes on its own; its answer is not waited for
            task.cancel()
            self._down[tasks[task][1]] = time.monotonic() + RETRY_SERVER
        return {tasks[t][0]: value for t in done if (value := t.result()) is not None}

    # -- diagnostics --------------------------------------------------------------------
    def catch_up_check(self) -> Check:
        """When the servers' history was last read, and what it found."""
        c = self.status.caught_up
        if c is None or c.at is None:
            return Check("Catch-up", CheckStatus.WARN, "not run yet (it runs at start, hourly, and when the "
                         "tunnel comes back)", "")
        found = (f"{c.read} play(s) read, {c.added} added, {c.already} already here, {c.ignored} not counted"
                 if c.read else "nothing new")
        if c.marks_read:
            found += (f"; marks made by hand: {c.marks_read} read, {c.marks_added} added"
                      f" ({', '.join(a + chr(39) + 's' for a in c.marks_accounts)})")
        if c.unmarked:
            found += "; " + "; ".join(c.unmarked)
        if c.marks_not_covered:
            found += (f"; marks made by hand by {', '.join(c.marks_not_covered)} are not seen "
                      "(Plex gives no token for them)")
        if c.failed:
            return Check("Catch-up", CheckStatus.WARN, f"{ago(c.at)}: could not read {', '.join(c.failed)}; {found}",
                         "Is the server on? It is tried again in 5 minutes.")
        if c.notes:
            return Check("Catch-up", CheckStatus.WARN, f"{ago(c.at)}: {found}; {'; '.join(c.notes)}", "")
        new = (f"; new: {', '.join(c.new_servers)} (older plays: Settings > Plex > Import history)"
               if c.new_servers else "")
        return Check("Catch-up", CheckStatus.PASS, f"{ago(c.at)}: {found}{new}")

    def checks(self, current_url: str | None) -> list[Check]:
        st = self.status
        if not st.signed_in:
            if st.problem:
                return [Check("Plex account", CheckStatus.FAIL, st.problem, st.fix or "")]
            return [Check("Plex account", CheckStatus.WARN, "not signed in: the webhook URL is entered "
                          "in Plex by hand, and new-agent shows are matched by title",
                          "Sign in to Plex (Settings > Plex, or 'scrobbletray plex login').")]
        if st.plex_pass is False and st.live:
            return [Check("Plex account", CheckStatus.PASS, f"signed in as {st.username or '?'}, without Plex Pass: "
                          f"no webhooks, so plays are followed live on {', '.join(st.live)}"),
                    self.catch_up_check()]
        if st.plex_pass is False:
            return [Check("Plex account", CheckStatus.FAIL, st.problem or "no Plex Pass",
                          (st.fix or "") + " Or follow plays live (Settings > Plex).")]
        checks = [Check("Plex account", CheckStatus.PASS if not st.problem else CheckStatus.WARN,
                        f"signed in as {st.username or '?'}" + (f"; {st.problem}" if st.problem else ""),
                        st.fix or "")]
        checks.append(self.catch_up_check())
        if current_url is None:
            checks.append(Check("Webhook URL in Plex", CheckStatus.WARN, "no public URL to register yet "
                                "(the tunnel is not online)", "Turn the tunnel on in Settings."))
        elif st.registered:
            checks.append(Check("Webhook URL in Plex", CheckStatus.PASS,
                                "the current URL is in the account's webhooks"))
        else:
            checks.append(Check("Webhook URL in Plex", CheckStatus.FAIL,
                                "the current URL is not in the account's webhooks: Plex sends to another "
                                "address" if st.registered is False else "not checked yet",
                                "Press Register in Plex (Settings > Plex, or 'scrobbletray plex register')."))
        return checks
