"""The recorded store the question suite asks: the demo's recorded feeds, polled for real.

`briefbot demo`'s feeds (bot/demo_feeds/: Federal Register BIS, Entity List and
trade documents, two synthetic news feeds; 35 items from 2 October to 17
November 2026, six Entity List rules reaching the bot through two feeds) are
served on loopback and polled once by a real Runtime into a TinyDB store,
with the project's feeds.yaml topics, at NOW (Wednesday 18 November 2026,
12:00 UTC).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app.demo import demo_config, serve_demo_feeds
from bot.app.runtime import Runtime
from bot.config.model import Config
from bot.config.schema import load_config
from bot.models import Item

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).parents[3]


@dataclass(frozen=True)
class Recorded:
    """The polled store's items and the configuration it was polled with."""

    config: Config
    items: tuple[Item, ...]
    feed_names: dict[str, str]


@pytest.fixture(scope="package")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    base = load_config(ROOT / "feeds.yaml", env={})
    data_dir = tmp_path_factory.mktemp("ask") / "data"
    with serve_demo_feeds() as server:
        server.phase = "today"
        config = demo_config(base, server, str(data_dir))
        with Runtime.open(config, clock=lambda: NOW) as runtime:
            runtime.poll(force=True)
            items = tuple(runtime.store.items.after(0))
            yield Recorded(config, items, runtime.feed_names())
