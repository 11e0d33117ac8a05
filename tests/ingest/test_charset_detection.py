"""Feeds in legacy East Asian and Thai encodings with no charset anywhere (issue 12, part 9).

Each feed is served over loopback HTTP with `Content-Type: application/rss+xml`
(no charset) and no XML declaration, or with a server's default charset that
the body does not match, then polled into a real store: the titles and
summaries must be stored as the publisher wrote them, not as windows-1252
mojibake, and the feed's warning must say what was guessed. Before
charset-normalizer was asked, every one of these was stored as mojibake.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.ingest.feedfixtures import FIXTURES
from tests.ingest.served import feed_warning, poll_served, served_runtime, stored_items
from tests.support.feedserver import FeedServer

KANPO = FIXTURES / "kanpo-toc_2025-07_excerpt.rss"
KANPO_TITLES = [
    "二千七年の国際コーヒー協定の有効期間の延長に関する件（外務二七六）",
    "清涼飲料用ペットボトル容器に係る設計認定の基準（農林水産・経済産業一）",
    "経済施策を一体的に講ずることによる安全保障の確保の推進に関する法律第五十条第二項に基づき、"
    "特定社会基盤事業者の住所を変更する告示（経済産業一一六）",
]
KANPO_FIRST_SUMMARY = (
    "令和7年7月24日（本紙 第1513号）が発行されました。"
    " 二千七年の国際コーヒー協定の有効期間の延長に関する件（外務二七六）についてはこちら:"
    "https://www.kanpo.go.jp/20250724/20250724h01513/20250724h015130002f.html"
)


def kanpo_in(codec: str) -> bytes:
    """The real Kanpo excerpt re-encoded, its `encoding="UTF-8"` declaration removed."""
    text = KANPO.read_text(encoding="utf-8")
    return re.sub(r"^<\?xml[^>]*\?>\s*", "", text).encode(codec)


@pytest.mark.parametrize(
    ("codec", "content_type", "warning"),
    [
        pytest.param(
            "shift_jis",
            "application/rss+xml",
            "no character encoding declared: read as Shift_JIS, detected from the text",
            id="shift-jis-no-charset",
        ),
        pytest.param(
            "euc_jp",
            "text/xml",
            "no character encoding declared: read as EUC-JP, detected from the text",
            id="euc-jp-no-charset",
        ),
        pytest.param(
            "shift_jis",
            "application/rss+xml; charset=utf-8",
            "wrong character encoding: the HTTP header says utf-8;"
            " read as Shift_JIS, detected from the text",
            id="shift-jis-under-a-utf-8-header",
        ),
        pytest.param(
            "euc_jp",
            "text/xml; charset=ISO-8859-1",
            "wrong character encoding: the HTTP header says iso8859-1;"
            " read as EUC-JP, detected from the text",
            id="euc-jp-under-a-latin-1-header",
        ),
    ],
)
def test_the_japanese_gazette_in_a_legacy_encoding_is_stored_readable(
    feed_server: FeedServer, tmp_path: Path, codec: str, content_type: str, warning: str
) -> None:
    with served_runtime(feed_server, tmp_path / "data") as runtime:
        poll_served(runtime, feed_server, kanpo_in(codec), content_type=content_type)
        items = stored_items(runtime)
        assert [item.title for item in items] == KANPO_TITLES
        assert items[0].summary == KANPO_FIRST_SUMMARY
        assert feed_warning(runtime) == warning


LEGACY = {
    "big5": (
        "Big5",
        [
            (
                "經濟部公告修正戰略性高科技貨品出口管制清單",
                "經濟部國際貿易署今日公告，新增先進半導體製造設備及相關技術，自下月起實施出口許可制度。",
            ),
            (
                "台積電表示將遵守美國新的晶片出口規定",
                "公司發言人說，新規定對第四季營收的影響有限。",
            ),
        ],
    ),
    "gb2312": (
        "GB18030",  # the superset of GB2312 (and GBK) the body is read with
        [
            (
                "商务部公布对美国相关实体的出口管制措施",
                "商务部新闻发言人表示，将十六家美国实体列入出口管制管控名单，禁止向其出口两用物项。",
            ),
            (
                "海关总署：前十个月集成电路进口额同比下降",
                "海关数据显示，集成电路进口数量连续第三个月减少。",
            ),
        ],
    ),
    "euc_kr": (
        "EUC-KR",
        [
            (
                "산업통상자원부, 반도체 장비 수출 통제 강화",
                "산업통상자원부는 전략물자 수출입 고시 개정안을 발표했다."
                " 첨단 반도체 제조 장비가 통제 대상에 추가된다.",
            ),
            (
                "한미 경제안보 대화 서울에서 개최",
                "양국은 공급망 협력과 수출 통제 공조 방안을 논의했다.",
            ),
        ],
    ),
    "tis_620": (
        "TIS-620",
        [
            (
                "กระทรวงพาณิชย์ประกาศมาตรการควบคุมการส่งออกสินค้า",
                "กรมการค้าต่างประเทศประกาศรายชื่อสินค้าที่ต้องขออนุญาตส่งออกเพิ่มเติม รวมถึงอุปกรณ์ผลิตเซมิคอนดักเตอร์",
            ),
            (
                "ไทยเตรียมเจรจาการค้ากับสหรัฐอเมริกา",
                "คณะผู้แทนการค้าไทยจะเดินทางไปกรุงวอชิงตันในสัปดาห์หน้า",
            ),
        ],
    ),
}


def undeclared_rss(entries: list[tuple[str, str]]) -> str:
    items = "".join(
        f"<item><title>{title}</title><link>https://news.example/{n}</link>"
        f"<description>{summary}</description></item>\n"
        for n, (title, summary) in enumerate(entries)
    )
    return (
        '<rss version="2.0"><channel><title>Trade news</title><link>https://news.example/</link>'
        f"<description>news</description>\n{items}</channel></rss>\n"
    )


@pytest.mark.parametrize("codec", sorted(LEGACY))
def test_chinese_korean_and_thai_feeds_with_no_charset_are_stored_readable(
    feed_server: FeedServer, tmp_path: Path, codec: str
) -> None:
    label, entries = LEGACY[codec]
    with served_runtime(feed_server, tmp_path / "data") as runtime:
        poll_served(runtime, feed_server, undeclared_rss(entries).encode(codec))
        assert [(item.title, item.summary) for item in stored_items(runtime)] == entries
        assert feed_warning(runtime) == (
            f"no character encoding declared: read as {label}, detected from the text"
        )


def test_a_latin_1_feed_with_no_charset_still_reads_as_windows_1252(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    # charset-normalizer takes this real Brazilian feed for Baltic windows-1257
    # ("Śltimas" for "Últimas"): its single-byte guesses are never taken.
    body = (FIXTURES / "uol-noticias_latin1-no-declaration.rss").read_bytes()
    with served_runtime(feed_server, tmp_path / "data") as runtime:
        poll_served(runtime, feed_server, body)
        titles = [item.title for item in stored_items(runtime)]
        assert titles[0] == (
            "Ibope: Bolsonaro perde de Haddad, Ciro e Alckmin em simulações de 2º turno"
        )
        assert titles[2] == (
            "Apucarana garante continuidade do Pré Aprendiz; ano vai fechar com 13 mil pessoas"
            " qualificadas"
        )
        assert feed_warning(runtime) == (
            "wrong character encoding: none declared and not UTF-8; decoded as windows-1252"
        )
