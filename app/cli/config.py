"""``scrobbletray config ...``: read and change every setting the Settings window has.

Destinations other than the built-in tracker have their own command (``destinations``); secrets are
never settings: ``config set-authtoken`` reads the ngrok authtoken from stdin.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import json
import sys
from typing import Any

from app.cli.common import CliError, text
from app.core import config
from app.core.config import Paths, Settings, agent_problem, check_domain, check_token, clean_domain
from app.core.destinations.kinds import KINDS

# Settings kept by other commands (destinations: each kind's list; accounts route: routes) or only
# for tests and the benchmark.
HIDDEN = {k.settings_key for k in KINDS.values()} | {"routes", "plex_tv_url", "tmdb_base_url", "max_body_bytes",
                                                      "max_payload_bytes", "max_parts"}
_FIELDS = {f.name: f for f in dataclasses.fields(Settings) if f.name not in HIDDEN}


class ConfigError(CliError):
    """A key or value the settings cannot take; the message says why."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("config", help="read and change settings (those of the Settings window)")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    get = actions.add_parser("get", help="every setting, or one")
    get.add_argument("key", nargs="?", choices=sorted(_FIELDS), metavar="KEY")
    get.add_argument("--json", action="store_true", help="print JSON")
    put = actions.add_parser("set", help="change a setting (lists: comma-separated; 'default' resets it)")
    put.add_argument("key", choices=sorted(_FIELDS), metavar="KEY")
    put.add_argument("value", type=text(2000))
    actions.add_parser("set-authtoken", help="save the ngrok authtoken read from stdin (empty: forget it)")


def parse(key: str, text: str) -> Any:
    """``text`` as the value of setting ``key`` ("default" gives the default)."""
    f = _FIELDS[key]
    if text.strip().lower() == "default":
        return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    kind = str(f.type)
    text = text.strip()
    try:
        if kind.startswith("list"):
            return [part.strip() for part in text.split(",") if part.strip()]
        if "bool" in kind:
            lowered = text.lower()
            if lowered in ("true", "yes", "on", "1"):
                return True
            if lowered in ("false", "no", "off", "0"):
                return False
            if "None" in kind and lowered in ("auto", "none", ""):
                return None
            raise ValueError
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        raise ConfigError(f"{key} takes {_kind_words(kind)}, not {text!r}") from None
    return text or None if "None" in kind else text


def _kind_words(kind: str) -> str:
    if "bool" in kind:
        return "true or false" + (" (or auto)" if "None" in kind else "")
    return {"int": "a whole number", "float": "a number"}.get(kind, "text")


def _check(key: str, value: Any, settings: Settings) -> Any:
    """The value cleaned, or a ConfigError with the window's own words."""
    if key == "ngrok_domain" and value:
        if problem := check_domain(value):
            raise ConfigError(problem)
        value = clean_domain(value)
    if key == "ngrok_path" and (problem := agent_problem(value)):
        raise ConfigError(problem)
    trial = dataclasses.replace(settings, **{key: value})
    if problems := trial.validate():
        raise ConfigError("; ".join(problems))
    return value


def run(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    if args.action == "set-authtoken":
        try:  # (a line of at most 1,000 characters: an authtoken is a few dozen)
            token = (getpass.getpass("ngrok authtoken (hidden): ") if sys.stdin.isatty()
                     else sys.stdin.readline(1000)).strip()
        except UnicodeDecodeError:
            raise ConfigError("That does not look like an ngrok authtoken (it is not UTF-8 text).") from None
        if problem := check_token(token):
            raise ConfigError(problem)
        from app.core.credentials import set_authtoken

        where = set_authtoken(paths, token or None)
        print(f"Authtoken saved in {where}." if token else "Authtoken forgotten.")
        return 0
    saved = config.load_settings(paths)  # not the one --database-url and friends changed for this run
    if args.action == "get":
        values = {k: getattr(saved, k) for k in _FIELDS}
        if args.key:
            value = values[args.key]
            print(json.dumps(value) if args.json else _shown(value))
        elif args.json:
            print(json.dumps(values, indent=2))
        else:
            width = max(map(len, values))
            print("\n".join(f"{k:{width}s}  {_shown(v)}" for k, v in values.items()))
        return 0
    value = _check(args.key, parse(args.key, args.value), saved)
    setattr(saved, args.key, value)
    config.save_settings(paths, saved)
    from app.core import control

    ran, _ = asyncio.run(control.call(paths, "reload_settings"))
    print(f"{args.key} = {_shown(value)}." + (" The running Scrobble Tray uses it now." if ran else ""))
    return 0


def _shown(value: Any) -> str:
    if value is None:
        return "(default)"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "(none)"
    return str(value).lower() if isinstance(value, bool) else str(value)
