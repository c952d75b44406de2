"""Logging set-up: a rotating file in the data folder, stderr, and no secrets in either."""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

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


def url_secrets(url: str) -> list[str]:
    """The parts of a destination's URL that are secret: query values and a password."""
    parts = urlsplit(url)
    values = [v for _, v in parse_qsl(parts.query, keep_blank_values=False)]
    return [v for v in (*values, parts.password) if v]


def redact_url(url: str) -> str:
    """``url`` as it may be shown: every query value and any password masked."""
    parts = urlsplit(url)
    query = "&".join(f"{k}={URL_MASK}" for k, _ in parse_qsl(parts.query, keep_blank_values=True))
    netloc = parts.netloc
    if parts.password:
        netloc = netloc.replace(f":{parts.password}@", f":{URL_MASK}@")
    return parts._replace(netloc=netloc, query=query).geturl()


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
