"""The webhook's multipart form, cut from the whole body at once.

aiohttp's streaming multipart reader cost more than the rest of the handler under load
(line-by-line reads, and its RFC 2231 parse of every part's headers: a quarter of the
event loop's time, profiled with py-spy). A Plex webhook is one small body, bounded by
``Settings.max_body_bytes``, so it is read whole and cut with ``bytes.find``.
"""

from __future__ import annotations

import re

from aiohttp.multipart import parse_content_disposition

# RFC 2046's boundary characters, quoted (spaces allowed) or not.
_BOUNDARY = re.compile(r";\s*boundary=(?:\"([0-9A-Za-z'()+_,\-./:=? ]{1,70})\"|([0-9A-Za-z'()+_,\-./:=?]{1,70}))",
                       re.IGNORECASE)
_NAME = re.compile(r'(?:^|;)\s*name="([^"\\]*)"')


class FormError(ValueError):
    """The form cannot be used; ``status`` is the HTTP answer (400 or 413)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def boundary(content_type: str) -> bytes:
    """The boundary named by a ``multipart/form-data`` Content-Type header."""
    m = _BOUNDARY.search(content_type)
    if not m:
        raise FormError(400, "malformed multipart body: no boundary in its Content-Type")
    return (m.group(1) or m.group(2)).encode("ascii")


def form_field(body: bytes, boundary: bytes, name: str, max_parts: int, max_size: int) -> bytes:
    """The content of the first part named ``name`` in a multipart/form-data ``body``.

    The whole body must be well formed up to its closing boundary; more than
    ``max_parts`` parts, or the field over ``max_size`` bytes, is a 413.
    """
    delimiter = b"--" + boundary
    separator = b"\r\n" + delimiter
    if body.startswith(delimiter):
        pos = len(delimiter)
    elif (preamble := body.find(separator)) >= 0:
        pos = preamble + len(separator)
    else:
        raise FormError(400, "malformed multipart body: its boundary is not in it")
    parts = 0
    found: bytes | None = None
    while not body.startswith(b"--", pos):  # "--" after a delimiter closes the form
        eol = body.find(b"\r\n", pos)
        if eol < 0 or body[pos:eol].strip(b" \t"):
            raise FormError(400, "malformed multipart body: a boundary line has more on it")
        start = eol + 2
        end = body.find(separator, start)
        if end < 0:
            raise FormError(400, "malformed multipart body: it ends before its closing boundary")
        parts += 1
        if parts > max_parts:
            raise FormError(413, f"too many parts (limit {max_parts})")
        if body.startswith(b"\r\n", start):  # a part with no headers
            headers, content = b"", start + 2
        elif (blank := body.find(b"\r\n\r\n", start, end)) >= 0:
            headers, content = body[start:blank], blank + 4
        else:
            raise FormError(400, "malformed multipart body: a part's headers do not end")
        if _field_name(headers) == name and found is None:
            if end - content > max_size:
                raise FormError(413, f"{name} too large (limit {max_size} bytes)")
            found = body[content:end]
        pos = end + len(separator)
    if found is None:
        raise FormError(400, f"no '{name}' field in the form")
    return found


def _field_name(headers: bytes) -> str | None:
    """The form field name in a part's headers; a nested multipart part is refused."""
    field = None
    for line in headers.decode("latin-1").split("\r\n"):
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "content-disposition":
            m = _NAME.search(value)  # the common quoted form, without the full RFC 2231 parse
            field = m.group(1) if m else parse_content_disposition(value)[1].get("name")
        elif key == "content-type" and value.strip().lower().startswith("multipart/"):
            raise FormError(400, "nested multipart bodies are not accepted")
    return field
