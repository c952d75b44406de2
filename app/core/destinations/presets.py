"""Relay presets: the self-hosted trackers that take Plex's webhook, each by name.

A preset knows its tracker's URL shape (host, port and token make the full URL), where
the secret goes (path or query) so that it stays masked, which Plex events and media the
tracker acts on (only those are sent), what its answers mean (:attr:`Preset.judge`
refines :func:`app.core.destinations.relay.classify`), a Test event it accepts without
changing anyone's history, and what it cannot do, in words. Each was read from the
tracker's own code (``../shared/TRACKERS.md`` section 3; the stand-ins in ``tests/``
name the commits). ``other`` is the relay as it always was: any URL, every event.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from app.core.destinations.base import Attempt, Verdict
from app.core.diagnostics import self_test_payload
from app.core.logs import URL_MASK, redact_url, url_secrets

PLAYBACK = frozenset({"media.play", "media.pause", "media.resume", "media.stop", "media.scrobble"})
BOTH = frozenset({"movie", "episode"})
LATE_MINUTES = 10  # a delivery this late is said to be late, for a tracker that dates it when received

#: (attempt, HTTP status, first 4 KB of the body, the payload sent) -> what it means there
Judge = Callable[[Attempt, int, str, str], Attempt]


def _same(attempt: Attempt, status: int, body: str, payload: str) -> Attempt:
    return attempt


@dataclass(frozen=True)
class Preset:
    """One tracker's Plex webhook, as the relay must use it."""

    name: str  # the CLI's --preset and settings.json's "preset"
    title: str  # the tracker's name, in sentences
    path: str = ""  # the path, "{token}" where a path token goes ("": any URL)
    query: str = ""  # the query key that carries the token ("": the token is in the path)
    port: int = 0  # its usual port
    token_name: str = "token"  # what the tracker calls it
    events: frozenset[str] | None = None  # the Plex events it acts on (None: every event)
    media: frozenset[str] | None = None  # the Plex media types it takes (None: every type)
    stamps_receipt: bool = False  # dates a play when it receives it (not when it was played)
    takes: str = "every Plex event (the tracker decides)"
    cannot: str = ""  # what it cannot do, in words ("" : nothing to say)
    where: str = ""  # where in the tracker the webhook URL is found
    test_event: Callable[[], str] = self_test_payload  # accepted there, changes no history
    tested: str = ""  # what a Test it accepted means there
    judge: Judge = _same

    @property
    def shape(self) -> str:
        """The URL with placeholders, e.g. ``http://HOST:8000/webhook/plex/TOKEN``."""
        if not self.path:
            return "any http:// or https:// URL"
        return self.url("HOST", self.port, self.token_name.upper().replace(" ", "_"))

    def url(self, host: str, port: int | None, token: str) -> str:
        """The full URL from its fields (the token quoted as its place needs). ``host`` may
        carry a scheme (``https://``, else http) and a reverse proxy's path prefix
        (``nas.lan/yamtrack``)."""
        scheme, _, rest = host.strip().rpartition("://")
        name, _, base = rest.partition("/")
        base = f"/{base.strip('/')}" if base.strip("/") else ""
        netloc = f"[{name}]" if ":" in name and not name.startswith("[") else name
        if port:
            netloc += f":{port}"
        path = self.path.replace("{token}", quote(token, safe=""))
        query = f"?{urlencode({self.query: token})}" if self.query else ""
        return f"{scheme.lower() or 'http'}://{netloc}{base}{path}{query}"

    def fields(self, url: str) -> tuple[str, int | None, str]:
        """(host, port, token) read back from a URL of this shape ("" where not found); the
        host as :meth:`url` takes it (with its scheme unless http, and any path prefix)."""
        parts = urlsplit(url.strip())
        try:
            port = parts.port
        except ValueError:
            port = None
        token = ""
        if self.query:
            token = next((v for k, v in parse_qsl(parts.query) if k == self.query), "")
        elif (base := self._base(parts.path)) is not None:
            token = unquote(parts.path[len(base) + len(self.path.split("{token}")[0]):].strip("/"))
        host = ("" if parts.scheme == "http" else f"{parts.scheme}://") + (parts.hostname or "")
        return host + (self._base(parts.path) or ""), port, token

    def _base(self, path: str) -> str | None:
        """What comes before the tracker's own path in ``path`` (a reverse proxy's prefix,
        e.g. ``/yamtrack``; "" for none), or None when ``path`` is not of this shape."""
        head = self.path.split("{token}")[0]
        if "{token}" not in self.path:
            trimmed = path.rstrip("/")
            return trimmed[:-len(self.path)] if trimmed.endswith(self.path) else None
        at = path.find(head)
        token = path[at + len(head):].rstrip("/") if at >= 0 else ""
        return path[:at] if token and "/" not in token else None

    def url_problem(self, url: str) -> str | None:
        """Why ``url`` is not this tracker's webhook URL, or None."""
        if not self.path:
            return None
        parts = urlsplit(url.strip())
        tokens = [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k == self.query]
        if self.query and len(tokens) > 1:
            return (f"the URL has {len(tokens)} '{self.query}=': {self.title} reads two as a list and "
                    "refuses it; keep one")
        if self._base(parts.path) is None or (self.query and not (tokens and tokens[0])):
            return f"{self.title}'s webhook URL looks like {self.shape}"
        return None

    def secrets(self, url: str, segments: tuple[int, ...]) -> list[str]:
        """The credentials in ``url``: the relay's usual ones and this tracker's query token."""
        found = url_secrets(url, segments)
        if self.query:
            found += [v for k, v in parse_qsl(urlsplit(url.strip()).query) if k == self.query and v]
        return list(dict.fromkeys(found))

    def shown(self, url: str, segments: tuple[int, ...]) -> str:
        """``url`` with its credentials masked in their place."""
        shown = redact_url(url, segments)
        if not self.query:
            return shown
        parts = urlsplit(shown)
        query = "&".join(f"{k}={URL_MASK}" if k == self.query and v else part
                         for part in parts.query.split("&") if part for k, _, v in (part.partition("="),))
        return parts._replace(query=query).geturl()

    def wants(self, event: str | None, media_type: str | None) -> bool:
        """Whether the tracker acts on this Plex event (an unknown media type is sent)."""
        if self.events is not None and event not in self.events:
            return False
        return self.media is None or media_type is None or media_type in self.media

    def late(self, minutes: float) -> str | None:
        """What a delivery ``minutes`` late means here, or None when it does not matter."""
        if not self.stamps_receipt or minutes < LATE_MINUTES:
            return None
        return (f"events {minutes:.0f} min late: {self.title} dates each play when it receives it, "
                "not when it was played")


