"""Where marks go: one interface (:mod:`.base`), the built-in tracker, and the kinds of
destination listed in :mod:`.kinds` (relay targets, PostgreSQL trackers).

The inbox is the one source of truth. The built-in tracker marks inside the inbox row's
own transaction (exactly once); every other destination has rows in the outbox
(:mod:`.outbox`), drained in event order by a :class:`.sender.Sender`.
"""
