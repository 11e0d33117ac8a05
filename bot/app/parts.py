"""The runtime's parts made on first use: renderer, deliverers, network, parse workers,
the screening list's source.

`briefbot poll` never renders and `briefbot status` never fetches, so each
part (and the libraries behind it: Jinja2, the fetcher, the parse worker pool, the
screening list's readers) is
imported and built only when a job first asks for it. `Runtime` inherits
these properties; they read `config`, `store`, `clock` and `locks` from it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config.model import Config
    from bot.deliver.alerts import AlertDispatcher
    from bot.deliver.digests import DigestSender
    from bot.deliver.locks import DestinationLocks
    from bot.ingest.fetch.client import Network
    from bot.ingest.parsepool import FeedParser
    from bot.ingest.screening.source import ScreeningSource
    from bot.render.renderer import Renderer
    from bot.store.ports import Store

__all__ = ["LazyParts"]


class LazyParts:
    """Properties made on first use, each under a lock so two threads make it once."""

    base_config: Config
    config: Config
    store: Store
    clock: Callable[[], datetime]
    locks: DestinationLocks

    def __init__(self, network: Network | None) -> None:
        self._network = network
        self._renderer: Renderer | None = None
        self._alerts: AlertDispatcher | None = None
        self._digests: DigestSender | None = None
        self._parser: FeedParser | None = None
        self._screening: ScreeningSource | None = None
        self._config_lock = threading.Lock()
        self._parser_lock = threading.Lock()
        self._screening_lock = threading.Lock()

    def feed_names(self) -> dict[str, str]:
        return {f.id: f.display_name for f in self.config.feeds}

    @property
    def renderer(self) -> Renderer:
        """Slack messages from templates; made on first use (a poll never renders)."""
        renderer = self._renderer
        if renderer is None:
            from bot.render.renderer import Renderer

            with self._config_lock:
                renderer = self._renderer = Renderer(
                    self.config.settings.templates_dir, feed_names=self.feed_names()
                )
        return renderer

    @property
    def alerts(self) -> AlertDispatcher:
        from bot.deliver.alerts import AlertDispatcher  # on first use, as `digests`

        with self._config_lock:
            if self._alerts is None:
                self._alerts = AlertDispatcher(self.store, self.locks, clock=self.clock)
            return self._alerts

    @property
    def digests(self) -> DigestSender:
        from bot.deliver.digests import DigestSender

        with self._config_lock:
            if self._digests is None:
                self._digests = DigestSender(self.store, self.locks, clock=self.clock)
            return self._digests

    @property
    def screening(self) -> ScreeningSource:
        """The screening list's download and snapshot (bot/ingest/screening/source.py)."""
        with self._screening_lock:
            if self._screening is None:
                from bot.app.storage import screening_snapshot_place
                from bot.ingest.screening.source import ScreeningSource

                place = screening_snapshot_place(self.store)  # the database's, on PostgreSQL
                self._screening = ScreeningSource(
                    self.base_config.settings.data_dir, clock=self.clock, place=place
                )
            return self._screening

    @property
    def network(self) -> Network:
        """How feeds are fetched: the one given, else the system's (loading the fetcher)."""
        if self._network is None:
            from bot.ingest.fetch.client import SYSTEM_NETWORK

            self._network = SYSTEM_NETWORK
        return self._network

    @network.setter
    def network(self, network: Network) -> None:
        self._network = network

    @property
    def parser(self) -> FeedParser:
        """What polls parse with: the parse worker pool, started on first use."""
        with self._parser_lock:
            if self._parser is None:
                from bot.ingest.parsepool import open_parser, resolve_workers

                settings = self.config.settings
                self._parser = open_parser(
                    resolve_workers(settings.parse_workers), time_limit=settings.parse_timeout
                )
            return self._parser

    @parser.setter
    def parser(self, parser: FeedParser) -> None:
        """Parse with `parser` from now on (the one-shot `briefbot poll`'s); closed by `close`."""
        with self._parser_lock:
            old, self._parser = self._parser, parser
        if old is not None:
            old.close()

    def close_parser(self) -> None:
        """Stop the parse workers, if they were started."""
        with self._parser_lock:
            parser, self._parser = self._parser, None
        if parser is not None:
            parser.close()
