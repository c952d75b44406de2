"""HTTP for the online trackers: one call with a timeout, the app's User-Agent, a JSON
body read leniently, and failures that name the host only (never a URL with a secret)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from app import __version__

USER_AGENT = f"ScrobbleTray/{__version__}"
TIMEOUT = aiohttp.ClientTimeout(total=20, sock_connect=10)


class Unreachable(Exception):
    """The service could not be reached or did not answer (the message names the host only)."""


@dataclass
class Answer:
    """A service's answer: its status, its body (parsed JSON, or None) and headers."""

    status: int
    body: Any
    headers: Mapping[str, str]


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


@contextlib.asynccontextmanager
async def session_for(session: aiohttp.ClientSession | None) -> AsyncIterator[aiohttp.ClientSession]:
    """``session`` itself (left open: it is the caller's), or one made and closed here."""
    if session is not None:
        yield session
        return
    async with aiohttp.ClientSession(timeout=TIMEOUT) as own:
        yield own


async def call(session: aiohttp.ClientSession, method: str, url: str, headers: Mapping[str, str],
               body: Any = None, timeout: aiohttp.ClientTimeout = TIMEOUT) -> Answer:
    """One HTTP call (``body`` sent as JSON); a body that is not JSON reads as None."""
    try:
        async with session.request(method, url, headers=headers, timeout=timeout,
                                   data=None if body is None else json.dumps(body)) as response:
            text = await response.text(errors="replace")
            try:
                parsed = json.loads(text) if text.strip() else None
            except ValueError:
                parsed = None
            return Answer(response.status, parsed, response.headers)
    except TimeoutError:
        raise Unreachable(f"{_host(url)} did not answer in time") from None
    except aiohttp.ClientError as exc:
        raise Unreachable(f"could not reach {_host(url)} ({type(exc).__name__})") from None
