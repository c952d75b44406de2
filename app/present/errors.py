"""Errors into words, one way for the CLI and the windows."""

from __future__ import annotations


def error_text(exc: BaseException, with_fix: bool = True) -> str:
    """``exc`` as a sentence for the user, with its fix when it carries one."""
    said = str(exc).strip() or type(exc).__name__
    fix = getattr(exc, "fix", None) if with_fix else None
    if fix and fix not in said:
        said = f"{said.rstrip('.')}. {fix}"
    return said
