"""The self-test's report: each step printed as it finishes (so a hang shows where), with
a timeout each; the first failure ends the run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

STEP_TIMEOUT = 20.0  # seconds; no step takes more than a fraction of that on a healthy install


class StepFailed(Exception):
    """A step found something wrong; the message says what (no traceback is shown)."""


@dataclass(frozen=True)
class StepResult:
    """One line of the report."""

    name: str
    status: str  # "ok", "warn" or "FAIL"
    ms: float
    detail: str


class Stream(Protocol):
    """Where the report is written: a text stream, or several (see ``_Tee``)."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class Report:
    """Prints each step as it finishes (so a hang shows where) and keeps the results."""

    def __init__(self, out: Stream) -> None:
        self.out = out
        self.steps: list[StepResult] = []

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def add(self, result: StepResult) -> None:
        self.steps.append(result)
        self.line(f"  {result.status:<4}  {result.name:<20} {result.ms:7.0f} ms  {result.detail}".rstrip())

    @property
    def failed(self) -> list[StepResult]:
        return [s for s in self.steps if s.status == "FAIL"]

    async def step(self, name: str, fn: Callable[[], Awaitable[Any]]) -> Any:
        """Run one step; its coroutine returns ``detail`` or ``(value, detail[, "warn"])``.

        Any exception fails the step (and the self-test) with a one-line message.
        """
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(fn(), STEP_TIMEOUT)
        except TimeoutError:
            self._fail(name, started, f"no result within {STEP_TIMEOUT:g} s")
        except StepFailed as exc:
            self._fail(name, started, str(exc))
        except Exception as exc:  # the point of a self-test: say what broke, plainly
            self._fail(name, started, f"{type(exc).__name__}: {exc}")
        value, detail, status = None, "", "ok"
        if isinstance(result, tuple):
            value, detail, *rest = result
            status = rest[0] if rest else "ok"
        else:
            detail = str(result or "")
        self.add(StepResult(name, status, (time.perf_counter() - started) * 1000, detail))
        return value

    def _fail(self, name: str, started: float, message: str) -> None:
        message = " ".join(message.split())  # one line, whatever the exception said
        self.add(StepResult(name, "FAIL", (time.perf_counter() - started) * 1000, message))
        raise Abort(name, message)


class Abort(Exception):
    """Ends the run at the first failed step (already in the report)."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")