# -- the Test events ---------------------------------------------------------------------------
def _event(event: str, meta: dict[str, Any] | None) -> str:
    """A test event as Plex shapes it (one line: Ryot and goplaxt cut the JSON out with a regex)."""
    data: dict[str, Any] = {"event": event, "user": True, "owner": True,
                            "Account": {"id": 0, "title": "Scrobble Tray test"},
                            "Server": {"title": "Scrobble Tray", "uuid": "scrobbletray-test"}}
    if meta is not None:
        data["Metadata"] = {"title": "Scrobble Tray test", "ratingKey": "0", **meta}
    return json.dumps(data, separators=(",", ":"))


_TEST_MOVIE = {"type": "movie", "librarySectionType": "movie", "duration": 1000,
               "Guid": [{"id": "tmdb://0"}]}


# -- what the answers mean ---------------------------------------------------------------------
def _refused(attempt: Attempt, detail: str, fix: str) -> Attempt:
    return dataclasses.replace(attempt, verdict=Verdict.REFUSED, detail=detail, fix=fix, retry_after=None)


def _said(attempt: Attempt) -> str:
    return attempt.answer or f"HTTP {attempt.status}"


def _metadata(payload: str) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except ValueError:
        return {}
    meta = data.get("Metadata") if isinstance(data, dict) else None
    return {**meta, "event": data.get("event")} if isinstance(meta, dict) else {"event": data.get("event")}


def _yamtrack(attempt: Attempt, status: int, body: str, payload: str) -> Attempt:
    if status == 401:
        return _refused(attempt, f"Yamtrack does not know this token ({_said(attempt)})",
                        "Copy the Plex webhook URL, token and all, from Yamtrack: Settings, Integrations.")
    if status == 404:
        return _refused(attempt, f"nothing at this path ({_said(attempt)})",
                        f"A Yamtrack Plex webhook URL looks like {YAMTRACK.shape}.")
    return attempt


