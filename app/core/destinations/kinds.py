"""The kinds of destination, listed once.

Each kind is declared beside its destination, as a :class:`~.base.Kind` (its name, label,
id prefix, settings list, target dataclass, URL check, secrets, whether it holds
conflicts, how to build it, the words for adding one), and listed here. The settings,
the manager, the façade, the conflicts, the CLI and the windows read this list; none of
them names a kind. The built-in tracker is not among them: it is no outbox destination
(see :mod:`.builtin`).

A new kind: its module (target, destination, declaration), one entry below, the
:class:`~app.core.config.Settings` list its declaration names, its dialog in
:mod:`app.ui.destination_dialogs`, and a test (README, "Adding a kind of destination").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from app.core.destinations.base import Context, Kind, OutboxDestination, Target
from app.core.destinations.online.simkl import SIMKL
from app.core.destinations.online.trakt import TRAKT
from app.core.destinations.postgres.kind import POSTGRES
from app.core.destinations.relay import RELAY
from app.core.errors import SettingsInvalid

if TYPE_CHECKING:
    from app.core.config import Settings

#: Every kind, by name, in the order they are listed, added and shown.
KINDS: dict[str, Kind] = {kind.name: kind for kind in (RELAY, POSTGRES, TRAKT, SIMKL)}


def kind(name: str) -> Kind:
    """The kind called ``name``; ValueError for a name no kind has."""
    try:
        return KINDS[name]
    except KeyError:
        raise SettingsInvalid([f"there is no kind of destination {name!r} ({', '.join(KINDS)})"]) from None


def targets(settings: Settings) -> Iterator[tuple[Kind, Target]]:
    """Every target the settings name, with its kind, kind by kind."""
    for k in KINDS.values():
        for target in getattr(settings, k.settings_key):
            yield k, target


def find(settings: Settings, target_id: str) -> tuple[Kind, Target] | None:
    """The kind and target with this id, or None."""
    return next(((k, t) for k, t in targets(settings) if t.id == target_id), None)


def free_id(settings: Settings, k: Kind) -> str:
    """The first ``<prefix>N`` no target has."""
    taken = {t.id for _, t in targets(settings)}
    return next(f"{k.id_prefix}{n}" for n in range(1, len(taken) + 2) if f"{k.id_prefix}{n}" not in taken)


def replaced(settings: Settings, target: Target) -> Settings:
    """A copy of ``settings`` with ``target`` in place of the one with its id."""
    k, _ = _found(settings, target.id)
    return _with(settings, k, [target if t.id == target.id else t for t in getattr(settings, k.settings_key)])


def without(settings: Settings, target_id: str) -> Settings:
    """A copy of ``settings`` without the target ``target_id``, gone from every route too."""
    from app.core import routes

    k, _ = _found(settings, target_id)
    copy = _with(settings, k, [t for t in getattr(settings, k.settings_key) if t.id != target_id])
    copy.routes = routes.without(settings.routes, target_id)
    return copy


def snapshot(settings: Settings) -> tuple[Any, ...]:
    """Every kind's targets, to tell whether the destinations changed."""
    return tuple(getattr(settings, k.settings_key) for k in KINDS.values())


def build(settings: Settings, context: Context) -> list[OutboxDestination]:
    """The destination of every target the settings name (on or off), kind by kind
    (blocking: a kind may read its secrets)."""
    return [k.build(t, context) for k, t in targets(settings)]


def _with(settings: Settings, k: Kind, items: list[Target]) -> Settings:
    copy = dataclasses.replace(settings)
    setattr(copy, k.settings_key, items)
    return copy


def _found(settings: Settings, target_id: str) -> tuple[Kind, Target]:
    found = find(settings, target_id)
    if found is None:
        raise LookupError(f"there is no destination {target_id!r}")
    return found
