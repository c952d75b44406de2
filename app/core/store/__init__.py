"""The store: synchronous operations over Scrobble Tray's database, one module per job.

The inbox and its outcomes, conflicts, the built-in tracker's shows, and the outbox rows
written when an inbox row is settled. One object serves the CLI directly and the running
app through a single database thread (see :mod:`app.core.facade`). Everything it
returns is plain typed data (:mod:`app.core.types`).

=============  ================================================================
base           the sessions, settings and show index every job shares; StoreError
shows          the built-in tracker's shows, their episodes and plays
movies         the built-in tracker's movies
intake         inbox rows in (webhooks, history plays) and what became of them
plex_facts     what to ask the Plex servers before a batch, and their answers
processing     pending rows in batches, re-run, undo; deliveries queued on settling
conflicts      conflicts listed and answered
log            the scrobble log, one event's payload, the counts
deliveries     the outbox without a running app: retry, forget, send again, figures
retention      old payloads that nothing needs dropped, and the space given back
=============  ================================================================
"""

from __future__ import annotations

from app.core.store.base import StoreError
from app.core.store.conflicts import ConflictAnswers
from app.core.store.deliveries import Deliveries
from app.core.store.intake import HISTORY, Intake
from app.core.store.log import ScrobbleLog
from app.core.store.movies import Movies
from app.core.store.plex_facts import PlexFacts, PlexQuestions
from app.core.store.processing import Processing
from app.core.store.retention import Retention
from app.core.store.shows import ImportResult, Shows

__all__ = ["HISTORY", "ImportResult", "PlexQuestions", "Store", "StoreError"]


class Store(Shows, Movies, Intake, PlexFacts, ConflictAnswers, Processing, ScrobbleLog, Deliveries, Retention):
    """Shows, episodes, the inbox and conflicts over one database, and the outbox rows
    of the ``destinations`` that are not the built-in tracker.

    ``Store(sessions, settings, destinations=())``: each job is a mixin over
    :class:`app.core.store.base.StoreBase`, which holds what they share.
    """
