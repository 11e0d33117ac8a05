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

from bot.app.fedreg import deadline_items
from bot.app.replicas import link_stories
from bot.app.screening import poll_screening
from bot.app.storage import database_search, open_store
from bot.brief.ask import Answer
from bot.brief.digest import build_digest_view, digest_deadlines, other_item_filter
from bot.brief.match import SubscriptionMatcher
from bot.brief.watchlist import watch_alerts, where_found
from bot.config.model import Config, DigestConfig, TopicConfig
from bot.config.overrides import effective_config
from bot.config.redact import redact_text
from bot.deliver.alerts import AlertDispatcher, DispatchReport
from bot.deliver.digests import DigestOutcome, DigestSender, current_state, period_start
from bot.deliver.locks import DestinationLocks
from bot.deliver.ports import Poster
from bot.find.query.question import parse_question
from bot.find.query.syntax import QueryError
from bot.find.search.index import SearchIndex
from bot.find.search.results import SearchResults
from bot.find.stories.index import DEFAULT_RETENTION as STORY_HORIZON
from bot.find.stories.index import StoryIndex
from bot.ingest.fedreg.apply import track_items
from bot.ingest.fedreg.enrich import EnrichOptions
from bot.ingest.fetch.client import SYSTEM_NETWORK, Network
from bot.ingest.parsepool import FeedParser, open_parser, resolve_workers
from bot.ingest.poll import FeedOutcome, poll_feeds, probe_feed
from bot.ingest.screening.source import ScreeningReport, ScreeningSource
from bot.models import (
    UTC,
    DigestView,
    FeedConfig,
    FeedState,
    Item,
    PollReport,
    SlackMessage,
    replace,
)
from bot.render.renderer import Renderer
from bot.render.views import FeedStatusRow
from bot.store.ports import Coordination, DeliveryProblem, SingleProcess, Store, Transaction, Watch
from bot.store.postgres.search import PgSearch

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


