"""Terminal output for the CLI: tables and progress (the one home of rich).

Every string that came from a feed or a config file is printed as plain text
(`Text`, never markup), so a feed title such as `[bold]` or an escape sequence
cannot restyle or spoof the terminal.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from bot.app.mrkdwn_terminal import mrkdwn_runs
from bot.models import FeedState, Item, PollReport, SlackMessage
from bot.render.inputs import FeedStatusRow
from bot.store.ports import DeliveryProblem, StoreStats

_STATUS_STYLE = {"ok": "green", "not-modified": "cyan", "error": "bold red", "skipped": "dim"}


def make_console(stderr: bool = False) -> Console:
    """A console; when output goes to a file or pipe, wide enough that tables don't fold."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 140
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


class Advance(Protocol):
    def __call__(self, feed_id: str) -> None: ...


@contextmanager
def poll_progress(console: Console, total: int) -> Iterator[Advance]:
    """A progress bar while feeds are polled; silent when not on a terminal."""
    if not console.is_terminal or total == 0:
        yield lambda feed_id: None
        return
    progress = Progress(
        TextColumn("polling"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task("", total=total)

        def advance(feed_id: str) -> None:
            progress.update(task, advance=1, description=feed_id)

        yield advance


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def print_poll_table(console: Console, reports: Sequence[PollReport]) -> None:
    """One row per polled feed: status, new items, time taken, error."""
    table = Table(title="Poll results", title_justify="left")
    table.add_column("feed", no_wrap=True)
    table.add_column("status", no_wrap=True, min_width=12)
    table.add_column("new", justify="right")
    table.add_column("already seen", justify="right")
    table.add_column("time", justify="right")
    table.add_column("next poll", no_wrap=True)
    table.add_column("error / warning", overflow="fold", max_width=60)
    for r in reports:
        new = f"{r.new_items} backlog" if r.backlog else str(r.new_items)
        problem = r.error or (f"warning: {r.warning}" if r.warning else "")
        table.add_row(
            Text(r.feed_id),
            Text(r.status, style=_STATUS_STYLE.get(r.status, "")),
            new,
            str(r.seen_items),
            f"{r.elapsed:.2f}s",
            _when(r.next_due),
            Text(problem),
        )
    console.print(table)
    failed = sum(1 for r in reports if r.status == "error")
    stored = sum(r.new_items for r in reports)
    console.print(Text(f"{len(reports)} feeds polled, {failed} failed, {stored} items stored."))


def print_json(console: Console, data: Any) -> None:
    """JSON for machines: printed without any styling or wrapping."""
    console.file.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def print_error(message: str) -> None:
    # soft_wrap: one line however narrow the terminal, so it can be copied and grepped.
    make_console(stderr=True).print(Text(f"error: {message}", style="bold red"), soft_wrap=True)


def print_warning(message: str) -> None:
    """`message` on stderr, in yellow, unwrapped."""
    make_console(stderr=True).print(Text(message, style="yellow"), soft_wrap=True)


def print_text(console: Console, message: str, style: str = "") -> None:
    console.print(Text(message, style=style))


def print_slack_messages(console: Console, messages: Sequence[SlackMessage]) -> None:
    """Slack messages as a reader would see them: bold, italics, links and code styled,
    headers bold, context dim, emoji codes shown or dropped (bot/app/mrkdwn_terminal.py)."""
    for n, message in enumerate(messages):
        if n:
            label = "reply in thread" if message.in_thread else "next message"
            console.print(Text(f"--- {label} ---", style="dim"))
        for block in message.blocks:
            kind = block.get("type")
            if kind == "header":
                console.print(Text(block["text"]["text"], style="bold"))
            elif kind == "section":
                console.print(_styled(block.get("text", {}).get("text", "")))
            elif kind == "context":
                parts = [e.get("text", "") for e in block.get("elements", [])]
                console.print(_styled("  ".join(p for p in parts if p), base="dim"))
            elif kind == "divider":
                console.print(Text("─" * 40, style="dim"))
            elif kind == "actions":  # Slack's buttons, shown as what they are called
                labels = [e.get("text", {}).get("text", "") for e in block.get("elements", [])]
                console.print(Text("  ".join(f"[{label}]" for label in labels), style="dim"))
        if not message.blocks:
            console.print(_styled(message.text))


def _styled(mrkdwn: str, base: str = "") -> Text:
    text = Text(style=base)
    for piece, style in mrkdwn_runs(mrkdwn):
        text.append(piece, style=style or None)
    return text


def print_search_results(
    console: Console,
    hits: Sequence[Any],
    total: int,
    query: str,
    *,
    more_hint: str = "",
    feed_names: Mapping[str, str] | None = None,
) -> None:
    """Search hits as a table (rank, date, feed, title and the snippet around the match),
    then each hit's link on a line of its own, never broken, and what was left out.
    Feeds are shown by the names in `feed_names`, where it has them."""
    names = feed_names or {}
    table = Table(title=f"{total} result(s) for {query}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("published", no_wrap=True)
    table.add_column("feed", no_wrap=True)
    table.add_column("title / snippet", overflow="fold")
    for rank, hit in enumerate(hits, 1):
        body = _title(hit.item)
        if hit.snippet:
            body.append("\n" + hit.snippet)
        if hit.also_in:
            also_in = ", ".join(names.get(feed_id) or feed_id for feed_id in hit.also_in)
            body.append("\nalso in: " + also_in, style="dim")
        feed = names.get(hit.item.feed_id) or hit.item.feed_id
        table.add_row(str(rank), _when(hit.item.published), Text(feed), body)
    console.print(table)
    _print_links(console, [hit.item for hit in hits])
    _print_more(console, total - len(hits), more_hint)


def print_items(
    console: Console,
    items: Sequence[Item],
    title: str,
    *,
    more: int = 0,
    more_hint: str = "",
    feed_names: Mapping[str, str] | None = None,
) -> None:
    """Items as a table (rank, date, feed, title), then their links, then what was left out.
    Feeds are shown by the names in `feed_names`, where it has them."""
    names = feed_names or {}
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("published", no_wrap=True)
    table.add_column("feed", no_wrap=True)
    table.add_column("title", overflow="fold")
    for rank, item in enumerate(items, 1):
        feed = names.get(item.feed_id) or item.feed_id
        table.add_row(str(rank), _when(item.published), Text(feed), _title(item))
    console.print(table)
    _print_links(console, items)
    _print_more(console, more, more_hint)


def _title(item: Item) -> Text:
    """The title in bold, a terminal hyperlink to the item where the terminal has them."""
    style = f"bold link {item.link}" if item.link and " " not in item.link else "bold"
    return Text(item.title, style=style)


def _print_links(console: Console, items: Sequence[Item]) -> None:
    """Each item's link on its own line: whole, so it can be copied or clicked."""
    for rank, item in enumerate(items, 1):
        if item.link:
            console.print(Text(f"[{rank}] {item.link}", style="cyan"), soft_wrap=True)


def _print_more(console: Console, more: int, hint: str) -> None:
    if more > 0 and hint:
        console.print(Text(f"{more} more: {hint}", style="dim"), soft_wrap=True)


def _feed_health(row: FeedStatusRow) -> tuple[str, str]:
    """(status word, its style) for one feed, as `/brief status` words it."""
    state = row.state
    if not row.enabled:
        return "paused", "dim"
    if state is None or state.last_attempt is None:
        return "not polled yet", "cyan"
    if state.consecutive_failures:
        return "failing", "bold red"
    return "ok", "green"


def _problem(state: FeedState | None) -> str:
    """What is wrong with a feed now: its error while failing, else the last document's warning."""
    if state is None:
        return ""
    if state.consecutive_failures:
        return state.last_error or ""
    return f"warning: {state.warning}" if state.warning else ""


def _snapshot(row: FeedStatusRow) -> str:
    """The screening list's entries in its snapshot ("" for a feed)."""
    count = row.snapshot_entries
    if count is None:
        return ""
    return f"{count:,} {'entry' if count == 1 else 'entries'} in the snapshot"


def print_status(
    console: Console,
    rows: Sequence[FeedStatusRow],
    stats: StoreStats,
    problems: Mapping[str, DeliveryProblem],
    pending_alerts: int,
) -> None:
    """Feed health, store counts and delivery problems: `/brief status` in the terminal."""
    table = Table(title="Feeds", title_justify="left")
    for column in ("feed", "status", "last success", "failures", "items stored", "next poll"):
        table.add_column(column, no_wrap=column != "feed")
    table.add_column("error / warning", overflow="fold", max_width=50)
    for row in rows:
        word, style = _feed_health(row)
        state = row.state
        table.add_row(
            Text(row.feed_id),
            Text(word, style=style),
            _when(state.last_success if state else None),
            str(state.consecutive_failures if state else 0),
            str(state.items_stored if state else 0),
            _when(state.next_due if state and row.enabled else None),
            Text(" · ".join(t for t in (_problem(state), _snapshot(row)) if t)),
        )
    console.print(table)
    console.print(
        Text(
            f"{stats.items} items stored (last seq {stats.last_seq}), {stats.tombstones} "
            f"remembered after pruning, {stats.bytes / 1e6:.1f} MB in {stats.files} files; "
            f"{pending_alerts} alerts queued."
        )
    )
    for target, problem in sorted(problems.items()):
        console.print(Text(f"delivery to {target} failed: {problem.error} ({_when(problem.at)})"))


def status_json(
    rows: Sequence[FeedStatusRow],
    stats: StoreStats,
    problems: Mapping[str, DeliveryProblem],
    pending_alerts: int,
) -> dict[str, Any]:
    """What `print_status` shows, for machines."""
    feeds = []
    for row in rows:
        state = row.state
        feeds.append(
            {
                "id": row.feed_id,
                "name": row.name,
                "status": _feed_health(row)[0],
                "last_success": state.last_success if state else None,
                "consecutive_failures": state.consecutive_failures if state else 0,
                "items_stored": state.items_stored if state else 0,
                "next_poll": state.next_due if state and row.enabled else None,
                "last_error": state.last_error if state else None,
                "warning": state.warning if state else None,
            }
        )
        if row.snapshot_entries is not None:
            feeds[-1]["snapshot_entries"] = row.snapshot_entries
    return {
        "feeds": feeds,
        "store": dataclasses.asdict(stats),
        "alerts_queued": pending_alerts,
        "delivery_problems": {
            target: {"error": problem.error, "at": problem.at}
            for target, problem in sorted(problems.items())
        },
    }