def _mediatracker(attempt: Attempt, status: int, body: str, payload: str) -> Attempt:
    if status == 401:
        return _refused(attempt, f"MediaTracker refused the token ({_said(attempt)})",
                        "Create an application token in MediaTracker (Settings, Application tokens) "
                        "and give it once, as ?token=.")
    meta = _metadata(payload)
    ids = [g.get("id", "") for g in meta.get("Guid") or [] if isinstance(g, dict)]
    if status == 500 and meta.get("event") == "media.scrobble" and not any(
            str(i).startswith(("imdb://", "tmdb://", "tvdb://")) for i in ids):
        return dataclasses.replace(_refused(
            attempt, f"MediaTracker cannot read a play without Plex's Guid list of ids "
            f"({_said(attempt)}); it answers so every time, so it is not sent again",
            "The item is in a library on a legacy Plex agent: move the library to Plex's "
            "current agents (Plex Movie, Plex TV Series) so that Plex sends its ids."), event_only=True)
    return attempt


def _ryot(attempt: Attempt, status: int, body: str, payload: str) -> Attempt:
    if status == 202:
        return dataclasses.replace(attempt, detail=f"queued by Ryot ({_said(attempt)}); Ryot answers 202 "
                                   "even for a wrong slug, so whether it counted shows only in Ryot")
    if status == 404:
        return _refused(attempt, f"nothing at this path ({_said(attempt)})",
                        f"A Ryot webhook URL looks like {RYOT.shape} (Settings, Integrations, Plex sink).")
    return attempt


def _movary(attempt: Attempt, status: int, body: str, payload: str) -> Attempt:
    if status == 404:
        return _refused(attempt, f"Movary does not know this webhook id, or the path is wrong "
                        f"({_said(attempt)})",
                        "Copy the Plex webhook URL, id and all, from Movary: Settings, Integrations, Plex.")
    meta = _metadata(payload)
    if status == 500 and meta.get("event") == "media.scrobble" and not meta.get("lastViewedAt"):
        return _refused(attempt, f"Movary cannot date a play without Plex's lastViewedAt "
                        f"({_said(attempt)}); it answers so every time, so it is not sent again",
                        "Mark the movie watched in Movary by hand.")
    if 200 <= status < 300:
        return dataclasses.replace(attempt, detail=f"accepted ({_said(attempt)}); Movary answers 200 for "
                                   "events it ignores too")
    return attempt


_CROSSWATCH_IGNORED = {
    "invalid_profile": "does not know this profile token",
    "webhook_disabled": "has its webhook source turned off",
    "profile_disabled": "has webhooks turned off for this profile",
    "provider_not_connected": "is not connected to Plex for this profile",
    "no_destinations": "has no destination selected for Plex webhooks",
}


def _crosswatch(attempt: Attempt, status: int, body: str, payload: str) -> Attempt:
    if status == 401:
        return _refused(attempt, f"CrossWatch refused the webhook token ({_said(attempt)})",
                        f"Copy the Plex webhook URL from CrossWatch (Scrobbler, Webhook): {CROSSWATCH.shape}.")
    try:
        said = json.loads(body) if 200 <= status < 300 else {}
    except ValueError:
        said = {}
    said = said if isinstance(said, dict) else {}
    if (why := _CROSSWATCH_IGNORED.get(str(said.get("error")))) is not None:
        fix = ("Copy the Plex webhook URL, ?profile= and all, from CrossWatch (Scrobbler, Webhook)."
               if said.get("error") == "invalid_profile" else "Fix it in CrossWatch's Scrobbler settings, "
               "then press Retry.")
        return _refused(attempt, f"CrossWatch ignored it: it {why} ({_said(attempt)})", fix)
    if said.get("ok") is False:
        return _refused(attempt, f"CrossWatch wants a Plex signature ({_said(attempt)}); relayed events "
                        "carry none", "Clear the Plex webhook secret in CrossWatch's settings.")
    return attempt


def _goplaxt(attempt: Attempt, status: int, body: str, payload: str) -> Attempt:
    if status == 404 and "user not found" in body:
        return _refused(attempt, f"goplaxt does not know this id ({_said(attempt)})",
                        "Authorize again on goplaxt's page and copy the webhook URL it shows (…/api?id=…).")
    if status == 404:
        return _refused(attempt, f"nothing at this path ({_said(attempt)})",
                        f"A goplaxt webhook URL looks like {GOPLAXT.shape}.")
    if status == 401:
        return _refused(attempt, f"goplaxt could not renew its Trakt sign-in and forgot this id "
                        f"({_said(attempt)})", "Authorize again on goplaxt's page and use the new URL.")
    return attempt


# -- the presets -------------------------------------------------------------------------------
NO_EVENT_ID = "reads no event id, so a repeat is a second play"

