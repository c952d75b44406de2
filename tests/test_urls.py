"""Webhook URLs: the local network address comes from the routing table, not the hostname."""

from __future__ import annotations

import socket
from pathlib import Path

from app.core.urls import labelled_urls, lan_addresses


def _has_default_route() -> bool:
    lines = Path("/proc/net/route").read_text().splitlines()[1:]
    return any(line.split()[1] == "00000000" for line in lines)


def test_lan_addresses_are_this_machines_own_and_not_loopback() -> None:
    found = lan_addresses()
    assert not any(a.startswith("127.") for a in found)
    for address in found:  # only an address of one of this machine's interfaces can be bound
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((address, 0))
    if _has_default_route():  # this machine's hostname resolves to 127.0.0.1 only
        assert found, "the default route's address was not found"


def test_a_wildcard_host_offers_the_lan_url_first_then_this_computer() -> None:
    urls = labelled_urls("s3cret", "0.0.0.0", 47810)
    labels = [label for label, _ in urls]
    assert labels[-1] == "This computer only" and urls[-1][1] == "http://127.0.0.1:47810/webhook/s3cret"
    assert labels[:-1] == ["Local network"] * len(lan_addresses())
    assert labelled_urls("s3cret", "127.0.0.1", 47810) == [urls[-1]]


def test_an_ipv6_host_is_put_in_brackets() -> None:
    assert labelled_urls("s3cret", "::1", 47810) == [("This computer only", "http://[::1]:47810/webhook/s3cret")]
    assert labelled_urls("s3cret", "fe80::1%eth0", 80)[0][1] == "http://[fe80::1%eth0]:80/webhook/s3cret"
    assert labelled_urls("s3cret", "::", 80)[-1][1] == "http://127.0.0.1:80/webhook/s3cret"
