"""Fixtures of the `/brief` sub-command tests: a polled store copied for each test.

Every test that uses `runtime`, `web` or `polled` runs on TinyDB and on PostgreSQL
(tests/support/backends.py): the store polled once per backend, then copied (the
data directory, and on PostgreSQL the database) for each test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app.runtime import Runtime
from bot.slack.deliver import Deliverer
from tests.app.commands.cases import NEW, OLD, Template, config_for, serve_defaults, slack_client
from tests.support.backends import Backend, BackendKind, fresh_backend
from tests.support.fakeslack import FakeSlack
from tests.support.feedgen import make_rss
from tests.support.feedserver import FeedServer
from tests.support.network import FakeResolver, loopback_internet


@pytest.fixture(scope="package")
def template(
    tmp_path_factory: pytest.TempPathFactory, backend_kind: BackendKind
) -> Iterator[Template]:
    server = FeedServer().start()
    try:
        data_dir = tmp_path_factory.mktemp("template") / "data"
        serve_defaults(server)
        server.add("/trade.xml", make_rss(OLD))
        with fresh_backend(backend_kind) as store:
            with Runtime.open(config_for(server, data_dir, env=store.env())) as rt:
                rt.poll(force=True)  # the first poll: backlog
                server.add("/trade.xml", make_rss(NEW + OLD))
                rt.poll(force=True)
            yield Template(server, data_dir, store, backend_kind)
    finally:
        server.stop()
    assert not server.errors, f"feed server handler errors: {server.errors!r}"


@pytest.fixture
def feeds(template: Template) -> Iterator[FeedServer]:
    """The feed server behind `runtime`, serving the default documents again."""
    serve_defaults(template.server)
    yield template.server
    serve_defaults(template.server)


@pytest.fixture
def polled(template: Template, tmp_path: Path) -> Iterator[Backend]:
    """The template's store copied for this test: tmp_path/"data", and its database (PostgreSQL)."""
    if template.data_dir.exists():  # on PostgreSQL the bot may not have made one
        shutil.copytree(template.data_dir, tmp_path / "data")
    with fresh_backend(template.kind, copy_of=template.store) as copied:
        yield copied


@pytest.fixture
def runtime(feeds: FeedServer, tmp_path: Path, polled: Backend) -> Iterator[Runtime]:
    """Feeds `trade` (a backlog item, then three new ones) and `quiet` (empty), polled."""
    with Runtime.open(config_for(feeds, tmp_path / "data", env=polled.env())) as rt:
        yield rt


@pytest.fixture
def deliverer(fake_slack: FakeSlack) -> Deliverer:
    return Deliverer(slack_client(fake_slack), interval=0.0, backoff=0.05)


# Names that resolve to the loopback feed server, as public hosts would.
NAMES = ("news.example", "wire.example", "redirector.example", "example.org")


@pytest.fixture
def resolver() -> FakeResolver:
    """NAMES on loopback; intranet.example private; sneaky.example hides a metadata address."""
    table = {name: ["127.0.0.1"] for name in NAMES}
    table["intranet.example"] = ["10.0.0.7"]
    table["sneaky.example"] = ["127.0.0.1", "::a9fe:a9fe"]
    return FakeResolver(table)


@pytest.fixture
def web(
    feeds: FeedServer, tmp_path: Path, resolver: FakeResolver, polled: Backend
) -> Iterator[Runtime]:
    """`runtime`'s data (feeds trade and quiet, polled), fetching through `resolver`.

    Loopback counts as public here (tests/support/network.py), so a feed added
    from Slack at one of NAMES reaches the feed server; `runtime` fetches as the
    bot does, with the system resolver.
    """
    config = config_for(feeds, tmp_path / "data", env=polled.env())
    with Runtime.open(config, network=loopback_internet(resolver)) as rt:
        yield rt
