"""The BRIEFBOT_LLM_* variables read and checked into a `LanguageModel` (or None: no model).

BRIEFBOT_LLM_URL is the full URL of an OpenAI-compatible chat-completions
endpoint (`https://gateway.example.com/v1/chat/completions`, or a local
server's), BRIEFBOT_LLM_MODEL the model name it is sent, BRIEFBOT_LLM_KEY the
bearer key (optional: local servers need none) and BRIEFBOT_LLM_TIMEOUT how
long a summary may take in all (seconds, or a duration such as 10s; default
5, at most 60).

Not obvious:
- Both the URL and the model, or neither: one without the other is a
  problem, not a silent "off", since the operator meant to turn it on.
- The key only ever reaches the Authorization header (bot.llm); problems here
  show the URL redacted and never the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from bot.config.model import ConfigProblem, LanguageModel
from bot.config.redact import redact_url
from bot.config.units import parse_duration, show_value

__all__ = ["DEFAULT_TIMEOUT", "MAX_TIMEOUT", "read_language_model"]

DEFAULT_TIMEOUT = 5.0
MAX_TIMEOUT = 60.0
_WHERE = "<environment>"


def read_language_model(
    env: Mapping[str, str], problems: list[ConfigProblem]
) -> LanguageModel | None:
    """The language model the environment names; problems are appended to `problems`."""
    url = env.get("BRIEFBOT_LLM_URL", "").strip()
    model = env.get("BRIEFBOT_LLM_MODEL", "").strip()
    key = env.get("BRIEFBOT_LLM_KEY", "").strip() or None
    timeout = _timeout(env.get("BRIEFBOT_LLM_TIMEOUT", "").strip(), problems)
    if not url and not model:
        return None
    if not url or not model:
        missing, given = ("BRIEFBOT_LLM_MODEL", "URL") if url else ("BRIEFBOT_LLM_URL", "MODEL")
        problems.append(
            ConfigProblem(
                _WHERE,
                None,
                f"BRIEFBOT_LLM_{given} is set but {missing} is not: set both to have answers "
                "summarized by a language model, or neither",
            )
        )
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(
            ConfigProblem(
                _WHERE,
                None,
                f"BRIEFBOT_LLM_URL {show_value(redact_url(url))} must be an http:// or https:// "
                "URL such as https://gateway.example.com/v1/chat/completions",
            )
        )
        return None
    return LanguageModel(url=url, model=model, key=key, timeout_seconds=timeout)


def _timeout(text: str, problems: list[ConfigProblem]) -> float:
    if not text:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = float(parse_duration(text))
        except ValueError:
            seconds = -1.0
    if not 0 < seconds <= MAX_TIMEOUT:
        problems.append(
            ConfigProblem(
                _WHERE,
                None,
                f"BRIEFBOT_LLM_TIMEOUT {show_value(text)} must be a number of seconds "
                f"above 0 and at most {MAX_TIMEOUT:g} (such as 5 or 10s)",
            )
        )
        return DEFAULT_TIMEOUT
    return seconds
