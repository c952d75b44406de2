"""Which of an account's webhook URLs are ours, and the list to write back.

plex.tv only takes a whole new list, so the list is read, ours are replaced, and every
other URL the user has is kept, in its place.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

WEBHOOK_PATH = "/webhook/"


@dataclass(frozen=True)
class Plan:
    urls: list[str]  # the list to write
    removed: list[str]  # our stale URLs it drops
    changed: bool  # whether writing is needed at all


def is_ours(url: str, current: str, secret: str, our_hosts: set[str]) -> bool:
    """Ours: our webhook path with our secret (an older tunnel URL), or our webhook path on
    a host we registered before or use now (a rotated secret). Hosts, not URLs, are
    remembered, so no secret is kept for it."""
    if url == current:
        return True
    parts = urlsplit(url)
    if not parts.path.startswith(WEBHOOK_PATH):
        return False
    return parts.path == f"{WEBHOOK_PATH}{secret}" or parts.netloc in our_hosts | {urlsplit(current).netloc}


def plan(existing: list[str], current: str, secret: str, our_hosts: set[str]) -> Plan:
    """``existing`` with our stale URLs dropped and ``current`` present exactly once."""
    kept, removed, placed = [], [], False
    for url in existing:
        if not is_ours(url, current, secret, our_hosts):
            kept.append(url)
        elif url == current and not placed:
            kept.append(url)
            placed = True
        else:
            removed.append(url)
    if not placed:
        kept.append(current)
    return Plan(kept, removed, kept != existing)
