"""The tunnel's failures in words: ngrok's error codes and the agent's or its API's errors
turned into a reason (what happened) and a fix (what the user can do), all redacted.

Agent errors such as ``ERR_NGROK_105`` echo the authtoken, so every text made here goes
through :func:`app.core.logs.redact`.
"""

from __future__ import annotations

import json
import re

from pyngrok.exception import PyngrokNgrokError, PyngrokNgrokHTTPError, PyngrokNgrokURLError

from app.core.logs import redact

AUTHTOKEN_URL = "https://dashboard.ngrok.com/get-started/your-authtoken"
DOMAINS_URL = "https://dashboard.ngrok.com/domains"
DOWNLOAD_URL = "https://ngrok.com/download"

_AUTH_ERRORS = {"ERR_NGROK_105", "ERR_NGROK_106", "ERR_NGROK_107", "ERR_NGROK_4018"}
_SESSION_LIMIT_ERRORS = {"ERR_NGROK_108"}


class _Failure(Exception):
    """A start-up failure: ``fatal`` ends in ERROR, otherwise it is retried."""

    def __init__(self, reason: str, fix: str | None = None, *, fatal: bool = True) -> None:
        super().__init__(reason)
        self.reason = redact(reason)
        self.fix = fix
        self.fatal = fatal


def _start_failure(exc: PyngrokNgrokError, last_agent_error: str | None) -> _Failure:
    """What a failed agent start means; ``last_agent_error`` is the agent's last logged error."""
    if isinstance(exc, PyngrokNgrokHTTPError):
        detail = _api_error_text(exc.body) or f"HTTP {exc.status_code}"
        code = _error_code(detail)
        fix = _fix_for(code, detail)
        # 4xx: ngrok refused what we asked for (domain, plan); retrying will not help.
        return _Failure(f"ngrok refused the tunnel: {detail}", fix,
                        fatal=400 <= exc.status_code < 500 or code is not None)
    if isinstance(exc, PyngrokNgrokURLError):
        return _Failure(f"The ngrok agent did not answer: {exc.reason}.", fatal=False)
    if exc.ngrok_error:
        detail = _clean_agent_error(exc.ngrok_error)
        code = exc.ngrok_error_code or _error_code(detail)
        # Coded errors (authtoken, session limit, domain) need the user; uncoded ones
        # are network trouble that ngrok reports while it keeps redialling.
        return _Failure(f"ngrok could not connect: {detail}", _fix_for(code, detail),
                        fatal=code is not None)
    return _Failure("The ngrok agent exited during start-up" + (f": {last_agent_error}" if last_agent_error else "."),
                    fatal=False)


def _clean_agent_error(text: str) -> str:
    """One readable line from an agent error (logfmt keeps ``\\n`` escaped), redacted."""
    text = text.replace("\\r", "\n").replace("\\n", "\n").replace("\\t", " ")
    text = " ".join(text.split())
    text = redact(text)
    return text if len(text) <= 400 else text[:399] + "…"


def _error_code(text: str) -> str | None:
    match = re.search(r"ERR_NGROK_\d+", text)
    return match.group(0) if match else None


def _fix_for(code: str | None, detail: str) -> str:
    if code in _AUTH_ERRORS or "authtoken" in detail.lower():
        return f"Check the ngrok authtoken in the tunnel settings; copy it again from {AUTHTOKEN_URL}."
    if code in _SESSION_LIMIT_ERRORS:
        return ("Another ngrok agent is online with this account. Close it (or end the session on "
                "https://dashboard.ngrok.com/agents) and start the tunnel again.")
    if "domain" in detail.lower() or "url" in detail.lower():
        return f"Check the static domain in the tunnel settings against {DOMAINS_URL}, or clear it."
    if code:
        return f"See https://ngrok.com/docs/errors/{code.lower()} for what ngrok means by {code}."
    return "Check the network connection; the tunnel retries by itself."


def _api_error_text(body: str | None) -> str | None:
    if not body:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return _clean_agent_error(body)
    if not isinstance(data, dict):
        return _clean_agent_error(str(data))
    parts = [str(data.get("msg") or "")]
    details = data.get("details")
    if isinstance(details, dict) and details.get("err"):
        parts.append(str(details["err"]))
    return _clean_agent_error(": ".join(p for p in parts if p)) or None


def _download_cause(exc: BaseException) -> str:
    text = str(exc)
    if " from " in text and ": " in text:
        text = text.split(": ", 1)[1] if text.startswith("An error occurred") else text
    match = re.match(r"<urlopen error (.*)>$", text)
    if match:
        text = match.group(1)
    text = re.sub(r"^\[Errno -?\d+\] ", "", text)
    return redact(text) or exc.__class__.__name__
