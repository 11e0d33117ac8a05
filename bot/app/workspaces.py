"""Many workspaces in one bot: what each workspace sees and changes, and whose token posts.

With Slack's OAuth (bot/app/oauth.py) every request carries its workspace
(`team_id`, `enterprise_id` of a `/brief` line, a Home tab, a button, a form,
a question). `scope_of` is what that workspace sees, and every surface reads
through it: `scoped_store` is the store as the workspace sees it (its own
subscriptions and watches only: get, list, change, delete; new ones stamped
with it; a feed it adds followed by it; a digest schedule it sets its own),
`visible_feeds` the feeds its searches, `latest`, questions, Home tab and
`feeds`/`status` cover: feeds.yaml's and the screening list (every
workspace's) plus those it follows, never another workspace's.

One feed URL, several workspaces: a feed added from Slack records its
followers (`FeedOverride.followers`); a workspace adding a URL another one
added becomes a follower (`follow_existing`) instead of a second feed, so it
is fetched once; removing it drops only that follower, and the last one's
removal deletes the record. `digest_feeds` is what a digest covers: its
workspace's feeds for a schedule set from Slack (posted with that
workspace's token, bot/deliver/digests.py), feeds.yaml's only for
feeds.yaml's digests once many workspaces are served. `stamp_alerts` gives
each queued alert its owner's workspace, so delivery posts it with that
workspace's bot token (`bot.deliver.ports.poster_for`).

With one workspace (a bot token in the environment) every request, record
and alert has the workspace "" and nothing here filters anything: the data
of a single-workspace bot stays as it was, on both backends. The console
(team "") sees every workspace's data, as an operator should.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from bot.config.model import SCREENING_LIST_FEED_ID, Config, DigestConfig
from bot.config.overrides import feed_at_url
from bot.models import Alert, FeedConfig, Item, Subscription
from bot.render.inputs import FeedStatusRow
from bot.store.ports import (
    DeliveryProblem,
    FeedOverride,
    OverrideReader,
    ScheduleOverride,
    Store,
    Transaction,
    Watch,
    Workspace,
)

if TYPE_CHECKING:
    from bot.app.runtime import Runtime

__all__ = [
    "Scope",
    "delivery_problems",
    "digest_feeds",
    "feed_rows",
    "follow_existing",
    "follow_feed",
    "followers_of",
    "only_their_feeds",
    "only_visible",
    "scope_of",
    "scoped_store",
    "stamp_alerts",
    "unowned_feeds",
    "visible_feeds",
    "workspace_of",
]


class _Owned(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def team_id(self) -> str: ...
    @property
    def enterprise_id(self) -> str: ...


_R = TypeVar("_R", Subscription, Watch)


class FromWorkspace(Protocol):
    @property
    def team_id(self) -> str: ...
    @property
    def enterprise_id(self) -> str: ...


def workspace_of(request: FromWorkspace) -> Workspace | None:
    """The workspace a request came from; None with one workspace (or from the console)."""
    if not request.team_id:
        return None
    return Workspace(request.team_id, request.enterprise_id)


@dataclass(frozen=True)
class Scope:
    """What one request's workspace sees: its records (`store`) and its feeds.

    `feeds` None: every feed (one workspace, or the console).
    """

    workspace: Workspace | None
    store: Store
    feeds: set[str] | None

    def sees(self, item: Item) -> bool:
        return self.feeds is None or item.feed_id in self.feeds

    def items(self, items: Iterable[Item]) -> Iterator[Item]:
        """The items of this workspace's feeds, in the order given."""
        return only_visible(items, self.feeds)


def scope_of(runtime: Runtime, request: FromWorkspace) -> Scope:
    """The scope of `request`'s workspace in `runtime` (everything with one workspace)."""
    workspace = workspace_of(request)
    store = runtime.store
    feeds = visible_feeds(runtime.config.feeds, store.overrides, workspace)
    return Scope(workspace, scoped_store(store, workspace), feeds)


