"""bot/ingest/charset.py, through parse_feed: header, declaration and BOM in every combination."""

from __future__ import annotations

import pytest

from tests.ingest.feedfixtures import (
    parse_fixture,
)

CP1252_TITLE = "Zölle auf Halbleiter – „Überblick“ für Exporteure"
CYRILLIC_TITLE = "Экспортный контроль: новые правила для полупроводников"
CHINESE_TITLE = "出口管制实体清单新增十六家实体"
FRENCH_TITLE = "Contrôle des exportations : révision de la liste"
JAPANESE_TITLE = "経済安全保障推進法に基づく特定重要物資"
RDF_TITLE = "特定重要物資（半導体）の安定供給確保に関する取組方針の改定"


@pytest.mark.parametrize(
    ("fixture", "headers", "title", "warning"),
    [
        pytest.param(
            "rss20-declared-utf8-actually-cp1252.xml",
            {},
            CP1252_TITLE,
            "wrong character encoding: declared as utf-8; decoded as windows-1252",
            id="declared-utf8-actually-cp1252",
        ),
        pytest.param("rss20-windows-1251.xml", {}, CYRILLIC_TITLE, None, id="windows-1251"),
        pytest.param(
            "rss20-windows-1251.xml",
            {"Content-Type": "application/rss+xml; charset=utf-8"},
            CYRILLIC_TITLE,
            None,
            id="header-utf8-body-windows-1251",
        ),
        pytest.param(
            "rss20-windows-1251.xml",
            {"content-type": "text/xml; charset=no-such-charset"},
            CYRILLIC_TITLE,
            None,
            id="unknown-header-charset-ignored",
        ),
        pytest.param("rss20-gb2312.xml", {}, CHINESE_TITLE, None, id="gb2312"),
        pytest.param(
            "rss20-latin1-no-declaration.xml",
            {},
            FRENCH_TITLE,
            "wrong character encoding: none declared and not UTF-8; decoded as windows-1252",
            id="latin1-no-declaration",
        ),
        pytest.param("rss20-utf16le-bom.xml", {}, JAPANESE_TITLE, None, id="utf16le-bom"),
        pytest.param(
            "rss10-keizai-anpo_synthetic.rdf",
            {"Content-Type": "text/xml; charset=ISO-8859-1"},
            RDF_TITLE,
            None,
            id="header-latin1-body-utf8",
        ),
        pytest.param(
            "rss10-keizai-anpo_synthetic.rdf",
            {"Content-Type": "text/xml"},
            RDF_TITLE,
            None,
            id="text-xml-without-charset-is-not-ascii",
        ),
    ],
)
def test_encodings(fixture: str, headers: dict[str, str], title: str, warning: str | None) -> None:
    result = parse_fixture(fixture, headers=headers)
    assert result.error is None
    assert result.items[0].title == title
    assert result.warning == warning
