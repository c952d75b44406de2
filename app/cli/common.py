"""What every command of ``scrobbletray`` shares: its error, the one way an error is
printed, tables and JSON, and whether the app runs. Imports the core and the wording only,
never a command module and never ``app.cli`` itself (which imports the commands)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from app.core import config
from app.core.config import Paths, Settings
from app.core.errors import AppError
from app.core.plain import plain

if TYPE_CHECKING:
    from app.core.facade import Core

T = TypeVar("T")


class CliError(AppError):
    """A user-facing error: printed without a traceback, exit code 2."""


#: The errors a command may end with that are printed as words (see :func:`error_exit`);
#: any other exception is a bug, and keeps its traceback.
USER_ERRORS = (AppError, OSError, KeyboardInterrupt)


def error_exit(exc: BaseException, paths: Paths | None = None) -> int:
    """The one way an error leaves the command line: ``error: ...`` on stderr (what went
    wrong, and on the next line the fix the error carries, unless it says it already),
    and the exit code: 2 for what the user can put right (a wrong value, a refusal of the
    tracker or the database, a data folder that cannot be written), 1 for what Plex said
    and for other failed reads and writes, 130 for Ctrl+C."""
    from app.core.plex.http import PlexError
    from app.present.errors import data_folder_problem, error_text

    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, OSError) and not getattr(exc, "fix", None):  # (webhooks.ListenError has its fix)
        if paths is not None and (problem := data_folder_problem(exc, paths)):
            print(f"error: {problem}", file=sys.stderr)
            return 2
        print(f"error: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}".rstrip(": "),
              file=sys.stderr)
        return 1
    print(f"error: {error_text(exc, fix_apart=True)}", file=sys.stderr)
    return 1 if isinstance(exc, PlexError) else 2




#: The largest id taken on the command line (a database's bigint goes to 2**63 - 1).
MAX_ID = 10**18 - 1


def text(limit: int = 1000) -> Callable[[str], str]:
    """An argparse ``type``: the argument as given, if it is text (the shell hands bytes that
    are not UTF-8 on as lone surrogates) of at most ``limit`` characters."""
    def check(value: str) -> str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise argparse.ArgumentTypeError(
                f"{ascii(value)[:60]} is not UTF-8 text (check the terminal's or the script's encoding)") from None
        if len(value) > limit:
            raise argparse.ArgumentTypeError(f"is {len(value):,} characters long; at most {limit:,} are taken")
        return value
    check.__name__ = "text"
    return check


def whole(low: int = 1, high: int = MAX_ID) -> Callable[[str], int]:
    """An argparse ``type``: a whole number from ``low`` to ``high`` (by default an id)."""
    def check(value: str) -> int:
        try:
            number = int(value) if len(value) <= 30 else None
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            shown = ascii(value) if len(value) <= 30 else f"a value of {len(value)} characters"
            bound = f"from {low} to {high}" if high < MAX_ID else f"from {low} up (an id, at most 18 digits)"
            raise argparse.ArgumentTypeError(f"takes a whole number {bound}, not {shown}")
        return number
    check.__name__ = "whole"
    return check


def read(paths: Paths, settings: Settings, work: Callable[[Core], Awaitable[T]]) -> T:
    """Ask the façade, opened for this command (the database, no server): for questions
    whose answer the database holds, whether the app runs or not."""
    from app.core.facade import Core

    async def go() -> T:
        core = Core(paths, settings)
        try:
            await core.open()
            return await work(core)
        finally:
            await core.stop()
    return asyncio.run(go())


def change(paths: Paths, settings: Settings, name: str, **kwargs: Any) -> Any:
    """Make a change through the façade: the running app's (over its local door), so that
    its senders, match index and settings move with it; else one opened for this command.
    The answer is plain data (dicts), the same either way."""
    from app.core import control

    ran, result = asyncio.run(control.call(paths, name, **kwargs))
    if ran:
        return result
    return plain(read(paths, settings, lambda core: getattr(core, name)(**kwargs)), local=False)


def table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(list(columns)), *(line(r) for r in cells)])


def emit(rows: Sequence[Any], columns: Sequence[str], as_json: bool) -> None:
    if as_json:
        print(json.dumps(plain(list(rows)), indent=2, default=str))
        return
    # (only the columns shown made plain: a list of five years' shows is 3,000 rows of 11 fields)
    pick = lambda r, c: r.get(c) if isinstance(r, dict) else getattr(r, c, None)  # noqa: E731
    print(table([{c: plain(pick(r, c)) for c in columns} for r in rows], columns))


def running_state(paths: Paths) -> dict[str, Any] | None:
    """What the running app left in its state file (its address, its tunnel), or None when
    none runs: it is trusted only if something answers on the port it names."""
    state = config.load_state(paths)
    running = state.get("listening")
    if not isinstance(running, dict) or not _answers(running.get("port")):
        return None  # not running, or it did not stop cleanly
    return {**running, "public_url": state.get("public_url") if state.get("tunnel_online") else None}


def _answers(port: Any) -> bool:
    """Whether something listens on this computer at ``port`` (portable, unlike a pid check)."""
    import socket

    try:
        with socket.create_connection(("127.0.0.1", int(port)), timeout=0.5):
            return True
    except (OSError, TypeError, ValueError):
        return False
