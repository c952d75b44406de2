"""The words of the indexed titles, for a misspelt word's nearest words.

The title index (app/core/ngram_index.py) cuts whole titles into 4-grams: few and
selective, so a query walks short lists, but a short word with a letter or two wrong
("Dqto" for "Dito") keeps none of its 4-grams, and a title whose words are all like
that is never a candidate. pg_trgm's 3-grams keep more ("  d", "to ").

The vocabulary is far smaller than the titles (a word is in many titles), so its own
3-gram index is cheap: ``similar(word)`` walks the word's rarest 3-grams (padded like
pg_trgm: "  d", " di", "dit", "ito", "to ") over the vocabulary, up to ``WALK_BUDGET``
entries, and scores every word on those lists with rapidfuzz's ``ratio`` (in C: cheaper
than counting the grams each shares to score fewer). The title index then takes the
titles holding the nearest words (its whole-word grams) as candidates too.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from functools import partial
from itertools import chain

from rapidfuzz import fuzz, process

GRAM = 3
WALK_BUDGET = 600  # vocabulary posting-list entries walked for one word, at most
SIMILAR = 66.0  # ratio of the padded words at least this: misspelt (" dqto "/" dito " 83, " ykbzz "/" ykbvc " 71)


def word_grams(word: str) -> Iterator[str]:
    """The padded 3-grams of ``word`` (pg_trgm's padding: two spaces before, one after)."""
    padded = f"  {word} "
    return (padded[i:i + GRAM] for i in range(len(padded) - GRAM + 1))


class WordIndex:
    """Distinct words by 3-gram; ``similar(word)`` are the nearest ones.

    A word is kept as the title index's own gram for it, " word " (the same string
    object: 100,000 distinct words would otherwise cost 5 MB of copies, and a dict from
    word to slot as much again; a word's slot is found in its rarest 3-gram's list).
    Each word is added once, when the first title holding it is, and discarded with the last.
    """

    def __init__(self) -> None:
        self._postings: dict[str, array[int]] = {}
        self._words: list[str | None] = []  # slot -> " word " (None: free)
        self._free: list[int] = []

    def __len__(self) -> int:
        return len(self._words) - len(self._free)

    def add(self, padded: str) -> None:
        """Index " word " (not yet indexed)."""
        if self._free:
            slot = self._free.pop()
            self._words[slot] = padded
        else:
            slot = len(self._words)
            self._words.append(padded)
        new = partial(array, "I")
        for gram in set(word_grams(padded[1:-1])):
            posting = self._postings.get(gram)
            if posting is None:
                posting = self._postings[gram] = new()
            posting.append(slot)

    def discard(self, padded: str) -> None:
        """Forget " word " (indexed)."""
        grams = set(word_grams(padded[1:-1]))
        lists = [self._postings[gram] for gram in grams]
        words = self._words
        slot = next(s for s in min(lists, key=len) if words[s] == padded)
        for gram, posting in zip(grams, lists, strict=True):
            posting.remove(slot)
            if not posting:
                del self._postings[gram]
        words[slot] = None
        self._free.append(slot)

    def similar(self, word: str, limit: int = 12) -> list[str]:
        """Up to ``limit`` indexed words nearest ``word`` (itself first when indexed)."""
        grams = set(word_grams(word))
        lists = sorted((p for g in grams if (p := self._postings.get(g)) is not None), key=len)
        walked = []
        budget = WALK_BUDGET
        for posting in lists:  # the rarest first: a common 3-gram ("ing") says little
            if len(posting) > budget:
                break
            walked.append(posting)
            budget -= len(posting)
        # Every word on the lists walked is scored (rapidfuzz, in C): counting the grams
        # each shares, to score fewer, cost more than the scoring.
        slots = set(chain.from_iterable(walked))
        words = self._words
        # (" word " against " word ", both padded: stripping each in a processor was a
        # third of the time; the cutoff is the padded one's)
        found = process.extract(f" {word} ", [words[s] for s in slots], scorer=fuzz.ratio, processor=None,
                                limit=limit, score_cutoff=SIMILAR)
        return [w[1:-1] for w, _, _ in found]
