"""The built-in tracker's shows: add, import, list, edit, delete and search them, and read
their episodes and plays."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from app.core.destinations.builtin import show_ref
from app.core.models import Episode, Show, ShowMapping, Watch, WebhookEvent
from app.core.store.base import StoreBase, StoreError, plain, row_columns
from app.core.types import Candidate, EpisodeRow, ShowRow

_ID_FIELDS = ("tmdb_id", "tvdb_id", "anidb_id")
_NUMBER = re.compile(r"[0-9]{1,11}")
MAX_TITLE = 200  # characters kept of a title (the longest real show titles are about half that)
MAX_SHOWS = 100_000  # shows in one import: each is checked, then indexed for matching
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")  # control characters, lone surrogates


@dataclass(frozen=True)
class ImportResult:
    added: int
    skipped: int


def _shown(value: Any, limit: int = 40) -> str:
    """``value`` for a message: its repr, cut short."""
    text = repr(value) if not isinstance(value, (list, dict)) else type(value).__name__
    return text if len(text) <= limit else f"{text[:limit]}..."


def _clean_show(data: Any, where: str, noun: str = "show") -> dict[str, Any]:
    """Validate one show (or movie) record (from the CLI or an import file)."""
    if not isinstance(data, dict):
        raise StoreError(f"{where}: expected an object with a title")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise StoreError(f"{where}: a {noun} needs a non-empty title")
    if bad := _CONTROL.search(title):
        raise StoreError(f"{where}: the title holds a character that is not text (U+{ord(bad.group()):04X})")
    clean: dict[str, Any] = {"title": title.strip()[:MAX_TITLE].strip()}
    year = data.get("year")
    if year not in (None, ""):
        if not _NUMBER.fullmatch(str(year)) or isinstance(year, bool) or not 1900 <= int(year) <= 2100:
            raise StoreError(f"{where}: year must be a year like 2008, not {_shown(year)}")
        clean["year"] = int(year)
    for name in _ID_FIELDS:
        value = data.get(name)
        if value in (None, ""):
            continue
        if isinstance(value, bool) or not _NUMBER.fullmatch(str(value)):
            raise StoreError(f"{where}: {name} must be a number, not {_shown(value)}")
        clean[name] = int(value)
    imdb = data.get("imdb_id")
    if imdb not in (None, ""):
        if not isinstance(imdb, str) or not re.fullmatch(r"tt\d{5,10}", imdb.strip()):
            raise StoreError(f"{where}: imdb_id must look like tt0903747, not {_shown(imdb)}")
        clean["imdb_id"] = imdb.strip()
    return clean


class Shows(StoreBase):
    """Shows, their episodes and plays (the built-in tracker's, kept up to date in its index)."""

    def add_show(self, **values: Any) -> ShowRow:
        """Add one show; an exact duplicate (the same id, or the same title and year) is refused
        with the one already there, as it would only make an ambiguous conflict later."""
        clean = _clean_show(values, "show")
        with self.sessions.begin() as session:
            self._refuse_duplicate(session, clean)
            show = Show(**clean)
            session.add(show)
            session.flush()
            self.builtin.indexed(session, show)
            return plain(ShowRow, show)

    def import_shows(self, records: object) -> ImportResult:
        """Add shows from records like ``{title, year, tmdb_id, tvdb_id, imdb_id}``.

        All records are checked before any is written; a show already in the tracker
        (same id, or same title and year) is skipped.
        """
        if not isinstance(records, list):
            raise StoreError("the import file must hold a JSON list of shows")
        if len(records) > MAX_SHOWS:
            raise StoreError(f"the import file holds {len(records):,} shows; one import takes at most "
                             f"{MAX_SHOWS:,}", "Split it into smaller files and import each.")
        clean = [_clean_show(r, f"show #{i + 1}") for i, r in enumerate(records)]
        added = skipped = 0
        with self.sessions.begin() as session:
            seen: set[tuple[str, Any]] = set()
            for show in session.scalars(select(Show)):
                seen.update(self._show_keys(show_ref(show).__dict__))
            for rec in clean:
                keys = self._show_keys(rec)
                if keys & seen:
                    skipped += 1
                    continue
                seen.update(keys)
                session.add(Show(**rec))
                added += 1
        self.builtin.forget_index()
        return ImportResult(added, skipped)

    def _refuse_duplicate(self, session: Session, clean: dict[str, Any], but: int | None = None) -> None:
        """A StoreError naming the show (other than ``but``) with one of these ids, or
        this title and year."""
        keys = self._show_keys(clean)
        alike = or_(Show.title.ilike(clean["title"]), *(getattr(Show, n) == v for n, v in keys if n != "title"))
        for existing in session.scalars(select(Show).where(alike, Show.id != (but if but is not None else -1))):
            if self._show_keys(show_ref(existing).__dict__) & keys:
                year = f" ({existing.year})" if existing.year else ""
                raise StoreError(f"{existing.title}{year} is already in the tracker as show #{existing.id}")

    @staticmethod
    def _show_keys(rec: dict[str, Any]) -> set[tuple[str, Any]]:
        keys = {(n, rec[n]) for n in (*_ID_FIELDS, "imdb_id") if rec.get(n) is not None}
        keys.add(("title", (rec["title"].casefold(), rec.get("year"))))
        return keys

    def list_shows(self, search: str | None = None, limit: int | None = None,
                   ids: Sequence[int] | None = None, offset: int = 0) -> list[ShowRow]:
        """Shows by title (or only those of ``ids``), each with how many of its episodes the
        tracker knows; ``limit`` of them from ``offset``."""
        known = select(func.count()).where(Episode.show_id == Show.id).correlate(Show).scalar_subquery()
        q = select(*row_columns(ShowRow, Show), known.label("known_episodes")).order_by(Show.title, Show.id)
        if search:
            q = q.where(Show.title.ilike(f"%{search}%"))
        if ids is not None:
            q = q.where(Show.id.in_(ids))
        with self.sessions() as session:
            return [ShowRow(**row) for row in session.execute(q.limit(limit).offset(offset)).mappings()]

    def count_shows(self, search: str | None = None) -> int:
        """How many shows :meth:`list_shows` lists in all."""
        q = select(func.count()).select_from(Show)
        with self.sessions() as session:
            return session.scalar(q.where(Show.title.ilike(f"%{search}%")) if search else q) or 0

    def update_show(self, show_id: int, **values: Any) -> ShowRow:
        """Change a show's title, year or ids (all given: a missing id is cleared)."""
        clean = _clean_show(values, "show")
        with self.sessions.begin() as session:
            show = session.get(Show, show_id)
            if show is None:
                raise StoreError(f"there is no show #{show_id}")
            self._refuse_duplicate(session, clean, but=show_id)
            for name in ("title", "year", *_ID_FIELDS, "imdb_id"):
                setattr(show, name, clean.get(name))
            session.flush()
            row, ref = plain(ShowRow, show), show_ref(show)
        self.builtin.changed(ref)  # (not a rebuild of the whole index: 1.3 s for 100,000 shows)
        return row

    def delete_show(self, show_id: int) -> None:
        """Delete a show with its episodes and plays; Plex shows mapped to it will ask again."""
        with self.sessions.begin() as session:
            show = session.get(Show, show_id)
            if show is None:
                raise StoreError(f"there is no show #{show_id}")
            episodes = select(Episode.id).where(Episode.show_id == show_id)
            session.execute(delete(Watch).where(Watch.episode_id.in_(episodes)))
            session.execute(delete(Episode).where(Episode.show_id == show_id))
            session.execute(delete(ShowMapping).where(ShowMapping.show_id == show_id))
            session.delete(show)
            session.flush()
            stamp = self.builtin.shows_stamp(session)
        self.builtin.deleted(show_id, stamp)

    def plays(self, show_id: int) -> dict[int, list[tuple[str, datetime]]]:
        """Each episode's counted plays, ``episode id -> [(account, when)]``, oldest first
        (the account by its Plex name where the webhook that counted the play gave one)."""
        account = func.coalesce(WebhookEvent.account_title, Watch.account_id)
        with self.sessions() as session:
            q = (select(Watch.episode_id, account, Watch.watched_at).join(Episode)
                 .outerjoin(WebhookEvent, WebhookEvent.id == Watch.event_id)
                 .where(Episode.show_id == show_id).order_by(Watch.watched_at))
            out: dict[int, list[tuple[str, datetime]]] = {}
            for episode_id, who, when in session.execute(q):
                out.setdefault(episode_id, []).append((who, when))
            return out

    def search_shows(self, query: str, limit: int = 20) -> list[Candidate]:
        """Ranked tracker shows for a title (the conflicts dialog's search)."""
        with self.sessions() as session:
            return self.index(session).search(query, limit=limit)

    def episodes(self, show_id: int) -> list[EpisodeRow]:
        with self.sessions() as session:
            if session.get(Show, show_id) is None:
                raise StoreError(f"there is no show #{show_id}")
            q = select(Episode).where(Episode.show_id == show_id).order_by(Episode.season, Episode.number)
            return [plain(EpisodeRow, e) for e in session.scalars(q)]
