"""The Qt bindings keep Python's reference counts.

PySide6 6.12.0 on CPython 3.11 returns None/True from void calls and ``emit()`` without
taking a reference (harmless only on 3.12+, where they are immortal); qasync makes such
calls for every callback, and the app aborted with "Fatal Python error: bool_dealloc"
after a few thousand webhooks. pyproject.toml keeps 3.11 below 6.12; this test catches
any release of the bindings with the same fault.
"""

from __future__ import annotations

import subprocess
import sys

FLOOD = """
import sys
from PySide6.QtCore import QObject, Signal

class Sender(QObject):
    signal = Signal()

s = Sender()
none, true = sys.getrefcount(None), sys.getrefcount(True)
for _ in range(300_000):   # more than None's and True's counts at start-up
    s.setObjectName("x")   # a void method
    s.signal.emit()
print(none - sys.getrefcount(None), true - sys.getrefcount(True))
"""


def test_void_calls_and_emits_do_not_lose_references() -> None:
    result = subprocess.run([sys.executable, "-c", FLOOD], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-500:]
    lost_none, lost_true = map(int, result.stdout.split())
    assert abs(lost_none) < 1000 and abs(lost_true) < 1000
