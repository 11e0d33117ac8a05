"""The Federal Register line (bot/render/fedreg.py) on recorded documents, and in a message."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bot.ingest.fedreg.facts import EXTRAS_KEY, FederalRegisterFacts
from bot.models import DigestSection, DigestView, Item, replace
from bot.render.fedreg import fedreg_line
from bot.render.renderer import Renderer

FIXTURES = Path(__file__).parents[1] / "fixtures" / "fedreg"
TODAY = date(2024, 1, 10)


def _extras(number: str, **changed: Any) -> dict[str, Any]:
    data = json.loads((FIXTURES / "documents_2024-01_six.json").read_text())
    doc = next(d for d in data["results"] if d["document_number"] == number)
    facts = FederalRegisterFacts.from_api(doc)
    return {EXTRAS_KEY: replace(facts, **changed).as_extras()}


def test_final_rule_line_as_the_issue_writes_it() -> None:
    extras = _extras(
        "2023-27783",
        cfr_parts=("15 CFR 744",),
        effective_on=date(2024, 12, 20),
        comments_close_on=date(2025, 1, 15),
        citation="89 FR 1064",
    )
    assert fedreg_line(extras, today=date(2024, 12, 1)) == (
        "Final rule · 15 CFR 744 · effective 20 Dec · comments until 15 Jan 2025 · 89 FR 1064"
    )


def test_recorded_documents_lines() -> None:
    lines = {
        number: fedreg_line(_extras(number), today=TODAY)
        for number in ("2023-27783", "2023-27019", "2024-00190", "C1-2023-27742", "2023-28935")
    }
    assert lines == {
        "2023-27783": "Final rule · 46 CFR 520 · effective 1 Feb · 89 FR 25",
        "2023-27019": "Proposed rule · 30 CFR 285, 585 · comments until 4 Mar · 89 FR 309",
        "2024-00190": "Notice · 89 FR 1064",
        "C1-2023-27742": "Correction of 2023-27742 · 89 FR 43",
        "2023-28935": "Presidential document · 89 FR 1",
    }
    assert fedreg_line({}, today=TODAY) is None
    assert fedreg_line({EXTRAS_KEY: {"type": "Rule"}}, today=TODAY) is None


def test_a_moved_date_is_said() -> None:
    extras = _extras("2023-27019", changes=("comments close 4 Mar -> 18 Mar",))
    line = fedreg_line(extras, today=TODAY)
    assert line is not None and line.endswith("(comments close 4 Mar -> 18 Mar)")


def test_api_text_is_escaped_for_slack(renderer: Renderer) -> None:
    extras = _extras("2024-00190", citation="<!channel> 89 FR 1064 & <https://evil.example|x>")
    item = Item(
        id="1",
        feed_id="fr-bis",
        title="T",
        link="https://www.federalregister.gov/d/2024-00190",
        published=datetime(2024, 1, 9, tzinfo=UTC),
        extras=extras,
    )
    [message] = renderer.render_digest(DigestView("C", "d", (DigestSection("t", "T", (item,)),)))
    text = json.dumps(message.blocks)
    assert "&lt;!channel&gt; 89 FR 1064 &amp; &lt;https://evil.example|x&gt;" in text
    assert "<!channel>" not in text
