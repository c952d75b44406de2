"""Relay: forward Plex's webhooks, unchanged, to a web tracker's own webhook endpoint.

The tracker (typically a self-hosted app on ``localhost:3000``) does its own matching;
what the relay adds is reachability, durability (see :mod:`.sender`) and visibility.
Each POST carries Plex's original ``payload`` as ``multipart/form-data``, a
``User-Agent`` naming Scrobble Tray and the inbox event id in
:data:`EVENT_ID_HEADER`, so the target can de-duplicate a repeat. A target's ``preset``
(:mod:`.presets`) names the tracker: its URL shape, the events it takes, what its
answers mean and what it cannot do; ``other`` keeps the relay as it always was.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urljoin, urlsplit

from app import __version__
from app.core.destinations import presets
from app.core.destinations.base import (
    EVERY_EVENT,
    Attempt,
    Context,
    Delivery,
    Kind,
    Option,
    OutboxDestination,
    Settled,
    Target,
    Verdict,
)
from app.core.errors import SettingsInvalid
from app.core.lazy import lazy
from app.core.logs import URL_MASK, add_secret, redact
from app.core.types import SELF_TEST_EVENT, Check, CheckStatus

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = lazy("aiohttp")  # (loaded when first used: see app.core.lazy)

EVENT_ID_HEADER = "X-Scrobble-Tray-Event-Id"
USER_AGENT = f"ScrobbleTray/{__version__} (relay)"
MAX_REDIRECTS = 3
ONLY_WATCHED = "Only watched episodes"  # what a relay target is sent with only_watched (Kind.sends)
# The segments that come just before a token in a tracker's webhook path: Yamtrack's
# /webhook/plex/<token> and Movary's /api/webhook/plex/<id>; Ryot's /_i/<slug>.
TOKEN_AFTER: tuple[tuple[str, ...], ...] = (("webhook", "plex"), ("_i",))
_TOKEN = re.compile(r"(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_-]{24,}")  # a long random segment, wherever it is


def secret_segments(url: str) -> tuple[int, ...]:
    """The indexes of the path segments (split on "/") of ``url`` that are tokens."""
    segments = urlsplit(url.strip()).path.split("/")
    return tuple(i for i, seg in enumerate(segments) if seg and (
        _TOKEN.fullmatch(seg) or any(tuple(s.lower() for s in segments[max(0, i - len(before)):i]) == before
                                     for before in TOKEN_AFTER)))


@dataclass
class RelayTarget(Target):
    """A web tracker's own Plex webhook endpoint that Scrobble Tray relays to."""

    id: str
    url: str  # may carry the target's secret in its query string
    only_watched: bool = False  # False: every Plex event (the target decides)
    enabled: bool = True
    label: str = ""
    preset: str = "other"  # the tracker (app.core.destinations.presets); settings without one: other

    def problem(self) -> str | None:
        """What is wrong with this target, for the user; None when it can be used."""
        if self.preset not in presets.PRESETS:
            return f"there is no tracker preset {self.preset!r} ({', '.join(presets.PRESETS)})"
        return relay_url_problem(self.url) or presets.preset(self.preset).url_problem(self.url)

    def to_dict(self) -> dict[str, Any]:
        """Its settings.json form; ``other`` is left out (as an earlier version wrote it)."""
        data = super().to_dict()
        if data.get("preset") == "other":
            del data["preset"]
        return data


def relay_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a relay target, or None."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "the target must be an http:// or https:// URL, e.g. http://localhost:3000/api/plex/webhook?secret=..."
    try:
        _ = parts.port  # raises for a port that is not a number in range
    except ValueError:
        return "the port in the target URL is not a number between 0 and 65535"
    return None


def _where(url: str) -> str:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # (a saved URL nobody checked: named all the same)
        port = None
    return f"{parts.hostname}:{port or (443 if parts.scheme == 'https' else 80)}"


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


