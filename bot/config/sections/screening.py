"""The `screening_list:` section: where to download the Consolidated Screening List, how often.

    screening_list:
      url: https://data.trade.gov/downloadable_consolidated_screening_list/v1/consolidated.csv
      interval: 1d

Optional: without it the bot never downloads the list. The URL is checked as a
feed's is (http(s), a host, the private-address policy with `allow_private` and
`allow_addresses`), and shown redacted in every problem (an API key in the
query stays out of the output). The interval is 1h to 30d (default 1d).
"""

from __future__ import annotations

from yaml.nodes import Node

from bot.config.addresses import policy_for
from bot.config.checker import Checker, is_null
from bot.config.model import ScreeningListConfig
from bot.config.sections.feeds import _read_addresses, _read_url

__all__ = ["SCREENING_KEYS", "read_screening_list"]

SCREENING_KEYS = ("url", "interval", "enabled", "allow_private", "allow_addresses")
MIN_INTERVAL = 3600
MAX_INTERVAL = 30 * 86400
DEFAULT_INTERVAL = 86400
_WHERE = "screening_list"


def read_screening_list(check: Checker, node: Node | None) -> ScreeningListConfig | None:
    """The section as a `ScreeningListConfig`, or None when absent or unusable (reported)."""
    if node is None or is_null(node):
        return None
    keys = check.mapping(node, _WHERE, SCREENING_KEYS, "a mapping with url and interval")
    if keys is None:
        return None
    allow_private = check.boolean(keys.get("allow_private"), _WHERE, "allow_private")
    allow_addresses = _read_addresses(check, keys.get("allow_addresses"), _WHERE)
    policy = policy_for(bool(allow_private), allow_addresses)
    url = _read_url(check, keys.get("url"), node, _WHERE, policy)
    interval = check.duration(
        keys.get("interval"), _WHERE, "interval", MIN_INTERVAL, MAX_INTERVAL, "1d or 12h"
    )
    enabled = check.boolean(keys.get("enabled"), _WHERE, "enabled")
    if url is None:
        return None
    return ScreeningListConfig(
        url=url,
        interval_seconds=DEFAULT_INTERVAL if interval is None else interval,
        enabled=True if enabled is None else enabled,
        allow_private=bool(allow_private),
        allow_addresses=allow_addresses,
    )
