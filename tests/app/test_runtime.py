"""One poll cycle end to end: loopback HTTP feeds -> fetch -> parse -> a real store."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app.commands.dispatch import handle_command
from bot.app.runtime import Runtime, utc_now
from bot.config.model import Config, DigestConfig, SlackSecrets
from bot.config.schema import parse_config_text
from bot.ingest import poll
from bot.models import CommandRequest, PollReport
from bot.slack.client import make_web_client
from bot.slack.deliver import Deliverer
from bot.store.ports import Store, StoreError
from bot.store.tinydb.store import TinyStore
from tests.support import paths
from tests.support.backends import Backend
from tests.support.fakeslack import FakeSlack
from tests.support.feedgen import Entry, blank_line_first, make_rss, numbered_entries
from tests.support.feedserver import FeedServer

CORPUS = paths.CORPUS
USER = "U0MEMBER001"
CHANNEL = "C0BRIEFING1"


def config_for(
    feed_urls: dict[str, str],
    data_dir: Path,
    extra_settings: str = "",
    backend: Backend | None = None,
) -> Config:
    feeds = "\n".join(
        f"  - id: {fid}\n    url: {url}\n    allow_private: true" for fid, url in feed_urls.items()
    )
    text = (
        "settings:\n"
        f"  data_dir: {data_dir}\n"
        "  connect_timeout: 2\n"
        "  read_timeout: 2\n"
        "  total_timeout: 5\n"
        f"{extra_settings}"
        f"feeds:\n{feeds}\n"
    )
    env = backend.env() if backend else {}
    return parse_config_text(text, "test-feeds.yaml", env=env)


def poll_feeds(
    config: Config,
    store: Store,
    *,
    force: bool = False,
    clock: Callable[[], datetime] = utc_now,
) -> list[PollReport]:
    """One poll cycle through bot.ingest.poll; its per-feed reports."""
    return poll.poll_feeds(config, store, force=force, clock=clock).reports


@pytest.fixture
def store(tmp_path: Path, backend: Backend) -> Iterator[Store]:
    with backend.open(tmp_path / "data") as s:
        yield s


def test_first_poll_is_backlog_then_only_new_items_then_304(
    feed_server: FeedServer, store: Store, tmp_path: Path
) -> None:
    feed_server.add("/a.xml", make_rss(numbered_entries(1, 5)), etag='"v1"')
    config = config_for({"a": feed_server.url("/a.xml")}, tmp_path / "data")

    [first] = poll_feeds(config, store, force=True)
    assert (first.status, first.new_items, first.backlog) == ("ok", 5, True)
    assert all(item.backlog for item in store.items.after())

    feed_server.add("/a.xml", make_rss(numbered_entries(1, 7)), etag='"v2"')
    [second] = poll_feeds(config, store, force=True)
    assert (second.status, second.new_items, second.seen_items, second.backlog) == (
        "ok",
        2,
        5,
        False,
    )
    fresh = [i for i in store.items.after() if not i.backlog]
    assert sorted(i.title for i in fresh) == ["Story 6", "Story 7"]

    [third] = poll_feeds(config, store, force=True)
    assert (third.status, third.new_items) == ("not-modified", 0)
    assert feed_server.requests("/a.xml")[-1].headers.get("If-None-Match") == '"v2"'
    assert store.items.count() == 7


def test_guid_change_with_same_link_and_title_is_not_new(
    feed_server: FeedServer, store: Store, tmp_path: Path
) -> None:
    entry = Entry("Export controls update", "https://example.org/ec", guid="old-guid")
    feed_server.add("/g.xml", make_rss([entry]))
    config = config_for({"g": feed_server.url("/g.xml")}, tmp_path / "data")
    poll_feeds(config, store, force=True)

    feed_server.add("/g.xml", make_rss([Entry(entry.title, entry.link, guid="new-guid")]))
    [report] = poll_feeds(config, store, force=True)
    assert report.new_items == 0
    assert store.items.count() == 1


def test_a_broken_feed_does_not_stop_the_others(
    feed_server: FeedServer, store: Store, tmp_path: Path
) -> None:
    feed_server.add("/good.xml", make_rss(numbered_entries(1, 3)))
    feed_server.add("/down.xml", b"oops", status=500)
    feed_server.add(
        "/html.xml", b"<html><body><h1>Welcome</h1></body></html>", content_type="text/html"
    )
    config = config_for(
        {
            "good": feed_server.url("/good.xml"),
            "down": feed_server.url("/down.xml"),
            "html": feed_server.url("/html.xml"),
        },
        tmp_path / "data",
    )
    reports = {r.feed_id: r for r in poll_feeds(config, store, force=True)}

    assert (reports["good"].status, reports["good"].new_items) == ("ok", 3)
    assert reports["down"].status == "error"
    assert "500" in (reports["down"].error or "")
    assert reports["html"].status == "error"
    assert "not a feed" in (reports["html"].error or "").lower()
    down = store.feed_states.get("down")
    assert down is not None
    assert down.consecutive_failures == 1
    assert "500" in (down.last_error or "")
    assert down.next_due is not None and down.next_due > datetime.now(UTC)


def test_state_and_items_survive_a_restart(
    feed_server: FeedServer, tmp_path: Path, backend: Backend
) -> None:
    feed_server.add("/a.xml", make_rss(numbered_entries(1, 4)), etag='"e1"')
    config = config_for({"a": feed_server.url("/a.xml")}, tmp_path / "data")
    with backend.open(tmp_path / "data") as store:
        poll_feeds(config, store, force=True)
    with backend.open(tmp_path / "data") as store:
        state = store.feed_states.get("a")
        assert state is not None and state.etag == '"e1"' and state.first_poll_done
        assert store.items.count() == 4
        [report] = poll_feeds(config, store, force=True)
    assert report.status == "not-modified"


def test_due_only_skips_feeds_polled_recently(
    feed_server: FeedServer, store: Store, tmp_path: Path
) -> None:
    feed_server.add("/a.xml", make_rss(numbered_entries(1, 2)))
    config = config_for({"a": feed_server.url("/a.xml")}, tmp_path / "data")
    poll_feeds(config, store, force=True)
    assert poll_feeds(config, store, force=False) == []
    later = datetime.now(UTC) + timedelta(hours=2)
    [report] = poll_feeds(config, store, force=False, clock=lambda: later)
    assert report.feed_id == "a"


def _feed_id(path: Path) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")[:60]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared/feeds-corpus not present")
def test_every_corpus_feed_yields_items_or_a_clear_error(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    # TinyDB only: this is about reading every feed of the corpus (~20 s); the store is
    # incidental and the tests above store on both backends.
    with TinyStore.open(tmp_path / "data") as store:
        corpus_feeds_stored(feed_server, store, tmp_path)


def corpus_feeds_stored(feed_server: FeedServer, store: Store, tmp_path: Path) -> None:
    files = sorted(
        p
        for sub in ("policy", "general", "tricky")
        for p in (CORPUS / sub).iterdir()
        if p.is_file()
    )
    urls: dict[str, str] = {}
    for path in files:
        feed_server.add(
            f"/{path.parent.name}/{path.name}",
            path.read_bytes(),
            content_type="application/octet-stream",
        )
        urls[_feed_id(path)] = feed_server.url(f"/{path.parent.name}/{path.name}")
    config = config_for(urls, tmp_path / "data")

    reports = {r.feed_id: r for r in poll_feeds(config, store, force=True)}

    assert set(reports) == set(urls), "every feed gets a report; none stops the rest"
    for fid, report in reports.items():
        state = store.feed_states.get(fid)
        assert state is not None
        if report.status == "error":
            assert report.error and len(report.error) < 300, fid
            assert state.last_error == report.error
        else:
            assert report.new_items + report.seen_items > 0 or "empty" in fid, fid
    ok = [r for r in reports.values() if r.status == "ok"]
    assert len(ok) >= 0.8 * len(reports)


# --------------------------------------------------------------------------- digests


def digest_setup(
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    tmp_path: Path,
    backend: Backend,
    *,
    at: str = "08:30",
) -> tuple[Runtime, Deliverer, DigestConfig]:
    fake_slack.add_channel("C0DIGEST01")
    feed_server.add("/a.xml", make_rss(numbered_entries(1, 3)), etag='"1"')
    config = parse_config_text(
        f"settings:\n  data_dir: {tmp_path / 'data'}\nfeeds:\n"
        f"  - id: a\n    url: {feed_server.url('/a.xml')}\n    allow_private: true\n"
        f'digests:\n  - channel: C0DIGEST01\n    at: "{at}"\n    timezone: Asia/Tokyo\n',
        "test-feeds.yaml",
        env=backend.env(),
    )
    runtime = Runtime.open(config)
    runtime.poll(force=True)  # backlog
    secrets = SlackSecrets(bot_token=fake_slack.token, api_url=fake_slack.url)
    poster = Deliverer(make_web_client(secrets, max_retries=0), interval=0.01, attempts=1)
    return runtime, poster, config.digests[0]


def digest_titles(fake_slack: FakeSlack) -> list[str]:
    found: list[str] = []
    for message in fake_slack.messages("C0DIGEST01"):
        body = json.dumps(message.blocks or [])
        found += re.findall(r"Story \d+", body)
    return found


def test_digest_is_sent_once_and_the_cursor_moves_only_after_slack_accepted(
    feed_server: FeedServer, fake_slack: FakeSlack, tmp_path: Path, backend: Backend
) -> None:
    runtime, poster, digest = digest_setup(feed_server, fake_slack, tmp_path, backend)
    with runtime:
        feed_server.add("/a.xml", make_rss(numbered_entries(1, 5)), etag='"2"')
        runtime.poll(force=True)

        fake_slack.fail_next("chat.postMessage", 1, error="channel_not_found")
        refused = runtime.send_digest(digest, poster)
        assert refused.status == "failed" and "channel_not_found" in (refused.error or "")
        assert "C0DIGEST01" in runtime.delivery_errors()

        sent = runtime.send_digest(digest, poster)
        assert (sent.status, sent.items) == ("sent", 2)
        assert sorted(set(digest_titles(fake_slack))) == ["Story 4", "Story 5"]
        assert "C0DIGEST01" not in runtime.delivery_errors()

        again = runtime.send_digest(digest, poster)
        assert again.status == "skipped", "nothing new since the last digest"
        assert len(fake_slack.messages("C0DIGEST01")) == len(sent.messages)


def test_a_digest_missed_while_down_is_sent_once_on_return(
    feed_server: FeedServer, fake_slack: FakeSlack, tmp_path: Path, backend: Backend
) -> None:
    runtime, poster, _ = digest_setup(feed_server, fake_slack, tmp_path, backend)
    with runtime:
        assert runtime.catch_up_digests(poster) == [], "first start: nothing was missed"
        feed_server.add("/a.xml", make_rss(numbered_entries(1, 4)), etag='"2"')
        runtime.poll(force=True)
        # The bot last sent three days ago; it was down at the scheduled times since.
        state = runtime.store.digests.get("C0DIGEST01")
        assert state is not None
        with runtime.store.transaction() as tx:
            tx.digests.put(replace(state, last_sent=datetime.now(UTC) - timedelta(days=3)))

        first = runtime.catch_up_digests(poster)
        assert [o.status for o in first] == ["sent"]
        assert runtime.catch_up_digests(poster) == [], "caught up once, not twice"
    assert digest_titles(fake_slack).count("Story 4") == 1


def test_a_search_is_answered_while_a_poll_commit_holds_the_store(
    feed_server: FeedServer, tmp_path: Path, backend: Backend
) -> None:
    # A poll fetches and parses with no lock, then commits in one store
    # transaction (the writer lock). A search reads the committed snapshot and
    # the index without that lock, so it never waits for a poll's commit.
    entries = numbered_entries(1, 3, prefix="Sanctions")
    feed_server.add("/wire.xml", make_rss(entries), etag='"1"')
    config = config_for({"wire": feed_server.url("/wire.xml")}, tmp_path / "data", backend=backend)
    with Runtime.open(config) as runtime:
        runtime.poll(force=True)
        assert runtime.search_index.wait_ready(10)
        committing = threading.Event()
        release = threading.Event()

        def hold_commit() -> None:
            with runtime.store.transaction():
                committing.set()
                assert release.wait(30), "the test never let the commit finish"

        with ThreadPoolExecutor(max_workers=2) as pool:
            held = pool.submit(hold_commit)
            try:
                assert committing.wait(10), "the commit never started"
                answer = pool.submit(runtime.search, "sanctions")
                results = answer.result(timeout=10)  # raises if the search waited for the commit
                assert not held.done(), "the commit ended before the search answered"
            finally:
                release.set()
            held.result(timeout=10)

    assert sorted(hit.item.title for hit in results.hits) == [
        "Sanctions 1",
        "Sanctions 2",
        "Sanctions 3",
    ]


# --------------------------------------------------------------------------- failed commits
# A poll's commit refused for real, on each backend: on TinyDB a file the commit
# cannot replace (halfway through it: the item shard, written first, or the
# state file, written after the items), on PostgreSQL a COMMIT the database
# refuses. A transaction that raises is rolled back whole on both backends:
# tests/store/contract/test_transactions.py.


@contextmanager
def unwritable(data_dir: Path, name: str) -> Iterator[None]:
    """`name` cannot be replaced while this lasts: a directory sits where its temp file goes.

    A commit writes each file as `.<name>.tmp` and renames it over `name`
    (bot/store/tinydb/files.py); a directory there makes the write fail for
    real, as a full disk would, and without touching the code under test.
    """
    blocker = data_dir / f".{name}.tmp"
    blocker.mkdir()
    try:
        yield
    finally:
        blocker.rmdir()


@contextmanager
def commits_refused(url: str) -> Iterator[None]:
    """While this lasts, a COMMIT that stored an item fails, as a database that refuses it would.

    A deferred constraint trigger raises at COMMIT (not at the INSERT), after
    the whole cycle was written: the real error path, with nothing of ours replaced.
    """
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$"
        )
        conn.execute(
            "CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON items"
            " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit()"
        )
    try:
        yield
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TRIGGER refuse_commit ON items")
            conn.execute("DROP FUNCTION refuse_commit()")


@dataclass(frozen=True)
class CommitRefusal:
    """How this test's poll commit is refused, and what the bot must then say."""

    backend: Backend
    data_dir: Path
    blocked: str | None  # on TinyDB, the file that cannot be written: "shard" or "state"

    def blocked_file(self, now: datetime) -> Path:
        name = f"items-{now:%Y-%m}.json" if self.blocked == "shard" else "state.json"
        return self.data_dir / name

    @property
    def stored_anyway(self) -> bool:
        """Whether the cycle's items landed (TinyDB's state file, written after them)."""
        return self.blocked == "state"

    @contextmanager
    def refused(self, now: datetime) -> Iterator[None]:
        if self.backend.url is not None:
            with commits_refused(self.backend.url):
                yield
        else:
            with unwritable(self.data_dir, self.blocked_file(now).name):
                yield

    def check_error(self, error: StoreError, now: datetime) -> None:
        text = str(error)
        if self.backend.url is None:
            assert text == f"cannot write {self.blocked_file(now)}: Is a directory"
        else:  # the server named, its password not, nor what the cycle held
            assert "No space left on device" in text
            assert "Sanctions" not in text and self.backend.url not in text


