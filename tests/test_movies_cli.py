"""``movies list/add/import``, ``scrobbles --json`` kinds and movie conflicts answered from
the command line (run in-process, as a user would, against a real SQLite file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.config import Paths, Settings
from app.core.runtime import open_store
from tests.helpers import SAMPLES, episode_payload


def test_movies_add_import_list_and_search(run, tmp_path: Path) -> None:
    code, out, _ = run("movies", "add", "Dune", "--year", "1984", "--tmdb", "841", "--imdb", "tt0087182")
    assert code == 0 and out.strip() == "Added movie #1: Dune (1984)"
    f = tmp_path / "movies.csv"
    f.write_text("Movie,Year,TMDB,IMDb,tvdb\nDune,2021,438631,tt1160419,\nDune,1984,,,\nHeat,1995,949,,1047\n")
    code, out, _ = run("movies", "import", str(f))
    assert code == 0 and out.strip() == "Imported 2 movies (1 already in the tracker)."
    code, out, _ = run("movies", "list", "--search", "dune", "--json")
    rows = json.loads(out)
    assert [(r["title"], r["year"], r["tmdb_id"]) for r in rows] == [("Dune", 1984, 841), ("Dune", 2021, 438631)]
    assert rows[0]["watch_count"] == 0
    code, out, _ = run("movies", "list")
    assert code == 0 and "Heat" in out and "watch_count" in out


def test_movies_add_asks_for_the_year_and_refuses_a_duplicate(run) -> None:
    with pytest.raises(SystemExit) as exit_:
        run("movies", "add", "Dune")
    assert exit_.value.code == 2
    assert run("movies", "add", "Heat", "--year", "1995", "--imdb", "tt0113277")[0] == 0
    code, _, err = run("movies", "add", "Heat", "--year", "1995")
    assert code != 0 and "already in the tracker as movie #1" in err and "Traceback" not in err
    code, _, err = run("movies", "add", "Heat 2", "--year", "2026", "--imdb", "nm123")
    assert code != 0 and "imdb_id must look like tt0903747" in err


def test_movies_import_file_errors_are_sentences(run, tmp_path: Path) -> None:
    f = tmp_path / "movies.json"
    f.write_text(json.dumps({"movies": [{"title": "Heat", "year": 1995}, {"title": "", "year": 2000}]}))
    code, _, err = run("movies", "import", str(f))
    assert code != 0 and "movie #2: a movie needs a non-empty title" in err
    code, out, _ = run("movies", "list", "--json")
    assert json.loads(out) == []  # nothing written when one record is bad
    code, _, err = run("movies", "import", "/dev/zero")
    assert code != 0 and "not a file that can be imported" in err


def test_scrobbles_json_says_movie_or_episode_and_a_movie_conflict_is_resolved(run) -> None:
    data: Path = run.data
    assert run("shows", "add", "Breaking Bad", "--year", "2008", "--tmdb", "1396")[0] == 0
    paths = Paths(data)
    store = open_store(paths, Settings(auto_add_shows=False))
    store.ingest([(json.dumps(episode_payload(1, 1)), "127.0.0.1"),
                  ((SAMPLES / "scrobble-movie.json").read_text(), "127.0.0.1")])
    store.process_pending()
    code, out, _ = run("scrobbles", "--json")
    rows = json.loads(out)
    assert [(r["kind"], r["action"]) for r in rows] == [("movie", "conflict"), ("episode", "marked")]
    assert (rows[0]["plex_title"], rows[0]["plex_year"]) == ("Heat", 1995)

    code, out, _ = run("conflicts", "list", "--json")
    [conflict] = json.loads(out)
    assert conflict["kind"] == "movie" and conflict["plex_title"] == "Heat"
    assert run("movies", "add", "Heat", "--year", "1995")[0] == 0
    code, _, err = run("conflicts", "resolve", str(conflict["id"]), "--show", "1")  # a show's id for a movie
    assert code == 2 and "is about a movie: answer it with --movie ID" in err
    code, out, _ = run("conflicts", "resolve", str(conflict["id"]), "--movie", "1")
    assert code == 0 and "marked" in out
    [heat] = json.loads(run("movies", "list", "--json")[1])
    assert heat["watch_count"] == 1
