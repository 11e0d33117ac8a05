"""Sharing a file: `Deliverer.upload_file` through slack_sdk's files_upload_v2, against the fake.

The fake answers files.getUploadURLExternal with an upload URL on itself,
takes the bytes there, and shares the file on files.completeUploadExternal;
each test looks at what it received and at the result the caller gets.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.deliver.ports import DeliveryResult, FileUpload
from bot.models import SlackMessage
from tests.slack.test_deliver import CHANNEL, make_deliverer
from tests.support.fakeslack import FakeSlack

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def chart(**changes: object) -> FileUpload:
    values: dict[str, object] = {
        "content": PNG,
        "filename": "entity-list-90d.png",
        "title": "Entity List additions",
        "comment": "Entity List additions, 90 days: 12 entries",
        "alt_text": "A bar chart",
    }
    values.update(changes)
    return FileUpload(**values)  # type: ignore[arg-type]


def test_the_file_reaches_the_channel_with_its_title_and_comment(fake_slack: FakeSlack) -> None:
    result = make_deliverer(fake_slack).upload_file(CHANNEL, chart())

    assert result == DeliveryResult(ok=True, posted=1)
    (shared,) = fake_slack.files(CHANNEL)
    assert shared.content == PNG
    assert shared.filename == "entity-list-90d.png"
    assert shared.title == "Entity List additions"
    assert shared.initial_comment == "Entity List additions, 90 days: 12 entries"
    assert shared.alt_text == "A bar chart"
    assert [c.method for c in fake_slack.calls()] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    assert fake_slack.calls("files.getUploadURLExternal")[0].params["length"] == str(len(PNG))


def test_a_file_goes_into_a_thread(fake_slack: FakeSlack) -> None:
    deliverer = make_deliverer(fake_slack)
    first = deliverer.post(CHANNEL, [SlackMessage("Monthly briefing")])
    result = deliverer.upload_file(CHANNEL, chart(thread_ts=first.ts))

    assert result.ok
    assert fake_slack.files(CHANNEL)[0].thread_ts == first.ts


def test_a_channel_the_bot_is_not_in_is_refused_with_the_fix(fake_slack: FakeSlack) -> None:
    fake_slack.add_channel(CHANNEL, member=False)

    result = make_deliverer(fake_slack).upload_file(CHANNEL, chart())

    assert not result.ok and not result.retryable
    assert result.error is not None
    assert "not_in_channel" in result.error and "/invite @briefbot" in result.error
    assert fake_slack.files() == []


def test_an_unknown_thread_is_refused(fake_slack: FakeSlack) -> None:
    result = make_deliverer(fake_slack).upload_file(CHANNEL, chart(thread_ts="1.000001"))

    assert not result.ok
    assert result.error is not None and "thread_not_found" in result.error
    assert fake_slack.files() == []


def test_slack_down_is_retryable_and_shares_nothing(fake_slack: FakeSlack) -> None:
    fake_slack.down("503")

    result = make_deliverer(fake_slack).upload_file(CHANNEL, chart())

    assert not result.ok and result.retryable
    assert result.error is not None and "try again later" in result.error
    fake_slack.up()
    assert fake_slack.files() == []


def test_an_empty_file_is_not_sent(fake_slack: FakeSlack) -> None:
    result = make_deliverer(fake_slack).upload_file(CHANNEL, chart(content=b""))

    assert not result.ok
    assert fake_slack.calls() == []


def test_the_fake_refuses_what_slack_refuses(fake_slack: FakeSlack) -> None:
    """Completing a file never uploaded, or uploading other bytes than announced."""
    client = WebClient(token=fake_slack.token, base_url=fake_slack.url)
    answer = client.files_getUploadURLExternal(filename="a.png", length=10)
    with pytest.raises(SlackApiError) as never_uploaded:
        client.files_completeUploadExternal(files=[{"id": answer["file_id"]}], channel_id=CHANNEL)
    assert never_uploaded.value.response["error"] == "file_not_found"
    request = urllib.request.Request(str(answer["upload_url"]), data=b"short", method="POST")
    with pytest.raises(urllib.error.HTTPError) as wrong_length:
        urllib.request.urlopen(request, timeout=5)
    assert wrong_length.value.code == 400
    with pytest.raises(SlackApiError) as empty:
        client.files_getUploadURLExternal(filename="a.png", length=0)
    assert empty.value.response["error"] == "invalid_arguments"
    assert fake_slack.files() == []