class _ScopedRecords:
    """A subscription or watch repository showing one workspace's records only."""

    def __init__(self, inner: Any, workspace: Workspace) -> None:
        self._inner = inner
        self._workspace = workspace

    def _ours(self, record: _Owned | None) -> bool:
        return record is not None and record.team_id == self._workspace.team_id

    def get(self, record_id: str) -> Any:
        found = self._inner.get(record_id)
        return found if self._ours(found) else None

    def list(self, owner: str | None = None) -> list[Any]:
        return [record for record in self._inner.list(owner) if self._ours(record)]

    def ids(self) -> set[str]:
        return set(self._inner.ids())  # ids are unique across workspaces

    def put(self, record: _R) -> None:
        workspace = self._workspace
        self._inner.put(
            dataclasses.replace(
                record, team_id=workspace.team_id, enterprise_id=workspace.enterprise_id
            )
        )

    def delete(self, record_id: str) -> bool:
        return bool(self.get(record_id) is not None and self._inner.delete(record_id))


class _ScopedOverrides:
    """Overrides as one workspace changes them: a feed it adds is followed by it, a feed
    it removes is dropped only for it while another workspace follows it, a schedule it
    sets is its own."""

    def __init__(self, inner: Any, workspace: Workspace) -> None:
        self._inner = inner
        self._workspace = workspace

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def put_feed(self, override: FeedOverride) -> None:
        before = self._inner.feeds().get(override.feed_id)
        team = override.team_id or (before.team_id if before is not None else "")
        followers = override.followers or (before.teams if before is not None else ())
        if override.added is not None and not followers:
            team, followers = team or self._workspace.team_id, (self._workspace.team_id,)
        self._inner.put_feed(dataclasses.replace(override, team_id=team, followers=followers))

    def delete_feed(self, feed_id: str) -> None:
        before = self._inner.feeds().get(feed_id)
        ours = self._workspace.team_id
        others = tuple(t for t in before.teams if t != ours) if before is not None else ()
        if not others:
            self._inner.delete_feed(feed_id)
            return
        # Who added it was of the workspace leaving: not named to the others any more.
        kept = dataclasses.replace(before, team_id=others[0], followers=others, by="")
        self._inner.put_feed(kept)

    def delete_schedule(self, channel: str) -> bool:
        found = self._inner.schedules().get(channel)
        if found is None or found.team_id != self._workspace.team_id:
            return False
        return bool(self._inner.delete_schedule(channel))

    def put_schedule(self, override: ScheduleOverride) -> None:
        workspace = self._workspace
        self._inner.put_schedule(
            dataclasses.replace(
                override, team_id=workspace.team_id, enterprise_id=workspace.enterprise_id
            )
        )


class _ScopedView:
    """A read view or a transaction with the workspace's records only (the rest as is)."""

    def __init__(self, inner: Any, workspace: Workspace) -> None:
        self._inner = inner
        self.subscriptions = _ScopedRecords(inner.subscriptions, workspace)
        self.watches = _ScopedRecords(inner.watches, workspace)
        self.overrides = _ScopedOverrides(inner.overrides, workspace)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _ScopedStore(_ScopedView):
    def __init__(self, inner: Store, workspace: Workspace) -> None:
        super().__init__(inner, workspace)
        self._workspace = workspace

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._inner.transaction() as tx:
            yield cast(Transaction, _ScopedView(tx, self._workspace))


def scoped_store(store: Store, workspace: Workspace | None) -> Store:
    """`store` as `workspace` sees it (the module docstring); `store` itself for None."""
    if workspace is None:
        return store
    return cast(Store, _ScopedStore(store, workspace))


def visible_feeds(
    feeds: Iterable[FeedConfig], overrides: OverrideReader, workspace: Workspace | None
) -> set[str] | None:
    """The ids of the feeds `workspace` searches; None (every feed) with one workspace."""
    if workspace is None:
        return None
    others = {
        feed_id
        for feed_id, change in overrides.feeds().items()
        if change.teams and workspace.team_id not in change.teams
    }
    # The screening list (`screening_list:` in feeds.yaml) is every workspace's.
    return {feed.id for feed in feeds if feed.id not in others} | {SCREENING_LIST_FEED_ID}


def unowned_feeds(feeds: Iterable[FeedConfig], overrides: OverrideReader) -> set[str]:
    """The feeds no workspace added: feeds.yaml's (what a digest of feeds.yaml covers)."""
    owned = {feed_id for feed_id, change in overrides.feeds().items() if change.teams}
    return {feed.id for feed in feeds if feed.id not in owned}


def digest_feeds(
    config: Config, overrides: OverrideReader, digest: DigestConfig
) -> set[str] | None:
    """The feeds a digest covers beyond its own `feeds:`: those its workspace follows when a
    workspace set it; with many workspaces, feeds.yaml's digest covers only feeds.yaml's
    feeds (none a workspace added); None (every feed) with one workspace."""
    if digest.team_id:
        workspace = Workspace(digest.team_id, digest.enterprise_id)
        return visible_feeds(config.feeds, overrides, workspace)
    if config.slack.oauth:
        return unowned_feeds(config.feeds, overrides) | {SCREENING_LIST_FEED_ID}
    return None


