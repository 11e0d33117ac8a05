"""The subscription matcher a runtime keeps between polls, compiled ahead of need.

Compiling the matcher (bot/brief/match.py: every distinct query parsed, the
trigger index built) costs about 10 ms per 200 subscriptions; matching a poll's
new items against it costs less. A runtime compiled it again at every poll,
after the downloads, inside the commit. `MatcherCache` keeps the last one while
the subscriptions and topics are equal to those it was compiled from (compared
at each use, not trusted: a subscription changed from Slack means a new one),
and `warm` compiles it on a thread of its own while a poll's downloads run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence

from bot.brief.match import SubscriptionMatcher
from bot.config.model import TopicConfig
from bot.models import Subscription

__all__ = ["MatcherCache"]

log = logging.getLogger(__name__)

#: What a matcher is compiled from: the subscriptions and the topics they name.
Reading = Callable[[], tuple[Sequence[Subscription], Mapping[str, TopicConfig]]]


class MatcherCache:
    """The last `SubscriptionMatcher` compiled, reused while its inputs are unchanged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one compile at a time: a warm-up's is waited for
        self._made_from: tuple[list[Subscription], dict[str, TopicConfig]] | None = None
        self._matcher: SubscriptionMatcher | None = None

    def get(
        self, subscriptions: Sequence[Subscription], topics: Mapping[str, TopicConfig]
    ) -> SubscriptionMatcher:
        """The matcher for these subscriptions and topics (compiled now if they changed)."""
        made_from = (list(subscriptions), dict(topics))
        with self._lock:
            if self._matcher is None or self._made_from != made_from:
                self._matcher = SubscriptionMatcher(*made_from)
                self._made_from = made_from
            return self._matcher

    def warm(self, read: Reading) -> threading.Thread:
        """Compile for what `read` returns, on a thread of its own (started, returned)."""

        def compile_ahead() -> None:
            try:
                subscriptions, topics = read()
                if subscriptions:
                    self.get(subscriptions, topics)
            except Exception:  # the commit compiles, and reports, what failed here
                log.debug("compiling the matcher ahead failed", exc_info=True)

        thread = threading.Thread(target=compile_ahead, name="briefbot-matcher", daemon=True)
        thread.start()
        return thread
