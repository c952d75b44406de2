"""Where data lives and what the user can set.

Defaults are declared once in :class:`Settings`; a settings file written by an older
version gets its missing keys filled on load. Preferences (``settings.json``) are kept
apart from secrets (``webhook-secret``), which never go through logs.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from app.core.errors import SettingsInvalid
from app.core.routes import routes_problem
from app.core.state_keys import StateKey

if TYPE_CHECKING:
    from app.core.destinations.base import Target
    from app.core.destinations.online.target import SimklTarget, TraktTarget
    from app.core.destinations.postgres.target import PostgresTarget
    from app.core.destinations.relay import RelayTarget

log = logging.getLogger(__name__)
APP_NAME = "Scrobble Tray"
APP_SLUG = "scrobbletray"
DEFAULT_PORT = 47810


def default_data_dir() -> Path:
    """The data folder: ``$SCROBBLETRAY_HOME`` or the platform's user data folder."""
    env = os.environ.get("SCROBBLETRAY_HOME")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_SLUG, appauthor=False))


_TOKEN = re.compile(r"[A-Za-z0-9_\-]{20,200}")
_DOMAIN = re.compile(r"(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def check_token(text: str) -> str | None:
    """The problem with a typed ngrok authtoken, or None."""
    text = text.strip()
    if text and not _TOKEN.fullmatch(text):
        return "That does not look like an ngrok authtoken (letters, digits and _ only, no spaces)."
    return None


def clean_domain(text: str) -> str:
    return text.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")


def check_domain(text: str) -> str | None:
    """The problem with a typed static domain, or None."""
    domain = clean_domain(text)
    if domain and not _DOMAIN.fullmatch(domain):
        return "Enter a domain name like my-name.ngrok-free.dev."
    return None


def port_problem(port: int) -> str | None:
    """What is wrong with ``port`` as the server's port, for the user; None if it will do."""
    if not 0 <= port <= 65535:
        return "The port must be between 0 and 65535 (0 picks a free one at each start)."
    return None


class PlexLocation(StrEnum):
    """Where Plex runs (``Settings.plex_location``; None: not said yet). It decides what
    "reachable" means (app.present.state): here, the LAN, or the tunnel."""

    THIS = "this"
    NETWORK = "network"
    ELSEWHERE = "elsewhere"


PLEX_LOCATIONS = tuple(PlexLocation)


def location_problem(value: str | None) -> str | None:
    """The problem with a value of ``plex_location``, or None."""
    if value in (None, *PLEX_LOCATIONS):
        return None
    return f"where Plex runs is one of {', '.join(PLEX_LOCATIONS)} (or not said), not {value!r}"


def database_url_problem(text: str | None) -> str | None:
    """The problem with a database URL, or None (empty: the SQLite file in the data folder).
    Its dialect and driver must load; nothing is connected to or made."""
    if not (text or "").strip():
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(str(text).strip()).get_dialect().import_dbapi()
    except (ArgumentError, ValueError):
        return "Not a database URL; e.g. postgresql+psycopg://user@host/tracker"
    except (NoSuchModuleError, ImportError) as exc:
        return f"That database cannot be used here: {exc}"
    return None


def agent_problem(text: str | None) -> str | None:
    """The problem with an ngrok agent path, or None (empty: the downloaded one)."""
    if not (text or "").strip():
        return None
    path = Path(str(text).strip()).expanduser()
    if not path.is_file():
        return "No file there: choose the ngrok program, or leave it empty."
    if not os.access(path, os.X_OK):
        return f"That file cannot be run (chmod +x {path})."
    return None


#: The regions an ngrok agent can be told to use (https://ngrok.com/docs/cloud-edge/pops/);
#: without one (None) it picks the nearest.
NGROK_REGIONS = ("us", "us-cal-1", "eu", "ap", "au", "sa", "jp", "in")

_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def host_problem(value: str) -> str | None:
    """The problem with ``host``, the address to listen on: an IP address or a host name."""
    if not isinstance(value, str):
        raise TypeError(value)
    if value in ("", "localhost"):
        return None  # ("": every interface, as asyncio takes it)
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    name = value.removesuffix(".")
    if len(name) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in name.split(".")) \
            and not name.replace(".", "").isdigit():
        return None
    return (f"the address to listen on must be an IP address or a host name (127.0.0.1 for this "
            f"computer only, 0.0.0.0 for the network), not {_shown(value)}")


