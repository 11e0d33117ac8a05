"""`/brief help`, and the usage table it lists: one line per sub-command.

`COMMANDS` is also where a mistake's reply takes its usage line from
(`usage`), so a new sub-command gets both by adding its line here.
"""

from __future__ import annotations

from bot.app.commands.session import Session
from bot.app.commands.words import Word
from bot.models import SlackMessage

__all__ = ["COMMANDS", "show_help", "usage"]

#: (usage, description) for `/brief help`, in display order.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("/brief help", "this list"),
    (
        "/brief <question or query>",
        'a question in plain words, or a search: "entity list" since:30d',
    ),
    ("/brief ask <question>", "what did BIS publish this week? (counts, citing the items)"),
    ("/brief search <query>", "search, for a query that starts like a command"),
    ("/brief latest [topic|feed|query] [n]", "the newest items, newest first (n up to 50)"),
    ("/brief latest others [n]", "the newest items matching no topic of this channel's digest"),
    (
        "/brief deadlines [topic|query] [days]",
        "comment periods closing and rules taking effect, soonest first (default 30 days)",
    ),
    (
        "/brief subscribe <topic or query> [hourly|daily [HH:MM]] [tz:Area/City] [remind:7,1]",
        "alerts by direct message when new items match, reminders before its deadlines",
    ),
    ("/brief subscribe #channel <topic or query> ...", "alerts into a channel (admins)"),
    ("/brief subscriptions [all]", "your subscriptions and this channel's (all: admins)"),
    ("/brief unsubscribe <id>", "remove a subscription"),
    ("/brief mute <id>", "pause a subscription's alerts"),
    ("/brief unmute <id>", "resume them"),
    (
        "/brief watch [#channel] <name>",
        "an alert when a company or person appears (#channel: admins)",
    ),
    ("/brief watches", "your watches and this channel's, and how closely names must match"),
    ("/brief unwatch <name|id>", "stop watching a name"),
    ("/brief entity <name>", "the Entity List rules, dates and list entries naming it"),
    (
        "/brief remind <id> <days|off>",
        "deadline reminders of a subscription: 7,1 days before, or off",
    ),
    ("/brief topics", "the topics you can subscribe to"),
    ("/brief feeds", "the feeds the bot watches"),
    ("/brief status", "each feed's health and delivery problems"),
    ("/brief digest", "preview this channel's digest (only you see it)"),
    ("/brief digest post", "post this channel's digest now (admins)"),
    ("/brief schedule [HH:MM [zone] [days] | off]", "show or set this channel's digest time"),
    ("/brief feed add <url> [tags...]", "watch a new feed, tried once first (admins)"),
    ("/brief feed remove|pause|resume <id>", "stop, pause or resume a feed (admins)"),
    ("/brief feed poll [id...]", "poll now, then send alerts (admins)"),
    ("/brief chart entity-list|<topic> [90d|12m]", "a chart of additions or items, posted here"),
    ("/brief month [YYYY-MM]", "a month in numbers: topics, types, Entity List, deadlines"),
)


def show_help(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief help`: every sub-command's usage and what it does (words after it are ignored)."""
    return session.runtime.renderer.render_help(COMMANDS)


def usage(verb: str | None) -> str:
    """The usage lines of one sub-command, or the general ones."""
    if verb is None:
        lines = [u for u, _ in COMMANDS[:3]]
    else:
        lines = [u for u, _ in COMMANDS if u.split()[1] == verb]
    return " · ".join(f"`{line}`" for line in lines) or "`/brief help`"
