"""The optional language model: a short prose summary of a question's cited items.

An adapter, like bot.slack for Slack: `prompt` (pure: the messages sent, and
the check of the reply: it must cite only the answer's cited items),
`client` (one chat-completions request to an OpenAI-compatible endpoint over
httpx, bounded in time and size), `summarizer` (`Summarizer`, the
`Runtime.summarizer` that puts the two together and turns every failure into
"no summary", logged once). Imports bot.brief.ask (the `Answer`) and
bot.config (its settings, the redaction of its key); nothing but bot.app
imports it.
"""

from bot.llm.summarizer import Summarizer

__all__ = ["Summarizer"]