class Relay(OutboxDestination):
    """One relay target."""

    kind: ClassVar[str] = "relay"
    idempotent: ClassVar[bool] = True  # at least once, with the event id for the target to de-duplicate

    def __init__(self, target: RelayTarget, timeout: float = 10.0) -> None:
        super().__init__(target.id, target.label or RELAY.default_label(target))
        self.target = target
        self.preset = presets.PRESETS.get(target.preset, presets.OTHER)
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._secrets = self.preset.secrets(target.url, secret_segments(target.url))
        for secret in self._secrets:
            add_secret(secret)
        self._late: tuple[float, str] | None = None  # (when, words): a backlog delivered late

    @property
    def shown_url(self) -> str:  # type: ignore[override]
        return self.preset.shown(self.target.url, secret_segments(self.target.url))

    @property
    def note(self) -> str | None:  # type: ignore[override]
        """What the tracker cannot do, in words."""
        return f"{self.preset.title} {self.preset.cannot}" if self.preset.cannot else None

    @property
    def late(self) -> str | None:  # type: ignore[override]
        """How late a backlog goes out, to a tracker that dates a play when it receives it
        (until a minute after the last late one)."""
        return self._late[1] if self._late is not None and time.monotonic() - self._late[0] < 60 else None

    def _masked(self, text: str) -> str:
        """``text`` (an error that may quote the URL) with the target's credentials masked."""
        return redact(text, *self._secrets, mask=URL_MASK)

    @property
    def enabled(self) -> bool:  # type: ignore[override]
        return self.target.enabled

    @property
    def only_watched(self) -> bool:  # type: ignore[override]
        return self.target.only_watched

    def wants(self, event: Settled) -> bool:
        if event.event == SELF_TEST_EVENT or not self.enabled:
            return False
        if self.only_watched and not event.action.watched:
            return False
        return self.preset.wants(event.event, event.media_type)

    async def send(self, delivery: Delivery) -> Attempt:
        if delivery.received_at is not None:
            from app.core.models import utcnow  # (here: at the top it loads SQLAlchemy for every command)

            minutes = (utcnow() - delivery.received_at).total_seconds() / 60
            if (late := self.preset.late(minutes)) is not None:
                self._late = (time.monotonic(), late)
        return await self._post(delivery.payload, delivery.event_id)

    async def test(self) -> Attempt:
        """Send a test event the tracker accepts without changing anyone's history (not
        through the outbox), and say what its answer means there."""
        attempt = await self._post(self.preset.test_event(), 0)
        if attempt.verdict is Verdict.DELIVERED and self.preset.tested:
            return dataclasses.replace(attempt, detail=f"{attempt.detail}. {self.preset.tested}")
        return attempt

    async def checks(self) -> list[Check]:
        attempt = await self.test()
        ok = attempt.verdict is Verdict.DELIVERED
        return [Check(self.label, CheckStatus.PASS if ok else CheckStatus.FAIL,
                      f"{self.shown_url}: {attempt.detail}", attempt.fix or "")]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"User-Agent": USER_AGENT})
        return self._session

    async def _post(self, payload: str, event_id: int) -> Attempt:
        url = self.target.url
        for _ in range(MAX_REDIRECTS + 1):
            form = aiohttp.FormData()
            form.add_field("payload", payload, content_type="application/json")
            try:
                async with self._client().post(url, data=form, allow_redirects=False,
                                               headers={EVENT_ID_HEADER: str(event_id)}) as r:
                    if r.status in (301, 302, 303, 307, 308) and "Location" in r.headers:
                        new = urljoin(url, r.headers["Location"])
                        if relay_url_problem(new) is not None:
                            return Attempt(Verdict.REFUSED, f"HTTP {r.status}: redirected to an address that "
                                           "is not valid (not followed)", r.status,
                                           fix="The tracker's own settings are wrong: check its address.")
                        if _origin(new) != _origin(url):
                            return Attempt(Verdict.REFUSED, f"HTTP {r.status}: redirected to "
                                           f"{_where(new)}, another host (not followed)", r.status,
                                           fix="Use the address the tracker redirects to, if you trust it.")
                        url = new
                        continue
                    body = (await r.content.read(4096)).decode("utf-8", "replace")
                    return self.preset.judge(classify(r.status, body, r.headers.get("Retry-After"), _where(url)),
                                             r.status, body, payload)
            except TimeoutError:
                return Attempt(Verdict.RETRY, f"no answer within {self.timeout:g} s",
                               fix="The tracker is running but not answering: check its own log.")
            except aiohttp.ClientConnectorError as exc:
                why = exc.os_error
                said = "connection refused" if isinstance(why, ConnectionRefusedError) else (
                    (why.strerror if why else None) or str(exc))
                return Attempt(Verdict.RETRY, f"cannot connect to {_where(url)} ({said})",
                               fix="Start the tracker (e.g. 'npm run dev'); events wait until it is up.")
            except aiohttp.ClientResponseError as exc:  # (not HTTP at all: another program on the port?)
                said = next((ln.strip() for ln in str(exc.message).splitlines() if ln.strip()), "")
                return Attempt(Verdict.RETRY, self._masked(f"the answer is not HTTP ({said})"),
                               fix="Check the port in the target URL: another program answers there.")
            except aiohttp.ClientError as exc:  # (its words may quote the URL, secret and all)
                return Attempt(Verdict.RETRY, self._masked(f"{type(exc).__name__}: {exc}"),
                               fix="Events wait and are sent again.")
        return Attempt(Verdict.REFUSED, f"more than {MAX_REDIRECTS} redirects", fix="Check the target URL.")