@pytest.fixture
def refusal(request: pytest.FixtureRequest, tmp_path: Path) -> CommitRefusal:
    """The refused commit named by the test's (indirect) parameter."""
    data = tmp_path / "data"
    if request.param == "postgres-commit-refused":
        return CommitRefusal(
            Backend("postgres", request.getfixturevalue("database_url")), data, None
        )
    blocked = {"item-shard-unwritable": "shard", "state-json-unwritable": "state"}[request.param]
    return CommitRefusal(Backend("tinydb"), data, blocked)


def titles_listed(runtime: Runtime, command: str) -> list[str]:
    """The titles a `/brief` reply lists, in order (one hit is title, feed line, summary)."""
    reply = handle_command(runtime, CommandRequest(USER, CHANNEL, command))
    text = "\n".join(
        block["text"]["text"] for m in reply.messages for block in m.blocks if "text" in block
    )
    return re.findall(r"\*<[^|>]+\|([^>]+)>\*", text)


@pytest.mark.parametrize(
    "refusal",
    ["item-shard-unwritable", "state-json-unwritable", "postgres-commit-refused"],
    indirect=True,
)
def test_search_agrees_with_the_store_after_a_failed_commit(
    feed_server: FeedServer, refusal: CommitRefusal
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    feed_server.add("/wire.xml", make_rss(numbered_entries(1, 2, prefix="Sanctions")), etag='"1"')
    urls = {"wire": feed_server.url("/wire.xml")}
    config = config_for(urls, refusal.data_dir, backend=refusal.backend)
    new = ["Sanctions 3", "Sanctions 4"]
    with Runtime.open(config, clock=lambda: now) as runtime:
        runtime.poll(force=True)  # the first poll: backlog
        assert titles_listed(runtime, "search sanctions") == ["Sanctions 1", "Sanctions 2"]
        feed_server.add(
            "/wire.xml", make_rss(numbered_entries(1, 4, prefix="Sanctions")), etag='"2"'
        )
        with refusal.refused(now), pytest.raises(StoreError) as failed:
            runtime.poll(force=True)
        refusal.check_error(failed.value, now)
        # The feed's ETag was not saved: the next poll downloads the feed again.
        state = runtime.store.feed_states.get("wire")
        assert state is not None and state.etag == '"1"'
        # `latest` lists the backlog too (the first poll's two items).
        listed = sorted(titles_listed(runtime, "latest"))
        assert listed == ["Sanctions 1", "Sanctions 2", *(new if refusal.stored_anyway else [])]
        # What `latest` lists, a search finds: the index follows the store.
        assert sorted(titles_listed(runtime, "search sanctions")) == listed

        [report] = runtime.poll(force=True)  # the store takes commits again
        assert report.status == "ok"
        assert report.new_items == (0 if refusal.stored_anyway else 2)
        assert sorted(titles_listed(runtime, "latest")) == ["Sanctions 1", "Sanctions 2", *new]
        assert sorted(titles_listed(runtime, "search sanctions")) == [
            "Sanctions 1",
            "Sanctions 2",
            *new,
        ]
        state = runtime.store.feed_states.get("wire")
        assert state is not None and state.etag == '"2"'
        last_seq = max(item.seq for item in runtime.store.items.after())
        assert runtime.store.alerts.match_cursor() == last_seq
    # The poll after the failure asked with the old ETag, and got the items again.
    assert feed_server.requests("/wire.xml")[-1].headers.get("If-None-Match") == '"1"'


@pytest.mark.parametrize(
    "refusal", ["item-shard-unwritable", "postgres-commit-refused"], indirect=True
)
def test_a_story_repeated_after_a_failed_commit_is_still_one_story(
    feed_server: FeedServer, refusal: CommitRefusal
) -> None:
    # The story index is consulted inside the poll's transaction. When that
    # commit fails, what the index learnt from the cycle must go with it
    # (in its cache file on TinyDB, in memory on both): otherwise it remembers
    # the story under an item that was never stored, and the next feed to
    # carry the story is not linked to it.
    now = datetime.now(UTC).replace(microsecond=0)
    story = "Commerce adds nine Chinese firms to trade blacklist"

    def entry(guid: str) -> Entry:
        return Entry(story, "https://news.example/blacklist", guid=guid, published=now)

    feed_server.add("/a.xml", make_rss(numbered_entries(1, 2, prefix="Alpha")))
    feed_server.add("/b.xml", make_rss(numbered_entries(1, 2, prefix="Beta")))
    urls = {"a": feed_server.url("/a.xml"), "b": feed_server.url("/b.xml")}
    config = config_for(urls, refusal.data_dir, backend=refusal.backend)
    with Runtime.open(config, clock=lambda: now) as runtime:
        runtime.poll(force=True)  # backlog
        feed_server.add("/a.xml", make_rss([entry("a-1"), *numbered_entries(1, 2, prefix="Alpha")]))
        with refusal.refused(now), pytest.raises(StoreError):
            runtime.poll(force=True)
        runtime.poll(force=True)
        feed_server.add("/b.xml", make_rss([entry("b-1"), *numbered_entries(1, 2, prefix="Beta")]))
        runtime.poll(force=True)
        stored = {i.feed_id: i for i in runtime.store.items.after() if i.title == story}
        latest = titles_listed(runtime, "latest")
    assert stored["b"].duplicate_of == stored["a"].seq
    assert latest.count(story) == 1  # one story, not two (beside the backlog)


# --------------------------------------------------------------------------- empty feeds


NOT_AT_START = "malformed XML at line 2: XML or text declaration not at start of entity"


def test_an_empty_feed_with_a_warning_is_polled_ok_and_an_unreadable_one_fails(
    feed_server: FeedServer, tmp_path: Path, backend: Backend
) -> None:
    feed_server.add("/quiet.xml", blank_line_first(make_rss([], title="Quiet")))
    feed_server.add(
        "/html.xml",
        b"<!doctype html><html><body><h1>Sign in</h1></body></html>",
        content_type="text/html",
    )
    feed_server.add("/garbage.xml", b"\x00\x01 <<< not a feed >>> \xff")
    urls = {name: feed_server.url(f"/{name}.xml") for name in ("quiet", "html", "garbage")}
    with Runtime.open(config_for(urls, tmp_path / "data", backend=backend)) as runtime:
        for _ in range(2):
            reports = {r.feed_id: r for r in runtime.poll(force=True)}
        states = runtime.store.feed_states.all()

    quiet, state = reports["quiet"], states["quiet"]
    assert (quiet.status, quiet.error, quiet.warning, quiet.new_items) == (
        "ok",
        None,
        NOT_AT_START,
        0,
    )
    assert (state.consecutive_failures, state.failing_since, state.last_error) == (0, None, None)
    assert state.warning == NOT_AT_START
    assert state.last_success is not None and state.first_poll_done
    assert reports["html"].error == "not a feed: looks like an HTML page"
    assert (reports["garbage"].error or "").startswith("not a feed: malformed XML at line 1")
    for unreadable in ("html", "garbage"):
        assert reports[unreadable].status == "error"
        assert states[unreadable].consecutive_failures == 2
