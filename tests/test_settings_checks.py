"""One check per setting: the Settings window, 'config set', applying settings and loading
settings.json say the same words, and a bad value on disk never stops the app."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from app.core.config import CHECKS, PLEX_LOCATIONS, Paths, Settings, load_settings, setting_problem


@pytest.mark.parametrize(("key", "bad"), [("port", 70000), ("port", "eighty"), ("stop_threshold", 2),
                                          ("rate_limit_per_minute", -1), ("dedup_window_hours", 0),
                                          ("ngrok_domain", "not a domain!"), ("plex_location", "moon"),
                                          ("database_url", "notaurl"), ("database_url", "nosuchdb://x/y"),
                                          # numbers: finite, in range, and numbers (a play computes times with them)
                                          ("dedup_window_hours", float("inf")), ("dedup_window_hours", float("nan")),
                                          ("dedup_window_hours", 1e23), ("dedup_window_hours", "6"),
                                          ("stop_threshold", float("nan")), ("rate_limit_per_minute", 10**30),
                                          ("port", True), ("port", 47810.5),
                                          ("ngrok_region", "moon"), ("ngrok_region", "EU "),
                                          ("host", "a" * 10_000), ("host", "\udcff\udcfe"), ("host", "1.2.3.999"),
                                          ("host", "my host"), ("host", 5),
                                          ("routes", ["relay-1"]), ("routes", {"alice": "relay-1"}),
                                          ("routes", {"alice": ["../etc"]}), ("routes", {"": []}),
                                          ("payload_retention_days", -1), ("payload_retention_days", 1.5),
                                          ("payload_retention_days", 10**9), ("payload_retention_days", True)])
def test_a_bad_value_in_settings_json_gives_the_default_and_a_log_line(
        paths: Paths, key: str, bad: Any, caplog: Any) -> None:
    paths.ensure()
    paths.settings_file.write_text(json.dumps({"port": 48000} | {key: bad}), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        settings = load_settings(paths)
    assert getattr(settings, key) == getattr(Settings(), key)
    said = setting_problem(key, bad)
    assert said and f"settings.json: {said}; the default is used instead" in caplog.text
    assert said in Settings(**{key: bad}).validate()  # applying them (and 'config set') says the same


def test_good_values_pass_every_check() -> None:
    good = {"port": 0, "stop_threshold": 0.5, "rate_limit_per_minute": 0, "dedup_window_hours": 0.1,
            "ngrok_domain": "my-name.ngrok-free.dev", "plex_location": PLEX_LOCATIONS[1],
            "database_url": "sqlite:////tmp/x.sqlite3", "host": "::1", "ngrok_region": "eu",
            "routes": {"owner": [], "alice": []}, "payload_retention_days": 0}
    assert set(good) == set(CHECKS)  # a new check gets a case here
    assert [key for key, value in good.items() if setting_problem(key, value)] == []
    assert Settings(**good).validate() == []



@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "::", "::1", "fe80::1%eth0", "localhost", "my-nas.local",
                                  "nas", ""])
def test_a_host_name_or_address_is_taken(host: str) -> None:
    assert setting_problem("host", host) is None


def test_infinite_numbers_in_settings_json_give_the_default(paths: Paths) -> None:
    paths.ensure()  # (JSON's 1e400 is read as infinity, and Python writes Infinity and NaN)
    paths.settings_file.write_text('{"dedup_window_hours": 1e400, "stop_threshold": NaN, "port": 1e400}',
                                   encoding="utf-8")
    settings = load_settings(paths)
    assert (settings.dedup_window_hours, settings.stop_threshold, settings.port) == (6.0, 0.9, 47810)
    assert settings.validate() == []