class RelayKind(Kind):
    """Relay targets: a web tracker's own Plex webhook URL."""

    name = "relay"
    label = "relay target"
    settings_key = "relays"
    target = RelayTarget
    add_help = "relay Plex's webhooks to a web tracker's own webhook URL"
    url_help = "e.g. 'http://localhost:3000/api/plex/webhook?secret=...' (quote it)"
    options = (Option("only_watched", "--only-watched",
                      "only events Scrobble Tray counted as watched (default: every Plex event)",
                      "only watched episodes", "every Plex event"),
               Option("preset", "--preset", "which tracker it is, for its URL shape, the events it takes "
                      "and what its answers mean (default: other; see 'destinations presets')", "", "",
                      choices=tuple(presets.PRESETS), default="other"))
    test_sends = True

    def url_problem(self, url: str) -> str | None:
        return relay_url_problem(url)

    def sends(self, target: Any) -> str:
        if target.only_watched:
            return ONLY_WATCHED
        tracker = presets.PRESETS.get(target.preset, presets.OTHER)
        return EVERY_EVENT if tracker is presets.OTHER else f"What {tracker.title} takes"

    def sends_tip(self, target: Any) -> str | None:
        tracker = presets.PRESETS.get(target.preset, presets.OTHER)
        if tracker is presets.OTHER:
            return None
        return f"{tracker.title[:1].upper()}{tracker.title[1:]} takes {tracker.takes}."

    def problem(self, target: Any) -> str | None:
        return target.problem()  # type: ignore[no-any-return]

    def new_target(self, id: str, url: str, label: str = "", **options: Any) -> tuple[Any, dict[str, str | None]]:
        if (name := options.get("preset") or "other") not in presets.PRESETS:
            raise SettingsInvalid([f"there is no tracker preset {name!r} ({', '.join(presets.PRESETS)})"])
        return super().new_target(id, url, label, **{**options, "preset": name})

    def default_label(self, target: Any) -> str:
        found = presets.PRESETS.get(getattr(target, "preset", "other"), presets.OTHER)
        title = "Web tracker" if found is presets.OTHER else found.title[:1].upper() + found.title[1:]
        return f"{title} at {_where(target.url)}"

    def described(self, target: Any) -> str:
        found = presets.PRESETS.get(target.preset, presets.OTHER)
        said = "only watched episodes" if target.only_watched else (
            "every Plex event" if found.events is None else found.takes)
        return said if found is presets.OTHER else f"{found.title}: {said}"

    def shown_url(self, target: Any) -> str:
        found = presets.PRESETS.get(target.preset, presets.OTHER)
        return found.shown(target.url, secret_segments(target.url))

    def secret_segments(self, url: str) -> tuple[int, ...]:
        """Tokens in the path: Yamtrack's, Ryot's and Movary's shapes (:data:`TOKEN_AFTER`),
        and any long random segment."""
        return secret_segments(url)

    def build(self, target: Any, context: Context) -> Relay:
        return Relay(target, context.timeout)


RELAY = RelayKind()


def _first_line(body: str) -> str:
    line = next((ln.strip() for ln in body.splitlines() if ln.strip()), "")
    return line[:200]


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number of seconds or an HTTP date);
    None when there is none, or it is not one of those (inf, nan, negative, words). The
    sender keeps what is left between its floor and its cap."""
    if value is None or not (value := value.strip()):
        return None
    if value.isdigit() or value.replace(".", "", 1).isdigit():
        seconds = float(value)
        return seconds if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def classify(status: int, body: str, retry_after: str | None, where: str) -> Attempt:
    """What an answer from the target means for this event."""
    said = f"HTTP {status}" + (f": {_first_line(body)}" if _first_line(body) else "")
    if 200 <= status < 300:
        return Attempt(Verdict.DELIVERED, f"accepted ({said})", status, answer=said)
    if status == 429:
        return Attempt(Verdict.RETRY, f"rate-limited ({said})", status, parse_retry_after(retry_after),
                       "Nothing to do: sending slows down to the pace the tracker accepts.", answer=said)
    if status >= 500 or status == 408:
        return Attempt(Verdict.RETRY, f"the tracker failed ({said})", status, parse_retry_after(retry_after),
                       "The tracker has a problem of its own (its database?); events wait and are sent again.",
                       answer=said)
    fix = {401: "The tracker refused the secret: copy the webhook URL, with its ?secret=..., "
                "from the tracker's settings.",
           403: "The tracker refused the secret: copy the webhook URL, with its ?secret=..., "
                "from the tracker's settings.",
           404: f"Nothing at this path on {where}: check the path in the target URL "
                "(e.g. /api/plex/webhook)."}.get(status, "Check the target URL in Settings.")
    return Attempt(Verdict.REFUSED, f"refused ({said})", status, fix=fix, answer=said)
