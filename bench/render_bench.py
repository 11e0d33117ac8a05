"""Rendering a digest from 1,000 candidate items: select and group, then Block Kit messages.

`bot.brief.digest.build_digest_view` picks, groups (the topics of the project's
feeds.yaml) and cuts the candidates; `bot.render.renderer.Renderer.render_digest`
turns the view into Slack messages through the Jinja2 templates. Both are
timed together, as `Runtime.build_digest` runs them, with the default cap
of 20 items and with the largest allowed (200). Median of five runs; the
Renderer (template loading) is built once, as the running bot does.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta

from bench.common import load_average, repo_topics, timed
from bench.corpus import feed_ids, make_items
from bench.results import ScenarioResult, median
from bot.brief.digest import build_digest_view
from bot.config.model import DigestConfig
from bot.render.renderer import Renderer

__all__ = ["run"]

FULL = (1000, 5)  # candidate items, repeats
QUICK = (100, 1)


def run(quick: bool) -> ScenarioResult:
    n_items, repeats = QUICK if quick else FULL
    result = ScenarioResult("render", f"digest: {n_items:,} candidate items", quick)
    now = datetime.now(UTC)
    feeds = feed_ids(40)
    names = {feed: f"Feed {feed[-4:]}" for feed in feeds}
    tags = dict.fromkeys(feeds, ("news",))
    topics = repo_topics()
    items = make_items(
        n_items, seed=4, now=now, feeds=feeds, spread=timedelta(days=1), tag="d", first_seq=1
    )
    renderer = Renderer(None, feed_names=names)
    base = DigestConfig(channel="C0BENCH01", at=time(8, 30), timezone="Asia/Tokyo")
    shown: dict[int, tuple[int, int]] = {}
    for cap in (20, 200):
        digest = dataclasses.replace(base, max_items=cap)
        times = []
        for _ in range(repeats):

            def build(digest: DigestConfig = digest) -> tuple[int, int]:
                view = build_digest_view(
                    items, digest, topics, now=now, feed_names=names, feed_tags=tags
                )
                messages = renderer.render_digest(view, thread=True)
                return view.item_count, len(messages)

            shown[cap], seconds = timed(build)
            times.append(seconds)
        result.add(
            f"select + render, at most {cap} items",
            median(times) * 1000,
            "ms",
            note=f"{shown[cap][0]} items shown in {shown[cap][1]} "
            + ("message" if shown[cap][1] == 1 else "messages"),
        )
    result.notes.append("no target in issue 6; reported for regressions")
    result.details = {"items": n_items, "shown": shown, "load_average": load_average()}
    return result