def region_problem(value: str | None) -> str | None:
    """The problem with a value of ``ngrok_region``, or None."""
    if value is None or value in NGROK_REGIONS:
        return None
    return f"the ngrok region is one of {', '.join(NGROK_REGIONS)} (or default: the nearest), not {_shown(value)}"


def _shown(value: Any, limit: int = 40) -> str:
    """``value`` for a message: quoted, escaped, and cut short."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(str(value))} characters)"


def _number(value: Any, whole: bool = False) -> Any:
    """``value`` if it is a number (a whole one if ``whole``), else TypeError: never a bool,
    never a string (settings.json keeps numbers as numbers). NaN and infinity fail the
    range each check compares it with."""
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
        raise TypeError(value)
    return value


#: One check per setting whose value can be wrong, the same for the Settings window,
#: 'config set', applying settings and loading settings.json (a bad value there is
#: replaced by the default, and the log says so). Every number is finite and in a range:
#: a play computes times from them.
CHECKS: dict[str, Callable[[Any], str | None]] = {
    "host": host_problem,
    "port": lambda v: port_problem(_number(v, whole=True)),
    "stop_threshold": lambda v: None if 0.5 <= _number(v) <= 1.0 else "stop threshold must be between 0.5 and 1.0",
    "rate_limit_per_minute": lambda v: None if 0 <= _number(v, whole=True) <= 10_000
    else "rate limit must be from 0 (off) to 10000 a minute",
    "dedup_window_hours": lambda v: "de-duplication window must be positive" if not _number(v) > 0
    else None if v <= 24 * 366 else "de-duplication window must be at most 8784 hours (a year)",
    "payload_retention_days": lambda v: None if 0 <= _number(v, whole=True) <= 3660
    else "payload retention must be from 0 (keep for ever) to 3660 days",
    "ngrok_domain": lambda v: check_domain(v) if v else None,
    "ngrok_region": region_problem,
    "plex_location": location_problem,
    "database_url": database_url_problem,
    "routes": routes_problem,
}


def setting_problem(key: str, value: Any) -> str | None:
    """What is wrong with ``value`` for the setting ``key`` (its :data:`CHECKS`), or None."""
    check = CHECKS.get(key)
    try:
        return check(value) if check else None
    except (TypeError, ValueError):
        return f"{key} cannot be {_shown(value)}"


def add_destination(settings: Settings, kind: str, url: str, label: str = "",
                    **options: Any) -> tuple[Target, dict[str, str | None]]:
    """Append a new target of ``kind`` (a name in :data:`app.core.destinations.kinds.KINDS`,
    with the first free ``<kind>-N`` id) to ``settings``. Returns it and the secrets to keep
    (name -> value) that were taken out of ``url``. ValueError for an unknown kind or option,
    or a URL the kind refuses on adding (a relay's is checked with the rest, by
    :meth:`Settings.validate`)."""
    from app.core.destinations import kinds

    k = kinds.kind(kind)
    unknown = set(options) - {o.name for o in k.options} - {f.name for f in k.fields}
    if unknown:
        raise SettingsInvalid([f"a {k.label} has no option {', '.join(sorted(unknown))}"])
    target, secrets_ = k.new_target(kinds.free_id(settings, k), url, label, **options)
    setattr(settings, k.settings_key, [*getattr(settings, k.settings_key), target])
    return target, secrets_


def install_id(paths: Paths) -> str:
    """This installation's id (made on first use): it tells our events apart in a shared tracker."""
    state = load_state(paths)
    if not isinstance(state.get(StateKey.INSTALL_ID), str):
        state[StateKey.INSTALL_ID] = secrets.token_hex(8)
        save_state(paths, **{StateKey.INSTALL_ID: state[StateKey.INSTALL_ID]})
    return str(state[StateKey.INSTALL_ID])