def followers_of(overrides: OverrideReader, feed_id: str) -> tuple[str, ...]:
    """The workspaces following a feed added from Slack; () for feeds.yaml's."""
    change = overrides.feeds().get(feed_id)
    return change.teams if change is not None else ()


def follow_feed(tx: Transaction, feed_id: str, workspace: Workspace) -> bool:
    """`workspace` follows a feed another workspace added (`tx` unscoped): fetched once.

    False when the feed is gone (removed meanwhile) or no workspace's.
    """
    change = tx.overrides.feeds().get(feed_id)
    if change is None or change.added is None or not change.teams:
        return False
    if workspace.team_id not in change.teams:
        followers = (*change.teams, workspace.team_id)
        tx.overrides.put_feed(dataclasses.replace(change, followers=followers))
    return True


def follow_existing(runtime: Runtime, scope: Scope, url: str) -> FeedConfig | None:
    """Many workspaces: the feed another workspace added at `url`, now followed by `scope`'s
    workspace too (one feed, fetched once); None when no other workspace's feed is at `url`."""
    if scope.workspace is None or scope.feeds is None:
        return None
    found = feed_at_url(runtime.config, url)
    if found is None or found.id in scope.feeds:
        return None
    with runtime.store.transaction() as tx:
        followed = follow_feed(tx, found.id, scope.workspace)
    if not followed:
        return None
    runtime.refresh_config()
    return found


def only_visible(items: Iterable[Item], feeds: Collection[str] | None) -> Iterator[Item]:
    """The items of `feeds` (None: all of them), in the order given."""
    if feeds is None:
        yield from items
        return
    for item in items:
        if item.feed_id in feeds:
            yield item


def feed_rows(runtime: Runtime, scope: Scope) -> list[FeedStatusRow]:
    """The feed status rows of `scope`'s feeds (`/brief status`, the Home tab)."""
    rows = runtime.feed_status_rows()
    if scope.feeds is None:
        return rows
    return [row for row in rows if row.feed_id in scope.feeds]


def delivery_problems(runtime: Runtime, scope: Scope, asker: str) -> dict[str, DeliveryProblem]:
    """The delivery problems a workspace is shown: those of its own people and channels (its
    subscriptions' owners, its digests' channels, the asker); all of them with one workspace."""
    problems = runtime.delivery_errors()
    if scope.workspace is None:
        return problems
    team = scope.workspace.team_id
    ours = {asker} | {sub.owner for sub in scope.store.subscriptions.list()}
    ours |= {d.channel for d in runtime.config.digests if d.team_id == team}
    ours |= {w.owner for w in scope.store.watches.list()}
    return {target: problem for target, problem in problems.items() if target in ours}


def only_their_feeds(
    alerts: Iterable[Alert],
    items: Iterable[Item],
    feeds: Iterable[FeedConfig],
    overrides: OverrideReader,
) -> list[Alert]:
    """The stamped `alerts` whose item is on a feed their workspace follows: a workspace's
    subscription never alerts an item of a feed only another workspace added."""
    feed_of = {item.seq: item.feed_id for item in items}
    configured = list(feeds)
    seen: dict[str, set[str] | None] = {}
    kept = []
    for alert in alerts:
        if alert.team_id not in seen:
            workspace = Workspace(alert.team_id, alert.enterprise_id) if alert.team_id else None
            seen[alert.team_id] = visible_feeds(configured, overrides, workspace)
        visible = seen[alert.team_id]
        if visible is None or feed_of.get(alert.item_seq) in visible:
            kept.append(alert)
    return kept


def stamp_alerts(alerts: Iterable[Alert], owners: Iterable[Subscription | Watch]) -> list[Alert]:
    """`alerts`, each with the workspace of the subscription or watch that raised it."""
    workspaces = {
        owner.id: (owner.team_id, owner.enterprise_id) for owner in owners if owner.team_id
    }
    stamped = []
    for alert in alerts:
        found = next((workspaces[i] for i in alert.subscription_ids if i in workspaces), None)
        if found is not None:
            alert = dataclasses.replace(alert, team_id=found[0], enterprise_id=found[1])
        stamped.append(alert)
    return stamped
