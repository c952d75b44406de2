"""Candidate titles for fuzzy matching, found without scanning every title.

Each title key (``matching.normalise``: lower case, words split by single spaces) is cut
into character trigrams per word, padded like PostgreSQL's pg_trgm: "wire" gives
"  w", " wi", "wir", "ire", "re ". Words are padded one by one, so a title with its
words reordered has exactly the same trigrams, and one typo changes only the three or so
trigrams around it.

Every trigram has a posting list, an ``array('I')`` of the slots (small ints) of the keys
that contain it. A query counts, for its own trigrams, how many each key shares, walking
the rarest trigrams' lists first and stopping at ``WALK_BUDGET`` entries: common trigrams
("  s", "er ") say little and cost the most. The ``MAX_CANDIDATES`` keys that share the
most are the candidates; the caller scores them with rapidfuzz. So a query costs about
the same for 1,000 or 100,000 titles, and never scores more than ``MAX_CANDIDATES``.

Keys are added and removed one at a time (shows are added while the app runs); a removed
key's slot is reused by the next key added.
"""

from __future__ import annotations

from array import array
from collections import Counter
from itertools import chain
from math import ceil

MAX_CANDIDATES = 50  # keys handed to the scorer for one query, at most
WALK_BUDGET = 700  # posting-list entries counted for one query, at most
GRAM = 3
MIN_SHARED = 0.3  # a candidate shares this fraction of the trigrams walked, at least


def trigrams(key: str) -> set[str]:
    """The padded trigrams of each word of ``key``, and each whole word as " word "."""
    grams: set[str] = set()
    for word in key.split():
        padded = f"  {word} "
        grams.update(padded[i:i + GRAM] for i in range(len(padded) - GRAM + 1))
        grams.add(padded[1:])
    return grams


class TrigramIndex:
    """Title keys by trigram; ``candidates(key)`` are the keys sharing the most."""

    def __init__(self) -> None:
        self._postings: dict[str, array] = {}
        self._slots: dict[str, int] = {}  # key -> slot
        self._keys: list[str | None] = []  # slot -> key (None: free)
        self._sizes = array("H")  # slot -> how many grams the key has
        self._free: list[int] = []

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, key: object) -> bool:
        return key in self._slots

    def add(self, key: str) -> None:
        if not key or key in self._slots:
            return
        grams = trigrams(key)
        if self._free:
            slot = self._free.pop()
            self._keys[slot] = key
            self._sizes[slot] = min(len(grams), 0xFFFF)
        else:
            slot = len(self._keys)
            self._keys.append(key)
            self._sizes.append(min(len(grams), 0xFFFF))
        self._slots[key] = slot
        postings = self._postings
        for gram in grams:
            posting = postings.get(gram)
            if posting is None:
                postings[gram] = array("I", (slot,))
            else:
                posting.append(slot)

    def discard(self, key: str) -> None:
        slot = self._slots.pop(key, None)
        if slot is None:
            return
        for gram in trigrams(key):
            posting = self._postings[gram]
            posting.remove(slot)
            if not posting:
                del self._postings[gram]
        self._keys[slot] = None
        self._free.append(slot)

    def candidates(self, key: str, limit: int = MAX_CANDIDATES) -> list[str]:
        """Up to ``limit`` keys sharing the most trigrams with ``key``, in no order."""
        limit = min(limit, MAX_CANDIDATES)
        postings = self._postings
        grams = trigrams(key)
        lists = [p for g in grams if (p := postings.get(g)) is not None]
        lists.sort(key=len)
        absent = len(grams) - len(lists)
        walk: list[array] = []
        budget = WALK_BUDGET
        for posting in lists:  # rarest first; once one does not fit, none after it does
            if len(posting) > budget:
                break
            walk.append(posting)
            budget -= len(posting)
        if not walk and lists:  # every trigram is common: a part of the rarest one
            walk.append(lists[0][:WALK_BUDGET])
        counts = Counter(chain.from_iterable(walk))
        need = max(1, ceil(MIN_SHARED * (len(walk) + absent)))
        hits = [slot for slot, n in counts.items() if n >= need]
        if len(hits) > limit:  # the most shared first; of those, the shortest titles
            hits.sort(key=self._sizes.__getitem__)
            hits.sort(key=counts.__getitem__, reverse=True)
            del hits[limit:]
        keys = self._keys
        return [keys[slot] for slot in hits]  # type: ignore[misc]
