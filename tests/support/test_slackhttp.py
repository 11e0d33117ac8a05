"""The request signing the tests and the ack benchmark send is Slack's own.

Both sign with slack_sdk's `SignatureVerifier.generate_signature`, the code the
bot verifies with; so that a fault there cannot make a test's request and the
bot agree on a wrong signature, the signer is checked here against the worked
example in Slack's documentation ("Verifying requests from Slack").
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench.ack_clients import sign as bench_sign
from tests.support import slackhttp

# Slack's documented example: the signing secret, the request's timestamp and body,
# and the X-Slack-Signature Slack sent with them.
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = 1531420618
DOC_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
    b"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

Signer = Callable[..., dict[str, str]]


@pytest.mark.parametrize("sign", [slackhttp.sign, bench_sign], ids=["tests", "bench"])
def test_the_signer_signs_slacks_documented_example_as_slack_did(sign: Signer) -> None:
    headers = sign(DOC_BODY, secret=DOC_SECRET, timestamp=DOC_TIMESTAMP)
    assert headers == {
        "X-Slack-Request-Timestamp": str(DOC_TIMESTAMP),
        "X-Slack-Signature": DOC_SIGNATURE,
    }


@pytest.mark.parametrize("sign", [slackhttp.sign, bench_sign], ids=["tests", "bench"])
def test_another_secret_or_body_signs_differently(sign: Signer) -> None:
    other_secret = sign(DOC_BODY, secret=DOC_SECRET[::-1], timestamp=DOC_TIMESTAMP)
    other_body = sign(DOC_BODY + b"x", secret=DOC_SECRET, timestamp=DOC_TIMESTAMP)
    assert DOC_SIGNATURE not in (
        other_secret["X-Slack-Signature"],
        other_body["X-Slack-Signature"],
    )
