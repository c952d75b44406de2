"""The webhook form parser: bodies from a real encoder (urllib3's), and any bytes at all."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from urllib3.filepost import encode_multipart_formdata

from app.core.form import FormError, boundary, form_field

names = st.sampled_from(["payload", "thumb", "other", "payload2", "名前"])
contents = st.binary(max_size=300)
fields = st.lists(st.tuples(names, contents, st.booleans()), max_size=6)


def encode(parts: list[tuple[str, bytes, bool]], mark: str = "xYz0boundary") -> tuple[bytes, str]:
    """A body as Plex's HTTP client would send it; some parts as files (filename, type)."""
    items = [(n, (f"{n}.bin", c, "application/octet-stream") if as_file else c) for n, c, as_file in parts]
    return encode_multipart_formdata(items, boundary=mark)


@settings(max_examples=300, deadline=None)
@given(fields)
def test_the_first_payload_field_is_found_exactly(parts: list[tuple[str, bytes, bool]]) -> None:
    body, content_type = encode(parts)
    wanted = [c for n, c, _ in parts if n == "payload"]
    if wanted:
        assert form_field(body, boundary(content_type), "payload", 8, 1000) == wanted[0]
    else:
        with pytest.raises(FormError) as e:
            form_field(body, boundary(content_type), "payload", 8, 1000)
        assert e.value.status == 400 and "no 'payload' field" in str(e.value)


@settings(max_examples=300, deadline=None)
@given(fields.filter(lambda p: any(n == "payload" for n, _, _ in p)), st.data())
def test_a_cut_body_is_a_400_or_still_the_whole_field(parts, data) -> None:
    body, content_type = encode(parts)
    cut = data.draw(st.integers(0, len(body) - 1))
    want = next(c for n, c, _ in parts if n == "payload")
    try:
        assert form_field(body[:cut], boundary(content_type), "payload", 8, 1000) == want
    except FormError as e:
        assert e.status == 400


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=400), st.text(max_size=80))
def test_any_bytes_and_any_content_type_give_a_field_or_a_form_error(body: bytes, content_type: str) -> None:
    try:
        b = boundary("multipart/form-data; boundary=" + content_type)
        form_field(b"--" + b + b"\r\n" + body, b, "payload", 8, 1000)
    except FormError as e:
        assert e.status in (400, 413)


def test_limits_and_shapes() -> None:
    body, ct = encode([("thumb", b"x", True)] * 9 + [("payload", b"{}", False)])
    with pytest.raises(FormError, match="too many parts") as e:
        form_field(body, boundary(ct), "payload", 8, 1000)
    assert e.value.status == 413
    body, ct = encode([("payload", b"a" * 1001, False)])
    with pytest.raises(FormError, match="payload too large"):
        form_field(body, boundary(ct), "payload", 8, 1000)
    assert boundary('multipart/form-data; BOUNDARY="a b:c"') == b"a b:c"
    with pytest.raises(FormError, match="no boundary"):
        boundary("multipart/form-data")
    nested = (b"--b\r\nContent-Disposition: form-data; name=\"payload\"\r\n"
              b"Content-Type: multipart/mixed; boundary=c\r\n\r\n--c--\r\n--b--\r\n")
    with pytest.raises(FormError, match="nested"):
        form_field(nested, b"b", "payload", 8, 1000)
    preamble = b"ignored\r\n--b\r\nContent-Disposition: form-data; name=payload\r\n\r\n{}\r\n--b--"
    assert form_field(preamble, b"b", "payload", 8, 1000) == b"{}"