@dataclass
class Settings:
    """Every preference the core can be told, with its default."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    database_url: str | None = None  # None: SQLite file in the data folder
    # Refused attempts (a wrong secret) a client address may make a minute; 0 turns it off.
    # A request with the right secret is never limited by it (see webhook_limits.SAFETY_VALVE).
    rate_limit_per_minute: int = 10
    stop_threshold: float = 0.9  # a media.stop past this fraction counts as watched
    accepted_accounts: list[str] = field(default_factory=list)  # Plex account ids or names
    # Each account's destinations (app.core.routes): account -> destination ids; none: all.
    routes: dict[str, list[str]] = field(default_factory=dict)
    dedup_window_hours: float = 6.0  # same episode, same account within it: one play
    # Days the raw webhook of an event that can never count (play, pause, resume...) is kept;
    # its row (what, who, the outcome) stays for ever. 0: keep every raw webhook for ever.
    payload_retention_days: int = 28
    max_body_bytes: int = 4 * 1024 * 1024
    max_payload_bytes: int = 512 * 1024
    max_parts: int = 8
    tunnel_enabled: bool | None = None  # None: on once an authtoken is set
    ngrok_domain: str | None = None
    ngrok_region: str | None = None
    ngrok_path: str | None = None
    notify_each_scrobble: bool = False
    builtin_tracker: bool = True  # off: marks go only to the other destinations
    auto_add_shows: bool = True  # a Plex show with ids that nothing resembles joins the built-in tracker
    tmdb_base_url: str | None = None  # None: TMDB's own API (the key is a secret, not a setting)
    plex_location: str | None = None  # where Plex runs: "this" computer, "network", "elsewhere"; None: not said
    plex_auto_register: bool = True  # signed in: put the current webhook URL in Plex when it changes
    plex_live: bool | None = None  # follow live sessions on the servers; None: when there is no Plex Pass
    plex_undo_unmarked: bool = False  # an episode marked unplayed in Plex: take its watch back in the built-in tracker
    plex_tv_url: str | None = None  # None: plex.tv itself (or $SCROBBLETRAY_PLEX_TV_URL); for tests
    # The targets of each kind of destination (app.core.destinations.kinds: each kind names its list).
    relays: list[RelayTarget] = field(default_factory=list)
    postgres: list[PostgresTarget] = field(default_factory=list)
    trakt: list[TraktTarget] = field(default_factory=list)
    simkl: list[SimklTarget] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        """Build settings from a dict, ignoring unknown keys, filling missing ones, and
        putting the default in place of a value its check refuses (the log says which)."""
        from app.core.destinations.kinds import KINDS, targets

        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        for key in [k for k in values if k in CHECKS]:
            if problem := setting_problem(key, values[key]):
                log.warning("settings.json: %s; the default is used instead", problem)
                del values[key]
        for kind in KINDS.values():
            saved = values.get(kind.settings_key)
            values[kind.settings_key] = [kind.target.from_dict(t) for t in saved if isinstance(t, dict)] \
                if isinstance(saved, list) else []
        settings = cls(**values)
        known = {t.id for _, t in targets(settings)}
        for account, ids in settings.routes.items():
            if gone := [i for i in ids if i not in known]:
                log.warning("settings.json: the route of %r names %s, which no longer exist(s); dropped",
                            account, ", ".join(gone))
                settings.routes[account] = [i for i in ids if i in known]
        return settings

    def to_dict(self) -> dict[str, Any]:
        from app.core.destinations.kinds import KINDS

        data = dataclasses.asdict(self)
        for k in KINDS.values():  # each target as its kind writes it (a relay leaves out preset "other")
            data[k.settings_key] = [t.to_dict() for t in getattr(self, k.settings_key)]
        return data

    def validate(self) -> list[str]:
        """Human-readable problems with these settings (empty when all is well)."""
        problems = [p for key in CHECKS if (p := setting_problem(key, getattr(self, key)))]
        from app.core.destinations.kinds import targets

        for kind, target in targets(self):
            if problem := kind.problem(target):
                problems.append(f"{kind.name} {target.id}: {problem}")
        known = {t.id for _, t in targets(self)}
        for account, ids in (self.routes.items() if isinstance(self.routes, dict) else ()):
            if gone := [i for i in ids if i not in known]:
                problems.append(f"the route of {account} names {', '.join(gone)}: there is no such destination")
        return problems


class Paths:
    """The files of one data folder."""

    def __init__(self, data_dir: Path | str | None = None) -> None:
        self.data_dir = Path(data_dir).expanduser() if data_dir else default_data_dir()

    @property
    def settings_file(self) -> Path:
        return self.data_dir / "settings.json"

    @property
    def secret_file(self) -> Path:
        return self.data_dir / "webhook-secret"

    @property
    def database_file(self) -> Path:
        return self.data_dir / "scrobbletray.sqlite3"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "state.json"

    @property
    def backups_dir(self) -> Path:
        return self.data_dir / "backups"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "scrobbletray.log"

    def ensure(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def database_url(self, settings: Settings) -> str:
        return settings.database_url or f"sqlite:///{self.database_file}"


# Names that moved to their kind's module (app.core.destinations.<kind>, or a module of its package):
# still importable from here.
_MOVED = {"RelayTarget": "relay", "relay_url_problem": "relay",
          "PostgresTarget": "postgres.target", "postgres_url_problem": "postgres.target"}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(f"app.core.destinations.{_MOVED[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; a missing or unreadable file gives ``{}``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _tmp(path: Path) -> Path:
    """A temporary name beside ``path``, one per writer, so none renames another's away."""
    return path.with_suffix(f"{path.suffix}.{os.getpid()}.{threading.get_ident()}.tmp")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def load_settings(paths: Paths) -> Settings:
    """Read ``settings.json``; a missing or unreadable file gives the defaults."""
    return Settings.from_dict(load_json(paths.settings_file))


