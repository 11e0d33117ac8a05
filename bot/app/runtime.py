"""The orchestrator: strings the stages together for polls, alerts, digests and search.

The scheduler, the Slack app and the CLI only call this module; none of them
talks to fetch, parse, match or the store's write path directly.

A poll (`poll`) fetches and parses without touching the store, then one
transaction stores every new item, links repeated stories, matches the items
after the match cursor against every subscription, queues the alerts and moves
the cursor: all of it lands together or not at all (bot/ingest/poll.py).
Parsing happens in the runtime's parse worker processes (`parse_workers`,
bot/ingest/parsepool.py), started at the first poll and stopped by `close`.
Deliveries (bot/deliver/) post to Slack outside any transaction, each holding
only its destination's lock, so a slow Slack never stalls `/brief`, a search
or a poll's commit.

A runtime opened `read_only` (the CLI's `search`, `status`, `digest
--dry-run` while `briefbot run` holds the data) reads a snapshot of the data
directory and refuses every write.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterable
from datetime import datetime, time
from typing import TYPE_CHECKING

from bot.app.fedreg import deadline_items
from bot.app.latest import newest_stories
from bot.app.matchers import MatcherCache
from bot.app.parts import LazyParts
from bot.app.screening import poll_screening, screening_status_row
from bot.app.storage import database_search, open_store
from bot.app.storycache import StoryKeeper
from bot.app.workspaces import digest_feeds, only_their_feeds, only_visible, stamp_alerts
from bot.config.model import Config, DigestConfig, TopicConfig
from bot.config.overrides import effective_config
from bot.config.redact import redact_text
from bot.deliver.locks import DestinationLocks
from bot.find.stories.index import StoryIndex
from bot.ingest.fedreg.apply import track_items
from bot.ingest.fedreg.enrich import EnrichOptions
from bot.models import (
    UTC,
    Alert,
    DigestView,
    FeedConfig,
    FeedState,
    Item,
    PollReport,
    SlackMessage,
    replace,
)
from bot.store.ports import Coordination, DeliveryProblem, SingleProcess, Store, Transaction, Watch

if TYPE_CHECKING:  # imported where used: `briefbot poll` loads no Jinja2, search or Slack,
    # nor the screening list's code or the watch matcher unless there is work for them
    from bot.brief.ask import Answer
    from bot.deliver.alerts import DispatchReport
    from bot.deliver.digests import DigestOutcome
    from bot.deliver.ports import Poster
    from bot.find.search.engine import SearchEngine
    from bot.find.search.results import SearchResults
    from bot.ingest.fetch.client import Network
    from bot.ingest.poll import FeedOutcome, FetchFeeds
    from bot.ingest.screening.source import ScreeningReport
    from bot.render.inputs import FeedStatusRow

__all__ = ["LATEST_SCAN_LIMIT", "Runtime", "utc_now"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# `latest` looks at most this many of the newest stored items.
LATEST_SCAN_LIMIT = 50_000
# `/brief latest others` matches each item against the topics (about 90 us an
# item): it looks at the newest 5,000 items at most, half a second.
OTHERS_SCAN_LIMIT = 5_000


def utc_now() -> datetime:
    return datetime.now(UTC)


class Runtime(LazyParts):
    """The bot's long-lived state beside the store, and every job it runs.

    Holds the configuration (feeds.yaml plus the changes made from Slack), the
    store, the story index (same story from several feeds), the search index
    and the renderer. `network` is how feeds are fetched (the system resolver
    and the public-only address policy; tests give their own). `cache_dir`
    (the store's data directory, as `open` gives it) keeps the story index
    between processes; without it the index is built from the store.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        clock: Clock = utc_now,
        network: Network | None = None,
        cache_dir: str | None = None,
    ) -> None:
        self.base_config = config  # feeds.yaml as loaded; `config` adds changes made from Slack
        self.store = store
        self.clock = clock
        self.config = effective_config(config, store.overrides)
        # Called (no arguments) after `refresh_config`, e.g. to re-sync scheduler jobs.
        self.config_listeners: list[Callable[[], None]] = []
        self.coordination: Coordination = SingleProcess()  # replicas: bot/app/replicas.py
        self.locks = DestinationLocks(self.coordination)
        LazyParts.__init__(self, network)
        self._index_lock = threading.Lock()
        self._stories = StoryKeeper(cache_dir, store.items, clock, store.alerts.match_cursor)
        self._search: SearchEngine | None = None
        self._search_dir = cache_dir  # the persisted search index's (bot/app/searchindex.py)
        self._search_kept = False  # whether the index is the file kept in `_search_dir`
        self._closed = False
        # How the Federal Register enrichment batches and paces (bot/app/fedreg.py).
        self.enrich_options = EnrichOptions()
        # Writes the optional summary of a question's answer (bot.llm); None: no model.
        self.summarizer: Callable[[Answer], str | None] | None = None
        # How polls download; None: fetch_feeds (a `briefbot poll` gives its prefetch's).
        self.fetch: FetchFeeds | None = None
        self._matchers = MatcherCache()  # kept between polls (bot/app/matchers.py)

    @classmethod
    def open(
        cls,
        config: Config,
        *,
        clock: Clock = utc_now,
        read_only: bool = False,
        network: Network | None = None,
    ) -> Runtime:
        """Open the configured store (bot/app/storage.py): to write, or to read a snapshot."""
        settings = config.settings
        store = open_store(settings, read_only=read_only)
        # The story index is kept beside TinyDB's files (none on PostgreSQL: built from it).
        cache_dir = None if settings.database_url else settings.data_dir
        try:
            return cls(config, store, clock=clock, network=network, cache_dir=cache_dir)
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.close_parser()
            if self._search is not None:
                self._search.close()
            self.store.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ config views

    def refresh_config(self) -> None:
        """Recompute `config` from feeds.yaml plus the changes made from Slack; tell listeners."""
        with self._config_lock:
            self.config = effective_config(self.base_config, self.store.overrides)
            self._renderer = None  # made again from the new config when next used
            if self._search is not None:  # on PostgreSQL also the feeds searched
                self._search.set_feed_tags(self.feed_tags())
        for listener in list(self.config_listeners):
            listener()

    def feed_tags(self) -> dict[str, tuple[str, ...]]:
        return {f.id: f.tags for f in self.config.feeds}

    def topics(self) -> dict[str, TopicConfig]:
        return {t.id: t for t in self.config.topics}

    def digest_config(self, channel: str) -> DigestConfig | None:
        return self.config.digest(channel)

    # ------------------------------------------------------------------ indexes

    @property
    def search_index(self) -> SearchEngine:
        """The search index, opened on first use; it follows the store (bot/app/searchindex.py).

        On PostgreSQL the database searches (`PgSearch`), scoped to the configured feeds.
        """
        with self._index_lock:
            if self._search is None:
                self._search = database_search(self.store, self.feed_tags())
            if self._search is None:
                from bot.app.searchindex import open_search

                index, kept = open_search(self.store, self._search_dir, self.feed_tags())
                self._search, self._search_kept = index, kept
            return self._search

    @property
    def stories(self) -> StoryIndex:
        """Recent stories by their identity: the last process's (storycache.py), on first use;
        without a cache, built from the store up to the match cursor (what comes after it is
        linked, in seq order, by the next `link_and_match`)."""
        return self._stories.index()

    # ------------------------------------------------------------------ polling

    def poll(
        self,
        *,
        feed_ids: Collection[str] | None = None,
        force: bool = False,
        on_fetched: Callable[[str], None] | None = None,
    ) -> list[PollReport]:
        """One poll cycle; its items, story links, alerts and match cursor land in one commit.

        The story index learns the cycle's items inside the transaction; if
        the commit fails it is dropped, to be loaded again (else it would
        remember stories under items never stored), else saved. The search index
        catches up with the store afterwards, whether the commit worked or not.
        """
        from bot.ingest.poll import poll_feeds

        with self.coordination.leading() as leader:
            # Story links and matching are the leader's (bot/app/replicas.py); alone, ours.
            stories = self._lead() if leader else None
            consulted: list[Item] | None = None

            def within(tx: Transaction, stored: list[Item]) -> None:
                nonlocal consulted
                if stories is not None:
                    consulted = self.link_and_match(tx, stories)
                feeds = {feed.id: feed for feed in self.config.feeds}
                track_items(tx, feeds, stored, self.clock())

            try:
                cycle = poll_feeds(
                    self.config,
                    self.store,
                    feed_ids=feed_ids,
                    force=force,
                    clock=self.clock,
                    on_fetched=on_fetched,
                    within=within,
                    network=self.network,
                    parser=self.parser,
                    fetch=self.fetch,
                )
            except BaseException:
                if stories is not None and consulted is not None:
                    self._stories.drop(stories)
                raise
            else:
                if stories is not None:
                    self._stories.committed(stories, consulted or [])
            finally:
                if feed_ids is None:
                    self.poll_screening_list(force=force)
                if self._search is not None:
                    # Not waiting: a catch-up under way (the start-up build, a
                    # search's) reads on until nothing is left; a search catches up first.
                    self._search.catch_up(timeout=0)
                    from bot.app.searchindex import level_after_poll

                    kept = self._search_dir if self._search_kept else None
                    level_after_poll(self.store, self._search, kept)
        return cycle.reports

    def _lead(self) -> StoryIndex:
        """The leader's before a poll: the story index, and the matcher compiled while the
        downloads run rather than after them (bot/app/matchers.py)."""
        self._matchers.warm(lambda: (self.store.subscriptions.list(), self.topics()))
        return self.stories

    def poll_screening_list(self, *, force: bool = False) -> ScreeningReport | None:
        """Download the screening list when due; name Entity List rules (bot/app/screening.py)."""
        return poll_screening(self, force=force)

    def drop_stories(self, stories: StoryIndex | None = None, *, failed: bool = True) -> None:
        """Forget the story index (`stories`, if given, only if it is still that one)."""
        self._stories.drop(stories, failed=failed)

    def link_and_match(self, tx: Transaction, stories: StoryIndex) -> list[Item]:
        """The serial work on the items after the match cursor: story links, then alerts."""
        self._stories.link(tx, stories, list(tx.items.after(tx.alerts.match_cursor())))
        return self.match_new_items(tx)

    def probe_feed(self, feed: FeedConfig) -> FeedOutcome:
        """Fetch and parse `feed` once as a poll would, storing nothing (`/brief feed add`)."""
        from bot.ingest.poll import probe_feed

        return probe_feed(feed, self.config, clock=self.clock, network=self.network)

    def match_new_items(self, tx: Transaction) -> list[Item]:
        """Match items stored since the match cursor against every subscription and watch;
        queue the alerts (each with its workspace) and return the items. Runs in the poll's
        transaction: the queued alerts and the advanced cursor land with the items."""
        items = list(tx.items.after(tx.alerts.match_cursor()))
        if not items:
            return []
        subscriptions = tx.subscriptions.list()
        if subscriptions:
            matcher = self._matchers.get(subscriptions, self.topics())
            found = matcher.match(items, now=self.clock(), feed_tags=self.feed_tags())
            tx.alerts.enqueue(self._theirs(tx, items, stamp_alerts(found, subscriptions)))
        watches = tx.watches.list()
        if watches:
            from bot.brief.watchlist import watch_alerts

            found = stamp_alerts(watch_alerts(items, watches, now=self.clock()), watches)
            tx.alerts.enqueue(self._theirs(tx, items, found))
        tx.alerts.set_match_cursor(max(item.seq for item in items))
        return items

    def _theirs(self, tx: Transaction, items: list[Item], alerts: list[Alert]) -> list[Alert]:
        """Many workspaces: only alerts on feeds their workspace follows (bot/app/workspaces)."""
        return only_their_feeds(alerts, items, self.config.feeds, tx.overrides)

    # ------------------------------------------------------------------ delivering

    def dispatch_alerts(self, poster: Poster) -> DispatchReport:
        """Deliver every due alert: one message per owner, listing up to N items."""
        return self.alerts.dispatch(poster, self._render_alerts)

    def _render_alerts(
        self, owner: str, listed: list[tuple[Item, tuple[str, ...]]], more: int
    ) -> list[SlackMessage]:
        """Each item names the subscriptions that sent it ("topic chips (s3)"), so that the
        reader can mute or remove exactly that one; ids gone meanwhile are shown bare."""
        ids = sorted({sub_id for _, subs in listed for sub_id in subs})
        found = {sub_id: self.store.subscriptions.get(sub_id) for sub_id in ids}
        watches = {w.id: w for w in map(self.store.watches.get, ids) if w is not None}
        labels = {
            sub_id: f"{sub.label} ({sub_id})" if sub is not None else sub_id
            for sub_id, sub in found.items()
        }
        named = [
            (
                item,
                tuple(_watch_label(item, watches[s]) if s in watches else labels[s] for s in subs),
            )
            for item, subs in listed
        ]
        sent_by = [(i, getattr(found[i], "label", i)) for i in ids if i not in watches]
        return self.renderer.render_alerts(owner, named, more=more, sent_by=sent_by)

    def send_digest(
        self, digest: DigestConfig, poster: Poster, *, scheduled_for: datetime | None = None
    ) -> DigestOutcome:
        """Build and post a channel's digest; move its cursor only once Slack accepted it."""
        return self.digests.send(digest, poster, self, scheduled_for=scheduled_for)

    def catch_up_digests(self, poster: Poster) -> list[DigestOutcome]:
        """At start-up: send once each digest whose time passed while the bot was down."""
        return self.digests.catch_up(self.config.digests, poster, self)

    def build_digest(self, digest: DigestConfig) -> tuple[DigestView, list[SlackMessage]]:
        """The digest a channel would get now: (view, messages). Changes nothing durable."""
        from bot.deliver.digests import current_state, period_start

        now = self.clock()
        state = current_state(self.store, digest.channel, now)
        first = self.store.digests.get(digest.channel) is None
        since = period_start(state, first_sight=first, now=now)
        backlog_since = since if first else None
        return self.compose(digest, after_seq=state.seq, since=since, backlog_since=backlog_since)

    def compose(
        self,
        digest: DigestConfig,
        *,
        after_seq: int,
        through_seq: int | None = None,
        since: datetime | None = None,
        backlog_since: datetime | None = None,
    ) -> tuple[DigestView, list[SlackMessage]]:
        """The digest of the items after `after_seq` (up to `through_seq`), rendered.

        `backlog_since` (a channel's first digest) lets in the backlog published since then.
        """
        from bot.brief.digest import build_digest_view, digest_deadlines

        feeds = digest_feeds(self.config, self.store.overrides, digest)
        items: Iterable[Item] = only_visible(self.store.items.after(after_seq), feeds)
        if through_seq is not None:
            items = (item for item in items if item.seq <= through_seq)
        view = build_digest_view(
            items,
            digest,
            self.config.topics,
            now=self.clock(),
            since=since,
            feed_names=self.feed_names(),
            feed_tags=self.feed_tags(),
            backlog_since=backlog_since,
        )
        if view.is_empty:
            return view, []
        deadlines = digest_deadlines(
            only_visible(deadline_items(self.store), feeds),
            digest,
            self.config.topics,
            now=self.clock(),
            feed_tags=self.feed_tags(),
        )
        view = replace(view, deadlines=tuple((d.kind, d.on, d.item) for d in deadlines))
        return view, self.renderer.render_digest(view, thread=digest.thread)

    def notice(self, text: str) -> list[SlackMessage]:
        return self.renderer.render_notice(text)

    # ------------------------------------------------------------------ reading

    def search(self, text: str, *, limit: int = 10, feeds: set[str] | None = None) -> SearchResults:
        """Search what the bot has seen (query syntax or plain words), in `feeds` (None: all);
        raises QueryError, also for a `feed:` naming no such feed (a typo would match nothing)."""
        from bot.app.searchindex import search_query

        query = search_query(text, feeds, {feed.id for feed in self.config.feeds})
        return self.search_index.search(query, now=self.clock(), limit=limit)

    def feed_status_rows(self) -> list[FeedStatusRow]:
        """Each feed and its state, for `/brief status` and `briefbot status`."""
        from bot.render.inputs import FeedStatusRow

        states = self.store.feed_states.all()
        rows = [
            FeedStatusRow(feed.id, feed.display_name, feed.enabled, _shown(states.get(feed.id)))
            for feed in self.config.feeds
        ]
        row = screening_status_row(self)  # `screening_list:`, when set
        return rows if row is None else [*rows, row]

    def delivery_errors(self) -> dict[str, DeliveryProblem]:
        return self.store.delivery_problems.all()

    def latest_others(
        self, channel: str, *, limit: int = 10, feed_ids: Iterable[str] | None = None
    ) -> list[Item]:
        """The newest items `channel`'s digest counts as "other" (matching none of its topics).

        A channel without a digest gets those matching no topic at all, from every feed.
        """
        from bot.brief.digest import other_item_filter

        digest = self.config.digest(channel) or DigestConfig(
            channel=channel, at=time(0), timezone="UTC"
        )
        is_other = other_item_filter(
            digest, self.config.topics, now=self.clock(), feed_tags=self.feed_tags()
        )
        return self.latest(feed_ids=feed_ids, limit=limit, keep=is_other, scan=OTHERS_SCAN_LIMIT)

    def latest(
        self,
        *,
        feed_ids: Iterable[str] | None = None,
        limit: int = 10,
        keep: Callable[[Item], bool] | None = None,
        scan: int = LATEST_SCAN_LIMIT,
    ) -> list[Item]:
        """The newest stories (duplicates folded), newest first: `bot.app.latest`."""
        return newest_stories(
            self.store.items, feed_ids=feed_ids, limit=limit, keep=keep, scan=scan
        )


def _watch_label(item: Item, watch: Watch) -> str:
    """ "watch Huawei (w3) among the entities of 89 FR 1064: ... · /brief unwatch w3 stops it"."""
    from bot.brief.watchlist import where_found

    where = where_found(item, watch) or "in this item"
    return f"{watch.label} ({watch.id}) {where} · /brief unwatch {watch.id} stops it"


def _shown(state: FeedState | None) -> FeedState | None:
    """The state with its texts redacted: an older version stored errors with credentials."""
    if state is None or not (state.last_error or state.warning):
        return state
    return replace(
        state,
        last_error=redact_text(state.last_error) if state.last_error else state.last_error,
        warning=redact_text(state.warning) if state.warning else state.warning,
    )
