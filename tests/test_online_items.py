"""What a play is to Trakt and Simkl: ids best first, the time Plex gave, and a history
entry recognised as that play (to send it once only)."""

from __future__ import annotations

import json
from datetime import datetime

from app.core.destinations.online.items import counted, not_found, play, stamp
from app.core.payload import parse_payload
from tests.helpers import episode_payload, sample

AT = datetime(2026, 12, 2, 21, 4, 5)  # naive UTC, as the inbox keeps it


def test_a_legacy_episode_goes_by_its_show_ids_season_and_number_at_the_time_given() -> None:
    item = play(parse_payload(json.dumps(episode_payload(2, 5))), AT)
    assert item is not None
    assert item.body == {"shows": [{"title": "Breaking Bad", "ids": {"tmdb": 1396}, "seasons": [
        {"number": 2, "episodes": [{"number": 5, "watched_at": "2026-12-02T21:04:05.000Z"}]}]}]}
    assert "S02E05" in item.words and "tmdb 1396" in item.words


def test_a_new_agent_episode_takes_the_servers_show_ids_else_its_own() -> None:
    ev = parse_payload(json.dumps(sample("scrobble-new-agent-episode")))
    assert ev.episode_ids and not ev.show_ids
    own = play(ev, AT)
    assert own is not None and list(own.body) == ["episodes"] and own.body["episodes"][0]["ids"]
    shown = play(ev, AT, {"tvdb": "371980", "imdb": "tt11280740"})
    assert shown is not None and shown.body["shows"][0]["ids"] == {"tvdb": 371980, "imdb": "tt11280740"}


def test_a_movie_goes_by_imdb_and_tmdb_and_one_without_ids_is_not_sent() -> None:
    item = play(parse_payload(json.dumps(sample("scrobble-legacy-imdb-movie"))), AT)
    assert item is not None and item.movie and set(item.body) == {"movies"}
    assert item.body["movies"][0]["ids"] and item.body["movies"][0]["watched_at"] == stamp(AT)
    assert play(parse_payload(json.dumps(sample("scrobble-local-movie"))), AT) is None


def test_a_history_entry_is_this_play_only_at_the_same_second_with_the_same_ids() -> None:
    item = play(parse_payload(json.dumps(episode_payload(2, 5))), AT)
    assert item is not None
    entry = {"watched_at": "2026-12-02T21:04:05.000Z", "show": {"ids": {"tmdb": 1396, "trakt": 1}},
             "episode": {"season": 2, "number": 5, "ids": {"trakt": 9}}}
    assert item.matches(entry)
    assert not item.matches(entry | {"watched_at": "2026-12-02T21:04:07.000Z"})
    assert not item.matches(entry | {"episode": {"season": 2, "number": 6, "ids": {}}})
    assert not item.matches(entry | {"show": {"ids": {"tmdb": 1397}}})


def test_answers_counted_and_not_found_said() -> None:
    assert counted({"added": {"movies": 0, "episodes": 1}, "updated": {"episodes": 0}}) == 1
    assert counted({"added": {"movies": 0, "episodes": 0}}) == 0
    assert not_found({"not_found": {"shows": [{"ids": {"tvdb": 5}}], "movies": []}}) == ["shows: tvdb 5"]
    assert not_found("nonsense") == []


def test_the_built_in_tracker_s_ids_fill_in_what_plex_does_not_say() -> None:
    local = parse_payload(json.dumps(sample("scrobble-local-movie")))
    item = play(local, AT, tracker_ids={"tmdb": "949", "imdb": "tt0113277"})
    assert item is not None and item.body["movies"][0]["ids"] == {"imdb": "tt0113277", "tmdb": 949}
    legacy = play(parse_payload(json.dumps(episode_payload(1, 1))), AT, tracker_ids={"tmdb": "1", "tvdb": "81189"})
    assert legacy is not None and legacy.body["shows"][0]["ids"] == {"tvdb": 81189, "tmdb": 1396}, "Plex's first"
