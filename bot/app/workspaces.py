"""Many workspaces in one bot: what each workspace sees and changes, and whose token posts.

With Slack's OAuth (bot/app/oauth.py) every `/brief` carries its workspace
(`CommandRequest.team_id`, `enterprise_id`). `scoped_store` is the store as
that workspace sees it: its own subscriptions and watches only (get, list,
change, delete), new ones stamped with the workspace, and feeds it adds from
Slack marked as its own. `visible_feeds` are the feeds its searches cover:
feeds.yaml's (every workspace's) plus those it added, never another
workspace's. `stamp_alerts` gives each queued alert its owner's workspace, so
delivery posts it with that workspace's bot token (`bot.deliver.ports.poster_for`).

With one workspace (a bot token in the environment) every request, record
and alert has the workspace "" and nothing here filters anything: the data
of a single-workspace bot stays as it was, on both backends. The console
(team "") sees every workspace's data, as an operator should.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar, cast

from bot.models import Alert, CommandRequest, FeedConfig, Subscription
from bot.store.ports import FeedOverride, OverrideReader, Store, Transaction, Watch, Workspace

__all__ = ["scoped_store", "stamp_alerts", "visible_feeds", "workspace_of"]


class _Owned(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def team_id(self) -> str: ...
    @property
    def enterprise_id(self) -> str: ...


_R = TypeVar("_R", Subscription, Watch)


def workspace_of(request: CommandRequest) -> Workspace | None:
    """The workspace a request came from; None with one workspace (or from the console)."""
    if not request.team_id:
        return None
    return Workspace(request.team_id, request.enterprise_id)


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
    """Overrides whose feeds added from Slack are marked with the workspace that added them."""

    def __init__(self, inner: Any, workspace: Workspace) -> None:
        self._inner = inner
        self._workspace = workspace

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def put_feed(self, override: FeedOverride) -> None:
        before = self._inner.feeds().get(override.feed_id)
        team = override.team_id or (before.team_id if before is not None else "")
        if not team and override.added is not None:
            team = self._workspace.team_id
        self._inner.put_feed(dataclasses.replace(override, team_id=team))


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
        if change.team_id and change.team_id != workspace.team_id
    }
    return {feed.id for feed in feeds if feed.id not in others}


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
