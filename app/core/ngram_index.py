"""Candidate titles for fuzzy matching, found without scanning every title.

Each title key (``matching.normalise``: lower case, words split by single spaces) is
cut into grams, word by word: the word's character 4-grams, padded like PostgreSQL's
pg_trgm pads its trigrams ("wire" gives "  wi", " wir", "wire", "ire "), and the whole
word as one more gram (" wire "). Words are cut one by one, so a title with its words
reordered has exactly the same grams; one typo changes the few grams around it.

Every gram has a posting list, an ``array('I')`` of the slots (small ints) of the keys
holding it. A query counts, for each key, how many of its grams the key shares: it
walks the lists word by word in turn, each word's rarest first, and passes over a list
that would take it past ``WALK_BUDGET`` entries, because a common gram ("  th", "ing ")
says little and costs the most. A key must share at least
``MIN_SHARED`` of the query's grams (of those walked, and those no title has), which is
what keeps a random string from matching anything. If fewer than ``FEW`` keys are left
while a key holding all the common grams not walked could still qualify, and none shares
half the grams walked already (that one is the answer: walking on cost a 4-word query with
two typos 0.18 ms, and found no better), the walk goes on, up to ``WALK_MORE`` entries
more, and the bar counts those still not walked as shared. Of the keys left, the
``MAX_CANDIDATES`` sharing the most (then the shortest) are the candidates, for the
caller to score with rapidfuzz. A query so costs about the same on 1,000 or 100,000
titles and never hands on more than ``MAX_CANDIDATES``.

Why 4-grams and not pg_trgm's 3-grams, measured with tests/bench/matching.py on
100,000 titles: their lists are shorter for the same answers. Random-letter titles:
"matches nothing" p50 0.11 -> 0.03 ms (p99 0.17 -> 0.09), "one typo" p99 0.54 -> 0.23
ms, found as often. English words (``--words``): a typo found 88.5% -> 90.5% of the
time (pg_trgm: 89.5%).

Only a key's first ``INDEXED_CHARS`` characters (whole words) are cut into grams, and a
query's too: the scorer still compares whole keys, but an absurdly long title costs no
more than a long one. Measured with tests/bench/big_import.py, 200,000 shows: titles of
470 characters (kept to 200) are indexed on the first webhook in 18 s, 0.6 GB at the
peak (all 470 indexed: 208 s and 3 GB; 64 indexed: 31 s); titles of 25 characters, 14 s
and 0.5 GB.

``word_candidates`` is the second way in, for a query that shares too few 4-grams with
its title: every word misspelt ("Reqimi Dqto" for "Rekimi Dito"), or only common words
whose long lists the walk passes over. The distinct words are indexed by 3-grams
(app/core/word_index.py); the keys holding two of the query's words (or of their
nearest words) are found by set intersections.

Keys are added and removed one at a time (shows are added while the app runs); a
removed key's slot is taken by the next key added.
"""

from __future__ import annotations

import heapq
from array import array
from collections import Counter, defaultdict
from functools import partial
from itertools import chain, combinations
from math import ceil
from operator import itemgetter
from typing import cast

from app.core.word_index import WordIndex

GRAM = 4  # characters in a gram (words shorter than that still give one, padded)
MAX_CANDIDATES = 30  # keys handed to the scorer for one query, at most
WALK_BUDGET = 400  # posting-list entries counted for one query...
WALK_MORE = 1_600  # ...and this many more when that found fewer than FEW keys (see above)
FEW = 10
WALK_PART = 400  # ...of which, when even the rarest list left is longer, this many entries of it
MIN_SHARED = 0.2  # a candidate shares this fraction of the query's grams, at least
INDEXED_CHARS = 40  # of a key, the first whole words up to this many characters are indexed
WORD_WALK = 8_000  # posting-list entries of whole words ``word_candidates`` takes, at most


def indexed_part(key: str) -> str:
    """The start of ``key`` that is cut into grams: all of it, or its first whole words
    up to ``INDEXED_CHARS`` characters (a single longer word: its first characters)."""
    if len(key) <= INDEXED_CHARS:
        return key
    words = key[:INDEXED_CHARS + 1].rsplit(" ", 1)[0]
    return words[:INDEXED_CHARS]


