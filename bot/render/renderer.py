"""The Renderer: digests, alerts, search results, answers, help, feed status and notices.

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

from bot.brief.ask import Answer
from bot.brief.monthly import MonthlyView
from bot.ingest.screening.entities import RuleEntities
from bot.models import DigestView, Item, SlackMessage, replace
from bot.render.alerts import alert_context
from bot.render.answers import answer_context
from bot.render.blocks import BlockHelpers, TemplateOutput, messages_of
from bot.render.check import check_templates
from bot.render.inputs import FeedStatusRow, HomeData, SearchHitLike, show_all_command
from bot.render.monthly import month_context
from bot.render.templates import Templates
from bot.render.views import ENTITY_NAMES, TemplateViews

__all__ = ["DIGEST_POST_OPTIONS", "MAX_VIEW_BLOCKS", "RenderError", "Renderer"]

log = logging.getLogger(__name__)

# For chat.postMessage of digests and alerts: no previews of every linked page.
DIGEST_POST_OPTIONS: Final[Mapping[str, bool]] = MappingProxyType(
    {"unfurl_links": False, "unfurl_media": False}
)


# Destinations on an Entity List rule's line (its `headline` default); a section's text limit.
ENTITY_PLACES = 4
_DETAIL_CHARS = 2_800


def _chunks(lines: Sequence[str], limit: int) -> list[str]:
    """`lines` joined into texts of at most `limit` characters (a longer line is cut)."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        line = line if len(line) <= limit else line[: limit - 1] + "…"
        if current and len(current) + 1 + len(line) > limit:
            chunks.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    return [*chunks, current] if current else chunks


# Slack's limit on the blocks of a Home tab or a modal (a message has 50).
MAX_VIEW_BLOCKS = 100


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
        helpers = {**self._blocks.globals(), "show_all": show_all_command}
        self._templates = Templates(templates_dir, helpers)
        # check() renders with a strict twin: the same templates, every problem raised.
        self._strict = False

    # -- public rendering ------------------------------------------------------

    def render_digest(self, view: DigestView, *, thread: bool = True) -> list[SlackMessage]:
        """A channel's digest: one message, or a summary plus the rest (in its thread)."""
        context = self._views.digest(view, thread=thread)
        whole = self._render("digest.j2", context)
        whole.lead = None  # as one message: nothing to split at summary_end()
        messages = messages_of(whole)
        items = [i for s in view.sections for i in s.items] + list(view.others)
        if len(messages) > 1:
            split = self._render("digest.j2", {**context, "split": True})
            messages = messages_of(split, thread=thread)
        return messages + self._entity_details(items, thread=thread)

    def render_alerts(
        self,
        owner: str,
        items_with_subs: Sequence[tuple[Item, tuple[str, ...]]],
        *,
        more: int = 0,
        sent_by: Sequence[str | tuple[str, str]] = (),
    ) -> list[SlackMessage]:
        """One message for one owner naming each item and the subscriptions it matched.

        `sent_by`: those subscriptions, as ids or (id, label) pairs ("topic chips"),
        for the closing line and the Mute / Remove buttons that name them.
        """
        context = alert_context(self._views, owner, items_with_subs, more=more, sent_by=sent_by)
        messages = messages_of(self._render("alert.j2", context))
        return messages + self._entity_details([i for i, _ in items_with_subs], thread=True)

    def _entity_details(self, items: Sequence[Item], *, thread: bool) -> list[SlackMessage]:
        """Every entity of the Entity List rules whose line showed only the first names."""
        messages: list[SlackMessage] = []
        for item in items:
            named = RuleEntities.of(item.extras)
            if named is None or named.is_complete_in(ENTITY_NAMES, ENTITY_PLACES):
                continue
            lines = [f"Every entity named by {item.title} ({named.citation}):", *named.details()]
            for chunk in _chunks(lines, _DETAIL_CHARS):
                messages += self.render_notice(chunk)
        return [replace(m, in_thread=thread) for m in messages]

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

    def render_month(self, view: MonthlyView, *, chart: bool = False) -> list[SlackMessage]:
        """The monthly briefing; `chart`: say that the Entity List chart follows in the thread."""
        context = month_context(view, self._views, chart=chart)
        return messages_of(self._render("month.j2", context))

    def render_home(self, data: HomeData) -> tuple[dict[str, Any], ...]:
        """A person's Home tab as Block Kit blocks: at most MAX_VIEW_BLOCKS, the rest cut."""
        blocks = self._render("home.j2", self._views.home(data)).blocks
        if len(blocks) > MAX_VIEW_BLOCKS:
            cut = len(blocks) - MAX_VIEW_BLOCKS + 1
            log.warning("a Home tab of %d blocks was cut to %d", len(blocks), MAX_VIEW_BLOCKS)
            note = {"type": "mrkdwn", "text": f"({cut} more blocks not shown)", "verbatim": True}
            blocks = [*blocks[: MAX_VIEW_BLOCKS - 1], {"type": "context", "elements": [note]}]
        return tuple(blocks)

    def render_answer(self, answer: Answer) -> list[SlackMessage]:
        """A question's answer: what was understood, counts citing items, the items' links."""
        return messages_of(self._render("answer.j2", answer_context(self._views, answer)))

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
