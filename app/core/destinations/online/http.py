"""HTTP for the online trackers: one call with a timeout, the app's User-Agent, a JSON
body read leniently, and failures that name the host only (never a URL with a secret).

A call either gets an :class:`Answer` (any status) or raises :class:`Unreachable`, which
says whether the request may have arrived (a timeout, a cut connection: the service may
have recorded it) or surely did not (nobody listening, no network).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from app import __version__
from app.core.lazy import lazy
from app.core.logs import redact

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = lazy("aiohttp")  # (loaded when first used: see app.core.lazy)

USER_AGENT = f"ScrobbleTray/{__version__}"
TIMEOUT = {"total": 20, "sock_connect": 10}  # (an aiohttp.ClientTimeout's: aiohttp loads when first used)
MAX_ANSWER = 4 * 1024 * 1024  # bytes of an answer read at most (a history page is far less)


class Unreachable(Exception):
    """The service could not be reached or did not answer (the message names the host only).
    ``maybe_arrived``: the request went out and may have been recorded there."""

    def __init__(self, message: str, maybe_arrived: bool = False) -> None:
        super().__init__(message)
        self.maybe_arrived = maybe_arrived


@dataclass
class Answer:
    """A service's answer: its status, its body (parsed JSON, or None) and headers."""

    status: int
    body: Any
    headers: Mapping[str, str]
    text: str = ""  # its first line, secrets masked, for the user

    def said(self) -> str:
        return f"HTTP {self.status}" + (f": {self.text}" if self.text else "")


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


@contextlib.asynccontextmanager
async def session_for(session: aiohttp.ClientSession | None) -> AsyncIterator[aiohttp.ClientSession]:
    """``session`` itself (left open: it is the caller's), or one made and closed here."""
    if session is not None:
        yield session
        return
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(**TIMEOUT)) as own:
        yield own


async def call(session: aiohttp.ClientSession, method: str, url: str, headers: Mapping[str, str],
               body: Any = None, timeout: aiohttp.ClientTimeout | None = None,
               params: Mapping[str, str] | None = None) -> Answer:
    """One HTTP call (``body`` sent as JSON); a body that is not JSON reads as None.
    ``timeout``: the session's unless given."""
    try:
        async with session.request(method, url, headers={"User-Agent": USER_AGENT, **headers}, params=params,
                                   data=None if body is None else json.dumps(body),
                                   timeout=timeout or session.timeout) as response:
            text = (await response.content.read(MAX_ANSWER)).decode("utf-8", "replace")
            try:
                parsed = json.loads(text) if text.strip() else None
            except ValueError:
                parsed = None
            first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")[:200]
            return Answer(response.status, parsed, response.headers, redact(first))
    except TimeoutError:
        raise Unreachable(f"{_host(url)} did not answer in time", maybe_arrived=True) from None
    except aiohttp.ClientConnectorError as exc:
        why = exc.os_error
        said = "connection refused" if isinstance(why, ConnectionRefusedError) else type(exc).__name__
        raise Unreachable(f"could not reach {_host(url)} ({said})") from None
    except aiohttp.ClientError as exc:  # cut mid-answer, not HTTP at all...: it may have arrived
        raise Unreachable(f"could not reach {_host(url)} ({type(exc).__name__})", maybe_arrived=True) from None