class Runtime:
    """The bot's long-lived state beside the store, and every job it runs.

    Holds the configuration (feeds.yaml plus the changes made from Slack), the
    store, the story index (same story from several feeds), the search index
    and the renderer. `network` is how feeds are fetched (the system resolver
    and the public-only address policy; tests give their own).
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        clock: Clock = utc_now,
        network: Network = SYSTEM_NETWORK,
    ) -> None:
        self.base_config = config  # feeds.yaml as loaded; `config` adds changes made from Slack
        self.store = store
        self.clock = clock
        self.network = network
        self.config = effective_config(config, store.overrides)
        # Called (no arguments) after `refresh_config`, e.g. to re-sync scheduler jobs.
        self.config_listeners: list[Callable[[], None]] = []
        self.renderer = Renderer(self.config.settings.templates_dir, feed_names=self.feed_names())
        self.coordination: Coordination = SingleProcess()  # replicas: bot/app/replicas.py
        self.locks = DestinationLocks(self.coordination)
        self.alerts = AlertDispatcher(store, self.locks, clock=clock)
        self.digests = DigestSender(store, self.locks, clock=clock)
        self.screening = ScreeningSource(config.settings.data_dir, clock=clock)
        self._config_lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._parser_lock = threading.Lock()
        self._stories: StoryIndex | None = None
        self._search: SearchIndex | PgSearch | None = None
        self._parser: FeedParser | None = None
        self._closed = False
        # How the Federal Register enrichment batches and paces (bot/app/fedreg.py).
        self.enrich_options = EnrichOptions()
        # Writes the optional summary of a question's answer (bot.llm); None: no model.
        self.summarizer: Callable[[Answer], str | None] | None = None

    @classmethod
    def open(
        cls,
        config: Config,
        *,
        clock: Clock = utc_now,
        read_only: bool = False,
        network: Network = SYSTEM_NETWORK,
    ) -> Runtime:
        """Open the configured store (bot/app/storage.py): to write, or to read a snapshot."""
        store = open_store(config.settings, read_only=read_only)
        try:
            return cls(config, store, clock=clock, network=network)
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with self._parser_lock:
                parser, self._parser = self._parser, None
            if parser is not None:
                parser.close()
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
            self.renderer = Renderer(
                self.config.settings.templates_dir, feed_names=self.feed_names()
            )
            if isinstance(self._search, PgSearch):
                self._search.set_scope(self.feed_tags())
            if self._search is not None:
                self._search.set_feed_tags(self.feed_tags())
        for listener in list(self.config_listeners):
            listener()

    def feed_names(self) -> dict[str, str]:
        return {f.id: f.display_name for f in self.config.feeds}

    def feed_tags(self) -> dict[str, tuple[str, ...]]:
        return {f.id: f.tags for f in self.config.feeds}

    def topics(self) -> dict[str, TopicConfig]:
        return {t.id: t for t in self.config.topics}

    def digest_config(self, channel: str) -> DigestConfig | None:
        return self.config.digest(channel)

    # ------------------------------------------------------------------ indexes

    @property
    def search_index(self) -> SearchIndex | PgSearch:
        """The search index, built in the background on first use; it follows the store.

        On PostgreSQL the database searches (`PgSearch`), scoped to the configured feeds.
        """
        with self._index_lock:
            if self._search is None:
                self._search = database_search(self.store, self.feed_tags(), self.feed_tags())
            if self._search is None:
                self._search = SearchIndex(
                    feed_tags=self.feed_tags(),
                    load_items=self.store.items.by_seq,
                    load_after=self.store.items.after,
                )
                self._search.catch_up_in_background()
            return self._search

    @property
    def stories(self) -> StoryIndex:
        """Recent stories, built from the store on first use (up to the match cursor: what
        comes after it is linked, in seq order, by the next `link_and_match`)."""
        with self._index_lock:
            if self._stories is None:
                since, cursor = self.clock() - STORY_HORIZON, self.store.alerts.match_cursor()
                recent = (
                    i for i in self.store.items.after() if i.when >= since and i.seq <= cursor
                )
                self._stories = StoryIndex.build(recent)
            return self._stories

    # ------------------------------------------------------------------ polling

    @property
    def parser(self) -> FeedParser:
        """What polls parse with: the parse worker pool, started on first use."""
        with self._parser_lock:
            if self._parser is None:
                settings = self.config.settings
                self._parser = open_parser(
                    resolve_workers(settings.parse_workers), time_limit=settings.parse_timeout
                )
            return self._parser

    def poll(
        self,
        *,
        feed_ids: Collection[str] | None = None,
        force: bool = False,
        on_fetched: Callable[[str], None] | None = None,
    ) -> list[PollReport]:
        """One poll cycle; its items, story links, alerts and match cursor land in one commit.

        The story index learns the cycle's items inside the transaction; if
        the commit fails it is dropped, to be rebuilt from the store (else it
        would remember stories under items never stored). The search index
        catches up with the store afterwards, whether the commit worked or not.
        """
        with self.coordination.leading() as leader:
            # Story links and matching are the leader's (bot/app/replicas.py); alone, ours.
            stories = self.stories if leader else None
            consulted = False

            def within(tx: Transaction, stored: list[Item]) -> None:
                nonlocal consulted
                if stories is not None:
                    consulted = True
                    self.link_and_match(tx, stories)
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
                )
            except BaseException:
                if consulted:
                    self.drop_stories(stories)
                raise
            finally:
                if feed_ids is None:
                    self.poll_screening_list(force=force)
                if self._search is not None:
                    # Not waiting: a catch-up under way (the start-up build, a
                    # search's) reads on until nothing is left; a search catches up first.
                    self._search.catch_up(timeout=0)
        return cycle.reports

    def poll_screening_list(self, *, force: bool = False) -> ScreeningReport | None:
        """Download the screening list when due; name Entity List rules (bot/app/screening.py)."""
        return poll_screening(self, force=force)

    def drop_stories(self, stories: StoryIndex | None = None) -> None:
        """Forget the story index (`stories`, if given, only if it is still that one)."""
        with self._index_lock:
            if stories is None or self._stories is stories:
                self._stories = None

    def link_and_match(self, tx: Transaction, stories: StoryIndex) -> list[Item]:
        """The serial work on the items after the match cursor: story links, then alerts."""
        link_stories(tx, stories, list(tx.items.after(tx.alerts.match_cursor())))
        return self.match_new_items(tx)

    def probe_feed(self, feed: FeedConfig) -> FeedOutcome:
        """Fetch and parse `feed` once as a poll would, storing nothing (`/brief feed add`)."""
        return probe_feed(feed, self.config, clock=self.clock, network=self.network)

    def match_new_items(self, tx: Transaction) -> list[Item]:
        """Match items stored since the match cursor against every subscription; queue alerts.

        Returns those items. Runs in the poll's transaction: the queued alerts
        and the advanced cursor land with the items.
        """
        items = list(tx.items.after(tx.alerts.match_cursor()))
        if not items:
            return []
        subscriptions = tx.subscriptions.list()
        if subscriptions:
            matcher = SubscriptionMatcher(subscriptions, self.topics())
            tx.alerts.enqueue(matcher.match(items, now=self.clock(), feed_tags=self.feed_tags()))
        watches = tx.watches.list()
        if watches:
            tx.alerts.enqueue(watch_alerts(items, watches, now=self.clock()))
        tx.alerts.set_match_cursor(max(item.seq for item in items))
        return items

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
        sent_by = [i for i in ids if i not in watches]
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
        items: Iterable[Item] = self.store.items.after(after_seq)
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
            deadline_items(self.store),
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

    def search(self, text: str, *, limit: int = 10) -> SearchResults:
        """Search what the bot has seen (query syntax or plain words); raises QueryError,
        also for a `feed:` naming no configured feed (a typo would match nothing)."""
        query = parse_question(text)
        known = {feed.id for feed in self.config.feeds}
        unknown = sorted(query.feeds_named() - known)
        if unknown:
            named = ", ".join(f"feed:{feed_id}" for feed_id in unknown)
            raise QueryError(f"{named}: no such feed; the feeds are {', '.join(sorted(known))}")
        return self.search_index.search(query, now=self.clock(), limit=limit)

    def feed_status_rows(self) -> list[FeedStatusRow]:
        """Each feed and its state, for `/brief status` and `briefbot status`."""
        states = self.store.feed_states.all()
        return [
            FeedStatusRow(feed.id, feed.display_name, feed.enabled, _shown(states.get(feed.id)))
            for feed in self.config.feeds
        ]

    def delivery_errors(self) -> dict[str, DeliveryProblem]:
        return self.store.delivery_problems.all()

    def latest_others(self, channel: str, *, limit: int = 10) -> list[Item]:
        """The newest items `channel`'s digest counts as "other" (matching none of its topics).

        A channel without a digest gets those matching no topic at all, from every feed.
        """
        digest = self.config.digest(channel) or DigestConfig(
            channel=channel, at=time(0), timezone="UTC"
        )
        is_other = other_item_filter(
            digest, self.config.topics, now=self.clock(), feed_tags=self.feed_tags()
        )
        return self.latest(limit=limit, keep=is_other, scan=OTHERS_SCAN_LIMIT)

    def latest(
        self,
        *,
        feed_ids: Iterable[str] | None = None,
        limit: int = 10,
        keep: Callable[[Item], bool] | None = None,
        scan: int = LATEST_SCAN_LIMIT,
    ) -> list[Item]:
        """The newest stories (duplicates folded), newest first; `keep` filters.

        Backlog items (a feed's first poll) are included: on day one they are
        all there is to read; templates mark them.

        Walks the store backwards by seq (the order items were first seen) in
        chunks of 500, so the cost follows `limit`, not the size of the store;
        at most the newest `scan` items.
        """
        wanted = set(feed_ids) if feed_ids is not None else None
        found: list[Item] = []
        for scanned, item in enumerate(self.store.items.newest_first(scan), 1):
            if (
                item.duplicate_of is None
                and (wanted is None or item.feed_id in wanted)
                and (keep is None or keep(item))
            ):
                found.append(item)
            if scanned % 500 == 0 and len(found) >= limit:
                break
        found.sort(key=lambda i: i.when, reverse=True)
        return found[:limit]


def _watch_label(item: Item, watch: Watch) -> str:
    """ "watch Huawei (w3) among the entities of 89 FR 1064: ... · /brief unwatch w3 stops it"."""
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
