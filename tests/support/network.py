"""Name lookups without DNS, and the internet played by loopback servers.

`FakeResolver` answers host names from a table and records every question:
tests never send a DNS query. `loopback_internet` is the `Network` a Runtime
or a fetch gets in tests that need a feed reached by name as a public one
would be (`/brief feed add` fetches before saving, and a feed added from Slack
may not reach loopback): the names it is given resolve to 127.0.0.1, and the
address policy lets loopback through as if it were public. Everything else of
the policy stays: a redirect or a resolver answer pointing at a private,
link-local or metadata address is still refused.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.config.addresses import PUBLIC_ONLY
from bot.ingest.fetch.client import Network

__all__ = ["FakeResolver", "loopback_internet"]


@dataclass
class FakeResolver:
    """Answers from a table and records every question; no DNS traffic at all."""

    table: dict[str, list[str]]
    calls: list[tuple[str, int]] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append((host, port))
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


def loopback_internet(resolver: FakeResolver) -> Network:
    """Fetch through `resolver`, with loopback (where the test servers are) taken as public."""
    return Network(resolver=resolver, policy=PUBLIC_ONLY.allowing(["127.0.0.0/8"]))
