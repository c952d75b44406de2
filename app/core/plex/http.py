"""How requests reach plex.tv and Plex servers: our identity, timeouts, errors in words."""

from __future__ import annotations

import logging
import os
import platform
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app import __version__
from app.core.errors import AppError

if TYPE_CHECKING:  # requests is imported when Plex is first talked to, not at start-up
    import requests

PLEX_TV_ENV = "SCROBBLETRAY_PLEX_TV_URL"
_PLEX_TV_HOSTS = ("https://plex.tv", "https://clients.plex.tv")
PRODUCT = "Scrobble Tray"
ANSWER_WAIT = 20.0  # seconds one whole answer may take, from connecting to its last byte
ANSWER_CAP = 8 * 1024 * 1024  # bytes one answer may have (a page of 500 plays is ~300 KB)
_CHUNK = 64 * 1024


class PlexError(AppError):
    """Something Plex said or did not say, in words, with what the user can do."""


class SignInAgain(PlexError):
    """plex.tv no longer accepts the saved token (revoked, or signed out elsewhere)."""

    def __init__(self) -> None:
        super().__init__("Plex no longer accepts this app's sign-in (it was revoked or signed out)",
                         "Sign in to Plex again (Settings > Plex, or 'scrobbletray plex login').")


class NoPlexPass(PlexError):
    def __init__(self, username: str | None = None) -> None:
        who = f"The Plex account {username}" if username else "This Plex account"
        super().__init__(f"{who} has no Plex Pass, and Plex sends webhooks only for Plex Pass accounts",
                         "Subscribe to Plex Pass, or sign in with the account that has it.")


class AnswerRefused(PlexError):
    """An answer cut off by us: too slow as a whole, or too big (said without its URL,
    which may hold the token)."""


def plex_tv_url(configured: str | None = None) -> str | None:
    """The stand-in for plex.tv, if one is set (the setting, else the environment)."""
    url = (configured or os.environ.get(PLEX_TV_ENV) or "").strip().rstrip("/")
    return url or None


def _read_bounded(response: requests.Response, deadline: float, cap: int) -> bytes:
    """The body of ``response``, read as it comes (never more than ``cap`` held), within
    ``deadline`` (monotonic): a peer that sends a byte now and then cannot hold a thread."""
    host = response.url.split("//", 1)[-1].split("/", 1)[0].split("?", 1)[0]
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > cap:
        raise AnswerRefused(f"{host} answered with {int(length) // 1048576} MB, over the "
                            f"{cap // 1048576} MB Scrobble Tray reads", "Tell the server's owner.")
    slow = AnswerRefused(f"{host} did not finish its answer in {ANSWER_WAIT:.0f} s",
                         "Is it overloaded? It is asked again later.")
    raw, chunks, size = response.raw, list[bytes](), 0
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    per_read = sock.gettimeout() if sock is not None else None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise slow
        if sock is not None:
            sock.settimeout(left)  # one read never outlasts the deadline
        try:
            chunk = raw.read1(_CHUNK, decode_content=True)
        except Exception:
            if time.monotonic() >= deadline - 0.05:
                raise slow from None
            raise
        if not chunk:
            if sock is not None:
                sock.settimeout(per_read)  # (the connection may serve again)
            return b"".join(chunks)
        size += len(chunk)
        if size > cap:
            raise AnswerRefused(f"{host} answered with over {cap // 1048576} MB, more than Scrobble "
                                "Tray reads", "Tell the server's owner.")
        chunks.append(chunk)


def session(plex_tv: str | None) -> requests.Session:
    """A requests session for plexapi: every answer is read whole within ANSWER_WAIT and up
    to ANSWER_CAP; with ``plex_tv``, plex.tv's URLs lead there."""
    import requests
    from requests.adapters import HTTPAdapter

    class Bounded(HTTPAdapter):
        """Reads each answer itself, against a deadline and a size cap (requests' own
        timeout is per read: a peer dribbling bytes would never reach it)."""

        def send(self, request: requests.PreparedRequest, stream: bool = False,
                 timeout: Any = None, *args: Any, **kwargs: Any) -> requests.Response:
            deadline = time.monotonic() + ANSWER_WAIT
            connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
            timeout = (min(connect or ANSWER_WAIT, ANSWER_WAIT), min(read or ANSWER_WAIT, ANSWER_WAIT))
            response = super().send(request, True, timeout, *args, **kwargs)
            try:
                body = _read_bounded(response, deadline, ANSWER_CAP)
            except AnswerRefused:
                response.close()
                raise
            except Exception as exc:  # urllib3's own (a reset, a broken chunk) as requests'
                response.close()
                raise requests.ConnectionError(f"the answer broke off ({type(exc).__name__})") from None
            response._content, response._content_consumed = body, True  # as requests keeps a read body
            response.raw.release_conn()  # read to its end: the connection may serve again
            return response

    class Rebase(Bounded):
        """Sends what python-plexapi addresses to plex.tv to ``plex_tv`` instead."""

        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
            url = request.url or ""
            for host in _PLEX_TV_HOSTS:
                if url == host or url.startswith(host + "/"):
                    request.url = f"{plex_tv}{url[len(host):]}"
            return super().send(request, *args, **kwargs)

    s = requests.Session()
    s.headers["User-Agent"] = f"ScrobbleTray/{__version__}"
    for prefix in ("http://", "https://"):
        s.mount(prefix, Bounded())
    if plex_tv:
        for host in _PLEX_TV_HOSTS:
            s.mount(host, Rebase())
    return s


@dataclass(frozen=True)
class Identity:
    """Who we are to Plex: the device the user sees under Authorized Devices."""

    client_id: str

    def apply(self) -> None:
        """plexapi reads its headers from one module-level dict; set ours in it. Its log
        (an ERROR per address a server did not answer at) is left out: we say it once."""
        import plexapi

        logging.getLogger("plexapi").setLevel(logging.CRITICAL)
        plexapi.BASE_HEADERS.update({
            "X-Plex-Product": PRODUCT, "X-Plex-Version": __version__,
            "X-Plex-Client-Identifier": self.client_id,
            "X-Plex-Device-Name": f"{PRODUCT} on {platform.node() or 'this computer'}",
            "X-Plex-Provides": "controller"})


def translate(exc: Exception, what: str) -> PlexError:
    """plexapi's and requests' exceptions as a :class:`PlexError` (never with the token)."""
    import requests
    from plexapi.exceptions import BadRequest, NotFound, Unauthorized

    if isinstance(exc, AnswerRefused):
        return PlexError(f"{what}: {exc}", exc.fix)
    if isinstance(exc, PlexError):
        return exc
    if isinstance(exc, Unauthorized):
        return SignInAgain()
    if isinstance(exc, BadRequest) and "(403)" in str(exc) and "1043" in str(exc):
        return NoPlexPass()
    if isinstance(exc, NotFound):
        return PlexError(f"{what}: Plex does not know it (404)")
    if isinstance(exc, requests.Timeout):
        return PlexError(f"{what}: no answer in time", "Check the network; it is tried again later.")
    if isinstance(exc, requests.ConnectionError):
        return PlexError(f"{what}: could not connect", "Check the network; it is tried again later.")
    status = str(exc).split(")", 1)[0].lstrip("(") if str(exc).startswith("(") else None
    return PlexError(f"{what}: Plex answered {status}" if status else f"{what}: {type(exc).__name__}")
