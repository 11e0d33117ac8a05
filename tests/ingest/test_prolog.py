"""bot/ingest/prolog.py, through parse_feed: entity declarations refused before parsing."""

from __future__ import annotations

import codecs
import time

import pytest

from bot.ingest.parse import parse_feed
from tests.ingest.feedfixtures import (
    FETCHED_AT,
    FIXTURES,
)

BILLION_LAUGHS = (FIXTURES / "security-billion-laughs.rss").read_bytes()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param(
            BILLION_LAUGHS,
            "refused: the DOCTYPE declares 10 XML entities (lol, lol1, lol2, …); feeds that"
            " declare entities are not parsed, to rule out entity-expansion bombs",
            id="billion-laughs",
        ),
        pytest.param(
            codecs.BOM_UTF16_LE
            + BILLION_LAUGHS.decode().replace('<?xml version="1.0"?>', "").encode("utf-16-le"),
            "refused: the DOCTYPE declares 10 XML entities (lol, lol1, lol2, …); feeds that"
            " declare entities are not parsed, to rule out entity-expansion bombs",
            id="billion-laughs-in-utf16",
        ),
        pytest.param(
            (FIXTURES / "security-xxe-external-entity.rss").read_bytes(),
            "refused: the DOCTYPE declares an external entity (secret); external entities are"
            " never resolved",
            id="xxe",
        ),
        pytest.param(
            b'<?xml version="1.0"?><!-- <a> --><?style <b> ?>'
            b'<!DOCTYPE rss SYSTEM "<x>" [<!ATTLIST rss v CDATA "<y>">'
            b'<!ENTITY e SYSTEM "file:///etc/hostname">]><rss version="2.0"><channel>'
            b"<item><title>&e;</title></item></channel></rss>",
            "refused: the DOCTYPE declares an external entity (e); external entities are never"
            " resolved",
            id="xxe-behind-comment-pi-and-quoted-markup",
        ),
        pytest.param(
            b'<!DOCTYPE r [<!ENTITY a "'
            + b"B" * 200_000
            + b'">]><rss>'
            + b"&a;" * 5_000
            + b"</rss>",
            "refused: the DOCTYPE declares 1 XML entity (a); feeds that declare entities are not"
            " parsed, to rule out entity-expansion bombs",
            id="quadratic-blowup",
        ),
    ],
)
def test_entity_declarations_are_refused_quickly_without_expansion(body: bytes, error: str) -> None:
    started = time.monotonic()
    result = parse_feed("f", body, fetched_at=FETCHED_AT)
    assert time.monotonic() - started < 1.0
    assert (result.items, result.error, result.feed_title) == ((), error, "")


def test_a_doctype_without_entities_is_still_read() -> None:
    body = (
        b'<?xml version="1.0"?>\n'
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
        b' "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="0.91"><channel>'
        b"<title>Old</title><item><title>Still here</title><link>https://old.example/1</link>"
        b"</item></channel></rss>"
    )
    result = parse_feed("f", body, fetched_at=FETCHED_AT)
    assert result.error is None
    assert [item.title for item in result.items] == ["Still here"]
