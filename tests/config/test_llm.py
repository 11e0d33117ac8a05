"""BRIEFBOT_LLM_* read from the environment (bot/config/llm.py): both or neither, checked, shown
without the key."""

from __future__ import annotations

import pytest

from bot.config.model import LanguageModel
from tests.config.feedsyaml import parse, problems
from tests.support.secretscan import LLM_KEY

URL = "https://llm.example/v1/chat/completions"


def test_off_by_default() -> None:
    assert parse("feeds: []\n").llm is None


def test_url_model_key_and_timeout() -> None:
    env = {
        "BRIEFBOT_LLM_URL": URL,
        "BRIEFBOT_LLM_MODEL": " gateway-model ",
        "BRIEFBOT_LLM_KEY": LLM_KEY,
        "BRIEFBOT_LLM_TIMEOUT": "10s",
    }
    config = parse("feeds: []\n", env)
    assert config.llm == LanguageModel(URL, "gateway-model", LLM_KEY, 10.0)
    for shown in (repr(config), str(config.llm)):
        assert LLM_KEY not in shown
        assert "key=set" in shown


def test_a_local_server_needs_no_key() -> None:
    env = {
        "BRIEFBOT_LLM_URL": "http://127.0.0.1:8080/v1/chat/completions",
        "BRIEFBOT_LLM_MODEL": "m",
    }
    llm = parse("feeds: []\n", env).llm
    assert llm is not None and llm.key is None and llm.timeout_seconds == 5.0


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        (
            {"BRIEFBOT_LLM_URL": URL},
            "<environment>: BRIEFBOT_LLM_URL is set but BRIEFBOT_LLM_MODEL is not: set both "
            "to have answers summarized by a language model, or neither",
        ),
        (
            {"BRIEFBOT_LLM_MODEL": "m", "BRIEFBOT_LLM_KEY": LLM_KEY},
            "<environment>: BRIEFBOT_LLM_MODEL is set but BRIEFBOT_LLM_URL is not: set both "
            "to have answers summarized by a language model, or neither",
        ),
        (
            {"BRIEFBOT_LLM_URL": f"ftp://u:{LLM_KEY}@llm.example/", "BRIEFBOT_LLM_MODEL": "m"},
            "<environment>: BRIEFBOT_LLM_URL 'ftp://***@llm.example/' must be an http:// or "
            "https:// URL such as https://gateway.example.com/v1/chat/completions",
        ),
        (
            {"BRIEFBOT_LLM_URL": URL, "BRIEFBOT_LLM_MODEL": "m", "BRIEFBOT_LLM_TIMEOUT": "2h"},
            "<environment>: BRIEFBOT_LLM_TIMEOUT '2h' must be a number of seconds above 0 "
            "and at most 60 (such as 5 or 10s)",
        ),
        (
            {"BRIEFBOT_LLM_URL": URL, "BRIEFBOT_LLM_MODEL": "m", "BRIEFBOT_LLM_TIMEOUT": "nan"},
            "<environment>: BRIEFBOT_LLM_TIMEOUT 'nan' must be a number of seconds above 0 "
            "and at most 60 (such as 5 or 10s)",
        ),
    ],
)
def test_problems_name_the_variable_and_never_the_key(env: dict[str, str], problem: str) -> None:
    found = problems("feeds: []\n", env)
    assert found == [problem]
    assert LLM_KEY not in "\n".join(found)
