"""Whose plays go where: each accepted account's route, the destinations its plays go to.

The ``routes`` setting maps an account (as the user named it: an accepted account's name
or id, or ``owner``) to destination ids; an account without one goes everywhere, as
before routes existed. An account's key stands for every name and id Plex knows it by
(as accepted accounts do). Routes choose among the outbox destinations (relays,
PostgreSQL trackers): the built-in tracker keeps every accepted play with whose it was,
the household's own log, so it is not routed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.core.config import Settings
    from app.core.pipeline import PlexKnows

OWNER = "owner"  # the route key of the owner's plays
OWNER_IDS = frozenset({"1"})  # the owner is account 1 on their own server (PLEX.md)
ALL, NONE = "all", "none"
ROUTED_NOWHERE = "is routed nowhere"  # in the reason of a play whose account was routed to no destination
_ID = re.compile(r"[a-z]+-\d{1,9}")


def routes_problem(value: Any) -> str | None:
    """The problem with a value of the ``routes`` setting, or None (a check of
    :data:`app.core.config.CHECKS`)."""
    if not isinstance(value, dict):
        return "routes map each account to a list of destination ids"
    for account, ids in value.items():
        if not isinstance(account, str) or not account.strip() or len(account) > 200:
            return f"a route's account must be a name or an id, not {account!r:.40}"
        if not isinstance(ids, list) or not all(isinstance(i, str) and _ID.fullmatch(i) for i in ids):
            return f"the route of {account!r:.40} must be a list of destination ids like relay-1"
    return None


def names(account: str, plex: PlexKnows) -> frozenset[str]:
    """Every name and id (casefolded) the account ``account`` stands for."""
    key = account.strip().casefold()
    found = frozenset({key}) | plex.aliases.get(key, frozenset())
    if key == OWNER:
        found |= OWNER_IDS | plex.owner
    return found


def accounts(settings: Settings) -> list[str]:
    """The accounts that have a route to choose: the owner, then each accepted account."""
    return [OWNER, *(a for a in (str(x).strip() for x in settings.accepted_accounts)
                     if a and a.casefold() != OWNER)]


def key_of(account: str, settings: Settings, plex: PlexKnows) -> str | None:
    """The accepted account (as it is written in the settings) that ``account`` names by
    one of its names or ids; None when it names none."""
    wanted = account.strip().casefold()
    return next((a for a in accounts(settings) if wanted in names(a, plex)), None)


def route_of(account_id: str | None, account_title: str | None, settings: Settings,
             plex: PlexKnows) -> set[str] | None:
    """The destination ids a play of this account goes to; None: every destination.
    Several routes naming the account (by name and by id) add up."""
    played_by = {v.casefold() for v in (account_id, account_title) if v}
    chosen: set[str] | None = None
    for account, ids in settings.routes.items():
        if played_by & names(account, plex):
            chosen = (chosen or set()) | set(ids)
    return chosen


def without(routes: Mapping[str, list[str]], destination_id: str) -> dict[str, list[str]]:
    """``routes`` with ``destination_id`` gone from each (an account left with none stays,
    routed nowhere: :func:`nowhere` says so)."""
    return {a: [i for i in ids if i != destination_id] for a, ids in routes.items()}


def nowhere(settings: Settings) -> list[str]:
    """The accounts whose route names no destination."""
    return [a for a, ids in settings.routes.items() if not ids]


def routed(settings: Settings, account: str, destination_ids: Iterable[str] | None) -> dict[str, list[str]]:
    """The routes with ``account`` (a key from :func:`key_of`) sent to ``destination_ids``
    (None: every destination, so the account has no route of its own)."""
    out = {a: ids for a, ids in settings.routes.items() if a.casefold() != account.casefold()}
    if destination_ids is not None:
        out[account] = list(dict.fromkeys(destination_ids))
    return out


def nowhere_words(who: str, builtin: bool) -> str:
    """What a play of an account routed to no destination says."""
    return (f"{who} {ROUTED_NOWHERE}: " +
            ("kept in the built-in tracker only" if builtin else "it went to no destination"))


@dataclass(frozen=True)
class AccountRoute:
    """An accepted account, the names and ids it stands for, and where its plays go."""

    account: str
    ids: tuple[str, ...]  # the other names and ids Plex knows it by
    destinations: tuple[str, ...]  # destination ids; every one when ``everywhere``
    everywhere: bool  # no route of its own: every destination, as without routes
    warning: str | None = None  # e.g. routed nowhere


def account_routes(settings: Settings, plex: PlexKnows, destination_ids: list[str],
                   off: Iterable[str] = ()) -> list[AccountRoute]:
    """Each accepted account (the owner first) with its route; ``off``: the destinations
    turned off (an account routed only to those is said too)."""
    off = set(off)
    out = []
    for account in accounts(settings):
        ids = tuple(sorted(names(account, plex) - {account.casefold()}))
        own = settings.routes.get(account)
        if own is None:
            own = next((r for a, r in settings.routes.items() if a.casefold() == account.casefold()), None)
        if own is None:
            out.append(AccountRoute(account, ids, tuple(destination_ids), True))
        else:
            warning = nowhere_words(account, settings.builtin_tracker) if not own else \
                f"{account} is routed only to destinations that are off" if set(own) <= off else None
            out.append(AccountRoute(account, ids, tuple(own), False, warning))
    return out
