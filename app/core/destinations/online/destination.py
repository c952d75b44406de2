"""An account on an online tracker (Trakt, Simkl) as a destination: each play counted as
watched goes to ``/sync/history`` dated when Plex says it was watched; live play, pause and
stop may show what is playing now (``/scrobble``), never replayed from a backlog.

Neither service is trusted to de-duplicate: the sender notes a send before it goes
(:data:`~app.core.destinations.base.SENDING`), and after an unknown outcome (a timeout, a
crash before the answer was kept) the account's history around that time is read before
sending again. Each service's own calls, limits and sign-in are in :mod:`.trakt` and
:mod:`.simkl`.
"""

from __future__ import annotations

import asyncio
import logging
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from app.core.destinations.base import (
    SENDING,
    UNKNOWN,
    Attempt,
    Context,
    Delivery,
    Live,
    OutboxDestination,
    Settled,
    Verdict,
)
from app.core.destinations.online.http import Answer, Unreachable, call
from app.core.destinations.online.items import Play, counted, not_found, play
from app.core.destinations.online.signin import Tokens
from app.core.destinations.online.target import OnlineTarget
from app.core.destinations.relay import parse_retry_after
from app.core.lazy import lazy
from app.core.payload import PayloadError, PlexEvent, parse_payload
from app.core.types import SELF_TEST_EVENT, Action, Check, CheckStatus

if TYPE_CHECKING:
    import aiohttp

    from app.core.types import ShowFacts
else:
    aiohttp = lazy("aiohttp")  # (loaded when first used: see app.core.lazy)

log = logging.getLogger(__name__)
LIVE_VERBS = {"media.play": "start", "media.resume": "start", "media.pause": "pause", "media.stop": "stop"}
LIVE_FRESH = 120.0  # seconds: a live event older than this is a backlog, never shown as playing now
WATCHED = {a.value for a in Action if a.watched}
RENEW_AHEAD = 86400.0  # seconds: a sign-in that expires sooner is renewed before the next call (Trakt's)


class SignedOut(Exception):
    """No usable sign-in: the events wait until the user signs in again."""


