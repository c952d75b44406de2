"""Logging set-up: a rotating file in the data folder, stderr, and no secrets in either."""

from __future__ import annotations

import logging
import logging.handlers
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import SplitResult, parse_qsl, unquote, unquote_plus, urlsplit

URL_MASK = "•••"  # a secret inside a URL, as it may be shown


class Redactor(logging.Filter):
    """Removes known secrets, and anything labelled as an authtoken, from text and records."""

    _LABELLED = re.compile(
        r"(?i)(authtoken[\"']?[ \t]*[:=][ \t]*[\"']?|--authtoken[ =])(?!\[redacted\]|https?://)[^\s\"',}]{4,}"
    )

    def __init__(self) -> None:
        super().__init__()
        self._secrets: frozenset[str] = frozenset()

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4:
            self._secrets = self._secrets | {secret}  # replaced, never mutated: threads read it

    def redact(self, text: str, *extra: str | None, mask: str = "[redacted]") -> str:
        """``text`` with the registered secrets, any ``extra`` ones and labelled tokens masked."""
        secrets = self._secrets | {s for s in extra if s}
        for secret in sorted(secrets, key=len, reverse=True):
            text = text.replace(secret, mask)
        return self._LABELLED.sub(lambda m: m.group(1) + mask, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to fix
            return True
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        # A traceback carries values too (aiohttp's bad-request errors hold the request
        # line, with the secret in its path): format it here, cleaned, once.
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
            record.exc_info = None  # handlers print exc_text instead of formatting it again
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


_FORMATTER = logging.Formatter()
REDACTOR = Redactor()


def add_secret(value: str | None) -> None:
    """Never log (or show through :func:`redact`) ``value`` from now on."""
    REDACTOR.add(value)


def redact(text: str, *extra: str | None, mask: str = "[redacted]") -> str:
    """``text`` with every registered secret, and each of ``extra`` for this call, replaced by ``mask``.

    The one redaction of the app: logs, reports and what the windows show (with a display mask).
    """
    return REDACTOR.redact(text, *extra, mask=mask)


SECRET_KEYS = frozenset({"secret", "token", "key", "apikey", "api_key", "password", "passwd", "pass", "pwd",
                         "auth", "access_token", "x_plex_token", "sig", "signature"})


def secret_key(name: str) -> bool:
    """Whether a query key names a credential (``?secret=``, ``?apiKey=``, ``X-Plex-Token``…)."""
    key = name.strip().lower().replace("-", "_")
    return key in SECRET_KEYS or key.endswith(("token", "secret", "apikey", "api_key", "password"))


def _user_slot(parts: SplitResult) -> tuple[str | None, str | None]:
    """The user and password of a web URL's user slot (both credentials there); a
    database URL's user name is only a name."""
    if parts.scheme not in ("http", "https"):
        return None, parts.password
    return parts.username, parts.password


def url_secrets(url: str, path: Iterable[int] = ()) -> list[str]:
    """The credentials in ``url``, found by their place: a password (or a user name that
    stands alone and is long enough to be a token), the values of secret query keys
    (:func:`secret_key`), and the path segments at the indexes ``path`` (a kind knows them:
    see ``Kind.secret_segments``). Never an ordinary value such as ``?format=json``."""
    parts = urlsplit(url.strip())
    user, password = _user_slot(parts)
    found = [v for k, v in parse_qsl(parts.query) if secret_key(k)]
    segments = parts.path.split("/")
    found += [unquote(segments[i]) for i in path if 0 <= i < len(segments)]
    if password:
        found.append(unquote(password))
    elif user and len(user) >= 16:
        found.append(unquote(user))
    return [v for v in dict.fromkeys(found) if v]


def redact_url(url: str, path: Iterable[int] = ()) -> str:
    """``url`` as it may be shown: its credentials masked in their place (see
    :func:`url_secrets`), everything else as it was."""
    parts = urlsplit(url.strip())
    query = "&".join(f"{k}={URL_MASK}" if v and secret_key(unquote_plus(k)) else part
                     for part in parts.query.split("&") if part for k, _, v in (part.partition("="),))
    segments = parts.path.split("/")
    for i in path:
        if 0 <= i < len(segments) and segments[i]:
            segments[i] = URL_MASK
    netloc = parts.netloc
    user, password = _user_slot(parts)
    if user or password:
        host = netloc.rpartition("@")[2]
        shown_user = URL_MASK if user else (parts.username or "")
        netloc = shown_user + (f":{URL_MASK}" if password else "") + "@" + host
    return parts._replace(netloc=netloc, path="/".join(segments), query=query).geturl()


def protect(*logger_names: str) -> None:
    """Redact the records of these loggers at the source (for libraries that log secrets).

    Logger filters are not inherited by child loggers, so each name is listed.
    """
    for name in logger_names:
        logger = logging.getLogger(name)
        if REDACTOR not in logger.filters:
            logger.addFilter(REDACTOR)


def setup_logging(log_file: Path | None, verbose: bool = False, stderr: bool = True) -> None:
    """Configure the root logger once for the process."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = []
    if stderr:
        handlers.append(logging.StreamHandler())
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.handlers.RotatingFileHandler(
            log_file, maxBytes=2_000_000, backupCount=3, encoding="utf-8"))
    for h in handlers:
        h.setFormatter(fmt)
        h.addFilter(REDACTOR)
        root.addHandler(h)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
