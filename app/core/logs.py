"""Logging set-up: a rotating file in the data folder, stderr, and no secrets in either."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from app.core.config import redact


class RedactSecrets(logging.Filter):
    """Replaces every registered secret in a record's final message."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            clean = redact(message, *self.secrets)
            if clean != message:
                record.msg, record.args = clean, None
        return True


REDACTOR = RedactSecrets()


def add_secret(value: str | None) -> None:
    """Never log ``value`` from now on."""
    if value:
        REDACTOR.secrets.add(value)


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
