"""Show lists to import: JSON (a list of objects) or CSV (a header row), as people keep them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from app.core.store import StoreError

COLUMNS = ("title", "year", "tmdb_id", "tvdb_id", "imdb_id", "anidb_id")
_ALIASES = {"name": "title", "show": "title", "first_year": "year", "tmdb": "tmdb_id",
            "tvdb": "tvdb_id", "imdb": "imdb_id", "anidb": "anidb_id"}


def read_show_file(path: Path) -> object:
    """The show records in ``path``: ``.csv`` by its header row, anything else as JSON
    (as read: :meth:`~app.core.store.Store.import_shows` checks it is a list)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise StoreError(f"{path} is not UTF-8 text") from None
    if path.suffix.lower() == ".csv":
        return _from_csv(text, path)
    try:
        records = json.loads(text)
    except ValueError as exc:
        raise StoreError(f"{path} is not valid JSON: {exc}") from None
    if isinstance(records, dict) and isinstance(records.get("shows"), list):
        records = records["shows"]  # {"shows": [...]}, as a tracker's export may be
    return records


def _from_csv(text: str, path: Path) -> list[dict[str, str]]:
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = [_ALIASES.get(h, h) for h in (c.strip().lower().replace(" ", "_") for c in next(reader, []))]
    if "title" not in header:
        raise StoreError(f"{path}: the first row must name the columns, one of them 'title' "
                           f"(known: {', '.join(COLUMNS)})")
    return [{k: v.strip() for k, v in zip(header, row, strict=False) if k in COLUMNS}  # (a short row: fewer columns)
            for row in reader if any(cell.strip() for cell in row)]
