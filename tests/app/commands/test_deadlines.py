"""`/brief deadlines [topic|query] [days]` on documents enriched from the loopback documents API."""

from __future__ import annotations

from pathlib import Path

from bot.app.fedreg import enrich_documents
from tests.app.commands.cases import run
from tests.app.fedreg_harness import NUMBERS, Clock, new_api, open_runtime, serve_feed
from tests.support.backends import Backend
from tests.support.feedserver import FeedServer

TOPICS = "  - id: tariffs\n    query: tariffs\n"


def test_deadlines_soonest_first_by_topic_query_and_days(
    feed_server: FeedServer, tmp_path: Path, backend: Backend
) -> None:
    serve_feed(feed_server, ("2023-28483", *NUMBERS))
    clock = Clock()
    with (
        new_api() as api,
        open_runtime(feed_server, api, tmp_path, clock, extra=TOPICS, backend=backend) as rt,
    ):
        rt.poll(force=True)
        enrich_documents(rt)
        reply = run(rt, "deadlines")
        assert reply.startswith("2 deadlines in the next 30 days, soonest first")
        lines = [line for line in reply.splitlines() if line.startswith(("Thu", "Mon"))]
        assert [line.split(" · ")[0] for line in lines] == [
            "Thu 1 Feb: takes effect",
            "Thu 1 Feb: takes effect",
        ]
        assert "Carrier Automated Tariffs" in reply and "Nassau Grouper" in reply
        assert "Final rule · 46 CFR 520 · effective 1 Feb · 89 FR 25" in reply
        # 4 Mar is 54 days ahead: only with more days.
        assert "comments close" not in reply
        longer = run(rt, "deadlines 60d")
        assert "Mon 4 Mar: comments close" in longer
        assert longer.index("Thu 1 Feb") < longer.index("Mon 4 Mar")
        on_topic = run(rt, "deadlines tariffs 60")
        assert "Carrier Automated Tariffs" in on_topic and "Nassau" not in on_topic
        assert run(rt, "deadlines grouper").count("takes effect") == 1
        assert run(rt, "deadlines 0").startswith("days must be between 1 and 365")
        assert run(rt, "deadlines zebra 5").startswith(
            "No comment period closes and no rule takes effect on “zebra” in the next 5 days."
        )
