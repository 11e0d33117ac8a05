"""`briefbot demo` (bot/app/demo.py): the walkthrough's digest, as the person running it reads it.

The demo runs for real (its loopback feed server, a throwaway store, the
shipped topics); the test reads what it printed.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from bot.app.demo import run_demo
from bot.config.schema import load_config
from tests.render.test_charts import png_size
from tests.support import paths


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = io.StringIO()
    console = Console(file=out, width=400, color_system=None, soft_wrap=True)
    shipped = load_config(paths.ROOT / "bot" / "default_feeds.yaml", env={})
    base: Path = tmp_path_factory.mktemp("demo")
    run_demo(shipped, console, data_dir=str(base / "data"), out_dir=str(base))
    return out.getvalue()


def digest_of(printed: str) -> str:
    start = printed.index("4. The morning digest")
    return printed[start : printed.index("5. /brief", start)]


def test_the_demo_digest_accounts_for_every_new_item(printed: str) -> None:
    digest = digest_of(printed)
    assert re.search(r"^12 new items since \w+day \d+ \w+, \d\d:\d\d JST$", digest, re.M)
    news = digest[: digest.index("Deadlines this week")]
    headings = re.findall(r"^([^\n(]+?) \((\d+)\)$", news, re.MULTILINE)
    assert headings == [
        ("BIS Entity List additions, revisions and removals", "5"),
        ("Sanctions: OFAC designations, the SDN List and sanctions programs", "1"),
        ("Chips, chipmaking tools and the semiconductor supply chain", "3"),
        ("Rare earths and critical minerals, and controls on their export", "1"),
        ("Other new items", "2"),
    ]
    assert sum(int(count) for _, count in headings) == 12
    other = digest[digest.index("Other new items (2)") :]
    assert "Export Trade Certificate of Review" in other
    assert "Certain Dermatological Treatment Devices" in other


def test_the_demo_names_feeds_never_by_id(printed: str) -> None:
    digest = digest_of(printed)
    assert "also in: Federal Register: Entity List rules" in digest
    assert "Federal Register: trade and sanctions documents · " in digest
    assert not re.search(r"also in: [a-z0-9_-]+\b", printed)
    assert "fr-entity-list-search" not in printed.split("5. /brief", 1)[1]


def test_the_demo_entity_list_lines_add_up(printed: str) -> None:
    digest = digest_of(printed)
    assert "16 entities added: China 14, Singapore 2" in digest
    assert (
        "32 entities added: China 23, India 1, Iran 1, Singapore 1, Taiwan 1, Turkey 3, "
        "United Arab Emirates 2; 28 revised"
    ) in digest


def test_the_demo_shows_day_one_latest_from_the_backlog(printed: str) -> None:
    day_one = printed[printed.index("1. Yesterday") : printed.index("2. Today")]
    assert "/brief latest on day one (already published when the bot started)" in day_one
    latest = day_one.split("/brief latest on day one", 1)[1]
    assert re.search(r"│ +1 │", latest), "the backlog items are listed"


def test_the_demo_digest_has_enriched_lines_and_this_weeks_deadlines(printed: str) -> None:
    """The demo's documents API (served on loopback) filled in each Federal Register line."""
    assert "Federal Register documents API: 11 document(s) enriched in 1 batched request(s)." in (
        printed
    )
    digest = digest_of(printed)
    assert re.search(
        r"^Revisions to the Entity List\nFinal rule · 15 CFR 744 · effective \d+ \w{3}\n1 removed$",
        digest,
        re.M,
    )
    deadlines = digest[digest.index("Deadlines this week (3)") :]
    lines = re.findall(r"^\w{3} \d+ \w{3}: (takes effect|comments close) · (.+)$", deadlines, re.M)
    assert [(kind, title[:30]) for kind, title in lines] == [
        ("takes effect", "Revisions to the Entity List"),
        ("comments close", "Implementation of Additional D"),
        ("takes effect", "Additions and Revisions to the"),
    ]
    assert "Interim final rule · 15 CFR 734, 740 +2 · effective" in deadlines
    assert "All of them: /brief deadlines" in deadlines


def test_the_demo_writes_the_entity_list_chart_to_a_file(printed: str) -> None:
    found = re.search(r"^Wrote (\S+\.png) \((\d+)x(\d+) PNG\): (.+)$", printed, re.MULTILINE)
    assert found is not None, printed[-2000:]
    path = Path(found[1])
    assert png_size(path.read_bytes()) == (int(found[2]), int(found[3]))
    assert found[4].startswith("Entity List additions by destination, ")
    assert re.search(r": \d+ entries in \d+ rules$", found[4])


def test_the_demo_digest_names_the_entities_of_entity_list_rules(printed: str) -> None:
    """The screening-list sample (synthetic, served on loopback) names the rules' entities."""
    assert "Consolidated Screening List (synthetic sample): 76 entries read" in printed
    assert "Entity List rules named from the screening list: 90 FR 44510, 90 FR 4621 (" in printed
    digest = digest_of(printed)
    assert re.search(
        r"^16 entities added: China 14: [^;\n]+, [^;\n]+, [^;\n]+ and 11 more; Singapore 2: ",
        digest,
        re.M,
    )
    assert re.search(
        r"^32 entities added: China 23: [^;\n]+ and 20 more; .+ · 28 entities revised: China 28: ",
        digest,
        re.M,
    )
