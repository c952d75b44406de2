"""GUID and payload parsing: examples from PLEX.md, and properties over any input."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.guids import GuidError, ParsedGuid, parse_guid, show_ids_from_guids
from app.core.payload import PayloadError, PlexEvent, event_from_dict, parse_payload
from tests.helpers import SAMPLES, sample


@pytest.mark.parametrize("guid, kind, ids, season, episode, numbering", [
    ("com.plexapp.agents.thetvdb://81189/2/3?lang=en", "legacy", {"tvdb": "81189"}, 2, 3, "aired"),
    ("com.plexapp.agents.thetvdbdvdorder://81189/1/4?lang=en", "legacy", {"tvdb": "81189"}, 1, 4, "dvd"),
    ("com.plexapp.agents.themoviedb://1396/1/1?lang=en", "legacy", {"tmdb": "1396"}, 1, 1, "aired"),
    ("com.plexapp.agents.themoviedb://1396?lang=en", "legacy", {"tmdb": "1396"}, None, None, "aired"),
    ("com.plexapp.agents.imdb://tt0903747?lang=en", "legacy", {"imdb": "tt0903747"}, None, None, None),
    ("com.plexapp.agents.hama://anidb-11123/1/5?lang=en", "hama", {"anidb": "11123"}, 1, 5, "absolute"),
    ("com.plexapp.agents.hama://tvdb-305074/1/2?lang=en", "hama", {"tvdb": "305074"}, 1, 2, "aired"),
    ("com.plexapp.agents.hama://tvdb3-305074/0/12", "hama", {"tvdb": "305074"}, 0, 12, "alternative"),
    ("plex://show/5d9c086c46115600200aa2fe", "plex", {}, None, None, None),
    ("tmdb://62085", "external", {"tmdb": "62085"}, None, None, None),
    ("imdb://tt0959621", "external", {"imdb": "tt0959621"}, None, None, None),
    ("local://12345", "local", {}, None, None, None),
    ("com.plexapp.agents.none://abc", "unknown", {}, None, None, None),
    ("com.plexapp.agents.thetvdb://notanumber/1/1", "legacy", {}, 1, 1, "aired"),
])
def test_guid_examples(guid, kind, ids, season, episode, numbering) -> None:
    parsed = parse_guid(guid)
    assert (parsed.kind, parsed.ids, parsed.season, parsed.episode, parsed.numbering) == (
        kind, ids, season, episode, numbering)


def test_only_legacy_and_hama_guids_give_show_ids() -> None:
    assert show_ids_from_guids("tmdb://62085", "tvdb://349232", "plex://show/abc") == {}
    assert show_ids_from_guids(None, 42, "com.plexapp.agents.themoviedb://1396?lang=en") == {"tmdb": "1396"}


def test_new_agent_episode_ids_are_not_show_ids() -> None:
    ev = event_from_dict(sample("scrobble-new-agent-episode"))
    assert ev.episode_ids == {"imdb": "tt0959621", "tmdb": "62085", "tvdb": "349232"}
    assert ev.show_ids == {}
    assert ev.plex_key == "plex://show/5d9c086c46115600200aa2fe"


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_every_sample_parses(path) -> None:
    ev = parse_payload(path.read_bytes())
    assert ev.event.startswith(("media.", "admin."))


def test_payload_fields() -> None:
    ev = event_from_dict(sample("scrobble-legacy-thetvdb"))
    assert (ev.show_title, ev.season, ev.episode, ev.year) == ("Breaking Bad", 2, 3, 2009)
    assert (ev.account_id, ev.user, ev.server_title) == ("1", True, "Living Room")
    assert ev.show_ids == {"tvdb": "81189"} and ev.is_episode
    assert ev.progress == pytest.approx(3420000 / 3480000)


@pytest.mark.parametrize("raw, message", [
    (b"", "not valid JSON"), (b"[]", "JSON object"), (b"null", "JSON object"),
    (b"{}", "no 'event'"), (b'{"event": 5}', "no 'event'"), (b"[" * 100000, "JSON"),
])
def test_payload_errors_are_clear(raw, message) -> None:
    with pytest.raises(PayloadError, match=message):
        parse_payload(raw)


# -- properties: any input gives a result or a clear error, never another exception --
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)
guid_like = st.one_of(
    st.text(max_size=80),
    st.builds(lambda a, b, c: f"com.plexapp.agents.{a}://{b}/{c}", st.sampled_from(
        ["thetvdb", "themoviedb", "hama", "imdb", "thetvdbdvdorder", "x"]), st.text(max_size=20), st.text(max_size=8)),
    st.builds(lambda s, v: f"{s}://{v}", st.sampled_from(["tmdb", "tvdb", "imdb", "plex", "local"]),
              st.text(max_size=20)),
    json_values,
)


@settings(max_examples=400, deadline=None)
@given(guid_like)
def test_parse_guid_never_raises_anything_but_guid_error(value) -> None:
    try:
        parsed = parse_guid(value)
    except GuidError as exc:
        assert str(exc)
        return
    assert isinstance(parsed, ParsedGuid)
    assert all(isinstance(v, str) and v for v in parsed.ids.values())
    assert set(parsed.show_ids) <= {"tvdb", "tmdb", "imdb", "anidb"}


payload_like = st.one_of(
    json_values,
    st.fixed_dictionaries({"event": st.text(max_size=20) | json_values}, optional={
        "user": json_values, "Account": json_values, "Server": json_values,
        "Metadata": st.dictionaries(st.sampled_from(
            ["type", "index", "parentIndex", "year", "guid", "grandparentGuid", "Guid", "viewOffset",
             "duration", "grandparentTitle", "ratingKey", "grandparentRatingKey"]), guid_like | json_values),
    }),
)


@settings(max_examples=400, deadline=None)
@given(payload_like)
def test_payload_parser_gives_an_event_or_a_clear_error(data) -> None:
    for raw in (json.dumps(data, allow_nan=True), data):
        try:
            ev = parse_payload(raw) if isinstance(raw, str) else event_from_dict(raw)
        except PayloadError as exc:
            assert str(exc)
            continue
        assert isinstance(ev, PlexEvent) and ev.event
        ev.plex_key, ev.progress, ev.guid_summary()  # derived values never raise


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_payload_parser_on_arbitrary_bytes(raw) -> None:
    with contextlib.suppress(PayloadError):
        parse_payload(raw)