class OnlineTracker(OutboxDestination):
    """One account on an online tracker."""

    service: ClassVar[str]  # "Trakt", in sentences
    idempotent: ClassVar[bool] = False  # neither service de-duplicates: see the module's docstring
    only_watched = True

    def __init__(self, target: OnlineTarget, context: Context, label: str) -> None:
        super().__init__(target.id, target.label or label)
        self.target = target
        self._secret = context.secret
        self._keep = context.keep
        self.timeout = context.timeout
        self._session: aiohttp.ClientSession | None = None
        self.server_show: Callable[[PlexEvent], Awaitable[ShowFacts | None]] | None = None
        self.tokens = _tokens(context.secret(target.tokens_key))
        self.signed_out: str | None = None  # why the sign-in no longer works, once a call said so

    # -- what each service says -------------------------------------------------------------
    @abstractmethod
    def api_url(self) -> str:
        """The API's base URL (read at each call: tests point it at a stand-in)."""

    @abstractmethod
    def headers(self, token: str | None) -> dict[str, str]:
        """The headers of every call."""

    def params(self) -> dict[str, str] | None:
        """Query parameters every call carries; by default none."""
        return None

    @abstractmethod
    async def in_history(self, item: Play) -> bool:
        """Whether the account's history holds this play (read around its time, with
        :meth:`authorised`). Raises Unreachable, SignedOut, or RuntimeError when the answer
        could not be read."""

    @abstractmethod
    async def whoami(self, token: str) -> str:
        """The account's name (an authenticated call: the diagnostics' API check)."""

    def limit(self, answer: Answer) -> Attempt | None:
        """The service's own meaning of an answer (its limits), before the common one."""
        return None

    async def refreshed(self, tokens: Tokens) -> Tokens | None:
        """New tokens for ones that expire soon or were refused; None when it cannot."""
        return None

    def sign_in_fix(self) -> str:
        return (f"Settings → Destinations → {self.label} → Edit… → Sign in again (or 'scrobbletray "
                f"destinations login {self.id}'). Events wait until then.")

    # -- the destination ------------------------------------------------------------------
    @property
    def enabled(self) -> bool:  # type: ignore[override]
        return self.target.enabled

    @property
    def shown_url(self) -> str:  # type: ignore[override]
        return self.target.shown

    @property
    def needs(self) -> tuple[str, str] | None:  # type: ignore[override]
        if self.tokens is None or self.signed_out:
            return (self.signed_out or f"not signed in to {self.service}"), self.sign_in_fix()
        return None

    def attach(self, live: Live) -> None:
        self.server_show = live.server_show

    def wants(self, event: Settled) -> bool:
        if not self.enabled or event.event == SELF_TEST_EVENT:
            return False
        return event.action.watched or (self.target.live and event.event in LIVE_VERBS)

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def api(self, method: str, path: str, token: str | None, body: Any = None,
                  params: dict[str, str] | None = None) -> Answer:
        """One call to the API."""
        return await call(self.session(), method, self.api_url() + path, headers=self.headers(token), body=body,
                          params=(self.params() or {}) | (params or {}) or None)

    # -- tokens -------------------------------------------------------------------------
    async def reload(self) -> None:
        """Read the kept tokens again (the user has just signed in)."""
        self.tokens = _tokens(await asyncio.to_thread(self._secret, self.target.tokens_key))
        self.signed_out = None

    async def token(self, stale: bool = False) -> str:
        """The access token, renewed when it expires within the service's margin or was
        refused (``stale``). Raises SignedOut."""
        tokens = self.tokens
        if tokens is None:
            tokens = self.tokens = _tokens(await asyncio.to_thread(self._secret, self.target.tokens_key))
        if tokens is None:
            raise SignedOut(f"not signed in to {self.service}")
        if self.signed_out and not stale:
            raise SignedOut(self.signed_out)
        if stale or tokens.expires_within(RENEW_AHEAD):
            new = await self.refreshed(tokens)
            if new is None:
                self.signed_out = (f"{self.service} no longer accepts the sign-in" if stale
                                   else f"the sign-in to {self.service} has expired")
                raise SignedOut(self.signed_out)
            try:  # kept before it is used: the old refresh token is spent
                await asyncio.to_thread(self._keep, self.target.tokens_key, new.to_json())
            except Exception as exc:
                log.error("%s: the renewed sign-in could not be kept (%s); it is used until Scrobble Tray "
                          "stops, then you must sign in again", self.label, exc)
            self.tokens, self.signed_out = new, None
            tokens = new
        return tokens.access_token

    async def adopt(self, tokens: Tokens) -> str:
        """Keep the tokens a sign-in just gave; returns the account's name ("" if it cannot be read)."""
        await asyncio.to_thread(self._keep, self.target.tokens_key, tokens.to_json())
        try:
            return await self.whoami(tokens.access_token)
        except (Unreachable, SignedOut, RuntimeError):
            return ""

    async def authorised(self, method: str, path: str, body: Any = None,
                         params: dict[str, str] | None = None) -> Answer:
        """A call with the access token; a 401 renews it once and calls again."""
        answer = await self.api(method, path, await self.token(), body, params)
        if answer.status == 401:
            answer = await self.api(method, path, await self.token(stale=True), body, params)
            if answer.status == 401:
                self.signed_out = f"{self.service} refused the sign-in ({answer.said()})"
                raise SignedOut(self.signed_out)
        return answer

    # -- delivery -----------------------------------------------------------------------
    async def send(self, delivery: Delivery) -> Attempt:
        uncertain = delivery.outcome in (SENDING, UNKNOWN)
        try:
            ev = parse_payload(delivery.payload)
        except PayloadError as exc:
            return Attempt(Verdict.REFUSED, f"not a Plex event ({exc})", outcome="invalid_payload", event_only=True)
        watched_at = delivery.received_at or datetime.now(UTC).replace(tzinfo=None)
        try:
            if delivery.action not in WATCHED:
                return await self._live(ev, watched_at)
            item = play(ev, watched_at, await self._show_ids(ev), delivery.tracker_ids)
            if item is None:
                return Attempt(Verdict.REFUSED, f"Plex gives no TheTVDB, TMDB or IMDb id for "
                               f"“{ev.show_title or ev.episode_title}”: {self.service} cannot be told which it is",
                               outcome="no_ids", event_only=True, fix="Fix the match in Plex (… → Fix Match) "
                               "so it has ids, then press Retry; or leave it: this play is not sent.")
            if uncertain and await self.in_history(item):
                return Attempt(Verdict.DELIVERED, f"already in the {self.service} history ({item.words}, "
                               f"watched {item.watched_at}): the earlier send had arrived", outcome="already")
            answer = await self.authorised("POST", "/sync/history", item.body)
        except SignedOut as exc:
            return Attempt(Verdict.RETRY, f"{exc}: sign in to {self.service} again", fix=self.sign_in_fix(),
                           outcome=UNKNOWN if uncertain else None)
        except Unreachable as exc:
            return Attempt(Verdict.RETRY, f"{self.service}: {exc}", outcome=UNKNOWN if (
                uncertain or exc.maybe_arrived) else None,
                fix="Events wait and are sent again (a send that may have arrived is looked up first).")
        except RuntimeError as exc:  # its history could not be read: try again later
            return Attempt(Verdict.RETRY, f"{self.service}: {exc}", outcome=UNKNOWN)
        return self._judged(answer, item)

    def _judged(self, answer: Answer, item: Play) -> Attempt:
        if (own := self.limit(answer)) is not None:
            return own
        if answer.status in (200, 201):
            if counted(answer.body):
                return Attempt(Verdict.DELIVERED, f"added to the history: {item.words}, watched {item.watched_at}",
                               answer.status, outcome="added", answer=answer.said())
            if missing := not_found(answer.body):
                return Attempt(Verdict.REFUSED, f"{self.service} does not know {item.words} "
                               f"(not found: {'; '.join(missing)[:300]})", answer.status, outcome="not_found",
                               fix="Fix the match in Plex (… → Fix Match) so its ids are right, then press "
                                   "Retry; or leave it: this play is not sent.", answer=answer.said(), event_only=True)
            return Attempt(Verdict.DELIVERED, f"accepted, nothing added ({item.words}: already there?)",
                           answer.status, outcome="nothing_added", answer=answer.said())
        return self.common(answer, item.words)

    def common(self, answer: Answer, words: str) -> Attempt:
        """What an answer means when the service gave it no meaning of its own."""
        said = answer.said()
        if answer.status == 429:
            return Attempt(Verdict.RETRY, f"rate-limited ({said})", 429, parse_retry_after(
                answer.headers.get("Retry-After")), "Nothing to do: sending slows down to the pace "
                f"{self.service} accepts.", answer=said)
        if answer.status >= 500 or answer.status == 408:  # (it may have been recorded: looked up first)
            return Attempt(Verdict.RETRY, f"{self.service} failed ({said})", answer.status,
                           parse_retry_after(answer.headers.get("Retry-After")),
                           f"{self.service} has trouble of its own; events wait and are sent again.",
                           outcome=UNKNOWN, answer=said)
        return Attempt(Verdict.REFUSED, f"refused {words} ({said})", answer.status,
                       fix="See Diagnostics; Retry sends it again.", answer=said)

    async def _show_ids(self, ev: PlexEvent) -> dict[str, str]:
        """The show's ids from the Plex server, for a new-agent payload that names only the episode's."""
        if ev.is_episode and not ev.show_ids and self.server_show is not None:
            facts = await self.server_show(ev)
            return dict(facts.ids) if facts else {}
        return {}

    async def _live(self, ev: PlexEvent, at: datetime) -> Attempt:
        """Show what is playing now: only for a live event, never one from a backlog."""
        verb = LIVE_VERBS.get(ev.event)
        age = (datetime.now(UTC).replace(tzinfo=None) - at.replace(tzinfo=None)).total_seconds()
        progress = round(min(100.0, max(1.0, 100 * (ev.progress or 0))), 2)
        if verb is None or not self.target.live:
            return Attempt(Verdict.DELIVERED, f"nothing to send for {ev.event}", outcome="not_sent")
        if age > LIVE_FRESH:
            return Attempt(Verdict.DELIVERED, f"{ev.event} from {age / 60:.0f} min ago: not shown as playing now",
                           outcome="stale")
        if verb == "stop" and progress >= 80:  # at 80 % a stop would count a second play
            return Attempt(Verdict.DELIVERED, "stopped near the end: the play is counted through the history",
                           outcome="not_sent")
        item = play(ev, at, await self._show_ids(ev))
        if item is None:
            return Attempt(Verdict.DELIVERED, "no ids: not shown as playing now", outcome="no_ids")
        answer = await self.authorised("POST", f"/scrobble/{verb}", item.scrobble(progress))
        if answer.status in (200, 201, 409):
            return Attempt(Verdict.DELIVERED, f"{verb} shown on {self.service} ({item.words}, {progress:g} %)",
                           answer.status, outcome=f"scrobble_{verb}", answer=answer.said())
        if answer.status == 429 or answer.status >= 500 or self.limit(answer):
            return self.limit(answer) or self.common(answer, item.words)
        return Attempt(Verdict.DELIVERED, f"not shown as playing now ({answer.said()})", answer.status,
                       outcome="scrobble_refused", answer=answer.said())

    # -- checks -------------------------------------------------------------------------
    async def checks(self) -> list[Check]:
        """A row per hop: the network, the sign-in, the API."""
        net, sign, api = f"{self.label}: network", f"{self.label}: sign-in", f"{self.label}: API"
        try:
            token = await self.token()
        except SignedOut as exc:
            return [Check(sign, CheckStatus.FAIL, str(exc), self.sign_in_fix())]
        except Unreachable as exc:  # (renewing the sign-in could not reach the service)
            return [Check(net, CheckStatus.FAIL, f"{self.api_url()}: {exc}", "Check the network.")]
        expires = self.tokens.expires_at if self.tokens else None
        who = f" as {self.target.account}" if self.target.account else ""
        rows = [Check(sign, CheckStatus.PASS, f"signed in{who}" + (
            f", renewed before {datetime.fromtimestamp(expires):%Y-%m-%d}" if expires else ""))]
        try:
            who = await self.whoami(token)
        except Unreachable as exc:
            return [Check(net, CheckStatus.FAIL, f"{self.api_url()}: {exc}",
                          "Check the network; events wait and are sent again."), *rows]
        except SignedOut as exc:
            return [Check(net, CheckStatus.PASS, f"{self.api_url()} answers"),
                    Check(sign, CheckStatus.FAIL, str(exc), self.sign_in_fix())]
        except RuntimeError as exc:
            return [Check(net, CheckStatus.PASS, f"{self.api_url()} answers"), *rows,
                    Check(api, CheckStatus.FAIL, str(exc), "See the service's status page; events wait.")]
        return [Check(net, CheckStatus.PASS, f"{self.api_url()} answers"), *rows,
                Check(api, CheckStatus.PASS, f"the account {who} answers")]


def _tokens(kept: str | None) -> Tokens | None:
    if not kept:
        return None
    try:
        return Tokens.from_json(kept)  # (its tokens registered as secrets)
    except ValueError:
        log.warning("the kept sign-in could not be read: sign in again")
        return None