YAMTRACK = Preset(
    "yamtrack", "Yamtrack", "/webhook/plex/{token}", port=8000,
    events=frozenset({"media.scrobble", "media.play"}), media=BOTH, stamps_receipt=True,
    takes="media.scrobble (watched) and media.play (in progress); movies and episodes",
    cannot="dates a play when it receives it; de-duplicates only within 5 s, " + NO_EVENT_ID,
    where="Settings, Integrations, Plex", test_event=lambda: _event("media.pause", {"type": "episode"}),
    tested="Yamtrack took the token. It counts only the plays of the Plex user names set in Yamtrack "
           "(Settings, Integrations, Plex usernames): put yours there.", judge=_yamtrack)
MEDIATRACKER = Preset(
    "mediatracker", "MediaTracker", "/api/plex", query="token", port=7481, token_name="application token",
    events=frozenset({"media.scrobble"}), media=BOTH, stamps_receipt=True,
    takes="media.scrobble; movies and episodes, with Plex's Guid list of ids",
    cannot="dates a play when it receives it; refuses a play without Plex's Guid list (legacy agents); "
           + NO_EVENT_ID,
    where="Settings, Application tokens", test_event=lambda: _event("media.play", _TEST_MOVIE),
    tested="MediaTracker took the token.", judge=_mediatracker)
RYOT = Preset(
    "ryot", "Ryot", "/_i/{token}", port=8000, token_name="slug", events=PLAYBACK, media=BOTH,
    takes="play, pause, resume, stop and scrobble (as progress); movies and episodes with a TMDB id",
    cannot="answers 202 even for a wrong slug (a mistake shows only in Ryot); counts an episode only of "
           "a show already in Ryot; " + NO_EVENT_ID,
    where="Settings, Integrations, Plex sink", test_event=self_test_payload,
    tested="Ryot queued it, as it does even for a wrong slug: in Ryot (Settings, Integrations) the Plex "
           "integration's last trigger should now show an error about the payload. That is this test "
           "(nothing was recorded); if it shows nothing new, the slug is wrong.", judge=_ryot)
MOVARY = Preset(
    "movary", "Movary", "/api/webhook/plex/{token}", port=80, token_name="webhook id",
    events=frozenset({"media.scrobble", "media.rate"}), media=frozenset({"movie"}),
    takes="media.scrobble and media.rate of movies only (episodes are not sent)",
    cannot="movies only; answers 200 for events it ignores; " + NO_EVENT_ID,
    where="Settings, Integrations, Plex", test_event=lambda: _event("media.play", _TEST_MOVIE),
    tested="Movary knows this webhook id. It counts movies only, when 'scrobble watches' is on in its "
           "Plex settings.", judge=_movary)
CROSSWATCH = Preset(
    "crosswatch", "CrossWatch", "/webhook/plex", query="profile", port=8787, token_name="profile token",
    events=PLAYBACK | {"media.rate"}, media=BOTH,
    takes="play, pause, resume, stop, scrobble and rate; movies and episodes",
    cannot="refuses relayed events while a Plex webhook secret is set in it (they carry no signature); "
           + NO_EVENT_ID,
    where="Scrobbler, Webhook", test_event=lambda: _event("media.play", {"type": "clip"}),
    tested="CrossWatch took the profile token.", judge=_crosswatch)
GOPLAXT = Preset(
    "goplaxt", "goplaxt", "/api", query="id", port=8000, token_name="id", events=PLAYBACK, media=BOTH,
    takes="play, pause, resume, stop and scrobble, passed on to Trakt; movies and episodes",
    cannot="answers 200 for plays of other Plex users (skipped); " + NO_EVENT_ID,
    where="its page, after authorizing", test_event=lambda: _event("media.play", {
        "type": "photo", "librarySectionType": "photo"}),
    tested="goplaxt knows this id. It passes on only the plays of the Plex user it was authorized for.",
    judge=_goplaxt)
REFERENCE = Preset(
    "reference", "the reference web tracker", "/api/plex/webhook", query="secret", port=3000,
    token_name="secret", events=frozenset({"media.scrobble"}), media=frozenset({"episode"}),
    takes="media.scrobble of episodes", cannot="reads no event id (it de-duplicates an episode within 5 minutes)",
    where="its Plex settings", tested="The tracker took the secret.")
OTHER = Preset("other", "another web tracker", tested="")

#: Every preset, by name, in the order they are offered.
PRESETS: dict[str, Preset] = {p.name: p for p in (
    YAMTRACK, MEDIATRACKER, RYOT, MOVARY, CROSSWATCH, GOPLAXT, REFERENCE, OTHER)}


def preset(name: str | None) -> Preset:
    """The preset called ``name`` (``other`` for none); KeyError for a name no preset has."""
    return PRESETS[name or "other"]
