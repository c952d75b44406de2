"""A PostgreSQL tracker: marks episodes straight in a web tracker's own database.

The reference schema is in ``shared/TRACKERS.md`` §2: shows in ``tvshows`` with their
episodes in a ``seasons`` JSON column, and ``plex_config``, ``plex_show_mappings``,
``plex_webhook_logs``, ``plex_conflicts`` beside it. The database is someone else's:
its shape is read by reflection and never changed (no DDL, ever); what is missing is
reported, and the parts that need it are skipped.

Each delivery is one PostgreSQL transaction: the show's row is locked (``FOR UPDATE``)
while its ``seasons`` value is read, changed and written back, so a web app writing the
same row waits rather than losing a mark; the event's id goes into the log row of that
same transaction, so a retry after a lost connection never marks or logs twice.

The kind, a module per part:

- :mod:`.target`: what ``settings.json`` keeps (:class:`~.target.PostgresTarget`), the URL check;
- :mod:`.schema`: the tracker's tables and columns, read by reflection; inserts into them;
- :mod:`.seasons`: the ``seasons`` JSON: its key spellings, marking an episode in it (a
  shape it does not understand is refused, never overwritten);
- :mod:`.shows`: the tracker's shows for matching, kept compactly (the rows stay in PostgreSQL);
- :mod:`.privileges`: what the role may do to the tables (``has_table_privilege``);
- :mod:`.tracker`: the destination (:class:`~.tracker.PostgresTracker`): one delivery,
  one transaction, on the tracker's own threads;
- :mod:`.conflicts`: the tracker's ``plex_conflicts``, for the conflicts dialog;
- :mod:`.kind`: its declaration (:data:`~.kind.POSTGRES`), listed in
  :mod:`app.core.destinations.kinds`.
"""
