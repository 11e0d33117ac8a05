"""`Summarizer`: an answer's cited items in, a checked summary or None out; never raises.

This is what `Runtime.summarizer` holds when BRIEFBOT_LLM_URL and
BRIEFBOT_LLM_MODEL are set (bot.app.questions wires it). Every way the
model can fail (an endpoint down, slow, answering an HTTP error, garbage, a
reply citing items that are not cited) gives None: the extractive answer
goes out as it is, and one WARNING line says why (the URL redacted, never
the key or the reply's text).
"""

from __future__ import annotations

import logging

from bot.brief.ask import Answer
from bot.config.model import LanguageModel
from bot.llm.client import ChatClient, ChatError
from bot.llm.prompt import UnusableSummary, checked_summary, summary_messages

__all__ = ["Summarizer"]

log = logging.getLogger(__name__)


class Summarizer:
    """Writes an answer's summary with the configured language model; None when it cannot."""

    def __init__(self, settings: LanguageModel, client: ChatClient | None = None) -> None:
        self.client = client if client is not None else ChatClient(settings)

    def __call__(self, answer: Answer) -> str | None:
        if not answer.cited:
            return None
        try:
            reply = self.client.complete(summary_messages(answer))
            return checked_summary(reply, len(answer.cited))
        except (ChatError, UnusableSummary) as exc:
            log.warning("an answer went out without the language model's summary: %s", exc)
        except Exception as exc:  # a bug here must not cost the asker the answer
            log.warning(
                "an answer went out without the language model's summary: %s (%s)",
                type(exc).__name__,
                self.client.shown_url,
            )
        return None