def save_settings(paths: Paths, settings: Settings) -> None:
    """Write ``settings.json`` atomically, readable by the user only (relay URLs carry secrets)."""
    paths.ensure()
    write_private(paths.settings_file, json.dumps(settings.to_dict(), indent=2))


_STATE_LOCK = threading.Lock()


def load_state(paths: Paths) -> dict[str, Any]:
    """Runtime state kept across starts (not preferences), e.g. the last public URL."""
    return load_json(paths.state_file)


def save_state(paths: Paths, **changes: Any) -> None:
    """Merge ``changes`` into the runtime state file (threads of this process take turns,
    so no merge loses another's keys). Keys are :class:`~app.core.state_keys.StateKey`'s."""
    if unknown := set(changes) - set(StateKey):
        raise KeyError(f"not a state key: {', '.join(sorted(unknown))}")
    with _STATE_LOCK:
        _write_json(paths.state_file, load_state(paths) | changes)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically to a file only the user can read."""
    tmp = _tmp(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def webhook_secret(paths: Paths) -> str:
    """The webhook secret, made on first use and kept readable by the user only."""
    try:
        secret = paths.secret_file.read_text(encoding="utf-8").strip()
        if secret:
            return secret
    except OSError:
        pass
    return rotate_webhook_secret(paths)


def rotate_webhook_secret(paths: Paths) -> str:
    """Replace the webhook secret; the old webhook URL stops working at once."""
    paths.ensure()
    secret = secrets.token_urlsafe(32)
    write_private(paths.secret_file, secret)
    return secret
