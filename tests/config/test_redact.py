"""Credentials out of shown URLs (bot/config/redact.py)."""

from __future__ import annotations

import pytest

from bot.config.redact import redact_url
from tests.config.feedsyaml import BIS_URL


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (BIS_URL, BIS_URL),
        ("https://u:p@example.org/feed", "https://***@example.org/feed"),
        ("https://u@example.org/feed", "https://***@example.org/feed"),
        ("https://example.org/f?token=abc&x=1", "https://example.org/f?token=***&x=1"),
        ("https://example.org/f?apiKey=abc", "https://example.org/f?apiKey=***"),
        ("https://example.org/f?apikey=abc", "https://example.org/f?apikey=***"),
        ("https://example.org/f?client_secret=a&password=b", "https://example.org/f?client_secret=***&password=***"),
        ("https://example.org/f?X-Amz-Signature=abc", "https://example.org/f?X-Amz-Signature=***"),
        ("https://example.org/f?keywords=export&monkey=1", "https://example.org/f?keywords=export&monkey=1"),
        ("https://example.org/cb#access_token=abc", "https://example.org/cb#***"),
    ],
    ids=["plain", "user-password", "user-only", "token", "apiKey", "apikey", "secret-password",
         "signature", "not-secret-lookalikes", "fragment-token"],
)  # fmt: skip
def test_redact_url_hides_credentials_and_keeps_the_rest(url: str, shown: str) -> None:
    assert redact_url(url) == shown
