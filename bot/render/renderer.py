"""The Renderer: digests, alerts, search results, help, feed status and notices as Slack messages.

Each kind has its template (templates.py finds it, the operator's first),
given the variables views.py builds; the template's output becomes Block Kit
blocks plus a plain-text fallback (blocks.py), packed into messages within
Slack's limits. Every message the public methods return passes
`slacklimits.validate_message`.

A broken operator template (found by `check()` at start-up) never costs a
digest: at run time it is logged and the bundled template is used instead.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from datetime import date
from types import MappingProxyType
from typing import Any, Final

import jinja2

from bot.models import DigestView, Item, SlackMessage
from bot.render.blocks import BlockHelpers, TemplateOutput, messages_of
from bot.render.check import check_templates
from bot.render.templates import Templates
from bot.render.views import FeedStatusRow, SearchHitLike, TemplateViews

__all__ = ["DIGEST_POST_OPTIONS", "RenderError", "Renderer"]

log = logging.getLogger(__name__)

# For chat.postMessage of digests and alerts: no previews of every linked page.
DIGEST_POST_OPTIONS: Final[Mapping[str, bool]] = MappingProxyType(
    {"unfurl_links": False, "unfurl_media": False}
)


class RenderError(RuntimeError):
    """A bundled template failed: a bug in the bot, not in the operator's files."""


class Renderer:
    """Renders digests, alerts, search results, help, feed status and notices to SlackMessages."""

    def __init__(
        self, templates_dir: str | None = None, *, feed_names: Mapping[str, str] | None = None
    ) -> None:
        self.templates_dir = templates_dir
        self._views = TemplateViews(feed_names)
        self._blocks = BlockHelpers()
        self._templates = Templates(templates_dir, self._blocks.globals())
        # check() renders with a strict twin: the same templates, every problem raised.
        self._strict = False

    # -- public rendering ------------------------------------------------------

    def render_digest(self, view: DigestView, *, thread: bool = True) -> list[SlackMessage]:
        """A channel's digest: one message, or a summary plus the rest (in its thread)."""
        context = self._views.digest(view, thread=thread)
        whole = self._render("digest.j2", context)
        whole.lead = None  # as one message: nothing to split at summary_end()
        messages = messages_of(whole)
        if len(messages) == 1:
            return messages
        split = self._render("digest.j2", {**context, "split": True})
        return messages_of(split, thread=thread)

    def render_alerts(
        self,
        owner: str,
        items_with_subs: Sequence[tuple[Item, tuple[str, ...]]],
        *,
        more: int = 0,
        sent_by: Sequence[str] = (),
    ) -> list[SlackMessage]:
        """One message for one owner naming each item and the subscriptions it matched.

        `sent_by`: the ids of those subscriptions, for the closing line that says
        how to mute or remove them.
        """
        context = self._views.alerts(owner, items_with_subs, more=more, sent_by=sent_by)
        return messages_of(self._render("alert.j2", context))

    def render_search(
        self, query_text: str, hits: Sequence[SearchHitLike], total: int
    ) -> list[SlackMessage]:
        """Search results: each hit's title, snippet with the matches in bold, feed and date."""
        context = self._views.search(query_text, hits, total)
        return messages_of(self._render("search.j2", context))

    def render_help(self, commands: Sequence[tuple[str, str]]) -> list[SlackMessage]:
        """The `/brief help` reply from (usage, description) pairs."""
        return messages_of(self._render("help.j2", self._views.help(commands)))

    def render_feed_status(self, rows: Sequence[FeedStatusRow]) -> list[SlackMessage]:
        """Which feeds are healthy, failing (since when, why), disabled or not polled yet."""
        return messages_of(self._render("feed_status.j2", self._views.feed_status(rows)))

    def render_deadlines(
        self,
        what: str,
        days: int,
        deadlines: Sequence[tuple[str, date, Item]],
        *,
        more: int = 0,
    ) -> list[SlackMessage]:
        """`/brief deadlines`: (kind, date, item) soonest first, `more` past those listed."""
        context = {
            "what": what,
            "days": days,
            "deadlines": [self._views.deadline(kind, on, item) for kind, on, item in deadlines],
            "more": max(more, 0),
        }
        return messages_of(self._render("deadlines.j2", context))

    def render_reminders(
        self,
        reminders: Sequence[tuple[str, date, int, Item, tuple[str, ...]]],
        *,
        sent_by: Sequence[tuple[str, str]] = (),
    ) -> list[SlackMessage]:
        """Deadline reminders for one owner: (kind, date, days left, item, subscription labels).

        `sent_by`: (subscription id, its reminder setting in words) for the closing line.
        """
        context = {
            "reminders": [self._views.reminder(*reminder) for reminder in reminders],
            "sent_by": [{"id": sub_id, "remind": words} for sub_id, words in sent_by],
        }
        return messages_of(self._render("reminder.j2", context))

    def render_notice(self, text: str) -> list[SlackMessage]:
        """A one-block message of plain text (escaped), e.g. "Subscribed to entity-list"."""
        return messages_of(self._render("notice.j2", self._views.notice(text)))

    def check(self) -> list[str]:
        """Compile every template and render it with sample data; the problems, as file:line: what.

        Run by `briefbot check-config` and at start-up, so that a broken
        override is found then, not at digest time.
        """
        strict = copy.copy(self)
        strict._strict = True
        return check_templates(self._templates, strict)

    # -- rendering machinery ----------------------------------------------------------

    def _render(self, name: str, context: Mapping[str, Any]) -> TemplateOutput:
        """Render `name`; unless strict, an operator's broken template yields to the bundled one.

        Strict (check()) also refuses output without blocks or with literal markup;
        at run time those are an empty notice (shown as NOTHING) and escaped.
        """
        try:
            out = self._blocks.parse(self._templates.render(name, context))
            if self._strict and not out.blocks:
                raise jinja2.TemplateRuntimeError("the template produced no blocks")
            if self._strict and out.stray:
                raise jinja2.TemplateRuntimeError(
                    f"writes {', '.join(out.stray)}, which Slack would read as markup "
                    "(write &lt; for a literal <)"
                )
            return out.or_nothing()
        except Exception as error:  # an override's bug must not cost a digest
            if self._strict:
                raise
            described = self._templates.describe(error, name)
            if not self.templates_dir:
                raise RenderError(described) from error
            # The fault may lie in any override (an imported macro file too).
            log.warning("%s; using the bundled %s instead", described, name)
        try:
            out = self._blocks.parse(self._templates.render_bundled(name, context))
        except Exception as error:
            raise RenderError(self._templates.describe(error, name)) from error
        return out.or_nothing()