def grams(key: str) -> set[str]:
    """The padded 4-grams of each word of ``key`` (of its :func:`indexed_part`), and each
    whole word as " word "."""
    out: set[str] = set()
    for word in indexed_part(key).split():
        padded = f"  {word} "
        out.update(padded[i:i + GRAM] for i in range(len(padded) - GRAM + 1))
        out.add(padded[1:])
    return out


class NgramIndex:
    """Title keys by gram; ``candidates(key)`` are the keys sharing the most with it."""

    def __init__(self) -> None:
        self._postings: defaultdict[str, array[int]] = defaultdict(partial(array, "I"))
        self._slots: dict[str, int] = {}  # key -> slot
        self._keys: list[str | None] = []  # slot -> key (None: free)
        self._sizes = array("H")  # slot -> how many grams its key has
        self._free: list[int] = []
        self.words = WordIndex()  # the distinct words of the keys

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, key: object) -> bool:
        return key in self._slots

    def add(self, key: str) -> None:
        if not key or key in self._slots:
            return
        key_grams = grams(key)
        size = min(len(key_grams), 0xFFFF)
        if self._free:
            slot = self._free.pop()
            self._keys[slot] = key
            self._sizes[slot] = size
        else:
            slot = len(self._keys)
            self._keys.append(key)
            self._sizes.append(size)
        self._slots[key] = slot
        postings = self._postings
        for gram in key_grams:
            posting = postings[gram]
            if not posting and _is_word(gram):
                self.words.add(gram)
            posting.append(slot)

    def discard(self, key: str) -> None:
        slot = self._slots.pop(key, None)
        if slot is None:
            return
        for gram in grams(key):
            posting = self._postings[gram]
            posting.remove(slot)
            if not posting:
                del self._postings[gram]
                if _is_word(gram):
                    self.words.discard(gram)
        self._keys[slot] = None
        self._free.append(slot)

    def candidates(self, key: str, limit: int = MAX_CANDIDATES) -> list[str]:
        """Up to ``limit`` (at most ``MAX_CANDIDATES``) keys sharing the most grams with ``key``."""
        limit = min(limit, MAX_CANDIDATES)
        lists, absent = self._walk_order(key)
        size = len(lists) + absent
        walked, rest = _take(lists, WALK_BUDGET)
        counts = Counter(chain.from_iterable(walked))
        shared = Counter(counts.values())  # how many keys share n grams (in C: no pass over the keys)
        need = max(1, ceil(MIN_SHARED * (len(walked) + absent)))
        hits = sum(n for value, n in shared.items() if value >= need)
        best = max(shared, default=0)
        if hits < FEW and rest and best + len(rest) >= ceil(MIN_SHARED * size) and 2 * best < len(walked) + absent:
            # Few found, and a key holding the common grams left could still qualify
            # (hundreds of "Star Trek ..." titles, and "Star Trak"): walk on, further.
            rest.sort(key=len)
            more, _ = _take(rest, WALK_MORE, stop_at_first_misfit=True)
            if not more:  # even the rarest gram left is in more titles than that: part of it
                more = [rest[0][:WALK_PART]]
            need = max(1, ceil(MIN_SHARED * size) - (len(rest) - len(more)))
            if len(more) < need:
                # A key not counted yet cannot qualify on these lists alone: only the keys
                # counted that could are looked up in them, not every entry counted (a
                # random string's one common gram, "  to", was 0.1 ms of counting).
                hopeful = {slot for slot, n in counts.items() if n + len(more) >= need}
                for posting in more:
                    counts.update(hopeful.intersection(posting))
            else:
                counts.update(chain.from_iterable(more))
            shared = Counter(counts.values())
        keys = self._keys
        return cast("list[str]", [keys[slot] for slot in self._most_shared(counts, shared, limit, need)])

    def _most_shared(self, counts: Counter[int], shared: Counter[int], limit: int, need: int) -> list[int]:
        """The ``limit`` slots (keys in use) of the highest counts, at least ``need``; of
        equal counts, the shortest keys. ``shared``: how many slots have each count.
        (Sorting thousands of hits took 0.4 ms: this finds the count where the top
        ``limit`` end, from ``shared``, and sorts by length only the slots of that count.)"""
        last, taken = need, 0
        for value, n in sorted(shared.items(), reverse=True):
            if value < need:
                break
            last = value
            taken += n
            if taken >= limit:
                break
        hits = [slot for slot, n in counts.items() if n >= last]
        if len(hits) <= limit:
            return hits
        top = [slot for slot in hits if counts[slot] > last]
        ties = [slot for slot in hits if counts[slot] == last]
        ties.sort(key=self._sizes.__getitem__)  # (in C: faster than heapq.nsmallest's loop here)
        return top + ties[:limit - len(top)]

    def word_candidates(self, key: str, limit: int = MAX_CANDIDATES) -> list[str]:
        """Up to ``limit`` keys holding two or more of ``key``'s words, or of their nearest.

        For a query whose words are all misspelt, which shares too few 4-grams with its
        title to be among ``candidates``, or whose words are all common (English: the
        4-gram walk passes over their long lists): each word stands for itself if
        indexed, else for its nearest indexed words (app/core/word_index.py). The keys
        holding two of the (up to 4) rarest words are found by set intersections, up to
        ``WORD_WALK`` posting-list entries; those holding all of them come first.
        """
        postings = self._postings
        per_word = []
        for word in dict.fromkeys(indexed_part(key).split()):
            exact = postings.get(f" {word} ")
            lists = [exact] if exact is not None else [postings[f" {near} "] for near in self.words.similar(word)]
            per_word.append((sum(map(len, lists)), lists))
        per_word.sort(key=itemgetter(0))
        sets = []
        budget = WORD_WALK
        for size, lists in per_word[:4]:
            if size > budget:
                break
            budget -= size
            sets.append(set(chain.from_iterable(lists)))
        if len(sets) < 2:
            return []
        hits = set().union(*(a & b for a, b in combinations(sets, 2)))
        if len(hits) <= limit:
            found = list(hits)
        else:  # those holding every word walked first; of each, the shortest keys
            every = set.intersection(*sets)
            found = heapq.nsmallest(limit, every, key=self._sizes.__getitem__)
            found += heapq.nsmallest(limit - len(found), hits - every, key=self._sizes.__getitem__)
        keys = self._keys
        return cast("list[str]", [keys[slot] for slot in found])

    def _walk_order(self, key: str) -> tuple[list[array[int]], int]:
        """The query's posting lists, word by word in turn, and how many grams no key has.

        Each round takes every word's rarest gram not yet taken. The grams of one word
        are mostly found in the same titles, so walking the rarest lists of the whole
        query would spend the budget on its rarest word alone (and an extra word in the
        query would hide the title holding all the others).
        """
        seen: set[str] = set()
        per_word: list[list[array[int]]] = []
        absent = 0
        for word in indexed_part(key).split():
            found = []
            for gram in grams(word):
                if gram in seen:
                    continue
                seen.add(gram)
                if (posting := self._postings.get(gram)) is None:
                    absent += 1
                else:
                    found.append(posting)
            found.sort(key=len)
            per_word.append(found)
        per_word.sort(key=lambda found: len(found[0]) if found else 0)
        rounds = max(map(len, per_word), default=0)
        return [found[r] for r in range(rounds) for found in per_word if r < len(found)], absent


def _is_word(gram: str) -> bool:
    """Whether ``gram`` is a whole word's (" word "), not a padded 4-gram ("  ab", "  a ")."""
    return gram[0] == " " == gram[-1] and gram[1] != " "


def _take(lists: list[array[int]], budget: int,
          stop_at_first_misfit: bool = False) -> tuple[list[array[int]], list[array[int]]]:
    """``(taken, left)``: the lists, in order, that fit in ``budget`` entries together.

    A list too long for what is left is passed over, or, with ``stop_at_first_misfit``
    (lists sorted by length), ends the taking.
    """
    taken: list[array[int]] = []
    left: list[array[int]] = []
    for i, posting in enumerate(lists):
        if len(posting) <= budget:
            taken.append(posting)
            budget -= len(posting)
        elif stop_at_first_misfit:
            left.extend(lists[i:])
            break
        else:
            left.append(posting)
    return taken, left
