"""The configuration as the rest of the bot sees it: frozen, validated value objects.

`Config` is what feeds.yaml and the environment say once checked
(bot/config/schema.py builds it); `ConfigError` lists every problem found.
Secrets come only from the environment, and no repr here shows one:
`SlackSecrets` shows tokens as set / not set, `Config` shows feed URLs with
their credentials replaced by `***`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import time

from bot.config.redact import redact_url, set_or_not
from bot.config.units import ALL_DAYS
from bot.models import FeedConfig, Settings

__all__ = [
    "DEFAULT_SLACK_API_URL",
    "Config",
    "ConfigError",
    "ConfigProblem",
    "DigestConfig",
    "LanguageModel",
    "ScreeningListConfig",
    "SlackSecrets",
    "TopicConfig",
]

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a configuration, and where (line is 1-based)."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}: {self.message}"


class ConfigError(Exception):
    """The configuration is invalid; `problems` lists every reason, `str()` one per line."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems: list[ConfigProblem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


@dataclass(frozen=True, slots=True)
class TopicConfig:
    """A named query (`topics:`); higher `priority` sorts first in digests."""

    id: str
    query: str
    description: str = ""
    priority: int = 0


@dataclass(frozen=True, slots=True)
class DigestConfig:
    """One channel's scheduled digest (`digests:`). Days are 0=Monday .. 6=Sunday.

    Empty `topics` means every defined topic; empty `feeds` means every feed.
    """

    channel: str
    at: time
    timezone: str
    days: frozenset[int] = ALL_DAYS
    topics: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    max_items: int = 20
    # True: the first message holds the top items, the overflow goes in its thread.
    thread: bool = True
    when_empty: str = "skip"  # "skip" (post nothing) or "notice" (say there was nothing)
    # Items matching none of the digest's topics: "show" (an "Other new items"
    # section), "count" (one line with their number) or "hide".
    others: str = "show"
    summaries: bool = False  # a one-line summary under each item
    # On the first digest day of each month, also the last month's briefing (and chart).
    monthly: bool = False
    # Many workspaces: the workspace whose `/brief schedule` set it ("" : feeds.yaml's, or
    # one workspace). Its digest covers that workspace's feeds, posted with its token.
    team_id: str = ""
    enterprise_id: str = ""


#: The feed id the screening list's items and feed state are stored under; no
#: configured feed may take it (bot/config/sections/feeds.py refuses it).
SCREENING_LIST_FEED_ID = "screening-list"


@dataclass(frozen=True, slots=True)
class ScreeningListConfig:
    """`screening_list:`: the Consolidated Screening List download, polled every interval."""

    url: str
    interval_seconds: int = 86400
    enabled: bool = True
    allow_private: bool = False
    allow_addresses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SlackSecrets:
    """Slack credentials from the environment. The repr never shows a token."""

    bot_token: str | None = None
    signing_secret: str | None = None
    app_token: str | None = None
    api_url: str = DEFAULT_SLACK_API_URL
    # A distributed app (many workspaces through OAuth): SLACK_CLIENT_ID and
    # SLACK_CLIENT_SECRET, and BRIEFBOT_SECRET_KEY, which seals the stored tokens.
    client_id: str | None = None
    client_secret: str | None = None
    secret_key: str | None = None

    @property
    def socket_mode(self) -> bool:
        """An app-level token selects Socket Mode; without one the bot serves HTTP."""
        return bool(self.app_token)

    @property
    def oauth(self) -> bool:
        """Installed in many workspaces through Slack's OAuth (client id and secret both set)."""
        return bool(self.client_id and self.client_secret)

    def __repr__(self) -> str:
        return (
            f"SlackSecrets(bot_token={set_or_not(self.bot_token)}, "
            f"signing_secret={set_or_not(self.signing_secret)}, "
            f"app_token={set_or_not(self.app_token)}, api_url={redact_url(self.api_url)!r}, "
            f"client_id={self.client_id!r}, client_secret={set_or_not(self.client_secret)}, "
            f"secret_key={set_or_not(self.secret_key)})"
        )

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class LanguageModel:
    """The optional language model (BRIEFBOT_LLM_*): an OpenAI-compatible chat-completions URL.

    `key` is a secret like the Slack tokens: the repr shows it as set / not set.
    """

    url: str
    model: str
    key: str | None = None
    timeout_seconds: float = 5.0

    def __repr__(self) -> str:
        return (
            f"LanguageModel(url={redact_url(self.url)!r}, model={self.model!r}, "
            f"key={set_or_not(self.key)}, timeout_seconds={self.timeout_seconds!r})"
        )

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class Config:
    """Everything feeds.yaml and the environment say, validated."""

    path: str
    settings: Settings = field(default_factory=Settings)
    feeds: tuple[FeedConfig, ...] = ()
    topics: tuple[TopicConfig, ...] = ()
    digests: tuple[DigestConfig, ...] = ()
    admins: tuple[str, ...] = ()
    ops_channel: str | None = None
    slack: SlackSecrets = field(default_factory=SlackSecrets)
    screening_list: ScreeningListConfig | None = None
    llm: LanguageModel | None = None  # None: questions are answered without a summary

    def feed(self, feed_id: str) -> FeedConfig | None:
        return next((f for f in self.feeds if f.id == feed_id), None)

    def topic(self, topic_id: str) -> TopicConfig | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    def digest(self, channel: str) -> DigestConfig | None:
        return next((d for d in self.digests if d.channel == channel), None)

    @property
    def enabled_feeds(self) -> tuple[FeedConfig, ...]:
        return tuple(f for f in self.feeds if f.enabled)

    def __repr__(self) -> str:
        # Feed URLs may carry credentials (user:password@, ?token=): show them redacted.
        feeds = tuple(dataclasses.replace(f, url=redact_url(f.url)) for f in self.feeds)
        return (
            f"Config(path={self.path!r}, settings={self.settings!r}, feeds={feeds!r}, "
            f"topics={self.topics!r}, digests={self.digests!r}, admins={self.admins!r}, "
            f"ops_channel={self.ops_channel!r}, slack={self.slack!r}, llm={self.llm!r})"
        )

    __str__ = __repr__
