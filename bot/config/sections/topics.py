"""The `topics:` section: named queries in the query language of `/brief search`.

A topic's query is parsed here with the query parser itself (`bot.find.query`,
pure), so a query feeds.yaml accepts is one search accepts, and its error
message is the query language's own.
"""

from __future__ import annotations

from yaml.nodes import Node

from bot.config.checker import ID_RE, Checker, entry_label
from bot.config.model import TopicConfig
from bot.config.units import show_value
from bot.find.query.parser import parse_query
from bot.find.query.syntax import QueryError

__all__ = ["TOPIC_KEYS", "check_query", "read_topic"]

TOPIC_KEYS = ("id", "query", "description", "priority")


def read_topic(check: Checker, item: Node, index: int, seen: dict[str, int]) -> TopicConfig | None:
    """Entry `index` (1-based) of `topics:`, or None (reported) when it is unusable."""
    label = entry_label(item, "topic", index, "id", ID_RE)
    keys = check.mapping(item, label, TOPIC_KEYS, "a mapping with id and query")
    if keys is None:
        return None
    where, topic_id = check.read_id(keys, item, "topic", index, seen)
    query_node = keys.get("query")
    query = None
    if query_node is None:
        check.report(item, where, "query is required")
    else:
        query = check.text(query_node, where, "query", required=True, limit=2000)
    if query is not None and query_node is not None:
        error = check_query(query)
        if error is not None:
            check.report(query_node, where, f"query {show_value(query)}: {error}")
            query = None
    description = check.text(keys.get("description"), where, "description", limit=500)
    priority = check.number(keys.get("priority"), where, "priority", int, -1000, 1000)
    if topic_id is None or query is None:
        return None
    return TopicConfig(
        id=topic_id,
        query=query.strip(),
        description=(description or "").strip(),
        priority=priority or 0,
    )


def check_query(text: str) -> str | None:
    """The query language's error for `text`, or None when it parses."""
    try:
        parse_query(text)
    except QueryError as err:
        return str(err)
    except Exception as err:  # a parser bug must not hide the other problems of the file
        return f"could not be checked: the query parser failed ({type(err).__name__})"
    return None
