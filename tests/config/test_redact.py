"""Credentials out of shown URLs, running text and every log record (bot/config/redact.py)."""

from __future__ import annotations

import logging

import httpx
import pytest

from bot.config.redact import hide_secret, install_log_redaction, redact_text, redact_url
from tests.config.feedsyaml import BIS_URL
from tests.support.secretscan import FEED_API_KEY, FEED_PASSWORD, LLM_KEY


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


@pytest.mark.parametrize(
    "name", ["token", "key", "api_key", "access_token", "secret", "password", "sig", "signature",
             "auth", "TOKEN", "Api_Key", "apiKey", "AccessToken", "SIG", "X-Auth"],
)  # fmt: skip
def test_every_secret_named_parameter_is_hidden_in_any_case(name: str) -> None:
    assert redact_url(f"https://example.org/f?{name}=abc&page=2") == (
        f"https://example.org/f?{name}=***&page=2"
    )
    assert redact_text(f"got /f?page=2&{name}=abc back") == f"got /f?page=2&{name}=*** back"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # httpx's request line at INFO
        ('HTTP Request: GET http://reader:pw@127.0.0.1:8080/f.xml?api_key=k1 "HTTP/1.1 200 OK"',
         'HTTP Request: GET http://***@127.0.0.1:8080/f.xml?api_key=*** "HTTP/1.1 200 OK"'),
        # httpcore's response headers at DEBUG: a relative Location
        ("return_value=(b'HTTP/1.1', 302, b'Found', [(b'Location', b'/b.xml?token=t1')])",
         "return_value=(b'HTTP/1.1', 302, b'Found', [(b'Location', b'/b.xml?token=***')])"),
        # an error text of ours, already redacted, keeps its parenthesis
        ("HTTP 404 (reached by redirect from http://h/a?sig=***)",
         "HTTP 404 (reached by redirect from http://h/a?sig=***)"),
        ("redirect loop: http://h/a?token=t -> http://h/b?x=1&Token=t",
         "redirect loop: http://h/a?token=*** -> http://h/b?x=1&Token=***"),
        ("<link href='https://h/f?a=1&amp;access_token=t'/>", "<link href='https://h/f?a=1&amp;access_token=***'/>"),
        ("https://h/cb#access_token=t", "https://h/cb#access_token=***"),
        ("URL('http://reader:[secure]@h/f')", "URL('http://***@h/f')"),
        ("ssh://git@h/repo and mail me at a@b.org", "ssh://***@h/repo and mail me at a@b.org"),
        ("keywords=export, monkey=1, ?keywords=chips&page=2 key: value",
         "keywords=export, monkey=1, ?keywords=chips&page=2 key: value"),
    ],
    ids=["httpx-line", "httpcore-headers", "already-redacted", "loop", "html-escaped",
         "fragment", "httpx-url-repr", "userinfo-only-in-urls", "not-secrets"],
)  # fmt: skip
def test_redact_text_hides_credentials_in_running_text(text: str, shown: str) -> None:
    assert redact_text(text) == shown
    assert redact_text(shown) == shown


def test_installed_log_redaction_cleans_every_record_of_every_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_log_redaction()
    install_log_redaction()  # twice: still one wrapper
    factory = logging.getLogRecordFactory()
    caplog.set_level(logging.DEBUG)
    url = f"http://reader:{FEED_PASSWORD}@127.0.0.1/f.xml?api_key={FEED_API_KEY}"

    logging.getLogger("somelibrary.child").info("HTTP Request: %s %s", "GET", httpx.URL(url))
    try:
        raise ValueError(f"cannot fetch {url}")
    except ValueError:
        logging.getLogger("other").exception("failed")

    assert factory is logging.getLogRecordFactory()
    assert [r.getMessage() for r in caplog.records] == [
        "HTTP Request: GET http://***@127.0.0.1/f.xml?api_key=***",
        "failed",
    ]
    assert "cannot fetch http://***@127.0.0.1/f.xml?api_key=***" in caplog.text
    assert FEED_PASSWORD not in caplog.text and FEED_API_KEY not in caplog.text


def test_a_hidden_secret_and_any_bearer_credential_never_reach_a_log_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_log_redaction()
    hide_secret(LLM_KEY)
    hide_secret("short")  # too short to hide: it would blank out words
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("somelibrary")
    log.debug("headers: %r", {"Authorization": "Bearer sk-another-credential-0123"})
    log.warning("the gateway said: invalid key %s (short)", LLM_KEY)
    assert [r.getMessage() for r in caplog.records] == [
        "headers: {'Authorization': 'Bearer ***'}",
        "the gateway said: invalid key *** (short)",
    ]
    assert redact_text("Bearer ***") == "Bearer ***"
    assert redact_text("a Bearer bond") == "a Bearer bond"
