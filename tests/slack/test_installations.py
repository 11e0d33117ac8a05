"""bot/slack/installations.py: the team a request of a distributed app is scoped to."""

from __future__ import annotations

from bot.app.workspaces import visible_feeds, workspace_of
from bot.config.schema import parse_config_text
from bot.models import CommandRequest
from bot.slack.installations import NO_TEAM, scope_team
from bot.store.ports import AddedFeed, FeedOverride, ScheduleOverride

_FEEDS = """
feeds:
  - {id: yaml, url: "https://example.org/feed.xml"}
  - {id: alpha, url: "https://example.org/a.xml"}
"""


class _Overrides:
    """Feed alpha added from Slack by workspace T0ALPHA01."""

    def feeds(self) -> dict[str, FeedOverride]:
        added = AddedFeed(url="https://example.org/a.xml")
        return {"alpha": FeedOverride("alpha", added=added, team_id="T0ALPHA01")}

    def schedules(self) -> dict[str, ScheduleOverride]:
        return {}


def test_a_request_naming_no_team_is_never_scoped_to_every_workspace() -> None:
    """An org-wide install's request names only its organisation; with neither, NO_TEAM.
    Scoped to either, it sees feeds.yaml's feed and not a workspace's own."""
    assert scope_team("T0ALPHA01", "E0GRID01") == "T0ALPHA01"
    assert scope_team(None, "E0GRID01") == "E0GRID01"
    assert scope_team("", None) == NO_TEAM
    feeds = parse_config_text(_FEEDS, "feeds.yaml", env={}).feeds
    for team in (scope_team(None, "E0GRID01"), scope_team(None, None)):
        request = CommandRequest("U0SOMEONE", "C0SOMEWHERE", "latest", team_id=team)
        seen = visible_feeds(feeds, _Overrides(), workspace_of(request))
        assert seen is not None and "yaml" in seen and "alpha" not in seen
