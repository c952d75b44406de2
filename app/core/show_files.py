"""Show lists to import: JSON (a list of objects) or CSV (a header row), as people keep them.

A file is read only if it is a regular file of at most ``MAX_BYTES`` (not a pipe, a
device or a folder: ``/dev/zero`` would be read forever, a FIFO would wait forever), and
what it holds is checked before any show is written (:mod:`app.core.store.shows`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path

from app.core.store import StoreError

COLUMNS = ("title", "year", "tmdb_id", "tvdb_id", "imdb_id", "anidb_id")
_ALIASES = {"name": "title", "show": "title", "movie": "title", "first_year": "year", "tmdb": "tmdb_id",
            "tvdb": "tvdb_id", "imdb": "imdb_id", "anidb": "anidb_id"}
MAX_BYTES = 50 * 1024 * 1024  # 100,000 shows (MAX_SHOWS) with long titles and every id fit in it


def read_show_file(path: Path) -> object:
    """The show records in ``path``: ``.csv`` by its header row, anything else as JSON
    (as read: :meth:`~app.core.store.Store.import_shows` checks it is a list)."""
    try:
        text = _read_bytes(path).decode("utf-8-sig")
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise StoreError(f"{path} is not UTF-8 text") from None
    if path.suffix.lower() == ".csv":
        return _from_csv(text, path)
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreError(f"{path} is not valid JSON: {exc}") from None
    except ValueError:  # (a number of thousands of digits)
        raise StoreError(f"{path} holds a number far too long to be a year or an id") from None
    except RecursionError:
        raise StoreError(f"{path} holds lists or objects nested too deeply to be a list of shows") from None
    if isinstance(records, dict) and isinstance(records.get("shows"), list):
        records = records["shows"]  # {"shows": [...]}, as a tracker's export may be
    return records


def _read_bytes(path: Path) -> bytes:
    """The whole of a regular file of at most ``MAX_BYTES``; StoreError for anything else,
    said before reading it (opened without waiting, so that a pipe cannot hang it)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise StoreError(f"{path} is not a file that can be imported (a folder, a device or a pipe)",
                             "Export the shows to a .json or .csv file and import that.")
        if info.st_size > MAX_BYTES:
            raise StoreError(f"{path} is {info.st_size / 2**20:.0f} MB; an import takes at most "
                             f"{MAX_BYTES // 2**20} MB", "Split it into smaller files and import each.")
        data = f.read(MAX_BYTES + 1)  # (it may have grown since)
    if len(data) > MAX_BYTES:
        raise StoreError(f"{path} is larger than {MAX_BYTES // 2**20} MB, the most an import takes",
                         "Split it into smaller files and import each.")
    return data


def _from_csv(text: str, path: Path) -> list[dict[str, str]]:
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = [_ALIASES.get(h, h) for h in (c.strip().lower().replace(" ", "_") for c in next(reader, []))]
        if "title" not in header:
            raise StoreError(f"{path}: the first row must name the columns, one of them 'title' "
                             f"(known: {', '.join(COLUMNS)})")
        return [{k: v.strip() for k, v in zip(header, row, strict=False) if k in COLUMNS}  # (a short row: fewer)
                for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:  # a field over csv.field_size_limit() (128 KB), an unclosed quote...
        raise StoreError(f"{path}, line {reader.line_num}: not a CSV row of show data ({exc})") from None
