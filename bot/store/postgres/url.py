"""Database URLs: recognised, and described without their password.

`describe_url` is what every message, log line and status output shows of
the database: scheme, user, host, port and database name, never the
password (in the user info or as a `password=` parameter) nor any other
parameter.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["describe_url", "is_database_url"]

_SCHEMES = ("postgresql", "postgres")


def is_database_url(url: str) -> bool:
    return urlsplit(url.strip()).scheme.lower() in _SCHEMES


def describe_url(url: str) -> str:
    """`postgresql://user@host:port/name`: the URL without password or parameters."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
        user = f"{parts.username}@" if parts.username else ""
    except ValueError:
        return "(an unreadable database URL)"
    name = parts.path.lstrip("/") or "(default database)"
    return f"{parts.scheme}://{user}{host}{port}/{name}"
