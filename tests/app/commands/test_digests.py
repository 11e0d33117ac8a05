"""`/brief digest [post]` and `/brief schedule`: previews change nothing, posts reach Slack once."""

from __future__ import annotations

import pytest

from bot.app.runtime import Runtime
from bot.slack.deliver import Deliverer
from tests.app.commands.cases import ADMIN, CHANNEL, run, slack_text
from tests.support.fakeslack import FakeSlack


def test_digest_preview_shows_the_items_and_moves_nothing(runtime: Runtime) -> None:
    assert runtime.store.digests.get(CHANNEL) is None
    first = run(runtime, "digest")
    assert first.startswith(
        "Preview of this channel's digest, only you can see it (no digest is scheduled here: "
        "this uses the defaults). An admin can post it with /brief digest post."
    )
    # The digest groups by topic; the chips story matches none: it is one of the other
    # new items, after the topics. The old one was backlog.
    assert "3 new items since " in first
    assert "BIS adds 36 entities to the Entity List" in first
    assert "IPEF ministers sign supply chain agreement" in first
    others = first.index("Other new items (1)")
    assert first.index("IPEF ministers") < others < first.index("Chips 4 alliance meets in Tokyo")
    assert "Rare earth" not in first
    assert runtime.store.digests.get(CHANNEL) is None
    assert run(runtime, "digest") == first


def test_digest_post_by_an_admin_reaches_the_channel_once(
    runtime: Runtime, fake_slack: FakeSlack, deliverer: Deliverer
) -> None:
    assert (
        run(runtime, "digest post", user=ADMIN) == "digest post needs Slack: set SLACK_BOT_TOKEN."
    )

    reply = run(runtime, "digest post", user=ADMIN, poster=deliverer)

    assert reply == "Posted this channel's digest (3 items)."
    [posted] = fake_slack.messages(CHANNEL)
    assert "BIS adds 36 entities to the Entity List" in slack_text(posted)
    assert run(runtime, "digest").startswith("Nothing new for this channel since its last digest")
    assert run(runtime, "digest post", user=ADMIN, poster=deliverer) == (
        "Nothing new since the last digest: nothing was posted."
    )
    assert len(fake_slack.messages(CHANNEL)) == 1


def test_schedule_creates_this_channels_digest(runtime: Runtime) -> None:
    notified: list[str] = []
    runtime.config_listeners.append(lambda: notified.append("refreshed"))
    assert run(runtime, "schedule").startswith("No digest is scheduled for this channel.")

    reply = run(runtime, "schedule 07:30 asia/tokyo mon-fri", user=ADMIN)

    assert reply.startswith(
        "Schedule saved. This channel's digest: 07:30 Asia/Tokyo, mon-fri; all topics, "
        "up to 20 items. Next: "
    )
    assert reply.endswith("07:30 (Asia/Tokyo).")
    digest = runtime.config.digest(CHANNEL)
    assert digest is not None
    assert (f"{digest.at:%H:%M}", digest.timezone, digest.days) == (
        "07:30",
        "Asia/Tokyo",
        frozenset(range(5)),
    )
    assert notified == ["refreshed"]

    run(runtime, "schedule 06:00", user=ADMIN)  # keeps the zone and the days
    digest = runtime.config.digest(CHANNEL)
    assert digest is not None
    assert (f"{digest.at:%H:%M}", digest.timezone, digest.days) == (
        "06:00",
        "Asia/Tokyo",
        frozenset(range(5)),
    )
    assert run(runtime, "digest").startswith(
        "Preview of this channel's digest, only you can see it. "
    )

    assert run(runtime, "schedule off", user=ADMIN).startswith(
        "Removed the schedule set from Slack. No digest is scheduled for this channel."
    )
    assert runtime.config.digest(CHANNEL) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("schedule 8h", "'8h' is not a time of day such as 08:30", id="time"),
        pytest.param("schedule 25:00", "At '25:00' is not a time of day", id="hour"),
        pytest.param("schedule 08:00 Asia/Tokio", "did you mean 'Asia/Tokyo'?", id="zone"),
        pytest.param(
            "schedule 08:00 UTC Asia/Tokyo", "'Asia/Tokyo' is neither a time zone", id="two-zones"
        ),
        pytest.param("schedule 08:00 mon-fri weekends", "give the days once", id="two-days"),
    ],
)
def test_schedule_problems_are_explained(runtime: Runtime, text: str, problem: str) -> None:
    reply = run(runtime, text, user=ADMIN)
    assert problem in reply.split("\n")[0]
    assert reply.split("\n")[-1].startswith("Usage: /brief schedule")
    assert runtime.config.digest(CHANNEL) is None


def test_schedule_needs_a_channel(runtime: Runtime) -> None:
    reply = run(runtime, "schedule 08:00", user=ADMIN, channel="D0DIRECT001")
    assert reply.startswith("schedule sets a channel's digest: run it in the channel")
